import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import type { GpuSample } from '../../metrics/sample.ts';
import type { DeliveryHandler } from '../transport.ts';
import { ENCODING_HEADER, ENCODING_HEADER_VALUE } from './encoding.ts';
import { closeForcibly, type OutgoingRecord, type TransportLink } from './kafka-transport.ts';
import { subscriptionAwareAssigner } from './partition-assigner.ts';

/** The header of a dead-lettered record that says why it was refused. */
export const DLQ_REASON_HEADER = 'gpumon-dlq-reason';
/** The header of a dead-lettered record that says where it came from: `topic/partition@offset`. */
export const DLQ_SOURCE_HEADER = 'gpumon-dlq-source';

/** Counters of one group consumer. */
export interface GroupConsumerStats {
  /** Samples whose delivery the handler acknowledged. */
  delivered: number;
  /** Deliveries handed to the handler again after it rejected them. */
  redeliveries: number;
  /** Malformed records sent to the dead-letter topic. */
  deadLettered: number;
  /** Offset commits that failed (the records are delivered again later: at-least-once). */
  commitFailures: number;
  /** Times the consumer stream failed and was opened again. */
  reconnects: number;
}

type Record_ = Message<Buffer, Buffer, Buffer, Buffer>;

/** Records read for one delivery: their valid samples, and the malformed ones as dead letters. */
interface Batch {
  records: Record_[];
  samples: GpuSample[];
  dead: OutgoingRecord[];
}

/**
 * One consumer group member of a KafkaTransport. A single loop reads what the stream has fetched (at most
 * `maxBatch` samples), decodes them (`decode` of the transport's options: decodeRecord by default),
 * dead-letters the malformed records, hands the valid samples to the handler, and commits the next offset of
 * every partition in the batch only once the handler resolved (the batch is durable), in order. A delivery
 * the handler refuses at once is handed over again, the same samples, without reading further: every 10 ms
 * for the first 5 s (a sink behind while catching up has room again within one of its writes, and must not
 * run dry), then every `redeliveryDelayMs` (a sink down), with a warning each time. While a sink is down or
 * behind, consumption stops (the stream's buffer fills and fetching pauses) and nothing is skipped. A
 * delivery the handler took does not hold up reading: the next batches are handed over while it becomes
 * durable.
 *
 * Offsets already taken by this member are remembered per partition, so that the refetch the client does
 * after a rebalance does not deliver them twice; records of a partition this member no longer owns are left
 * to the new owner. When the stream fails (broker gone), it is opened again from the committed offsets.
 */
export class GroupConsumer {
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private readonly taken = new Map<number, bigint>();
  private running: Promise<void> = Promise.resolve();
  /** Commits of the batches taken so far, chained in order. */
  private commits: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** A batch could not be made durable before closing: commit nothing after it. */
  private broken = false;
  private closing = false;
  private markClosed: () => void = () => undefined;
  private readonly closed = new Promise<void>((resolve) => {
    this.markClosed = resolve;
  });
  private wake: (() => void) | undefined;
  private readonly counters: GroupConsumerStats = {
    delivered: 0,
    redeliveries: 0,
    deadLettered: 0,
    commitFailures: 0,
    reconnects: 0,
  };

  constructor(
    private readonly link: TransportLink,
    private readonly group: string,
    private readonly handler: DeliveryHandler,
  ) {
    const { clientId, brokers, sessionTimeoutMs } = link.options;
    this.consumer = new Consumer({
      clientId: `${clientId}-consumer`,
      bootstrapBrokers: brokers,
      groupId: group,
      autocommit: false,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.min(1000, Math.floor(sessionTimeoutMs / 4)),
      rebalanceTimeout: Math.max(sessionTimeoutMs, 30_000),
      maxWaitTime: FETCH_MAX_WAIT_MS,
      highWaterMark: link.options.maxBatch,
      // A fetch's records are all pushed into the stream, whatever its buffer holds already: at the client's
      // 10 MiB (lz4: some 50,000 samples) a consumer catching up held several fetches' worth at once.
      maxBytes: FETCH_MAX_BYTES,
      // Only the members that read a topic get its partitions (the client's default ignores subscriptions).
      partitionAssigner: subscriptionAwareAssigner,
    });
    this.consumer.on('consumer:group:join', () => {
      this.forgetRevoked();
      link.options.logger?.info(
        { group, topic: link.options.topic, partitions: this.assignedPartitions() },
        'joined the consumer group',
      );
    });
  }

