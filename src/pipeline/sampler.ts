import type { Logger } from '../log.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { ReadFailureLog } from '../sources/read-failures.ts';
import type { Source } from '../sources/source.ts';
import type { Transport } from '../transport/transport.ts';

/**
 * The sampling loop of an agent: reads the source on a fixed interval (aligned to multiples of it) and
 * publishes each read. A read slower than the interval skips the ticks it overran instead of piling up.
 */
export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private emitted = 0;
  private failedReads = 0;
  private readonly readFailures: ReadFailureLog;

  constructor(
    private readonly source: Source,
    private readonly transport: Transport,
    private readonly intervalMs: number,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.readFailures = new ReadFailureLog({ source: source.name, logger, now });
  }

  start(): void {
    this.schedule();
  }

  /** Samples published so far. */
  emittedCount(): number {
    return this.emitted;
  }

  failedReadCount(): number {
    return this.failedReads;
  }

  /** Stops the loop and waits for a read in progress to be published. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One read-and-publish, at time `at`. A failed read is logged once, then counted (ReadFailureLog). */
  async tick(at: number = this.now()): Promise<void> {
    let samples: GpuSample[];
    try {
      samples = await this.source.read(at);
    } catch (err) {
      this.failedReads++;
      this.readFailures.failed(err);
      return;
    }
    this.readFailures.succeeded();
    try {
      await this.transport.publish(samples);
      this.emitted += samples.length;
    } catch (err) {
      this.failedReads++;
      this.logger?.warn({ err, source: this.source.name }, 'publishing the samples failed');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.now();
    const next = Math.floor(now / this.intervalMs) * this.intervalMs + this.intervalMs;
    this.timer = setTimeout(() => {
      this.running = this.tick(next).finally(() => this.schedule());
    }, next - now);
  }
}
