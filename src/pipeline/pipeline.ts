import { GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { Sink } from '../sinks/sink.ts';
import type { Transport } from '../transport/transport.ts';
import type { AlertEvaluator, AlertEvent } from './alerts.ts';
import { ABANDON_GRACE_MS, Batcher, type BatcherOptions, type BatcherStats, settledBy } from './batcher.ts';
import type { LiveState } from './live-state.ts';

export interface PipelineOptions {
  transport: Transport;
  /** Consumer group name on the transport. */
  group: string;
  /**
   * The alert rules, evaluated on each delivery for the live state and `onAlerts`. Left out where neither is
   * used (`gpumon consume`, whose InfluxDB sink evaluates them itself): no work per sample for nothing.
   */
  alerts?: AlertEvaluator;
  /** Live state to update, if this process serves the live view. */
  live?: LiveState;
  /** Durable sinks, each batched on its own. */
  sinks: { sink: Sink; batching: BatcherOptions }[];
  logger?: Logger;
  /** Called with the alerts of each delivery (e.g. to log them or forward them). */
  onAlerts?: (alerts: AlertEvent[]) => void;
}

/**
 * The consuming side: for each delivery, evaluate the alert rules, update the live state, and hand the
 * samples to every sink's batcher. The delivery is acknowledged once every sink holds it durably.
 */
export class Pipeline {
  private readonly batchers: Batcher[];
  private received = 0;

  constructor(private readonly options: PipelineOptions) {
    this.batchers = options.sinks.map(({ sink, batching }) => new Batcher(sink, batching, options.logger));
    options.transport.subscribe(options.group, (samples) => this.handle(samples));
  }

  /** Samples received from the transport so far. */
  receivedCount(): number {
    return this.received;
  }

  stats(): BatcherStats[] {
    return this.batchers.map((b) => b.getStats());
  }

  /** Writes everything buffered now, without waiting for batch age. */
  async flush(): Promise<void> {
    await Promise.all(this.batchers.map((b) => b.flush()));
  }

  /**
   * Drains: flushes every sink while the transport finishes its deliveries, then closes the sinks. Call
   * after the producing side has stopped publishing. With `deadlineMs` (epoch ms) the stop is bounded: a sink
   * that has not taken everything by then is given up (`Batcher.abandon`: its journal keeps what it holds,
   * the transport does not acknowledge the rest), and the close ends ABANDON_GRACE_MS or so after the
   * deadline whatever the sinks and the transport do. Resolves with each sink's counters.
   */
  async close(options: { deadlineMs?: number } = {}): Promise<BatcherStats[]> {
    const transportClosed = this.options.transport.close();
    for (const batcher of this.batchers) batcher.stopBatching();
    if (options.deadlineMs === undefined) {
      await transportClosed;
      return Promise.all(this.batchers.map((b) => b.close()));
    }
    const drained = await settledBy(transportClosed, options.deadlineMs);
    if (!drained) {
      for (const batcher of this.batchers) batcher.abandon();
      if (!(await settledBy(transportClosed, options.deadlineMs + ABANDON_GRACE_MS))) {
        this.options.logger?.warn('the transport did not close in time; not waiting for it');
      }
    }
    const untilMs = drained ? options.deadlineMs : Date.now();
    return Promise.all(this.batchers.map((b) => b.close({ untilMs })));
  }

  private handle(samples: readonly GpuSample[]): Promise<void> {
    // All or nothing: a sink that is behind refuses the whole delivery before anything is applied, so the
    // redelivery adds no duplicate to the sinks that had room, the live state or the alert counts.
    const abandoned = this.batchers.find((b) => b.isAbandoned());
    if (abandoned) {
      const sink = abandoned.getStats().sink;
      return Promise.reject(
        new GpumonError(
          'SINK_ABANDONED',
          `sink ${sink} was given up by a stop out of time; delivery refused`,
        ),
      );
    }
    const full = this.batchers.find((b) => !b.hasRoom(samples.length));
    if (full) return Promise.reject(new Error(`sink ${full.getStats().sink} is behind; delivery refused`));
    this.received += samples.length;
    const alerts = this.options.alerts?.evaluate(samples) ?? [];
    this.options.live?.apply(samples, alerts);
    if (alerts.length > 0) this.options.onAlerts?.(alerts);
    return Promise.all(this.batchers.map((b) => b.add(samples))).then(() => undefined);
  }
}