  start(): void {
    this.running = this.run();
  }

  stats(): GroupConsumerStats {
    return { ...this.counters };
  }

  /** Whether the consumer stream is open (Kafka reached, the group joined or being joined). */
  isConsuming(): boolean {
    return this.stream !== undefined;
  }

  assignedPartitions(): number[] {
    const topic = this.link.options.topic;
    const mine = this.consumer.assignments?.find((a) => a.topic === topic)?.partitions ?? [];
    return [...mine].sort((a, b) => a - b);
  }

  /** Stops fetching, waits for the batches taken to become durable and be committed, then leaves the group. */
  async close(): Promise<void> {
    this.closing = true;
    this.markClosed();
    this.wake?.();
    // The run loop, woken, closes the stream: closed from here as well, the client's second close() called
    // back at once, before the stream had ended.
    await this.running;
    await this.commits;
    await closeForcibly(this.consumer, this.link.options.logger, `Kafka consumer of group ${this.group}`);
  }

  private async run(): Promise<void> {
    const { topic, redeliveryDelayMs } = this.link.options;
    const log = this.link.options.logger;
    while (!this.closing) {
      let failure: unknown;
      try {
        await this.link.ensureTopics();
        const stream = await this.consumer.consume({
          topics: [topic],
          mode: 'committed',
          fallbackMode: 'earliest',
          autocommit: false,
        });
        this.stream = stream;
        failure = await this.drain(stream);
      } catch (err) {
        failure = err;
      }
      await endStream(this.stream);
      this.stream = undefined;
      if (this.closing) break;
      this.counters.reconnects++;
      log?.warn({ err: failure, group: this.group, topic }, 'Kafka consumer stream failed; reopening');
      await this.pause(Math.max(redeliveryDelayMs, 500));
    }
  }

