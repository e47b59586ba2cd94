import { Admin, type MessageToProduce, ProduceAcks, Producer } from '@platformatic/kafka';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import type { DeliveryHandler, Transport } from '../transport.ts';
import { type DecodedRecord, decodeRecord, encodeRecords } from './encoding.ts';
import { GroupConsumer, type GroupConsumerStats } from './group-consumer.ts';

export type KafkaCompression = 'lz4' | 'snappy' | 'gzip' | 'none';

export interface KafkaTransportOptions {
  /** Bootstrap brokers, `host:port` each (or one comma-separated string, as in `kafka.brokers`). */
  brokers: string | readonly string[];
  topic: string;
  dlqTopic: string;
  /** Partitions of the topics when this transport creates them. */
  partitions: number;
  /** Replication factor of created topics (default: the broker's `default.replication.factor`). */
  replicas?: number;
  compression?: KafkaCompression;
  /** Prefix of the client ids: `<clientId>-producer`, `-admin`, `-consumer`. */
  clientId?: string;
  /** A publish (topic creation included) that takes longer than this rejects (default 10 s). */
  sendTimeoutMs?: number;
  /** Pause before a rejected delivery is handed to the handler again (default 1 s). */
  redeliveryDelayMs?: number;
  /**
   * Samples handed to a handler at once (default 5000): reading stops at the record that reaches it, so a
   * delivery may hold up to a record's samples more (at most 64, MAX_SAMPLES_PER_RECORD).
   */
  maxBatch?: number;
  /** Consumer group session timeout (default 10 s): how long a dead consumer keeps its partitions. */
  sessionTimeoutMs?: number;
  /**
   * The consumers' decoder of a record (default `decodeRecord`). One that accepts and refuses exactly what
   * `decodeRecord` does may leave more on the samples for its sink (the InfluxDB sink's pre-encoded lines).
   */
  decode?: RecordDecoder;
  logger?: Logger;
}

/**
 * Decodes one record's value and `gpumon-encoding` header: its samples, or why the record goes to the
 * dead-letter topic.
 */
export type RecordDecoder = (value: Buffer | null | undefined, encodingHeader?: string) => DecodedRecord;

/** Counters of a transport, for logs and tests. */
export interface KafkaTransportStats {
  /** Samples acknowledged by the brokers (acks=all). */
  published: number;
  /** Publishes that failed or timed out. */
  publishFailures: number;
  /** Per subscribed group. */
  groups: Record<string, GroupConsumerStats>;
}

/** What a group consumer needs from its transport. */
export interface TransportLink {
  readonly options: ResolvedOptions;
  ensureTopics(): Promise<void>;
  produceRaw(records: readonly OutgoingRecord[]): Promise<void>;
}

/** A record to send: headers by name (sent as bytes). */
export interface OutgoingRecord {
  topic: string;
  key?: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
}

export type ResolvedOptions = Required<Omit<KafkaTransportOptions, 'brokers' | 'logger' | 'replicas'>> & {
  brokers: string[];
  replicas: number;
  logger: Logger | undefined;
};

/**
 * Samples over Apache Kafka, in records of a node's samples keyed by its host name (docs/encoding.md).
 *
 * Publishing: an idempotent producer with acks=all; one `publish` is one send of all its records, bounded by
 * `sendTimeoutMs`. The topic and the dead-letter topic are created (Admin, `partitions`) before the first
 * send. A failed or timed-out publish rejects; the producer is then replaced, so that a late retry of the
 * old one cannot land after what the caller does next (a record may still arrive twice: at-least-once).
 *
 * Subscribing: one consumer per group (see GroupConsumer): valid samples go to the handler in batches,
 * offsets are committed only after the handler resolved, a rejected delivery is retried after a pause
 * without skipping it, malformed records go to the dead-letter topic with the reason in a header.
 *
 * `close` stops the consumers (each waits for its delivery in flight and commits it), then closes the
 * producer. Publishing after `close` throws TRANSPORT_CLOSED.
 */
export class KafkaTransport implements Transport, TransportLink {
  readonly options: ResolvedOptions;
  private producer: Producer | undefined;
  private topicsReady: Promise<void> | undefined;
  private readonly groups = new Map<string, GroupConsumer>();
  private closed = false;
  private published = 0;
  private publishFailures = 0;

  constructor(options: KafkaTransportOptions) {
    const brokers =
      typeof options.brokers === 'string'
        ? options.brokers.split(',').map((b) => b.trim())
        : [...options.brokers];
    this.options = {
      brokers: brokers.filter((b) => b.length > 0),
      topic: options.topic,
      dlqTopic: options.dlqTopic,
      partitions: options.partitions,
      replicas: options.replicas ?? -1,
      compression: options.compression ?? 'lz4',
      clientId: options.clientId ?? 'gpumon',
      sendTimeoutMs: options.sendTimeoutMs ?? 10_000,
      redeliveryDelayMs: options.redeliveryDelayMs ?? 1000,
      maxBatch: options.maxBatch ?? 5000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      decode: options.decode ?? decodeRecord,
      logger: options.logger,
    };
  }

