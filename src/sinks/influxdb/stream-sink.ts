import { encodePoint, sampleLineOf } from '../../metrics/line-protocol.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import type { AlertEvaluator, AlertEvent } from '../../pipeline/alerts.ts';
import { type GpuWindow, WindowAggregator } from '../../pipeline/windows.ts';
import { alertLine } from './alert-sink.ts';
import type { InfluxDbOptions, Line } from './influx-client.ts';
import { InfluxDbSink, type InfluxDbSinkExtras } from './influxdb-sink.ts';
import { windowPoint } from './window-sink.ts';

export interface StreamStages {
  /** Tumbling window of the per-GPU aggregates, written to `gpu_metrics_<N>s`. */
  windowSeconds: number;
  /** The alert rules, written to `gpu_alerts`. */
  alerts: AlertEvaluator;
}

/**
 * What `gpumon consume` writes to InfluxDB, in one pass over each batch: every sample to `gpu_metrics`, the
 * per-GPU windows the batch closes to `gpu_metrics_<N>s`, and the alerts it raises to `gpu_alerts`, all in the
 * same requests. `write` resolves once InfluxDB holds every one of those points, so the batch's Kafka offsets
 * are committed only after samples, windows and alerts are all in. A retried batch (the same array after a
 * rejection) is not aggregated or evaluated twice: the same lines are sent again, which InfluxDB overwrites.
 * Writes may overlap (the batcher's maxWritesInFlight): each batch is aggregated and evaluated when its write
 * is called, in the order they are called, and keeps its own lines until written.
 * `close` writes the windows still open.
 *
 * The same points as InfluxDbSink + WindowSink + AlertSink side by side, at a third of the work: one batcher,
 * one walk over the samples, one set of requests.
 */
export class InfluxDbStreamSink extends InfluxDbSink {
  override readonly name = 'influxdb';
  readonly windows: WindowAggregator;
  private readonly alerts: AlertEvaluator;
  /** The lines of each batch being written, kept for a retry of the same batch. */
  private readonly pending = new WeakMap<readonly GpuSample[], Line[]>();
  private readonly logger: InfluxDbSinkExtras['logger'];

  constructor(options: InfluxDbOptions, stages: StreamStages, extras: InfluxDbSinkExtras = {}) {
    super(options, extras);
    this.windows = new WindowAggregator(stages.windowSeconds);
    this.alerts = stages.alerts;
    this.logger = extras.logger;
  }

  override async write(batch: readonly GpuSample[]): Promise<void> {
    let lines = this.pending.get(batch);
    if (lines === undefined) {
      lines = [];
      const closed: GpuWindow[] = [];
      const events: AlertEvent[] = [];
      const lateBefore = this.windows.lateCount();
      let empty = 0;
      for (const sample of batch) {
        const line = sampleLineOf(sample);
        if (line === null) empty++;
        else lines.push(line);
        this.windows.addOne(sample, closed);
        this.alerts.evaluateOne(sample, events);
      }
      for (const window of closed) {
        const line = encodePoint(windowPoint(window));
        if (line !== null) lines.push(line);
      }
      for (const event of events) {
        const line = alertLine(event);
        if (line !== null) lines.push(line);
      }
      const late = this.windows.lateCount() - lateBefore;
      if (late > 0) this.logger?.warn({ late }, 'samples later than their closed window were dropped');
      this.counters.skippedEmpty += empty;
      this.pending.set(batch, lines);
    }
    await this.writeLines(lines);
    this.pending.delete(batch);
  }

  override async close(): Promise<void> {
    const lines: Line[] = [];
    for (const window of this.windows.flush()) {
      const line = encodePoint(windowPoint(window));
      if (line !== null) lines.push(line);
    }
    await this.writeLines(lines);
  }
}