  /** Reads and delivers until the stream ends or fails; returns the failure, if any. */
  private async drain(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<unknown> {
    let failure: unknown;
    let ended = false;
    const signal = () => {
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    stream.on('error', (err) => {
      failure ??= err;
      signal();
    });
    stream.on('end', () => {
      ended = true;
      signal();
    });
    stream.on('close', () => {
      ended = true;
      signal();
    });
    stream.on('readable', signal);
    while (!this.closing) {
      const batch = this.readBatch(stream);
      if (batch.records.length > 0) {
        await this.deliver(batch);
        continue;
      }
      if (failure !== undefined) return failure;
      if (ended) return new Error('consumer stream ended');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    return undefined;
  }

  /**
   * Reads and decodes what the stream has, until the batch holds `maxBatch` samples (a record holds one or a
   * node's batch of them) or the stream has nothing more now.
   */
  private readBatch(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Batch {
    const batch: Batch = { records: [], samples: [], dead: [] };
    const owned = new Set(this.assignedPartitions());
    const decode = this.link.options.decode;
    while (batch.samples.length + batch.dead.length < this.link.options.maxBatch) {
      const record = stream.read() as Record_ | null;
      if (record === null) break;
      if (!owned.has(record.partition)) continue;
      const next = this.taken.get(record.partition);
      if (next !== undefined && record.offset < next) continue;
      this.taken.set(record.partition, record.offset + 1n);
      batch.records.push(record);
      const decoded = decode(record.value, encodingOf(record));
      if (decoded.ok) for (const sample of decoded.samples) batch.samples.push(sample);
      else batch.dead.push(this.deadLetter(record, decoded.reason));
    }
    return batch;
  }

  /** Dead-letters, hands over (until acknowledged, or until closing), then commits. */
  private async deliver({ records: batch, samples, dead }: Batch): Promise<void> {
    const log = this.link.options.logger;
    for (let attempt = 1; dead.length > 0; attempt++) {
      try {
        await this.link.produceRaw(dead);
        this.counters.deadLettered += dead.length;
        log?.warn(
          { group: this.group, records: dead.length },
          'malformed records sent to the dead-letter topic',
        );
        break;
      } catch (err) {
        if (this.closing) return;
        log?.error({ err, group: this.group, attempt }, 'dead-letter send failed; retrying');
        await this.pause(this.link.options.redeliveryDelayMs);
      }
    }
    // Hand the samples over until the handler takes them. A handler refuses at once when it cannot take them
    // now (a sink is behind): then nothing further is read, so order is kept and nothing is skipped. Once
    // taken, the next batch is read without waiting for this one to be durable (a sink may hold samples for
    // its batch age), and commits follow in order as the batches become durable.
    let durable: Promise<void> = Promise.resolve();
    const refusedSince = performance.now();
    for (let attempt = 1; samples.length > 0; attempt++) {
      const handed = this.handler(samples);
      if (!(await refusedAtOnce(handed))) {
        durable = handed;
        break;
      }
      // Closing: leave the batch uncommitted, the group delivers it again after a restart.
      if (this.closing) return;
      // A sink that is behind (backpressure while catching up) has room again within one of its writes: offer
      // the batch again soon, so that the sink never runs dry. Refused for longer (a sink down), back off to
      // `redeliveryDelayMs` and say so.
      const refusedFor = performance.now() - refusedSince;
      const slow = refusedFor >= BACKPRESSURE_POLL_WINDOW_MS;
      if (slow) {
        log?.warn(
          { group: this.group, attempt, samples: samples.length, refusedMs: Math.round(refusedFor) },
          'delivery refused; offering it again',
        );
      }
      const { redeliveryDelayMs } = this.link.options;
      await this.pause(slow ? redeliveryDelayMs : Math.min(BACKPRESSURE_POLL_MS, redeliveryDelayMs));
      if (this.closing) return;
      this.counters.redeliveries++;
    }
    const previous = this.commits;
    // Keep only what the commit needs: holding the records would keep their buffers alive until then.
    const offsets = nextOffsets(batch);
    this.commits = previous.then(() => this.settle(offsets, samples, durable));
    this.inFlight++;
    void this.commits.finally(() => this.inFlight--);
    // Bound the batches waiting to become durable (the sinks bound the samples).
    while (this.inFlight > MAX_BATCHES_IN_FLIGHT && !this.closing) await this.commits;
  }

  /** Waits for a taken batch to be durable (handing it over again if that fails), then commits it. */
  private async settle(
    offsets: Map<number, bigint>,
    samples: GpuSample[],
    durable: Promise<void>,
  ): Promise<void> {
    const log = this.link.options.logger;
    if (this.broken) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await durable;
        break;
      } catch (err) {
        if (this.closing) {
          // Never commit past a batch that is not durable: everything after it is delivered again later.
          this.broken = true;
          return;
        }
        log?.warn(
          { err, group: this.group, attempt, samples: samples.length },
          'delivery failed; redelivering',
        );
        await this.pause(this.link.options.redeliveryDelayMs);
        this.counters.redeliveries++;
        durable = this.handler(samples);
      }
    }
    this.counters.delivered += samples.length;
    await this.commit(offsets);
  }

  private async commit(next: Map<number, bigint>): Promise<void> {
    const topic = this.link.options.topic;
    try {
      await this.consumer.commit({
        offsets: [...next].map(([partition, offset]) => ({ topic, partition, offset, leaderEpoch: -1 })),
      });
    } catch (err) {
      this.counters.commitFailures++;
      this.link.options.logger?.warn(
        { err, group: this.group, partitions: [...next.keys()] },
        'offset commit failed; these records will be delivered again',
      );
    }
  }

  private deadLetter(record: Record_, reason: string): OutgoingRecord {
    const headers: Record<string, Buffer> = {};
    for (const [k, v] of record.headers) if (k) headers[k.toString()] = v ?? Buffer.alloc(0);
    headers[DLQ_REASON_HEADER] = Buffer.from(reason);
    headers[DLQ_SOURCE_HEADER] = Buffer.from(`${record.topic}/${record.partition}@${record.offset}`);
    return {
      topic: this.link.options.dlqTopic,
      ...(record.key ? { key: record.key } : {}),
      value: record.value ?? Buffer.alloc(0),
      headers,
    };
  }

  /** After a rebalance: forget the progress of partitions this member lost, so a later owner starts clean. */
  private forgetRevoked(): void {
    const owned = new Set(this.assignedPartitions());
    for (const partition of [...this.taken.keys()]) if (!owned.has(partition)) this.taken.delete(partition);
  }

  /** Waits `ms`, or less when the consumer is closed meanwhile. */
  private async pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), this.closed]);
    clearTimeout(timer);
  }
}

