import { GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { Transport } from '../transport/transport.ts';
import type { Spool } from './spool.ts';

/** Where samples go when the way is clear: the Kafka transport (anything with publish and close). */
export interface Publisher {
  publish(samples: readonly GpuSample[]): Promise<void>;
  close(): Promise<void>;
}

export interface SpoolingPublisherOptions {
  target: Publisher;
  spool: Spool;
  logger?: Logger;
  /** First wait before sending from the spool again after a failure; doubled up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Samples per send from the spool (default 1000). */
  drainBatch?: number;
}

export interface SpoolingPublisherStats {
  /** Samples the target acknowledged (directly or from the spool). */
  sent: number;
  /** Samples written to the spool. */
  spooled: number;
  /** Samples the spool dropped to keep its bound (across restarts). */
  dropped: number;
  /** Samples waiting in the spool. */
  pending: number;
}

/**
 * The agent's side of the transport: publishes to the target (Kafka) while it takes samples and the spool is
 * empty; otherwise appends to the spool, and a drain loop sends the spool's samples, oldest first, until it is
 * empty again. So samples reach the target in the order they were read, across outages and restarts (a spool
 * left by an earlier run is sent first). `publish` rejects only after `close`.
 */
export class SpoolingPublisher implements Transport {
  private draining: Promise<void> | undefined;
  private stopping = false;
  private wakeDrain: (() => void) | undefined;
  private sent = 0;
  private spooled = 0;
  private reachable = true;
  private closed = false;

  constructor(private readonly options: SpoolingPublisherOptions) {}

  /** Starts sending what the spool holds (from an earlier run). */
  start(): void {
    if (!this.options.spool.isEmpty()) this.drain();
  }

  async publish(samples: readonly GpuSample[]): Promise<void> {
    if (this.closed) throw new GpumonError('TRANSPORT_CLOSED', 'cannot publish: the agent is stopping');
    if (samples.length === 0) return;
    const { spool, target, logger } = this.options;
    // Direct as soon as the spool is empty: everything spooled has then been sent (the drain removes a batch
    // only after the target took it), even while the drain is still deleting its last segment file.
    if (spool.isEmpty()) {
      try {
        await target.publish(samples);
        this.sent += samples.length;
        return;
      } catch (err) {
        this.unreachable(err);
      }
    }
    await spool.append(samples);
    this.spooled += samples.length;
    logger?.debug({ samples: samples.length, pending: spool.stats().pending }, 'spooled');
    this.drain();
  }

  subscribe(): void {
    throw new Error('the agent publishes only; subscribe on the consuming side');
  }

  stats(): SpoolingPublisherStats {
    const spool = this.options.spool.stats();
    return { sent: this.sent, spooled: this.spooled, dropped: spool.dropped, pending: spool.pending };
  }

  /** Whether the last send reached the target. */
  isReachable(): boolean {
    return this.reachable;
  }

  /** Waits until the spool is empty (or `timeoutMs` passed); resolves whether it is. */
  async flush(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.options.spool.isEmpty() && Date.now() < until) {
      this.wakeDrain?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.options.spool.isEmpty();
  }

  /** Stops draining (a send in flight finishes), closes the spool (what is left stays on disk) and the target. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopping = true;
    this.wakeDrain?.();
    await this.draining;
    await this.options.spool.close();
    await this.options.target.close();
  }

  private drain(): void {
    if (this.draining || this.stopping) return;
    this.draining = this.drainLoop().finally(() => {
      this.draining = undefined;
    });
  }

  private async drainLoop(): Promise<void> {
    const { spool, target, logger } = this.options;
    const firstDelay = this.options.retryDelayMs ?? 1000;
    const maxDelay = this.options.maxRetryDelayMs ?? 30_000;
    let delay = firstDelay;
    while (!this.stopping && !spool.isEmpty()) {
      const batch = await spool.peek(this.options.drainBatch ?? 1000);
      try {
        if (batch.samples.length > 0) await target.publish(batch.samples);
        this.sent += batch.samples.length; // sent once the target took them, before the spool forgets them
        await spool.remove(batch);
        delay = firstDelay;
        if (!this.reachable) {
          this.reachable = true;
          logger?.info(
            { pending: spool.stats().pending },
            'Kafka reachable again: sending the spooled samples',
          );
        }
      } catch (err) {
        this.unreachable(err);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wakeDrain = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeDrain = undefined;
        delay = Math.min(delay * 2, maxDelay);
      }
    }
    if (spool.isEmpty()) logger?.info('spool drained: publishing directly again');
  }

  private unreachable(err: unknown): void {
    if (!this.reachable) return;
    this.reachable = false;
    this.options.logger?.warn(
      { err, pending: this.options.spool.stats().pending },
      'Kafka unreachable: spooling samples on disk',
    );
  }
}
