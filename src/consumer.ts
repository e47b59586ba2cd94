import type { Config } from './config/schema.ts';
import {
  type HealthReporter,
  type MetricFamily,
  type ReadinessCheck,
  renderFamilies,
} from './health/health-server.ts';
import type { Logger } from './log.ts';
import { AlertEvaluator } from './pipeline/alerts.ts';
import type { BatcherOptions, BatcherStats } from './pipeline/batcher.ts';
import { Pipeline } from './pipeline/pipeline.ts';
import { InfluxDbStreamSink } from './sinks/influxdb/stream-sink.ts';
import type { Sink } from './sinks/sink.ts';
import { KafkaTransport } from './transport/kafka/kafka-transport.ts';
import { decodeRecordWithLines } from './transport/kafka/line-decoder.ts';

/** The sink groups `gpumon consume` can run; each is its own consumer group, committing on its own acks. */
export const CONSUMER_SINKS = ['influxdb', 'archive'] as const;
export type ConsumerSink = (typeof CONSUMER_SINKS)[number];

/** The consumer group of a sink group: `<kafka.groupPrefix>-<sink>`, by default `gpumon-influxdb`, `gpumon-archive`. */
export const consumerGroup = (prefix: string, sink: ConsumerSink): string => `${prefix}-${sink}`;

/** The alert rules as `gpumon consume` reports them to `gpu_alerts`: episodes, repeated every alerts.repeatSeconds. */
export function streamAlerts(config: Config): AlertEvaluator {
  return new AlertEvaluator(config.alerts, config.analytics.maxGapSeconds * 1000, {
    repeatMs: config.alerts.repeatSeconds * 1000,
  });
}

/** A sink that has failed every write for this long makes `gpumon consume` unready (/readyz). */
export const SINK_FAILING_UNREADY_MS = 30_000;

export interface RunningConsumer {
  /**
   * What the health server reports: ready while every group's stream to Kafka is open and no sink has failed
   * every write for SINK_FAILING_UNREADY_MS (it is retried meanwhile, and nothing is committed past it).
   */
  healthReporter(now?: () => number): HealthReporter;
  /**
   * Stops consuming, writes what is buffered, commits, closes; within shutdown.timeoutMs: a sink that has
   * not written everything a few seconds before is given up, and nothing past what it wrote is committed
   * (its `abandoned` count: Kafka delivers those samples again to the next consume of the group).
   */
  stop(): Promise<{ group: string; received: number; sinks: BatcherStats[] }[]>;
}

/**
 * `gpumon consume`: for each sink group, a Kafka consumer group feeding a Pipeline, which acknowledges (and so
 * lets the transport commit offsets) only once its sinks hold the samples: InfluxDB (samples, 30 s windows,
 * alerts) and the Parquet archive. Several processes with the same configuration share the partitions.
 */
export async function startConsumer(
  config: Config,
  logger: Logger,
  sinks: readonly ConsumerSink[] = CONSUMER_SINKS,
): Promise<RunningConsumer> {
  if (sinks.includes('archive')) {
    // Before any group consumes: an archive that cannot be written stops the start (ARCHIVE_NOT_WRITABLE).
    const { checkArchiveWritable, openStorage } = await import('./sinks/archive/open-storage.ts');
    await checkArchiveWritable(openStorage(config));
  }
  const pipelines: { group: string; transport: KafkaTransport; pipeline: Pipeline }[] = [];
  for (const name of sinks) {
    const group = consumerGroup(config.kafka.groupPrefix, name);
    const transport = new KafkaTransport({
      brokers: config.kafka.brokers,
      topic: config.kafka.topic,
      dlqTopic: config.kafka.dlqTopic,
      partitions: config.kafka.partitions,
      compression: config.kafka.compression,
      clientId: `${config.kafka.clientId}-${name}`,
      // The InfluxDB group decodes each record straight into its line of line protocol as well.
      ...(name === 'influxdb' ? { decode: decodeRecordWithLines } : {}),
      logger,
    });
    // No live state here, and the InfluxDB sink evaluates the alerts itself: the pipeline evaluates none.
    const pipeline = new Pipeline({
      transport,
      group,
      sinks: await sinksOf(name, config, logger),
      logger,
    });
    pipelines.push({ group, transport, pipeline });
    logger.info({ group, topic: config.kafka.topic }, `consuming into ${name}`);
  }
  return {
    healthReporter: (now = Date.now) => ({
      readiness: () => consumerReadiness(pipelines, now()),
      metrics: () => renderFamilies(consumerMetrics(pipelines)),
    }),
    async stop() {
      const timeoutMs = config.shutdown.timeoutMs;
      // The sinks get all but a reserve of the time, for giving up on a write and closing the rest.
      const deadlineMs = Date.now() + timeoutMs - Math.min(5000, timeoutMs / 4);
      return Promise.all(
        pipelines.map(async ({ group, pipeline }) => {
          const sinks = await pipeline.close({ deadlineMs });
          return { group, received: pipeline.receivedCount(), sinks };
        }),
      );
    },
  };
}

interface ConsumerGroupParts {
  group: string;
  transport: KafkaTransport;
  pipeline: Pipeline;
}