/** How long a fetch waits for records at most before it answers with what it has. */
export const FETCH_MAX_WAIT_MS = 500;

/** Most bytes (compressed) one fetch brings: about 5,000 samples of lz4-compressed v1 JSON. */
export const FETCH_MAX_BYTES = 1 << 20;

/** While a delivery has been refused for less than this, it is offered again every BACKPRESSURE_POLL_MS. */
const BACKPRESSURE_POLL_WINDOW_MS = 5000;
const BACKPRESSURE_POLL_MS = 10;

/** Batches taken by the handler but not yet durable, at most, before reading pauses. */
const MAX_BATCHES_IN_FLIGHT = 100;

/**
 * Closes a consumer stream for good, once. The client's `close()` may call back before the stream has ended
 * (at once when called a second time, and its resume() does not flow while a 'readable' listener is still
 * counted): the stream then still counts as consuming, the consumer refuses to leave its group ("Cannot
 * leave group while consuming messages"), and its sockets kept `gpumon consume` alive after Ctrl-C.
 * Destroying the stream afterwards marks it done; it commits nothing (autocommit is off).
 */
async function endStream(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined): Promise<void> {
  if (stream === undefined) return;
  // Once no 'readable' listener counts (Node updates that on the next tick), the close's resume() lets the
  // stream flow to its end.
  stream.removeAllListeners('readable');
  await new Promise((resolve) => setImmediate(resolve));
  await stream.close().catch(() => undefined);
  if (!stream.destroyed) stream.destroy();
}

/** The offset to commit per partition after a batch: one past its last record. */
function nextOffsets(batch: readonly Record_[]): Map<number, bigint> {
  const next = new Map<number, bigint>();
  for (const record of batch) {
    const offset = record.offset + 1n;
    if ((next.get(record.partition) ?? -1n) < offset) next.set(record.partition, offset);
  }
  return next;
}

/** Whether a handler refused a delivery at once (rejected before the next turn of the event loop). */
async function refusedAtOnce(handed: Promise<void>): Promise<boolean> {
  const outcome = await Promise.race([
    handed.then(
      () => 'taken' as const,
      () => 'refused' as const,
    ),
    new Promise<'taken'>((resolve) => setImmediate(() => resolve('taken'))),
  ]);
  return outcome === 'refused';
}

const ENCODING_HEADER_BYTES = Buffer.from(ENCODING_HEADER);
const ENCODING_V1_BYTES = Buffer.from(ENCODING_HEADER_VALUE);

/**
 * The `gpumon-encoding` header as text (headers are a Map keyed by Buffer: look it up by content; compared as
 * bytes, so that the usual `v1` costs no string).
 */
export function encodingOf(record: Record_): string | undefined {
  for (const [k, v] of record.headers) {
    if (k === undefined || k === null || !ENCODING_HEADER_BYTES.equals(k)) continue;
    if (v === undefined || v === null) return '';
    return ENCODING_V1_BYTES.equals(v) ? ENCODING_HEADER_VALUE : v.toString();
  }
  return undefined;
}
