import type { Logger } from '../../log.ts';
import { metricDef } from '../../metrics/catalog.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { type GpuWindow, WINDOW_METRICS, WindowAggregator } from '../../pipeline/windows.ts';
import type { InfluxDbOptions } from './influx-client.ts';
import { InfluxDbSink, type InfluxDbSinkExtras } from './influxdb-sink.ts';
import { encodePoint, fieldType, type Point, sampleTags } from './line-protocol.ts';

/** The measurement of windows of `windowSeconds`: `gpu_metrics_30s` for the default 30 s. */
export function windowMeasurement(windowSeconds: number): string {
  return `gpu_metrics_${windowSeconds}s`;
}

/**
 * One closed window as a point: the tags of `gpu_metrics`, timestamp = the window's start (as InfluxQL's
 * GROUP BY time labels its buckets), fields `<influx>_avg` (float), `<influx>_min` and `<influx>_max` (the
 * metric's own type: memory in integer bytes), and `samples` (integer). A metric null in every sample of the
 * window has no fields.
 */
export function windowPoint(window: GpuWindow): Point {
  const fields: Point['fields'] = { samples: { type: 'integer', value: window.samples } };
  for (const metric of WINDOW_METRICS) {
    const stat = window.stats[metric];
    if (!stat) continue;
    const def = metricDef(metric);
    fields[`${def.influx}_avg`] = { type: 'float', value: stat.avg };
    fields[`${def.influx}_min`] = { type: fieldType(def.type), value: stat.min };
    fields[`${def.influx}_max`] = { type: fieldType(def.type), value: stat.max };
  }
  return {
    measurement: windowMeasurement(window.sizeMs / 1000),
    tags: sampleTags(window),
    fields,
    ts: window.start,
  };
}

/**
 * The streaming stage as a sink: samples go into per-GPU tumbling windows (pipeline/windows.ts), and every
 * window they close is written to `gpu_metrics_<N>s`; `write` resolves once those windows are in InfluxDB.
 * A retried batch (the pipeline retries the same batch after a rejection) is not aggregated twice: only the
 * windows still unwritten are sent again. `close` writes the windows still open.
 */
export class WindowSink extends InfluxDbSink {
  override readonly name = 'influxdb-windows';
  readonly aggregator: WindowAggregator;
  private pending: GpuWindow[] = [];
  private lastBatch: readonly GpuSample[] | null = null;
  private readonly logger: Logger | undefined;

  constructor(options: InfluxDbOptions, windowSeconds: number, extras: InfluxDbSinkExtras = {}) {
    super(options, extras);
    this.aggregator = new WindowAggregator(windowSeconds);
    this.logger = extras.logger;
  }

  override async write(batch: readonly GpuSample[]): Promise<void> {
    if (batch !== this.lastBatch) {
      const lateBefore = this.aggregator.lateCount();
      this.pending.push(...this.aggregator.add(batch));
      this.lastBatch = batch;
      const late = this.aggregator.lateCount() - lateBefore;
      if (late > 0) this.logger?.warn({ late }, 'samples later than their closed window were dropped');
    }
    await this.writePending();
  }

  override async close(): Promise<void> {
    this.pending.push(...this.aggregator.flush());
    await this.writePending();
  }

  private async writePending(): Promise<void> {
    const lines: string[] = [];
    for (const window of this.pending) {
      const line = encodePoint(windowPoint(window));
      if (line !== null) lines.push(line);
    }
    await this.writeLines(lines);
    this.pending = [];
  }
}