function consumerReadiness(pipelines: readonly ConsumerGroupParts[], now: number): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [];
  for (const { group, transport, pipeline } of pipelines) {
    const consuming = transport.isConsuming(group);
    const partitions = transport.assignedPartitions(group);
    checks.push({
      name: `kafka:${group}`,
      ok: consuming,
      detail: consuming
        ? `consuming ${transport.options.topic}, partitions [${partitions.join(',')}]`
        : `not consuming: Kafka ${transport.options.brokers.join(',')} not reached yet, or the stream is reopening`,
    });
    for (const sink of pipeline.stats()) {
      const failingMs = sink.failingSinceMs === null ? 0 : now - sink.failingSinceMs;
      checks.push({
        name: `sink:${group}:${sink.sink}`,
        ok: failingMs <= SINK_FAILING_UNREADY_MS,
        detail:
          sink.failingSinceMs === null
            ? `${sink.written} samples written`
            : `every write failing for ${(failingMs / 1000).toFixed(0)} s (retried; nothing committed past it)`,
      });
    }
  }
  return checks;
}

function consumerMetrics(pipelines: readonly ConsumerGroupParts[]): MetricFamily[] {
  const family = (
    name: string,
    type: MetricFamily['type'],
    help: string,
    samples: MetricFamily['samples'],
  ): MetricFamily => ({ name, type, help, samples });
  const perGroup = (value: (p: ConsumerGroupParts) => number) =>
    pipelines.map((p) => ({ labels: { group: p.group }, value: value(p) }));
  const perSink = (value: (s: BatcherStats) => number) =>
    pipelines.flatMap((p) =>
      p.pipeline.stats().map((s) => ({ labels: { group: p.group, sink: s.sink }, value: value(s) })),
    );
  const kafka = (p: ConsumerGroupParts) => p.transport.stats().groups[p.group];
  return [
    family(
      'gpumon_consume_samples_received_total',
      'counter',
      'Samples received from Kafka.',
      perGroup((p) => p.pipeline.receivedCount()),
    ),
    family(
      'gpumon_consume_samples_committed_total',
      'counter',
      'Samples whose offsets were committed after their sinks held them.',
      perGroup((p) => kafka(p)?.delivered ?? 0),
    ),
    family(
      'gpumon_consume_redeliveries_total',
      'counter',
      'Deliveries handed to the sinks again after a failure.',
      perGroup((p) => kafka(p)?.redeliveries ?? 0),
    ),
    family(
      'gpumon_consume_dead_lettered_total',
      'counter',
      'Malformed records sent to the dead-letter topic.',
      perGroup((p) => kafka(p)?.deadLettered ?? 0),
    ),
    family(
      'gpumon_consume_commit_failures_total',
      'counter',
      'Offset commits that failed (the records are read again).',
      perGroup((p) => kafka(p)?.commitFailures ?? 0),
    ),
    family(
      'gpumon_consume_reconnects_total',
      'counter',
      'Times the Kafka consumer stream failed and was opened again.',
      perGroup((p) => kafka(p)?.reconnects ?? 0),
    ),
    family(
      'gpumon_consume_kafka_consuming',
      'gauge',
      'Whether the stream to Kafka is open (1) or not (0).',
      perGroup((p) => (p.transport.isConsuming(p.group) ? 1 : 0)),
    ),
    family(
      'gpumon_consume_assigned_partitions',
      'gauge',
      'Partitions of the topic assigned to this process.',
      perGroup((p) => p.transport.assignedPartitions(p.group).length),
    ),
    family(
      'gpumon_consume_sink_written_total',
      'counter',
      'Samples a sink has written.',
      perSink((s) => s.written),
    ),
    family(
      'gpumon_consume_sink_write_failures_total',
      'counter',
      'Failed writes of a sink (each retried).',
      perSink((s) => s.failures),
    ),
    family(
      'gpumon_consume_sink_buffered_samples',
      'gauge',
      'Samples a sink holds, waiting or being written.',
      perSink((s) => s.buffered),
    ),
  ];
}

async function sinksOf(
  name: ConsumerSink,
  config: Config,
  logger: Logger,
): Promise<{ sink: Sink; batching: BatcherOptions }[]> {
  if (name === 'archive') {
    // Loaded only when asked for: the archive brings DuckDB, which an InfluxDB-only consumer does not need.
    const { ArchiveSink } = await import('./sinks/archive/archive-sink.ts');
    const { openStorage } = await import('./sinks/archive/open-storage.ts');
    return [
      {
        sink: new ArchiveSink({
          storage: openStorage(config),
          rowGroupSize: config.archive.rowGroupSize,
          logger,
        }),
        batching: {
          maxRows: config.archive.flushMaxRows,
          maxAgeMs: config.archive.flushIntervalMs,
          maxBuffered: config.archive.flushMaxRows * 2,
        },
      },
    ];
  }
  const lines = config.influxdb.batchLines;
  // Writes of two requests' worth (two in flight, influx-client.ts), or what came within influxdb.flushMs of
  // the batch's first sample: at a fleet's pace (1,000 GPUs at 1 Hz) a small write every flushMs, so a sample
  // is queryable within a few hundred ms of being taken (bench/pipeline/freshness.ts); a consumer catching up
  // fills batches by size first. influxdb.writesInFlight writes at a time (2): a slow write does not hold up
  // the batches behind it (the stream sink aggregates each batch when its write starts, in order; offsets are
  // committed in order). Two writes' worth held at most, in flight or filling. (Bigger writes send faster when
  // InfluxDB has the machine to itself, but cost the consumer more memory and GC: no faster end to end.)
  const batching = {
    maxRows: lines * 2,
    maxAgeMs: config.influxdb.flushMs,
    maxBuffered: lines * 4,
    maxWritesInFlight: config.influxdb.writesInFlight,
  };
  // One sink for samples, windows and alerts: one pass per batch, the same requests (stream-sink.ts).
  const sink = new InfluxDbStreamSink(
    config.influxdb,
    {
      windowSeconds: config.stream.windowSeconds,
      alerts: streamAlerts(config),
    },
    { logger },
  );
  return [{ sink, batching }];
}
