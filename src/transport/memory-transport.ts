import { GpumonError, isGpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { DeliveryHandler, Transport } from './transport.ts';

/**
 * The in-process transport of `gpumon up`: every subscriber group gets every published batch, in publish
 * order. A handler is called for the next batch without waiting for the previous acknowledgement (the
 * handler takes the batch synchronously and resolves once it is durable), so a slow sink does not stall
 * sampling. A rejected delivery is redelivered after a pause, except one refused with SINK_ABANDONED (a stop
 * that ran out of time gave the sinks up), which is dropped; `close` waits for every acknowledgement.
 */
export class MemoryTransport implements Transport {
  private readonly groups = new Map<string, DeliveryHandler>();
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly logger?: Logger,
    private readonly redeliveryDelayMs = 1000,
  ) {}

  subscribe(group: string, handler: DeliveryHandler): void {
    if (this.groups.has(group)) throw new Error(`group ${group} is already subscribed`);
    this.groups.set(group, handler);
  }

  async publish(samples: readonly GpuSample[]): Promise<void> {
    if (this.closed) throw new GpumonError('TRANSPORT_CLOSED', 'cannot publish: the transport is closed');
    if (samples.length === 0) return;
    for (const [group, handler] of this.groups) {
      const delivery = this.deliver(group, handler, samples);
      this.pending.add(delivery);
      void delivery.finally(() => this.pending.delete(delivery));
    }
  }

  /** Deliveries not yet acknowledged. */
  inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async deliver(
    group: string,
    handler: DeliveryHandler,
    samples: readonly GpuSample[],
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await handler(samples);
        return;
      } catch (err) {
        if (isGpumonError(err, 'SINK_ABANDONED')) {
          // a stop out of time gave the sinks up: nothing would ever take this delivery
          this.logger?.error(
            { err, group, samples: samples.length },
            'delivery dropped: the sinks were given up',
          );
          return;
        }
        this.logger?.warn({ err, group, attempt, samples: samples.length }, 'delivery failed; redelivering');
        await new Promise((resolve) => setTimeout(resolve, this.redeliveryDelayMs));
      }
    }
  }
}
