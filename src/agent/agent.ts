import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { Sampler } from '../pipeline/sampler.ts';
import { selectSource } from '../sources/registry.ts';
import type { Source } from '../sources/source.ts';
import { KafkaTransport } from '../transport/kafka/kafka-transport.ts';
import { Spool } from './spool.ts';
import { type Publisher, SpoolingPublisher } from './spooling-publisher.ts';

/** What an agent did, for its logs and its final summary. */
export interface AgentStats {
  /** Samples read from the source. */
  read: number;
  /** Samples Kafka acknowledged. */
  sent: number;
  /** Samples written to the spool (Kafka unreachable, or behind the spool). */
  spooled: number;
  /** Samples the spool dropped to keep its bound. */
  dropped: number;
  /** Samples left in the spool (sent on the next start). */
  pending: number;
  failedReads: number;
}

export interface AgentParts {
  source: Source;
  /** Where samples go (a KafkaTransport). */
  target: Publisher;
  spool: Spool;
  intervalMs: number;
  logger?: Logger;
  /** Wait before sending from the spool again after a failure (default 1 s, doubling to 30 s). */
  retryDelayMs?: number;
  /** Log the counters this often (default 60 s; 0: never). */
  statsIntervalMs?: number;
}

/**
 * `gpumon agent`: reads the source every interval and publishes to Kafka; while Kafka is unreachable the
 * samples go to the on-disk spool and are sent, in order, once it is back (SpoolingPublisher).
 */
export class Agent {
  readonly source: Source;
  private readonly publisher: SpoolingPublisher;
  private readonly sampler: Sampler;
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(private readonly parts: AgentParts) {
    this.source = parts.source;
    this.publisher = new SpoolingPublisher({
      target: parts.target,
      spool: parts.spool,
      ...(parts.logger ? { logger: parts.logger } : {}),
      ...(parts.retryDelayMs !== undefined ? { retryDelayMs: parts.retryDelayMs } : {}),
    });
    this.sampler = new Sampler(parts.source, this.publisher, parts.intervalMs, parts.logger);
  }

  /** Sends what an earlier run left in the spool, then starts sampling. */
  start(): void {
    this.publisher.start();
    this.sampler.start();
    const every = this.parts.statsIntervalMs ?? 60_000;
    if (every > 0) {
      this.statsTimer = setInterval(() => this.parts.logger?.info(this.stats(), 'agent counters'), every);
      this.statsTimer.unref();
    }
  }

  /** One read-and-publish now (tests). */
  tick(at?: number): Promise<void> {
    return this.sampler.tick(at);
  }

  stats(): AgentStats {
    return {
      read: this.sampler.emittedCount(),
      ...this.publisher.stats(),
      failedReads: this.sampler.failedReadCount(),
    };
  }

  /** Waits up to `timeoutMs` for the spool to be sent; resolves whether it was. */
  flush(timeoutMs: number): Promise<boolean> {
    return this.publisher.flush(timeoutMs);
  }

  /**
   * Stops sampling, gives the spool `drainMs` to empty if Kafka is reachable, then closes everything; what is
   * still spooled stays on disk for the next start.
   */
  async stop(drainMs = 5000): Promise<AgentStats> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    await this.sampler.stop();
    if (this.publisher.isReachable()) await this.publisher.flush(drainMs);
    await this.publisher.close();
    await this.source.close();
    return this.stats();
  }
}

/** Builds an agent from the configuration: the source it selects, Kafka, the spool; then starts it. */
export async function startAgent(config: Config, logger: Logger): Promise<Agent> {
  const source = await selectSource(config, logger);
  await source.open();
  const spool = await Spool.open({
    dir: config.agent.spoolPath,
    maxBytes: config.agent.spoolMaxBytes,
    logger,
  });
  const target = new KafkaTransport({
    brokers: config.kafka.brokers,
    topic: config.kafka.topic,
    dlqTopic: config.kafka.dlqTopic,
    partitions: config.kafka.partitions,
    compression: config.kafka.compression,
    clientId: `${config.kafka.clientId}-agent`,
    logger,
  });
  const agent = new Agent({ source, target, spool, intervalMs: config.source.intervalMs, logger });
  agent.start();
  return agent;
}
