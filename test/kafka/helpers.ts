import { randomUUID } from 'node:crypto';
import { Consumer, type Message } from '@platformatic/kafka';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { KafkaTransport, type KafkaTransportOptions } from '../../src/transport/kafka/kafka-transport.ts';

export const unique = (prefix: string) => `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;

/** A transport on fresh topics of its own (`names` reuses another transport's topics). */
export function testTransport(
  bootstrap: string,
  names: { topic: string; dlqTopic: string } = { topic: unique('gpumon-t'), dlqTopic: unique('gpumon-dlq') },
  overrides: Partial<KafkaTransportOptions> = {},
): KafkaTransport {
  return new KafkaTransport({
    brokers: bootstrap,
    ...names,
    partitions: 4,
    clientId: 'gpumon-test',
    redeliveryDelayMs: 100,
    sessionTimeoutMs: 6000,
    ...overrides,
  });
}

/** `reads` reads of a simulated fleet of `hosts` x `gpus`, one second apart. */
export function fleetReads(reads: number, hosts = 3, gpus = 4, seed = 7): GpuSample[][] {
  const sim = new Simulator({ hosts, gpusPerHost: gpus, seed });
  const t0 = Date.UTC(2026, 10, 20, 12, 0, 0);
  return Array.from({ length: reads }, (_, i) => sim.sampleAll(t0 + i * 1000));
}

/** Resolves once `check` holds, polling; rejects after `ms` with `what`. */
export async function eventually(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Timestamps per GPU UUID, in the order received. */
export function tsByGpu(samples: readonly GpuSample[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const s of samples) {
    const list = out.get(s.uuid) ?? [];
    list.push(s.ts);
    out.set(s.uuid, list);
  }
  return out;
}

/** Reads `count` records of `topic` from the beginning with a throwaway group (raw, for the DLQ). */
export async function readRaw(bootstrap: string, topic: string, count: number): Promise<Message[]> {
  const consumer = new Consumer({
    clientId: 'gpumon-test-raw',
    bootstrapBrokers: [bootstrap],
    groupId: unique('gpumon-raw'),
    maxWaitTime: 200,
  });
  const got: Message[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const timer = setTimeout(
      () => stream.destroy(new Error(`only ${got.length} of ${count} records`)),
      30_000,
    );
    try {
      for await (const message of stream) {
        got.push(message);
        if (got.length >= count) break;
      }
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
  return got;
}
