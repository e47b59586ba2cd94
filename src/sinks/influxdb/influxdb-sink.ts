import type { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { sampleLineOf } from '../../metrics/line-protocol.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import type { Sink } from '../sink.ts';
import { InfluxClient, type InfluxDbOptions, type Line, type WriteResult } from './influx-client.ts';

/** Counters of an InfluxDB sink, for logs and the API. */
export interface InfluxDbSinkStats {
  /** Points InfluxDB accepted. */
  points: number;
  /** HTTP write requests sent. */
  requests: number;
  /** Points InfluxDB refused for good (field type conflict, parse error): dropped, not retried. */
  rejected: number;
  /** Samples with no value at all, so no line (InfluxDB rejects a line without fields). */
  skippedEmpty: number;
}

export interface InfluxDbSinkExtras {
  logger?: Logger;
  /** Called with each permanent refusal (a 400 InfluxDB would repeat); default: logged as an error. */
  onRejected?: (err: GpumonError) => void;
}

/**
 * Writes samples to InfluxDB as line protocol (measurement `gpu_metrics`, src/metrics/line-protocol.ts), `batchLines`
 * per gzip-compressed request. `write` resolves once InfluxDB has every point of the batch; it rejects on a
 * 5xx, a timeout or a connection error, and the pipeline retries the batch. A replay is harmless: a point
 * with the same series and timestamp overwrites the first. docs/influxdb.md has the whole contract.
 */
export class InfluxDbSink implements Sink {
  readonly name: string = 'influxdb';
  protected readonly client: InfluxClient;
  protected readonly counters: InfluxDbSinkStats = { points: 0, requests: 0, rejected: 0, skippedEmpty: 0 };

  constructor(
    options: InfluxDbOptions,
    private readonly extras: InfluxDbSinkExtras = {},
  ) {
    this.client = new InfluxClient(options, extras.logger);
  }

  async write(batch: readonly GpuSample[]): Promise<void> {
    const lines: Line[] = [];
    let empty = 0;
    for (const sample of batch) {
      const line = sampleLineOf(sample);
      if (line === null) empty++;
      else lines.push(line);
    }
    await this.writeLines(lines);
    this.counters.skippedEmpty += empty;
  }

  stats(): InfluxDbSinkStats {
    return { ...this.counters };
  }

  /** Nothing to release: every write has finished when the pipeline closes a sink. */
  async close(): Promise<void> {}

  protected async writeLines(lines: readonly Line[]): Promise<WriteResult> {
    const result = await this.client.writeLines(lines, this.extras.onRejected);
    this.counters.points += result.written;
    this.counters.requests += result.requests;
    this.counters.rejected += result.rejected;
    return result;
  }
}
