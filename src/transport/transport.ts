import type { GpuSample } from '../metrics/sample.ts';

/**
 * Moves samples from the sampling side (agent) to the consuming side (pipeline): in-process for `gpumon up`,
 * Kafka for a fleet.
 *
 * Contract: each subscriber group receives every published sample, in publish order per GPU. A delivery is
 * acknowledged when the handler's promise resolves; a rejected delivery is redelivered (at-least-once).
 * A handler that cannot take a delivery now (a sink is behind) rejects at once, before the next turn of the
 * event loop: the transport then offers the same delivery again later and reads nothing further meanwhile.
 * A handler still pending after that has taken the delivery, and the transport may hand it the next one
 * while the first becomes durable (a sink may hold samples for its batch age).
 * `close` stops accepting publishes, waits until every group has acknowledged what was published, then resolves.
 */
export interface Transport {
  publish(samples: readonly GpuSample[]): Promise<void>;
  subscribe(group: string, handler: DeliveryHandler): void;
  close(): Promise<void>;
}

export type DeliveryHandler = (samples: readonly GpuSample[]) => Promise<void>;
