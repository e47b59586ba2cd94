import { hostname } from 'node:os';
import type { Config } from '../config/schema.ts';
import type { HealthReporter, MetricFamily, ReadinessCheck } from '../health/health-server.ts';
import { renderFamilies } from '../health/health-server.ts';
import type { Logger } from '../log.ts';
import { type PrometheusNames, renderCpuPackages, renderSamples } from '../metrics/prometheus.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { Sampler } from '../pipeline/sampler.ts';
import { hostMetricsOf } from '../sources/host/host-metrics-source.ts';
import { PodAttributingSource, withPodAttribution } from '../sources/kubernetes/pod-attribution.ts';
import { selectSource } from '../sources/registry.ts';
import { type Source, staleAfterMs } from '../sources/source.ts';
import { KafkaTransport } from '../transport/kafka/kafka-transport.ts';
import type { Transport } from '../transport/transport.ts';
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
  /** The names of the GPU metrics on /metrics (config `prometheus.names`, default both). */
  prometheusNames?: PrometheusNames;
  /** This machine's name, the `host` of its CPU packages on /metrics (config `source.host`, else the hostname). */
  hostName?: string;
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
  /** The samples of the last successful read, for /metrics. */
  private latest: readonly GpuSample[] = [];

  constructor(private readonly parts: AgentParts) {
    this.source = parts.source;
    this.publisher = new SpoolingPublisher({
      target: parts.target,
      spool: parts.spool,
      ...(parts.logger ? { logger: parts.logger } : {}),
      ...(parts.retryDelayMs !== undefined ? { retryDelayMs: parts.retryDelayMs } : {}),
    });
    const publisher = this.publisher;
    const recording: Transport = {
      publish: (samples) => {
        this.latest = samples;
        return publisher.publish(samples);
      },
      subscribe: () => publisher.subscribe(),
      close: () => publisher.close(),
    };
    this.sampler = new Sampler(parts.source, recording, parts.intervalMs, parts.logger);
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

  /**
   * What the health server reports. Ready while the source reads (a successful read within three intervals,
   * at least 10 s): Kafka being away does not make the agent unready, it spools and loses nothing, and the
   * `kafka` check says so. /metrics: the agent's counters, then the latest sample of each GPU (names as
   * `prometheus.names` says), while that read is not stale by the same rule: a source that stopped reading
   * leaves no frozen values behind. Where the source reads the host, each CPU package's temperature follows
   * (`host_cpu_package_temperature_celsius`), by the same rule.
   */
  healthReporter(now: () => number = Date.now): HealthReporter {
    return {
      readiness: () => this.readiness(now()),
      metrics: () => {
        const fresh = this.freshSamples(now());
        return (
          renderFamilies(this.metricFamilies()) +
          renderSamples(fresh, this.parts.prometheusNames ?? 'both') +
          this.cpuPackages(fresh.length > 0)
        );
      },
    };
  }

  /** The host's CPU packages of the last read, while that read is fresh; empty where the source reads no host. */
  private cpuPackages(fresh: boolean): string {
    const reading = fresh ? hostMetricsOf(this.source)?.lastReading() : null;
    if (!reading) return '';
    return renderCpuPackages(this.parts.hostName ?? hostname(), reading.cpuPackages);
  }

  private get staleMs(): number {
    return staleAfterMs(this.parts.intervalMs);
  }

  /** The last read's samples, or none when the source has not read successfully for `staleMs`. */
  private freshSamples(now: number): readonly GpuSample[] {
    const last = this.source.health().lastSuccessMs;
    return last !== null && now - last <= this.staleMs ? this.latest : [];
  }

  private readiness(now: number): ReadinessCheck[] {
    const health = this.source.health();
    const staleMs = this.staleMs;
    const last = health.lastSuccessMs;
    const source: ReadinessCheck =
      last === null
        ? {
            name: 'source',
            ok: false,
            detail: `${this.source.name}: no successful read yet${health.notice ? ` (${health.notice})` : ''}`,
          }
        : now - last > staleMs
          ? {
              name: 'source',
              ok: false,
              detail: `${this.source.name}: last successful read ${((now - last) / 1000).toFixed(1)} s ago${health.notice ? `: ${health.notice}` : ''}`,
            }
          : {
              name: 'source',
              ok: true,
              detail: `${this.source.name}: last read ${((now - last) / 1000).toFixed(1)} s ago`,
            };
    const { pending } = this.publisher.stats();
    const pods = this.podAttribution();
    const kubernetes: ReadinessCheck[] = pods
      ? [{ name: 'kubernetes', ok: true, detail: pods.status().detail }]
      : [];
    const kafka: ReadinessCheck = {
      name: 'kafka',
      ok: true,
      detail: this.publisher.isReachable()
        ? `reachable; ${pending} samples in the spool`
        : `unreachable: spooling on disk (${pending} samples pending), sent once Kafka is back`,
    };
    // The pod attribution never makes the agent unready: without it, samples only lack their pod.
    return [source, kafka, ...kubernetes];
  }

  /** The kubelet pod-resources attribution of the source, when it has one (kubernetes.podResourcesSocket). */
  private podAttribution() {
    return this.source instanceof PodAttributingSource ? this.source.attribution : undefined;
  }

  private metricFamilies(): MetricFamily[] {
    const s = this.stats();
    const counter = (name: string, help: string, value: number): MetricFamily => ({
      name,
      help,
      type: 'counter',
      samples: [{ value }],
    });
    const health = this.source.health();
    const pods = this.podAttribution()?.status();
    return [
      ...(pods
        ? [
            {
              name: 'gpumon_agent_pod_resources_up',
              help: "Whether the kubelet's pod-resources API answered the last List (1) or not (0).",
              type: 'gauge' as const,
              samples: [{ value: pods.ok ? 1 : 0 }],
            },
            counter(
              'gpumon_agent_pod_resources_failures_total',
              "Lists of the kubelet's pod-resources API that failed (samples carried no pod meanwhile).",
              pods.failures,
            ),
          ]
        : []),
      counter('gpumon_agent_samples_read_total', 'Samples read from the GPU source.', s.read),
      counter('gpumon_agent_samples_sent_total', 'Samples Kafka acknowledged.', s.sent),
      counter('gpumon_agent_samples_spooled_total', 'Samples written to the on-disk spool.', s.spooled),
      counter(
        'gpumon_agent_samples_dropped_total',
        'Samples the spool dropped to keep agent.spoolMaxBytes.',
        s.dropped,
      ),
      counter(
        'gpumon_agent_failed_reads_total',
        'Reads of the GPU source that failed as a whole.',
        s.failedReads,
      ),
      {
        name: 'gpumon_agent_spool_pending_samples',
        help: 'Samples in the spool, waiting for Kafka.',
        type: 'gauge',
        samples: [{ value: s.pending }],
      },
      {
        name: 'gpumon_agent_kafka_reachable',
        help: 'Whether the last send reached Kafka (1) or not (0).',
        type: 'gauge',
        samples: [{ value: this.publisher.isReachable() ? 1 : 0 }],
      },
      {
        name: 'gpumon_source_last_success_timestamp_seconds',
        help: 'When the source last returned samples (Unix time).',
        type: 'gauge',
        samples:
          health.lastSuccessMs === null
            ? []
            : [{ labels: { source: health.source }, value: health.lastSuccessMs / 1000 }],
      },
      {
        name: 'gpumon_source_errors_total',
        help: 'Failures of a source, by kind, since it started.',
        type: 'counter',
        samples: Object.entries(health.errors).map(([kind, value]) => ({
          labels: { source: health.source, kind },
          value,
        })),
      },
    ];
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
  // On a Kubernetes node, samples carry the pod holding their GPU (kubelet pod-resources; a warning if absent).
  const source = withPodAttribution(await selectSource(config, logger), config, logger, 'warn');
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
  const agent = new Agent({
    source,
    target,
    spool,
    intervalMs: config.source.intervalMs,
    logger,
    prometheusNames: config.prometheus.names,
    hostName: config.source.host || hostname(),
  });
  agent.start();
  return agent;
}