  async publish(samples: readonly GpuSample[]): Promise<void> {
    if (this.closed) throw new GpumonError('TRANSPORT_CLOSED', 'cannot publish: the transport is closed');
    if (samples.length === 0) return;
    const topic = this.options.topic;
    await this.produceRaw(encodeRecords(samples).map((r) => ({ topic, ...r })));
    this.published += samples.length;
  }

  subscribe(group: string, handler: DeliveryHandler): void {
    if (this.closed) throw new GpumonError('TRANSPORT_CLOSED', 'cannot subscribe: the transport is closed');
    if (this.groups.has(group)) throw new Error(`group ${group} is already subscribed`);
    const consumer = new GroupConsumer(this, group, handler);
    this.groups.set(group, consumer);
    consumer.start();
  }

  /** Partitions of the topic assigned to this transport's consumer of `group` now (sorted). */
  assignedPartitions(group: string): number[] {
    return this.groups.get(group)?.assignedPartitions() ?? [];
  }

  /** Whether the consumer of `group` has its stream to Kafka open now. */
  isConsuming(group: string): boolean {
    return this.groups.get(group)?.isConsuming() ?? false;
  }

  stats(): KafkaTransportStats {
    const groups: Record<string, GroupConsumerStats> = {};
    for (const [name, consumer] of this.groups) groups[name] = consumer.stats();
    return { published: this.published, publishFailures: this.publishFailures, groups };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.groups.values()].map((g) => g.close()));
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await closeForcibly(producer, this.options.logger, 'Kafka producer');
  }

  /**
   * Sends records as one batch (acks=all, idempotent, compressed), creating the topics first if needed;
   * rejects after `sendTimeoutMs`.
   */
  async produceRaw(records: readonly OutgoingRecord[]): Promise<void> {
    const messages: MessageToProduce[] = records.map((r) => ({
      topic: r.topic,
      ...(r.key ? { key: r.key } : {}),
      value: r.value,
      headers: new Map(Object.entries(r.headers).map(([name, value]) => [Buffer.from(name), value])),
    }));
    const producer = this.currentProducer();
    try {
      await withTimeout(
        (async () => {
          await this.ensureTopics();
          await producer.send({ messages });
        })(),
        this.options.sendTimeoutMs,
        `Kafka send of ${messages.length} records to ${this.options.brokers.join(',')}`,
      );
    } catch (err) {
      this.publishFailures++;
      // A send that timed out may still be retried inside the client: retire that producer so that nothing
      // it still holds can land after the caller's next attempt.
      if (this.producer === producer) this.producer = undefined;
      void closeForcibly(producer, this.options.logger, 'Kafka producer');
      throw err;
    }
  }

  /** Creates the topic and the dead-letter topic when missing; memoised until it fails. */
  ensureTopics(): Promise<void> {
    this.topicsReady ??= this.createTopics().catch((err) => {
      this.topicsReady = undefined;
      throw err;
    });
    return this.topicsReady;
  }

  private async createTopics(): Promise<void> {
    const { topic, dlqTopic, partitions, replicas, brokers, clientId } = this.options;
    const admin = new Admin({ clientId: `${clientId}-admin`, bootstrapBrokers: brokers, retries: 1 });
    try {
      const existing = new Set(await admin.listTopics());
      const missing = [topic, dlqTopic].filter((t) => !existing.has(t));
      for (const name of missing) {
        try {
          await admin.createTopics({ topics: [name], partitions, replicas });
          this.options.logger?.info({ topic: name, partitions }, 'created Kafka topic');
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
      }
      if (missing.length > 0) await waitForTopics(admin, missing, this.options.sendTimeoutMs);
    } finally {
      await admin.close().catch(() => undefined);
    }
  }

  private currentProducer(): Producer {
    this.producer ??= new Producer({
      clientId: `${this.options.clientId}-producer`,
      bootstrapBrokers: this.options.brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: this.options.compression,
      retries: 2,
      retryDelay: 250,
    });
    return this.producer;
  }
}

function isAlreadyExists(err: unknown): boolean {
  const e = err as { findBy?: (property: string, value: unknown) => unknown } | undefined;
  return Boolean(e?.findBy?.('apiId', 'TOPIC_ALREADY_EXISTS'));
}

/** Waits until every topic has a leader for each partition (a new topic takes a moment). */
async function waitForTopics(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const metadata = await admin.metadata({ topics, forceUpdate: true });
      const ready = topics.every((t) => {
        const info = metadata.topics.get(t);
        return info?.partitions.every((p) => p.leader >= 0) ?? false;
      });
      if (ready) return;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) return;
    await sleep(100);
  }
}

/**
 * Closes a client even while it has work in flight; never rejects. A close that fails leaves the client's
 * connections open (they keep the process alive): that is logged as a warning naming `what`.
 */
export function closeForcibly(
  client: { close(force: boolean, callback: (error?: Error | null) => void): void },
  logger?: Logger,
  what = 'Kafka client',
): Promise<void> {
  return new Promise<void>((resolve) =>
    client.close(true, (err) => {
      if (err) logger?.warn({ err }, `${what} did not close cleanly; its connections may stay open`);
      resolve();
    }),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a timeout error naming `what` unless `work` settles within `ms`. */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
