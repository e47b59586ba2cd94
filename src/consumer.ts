import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import { AlertEvaluator } from './pipeline/alerts.ts';
import type { BatcherOptions, BatcherStats } from './pipeline/batcher.ts';
import { Pipeline } from './pipeline/pipeline.ts';
import { InfluxDbStreamSink } from './sinks/influxdb/stream-sink.ts';
import { decodeSampleWithLine } from './sinks/influxdb/v1-line-decoder.ts';
import type { Sink } from './sinks/sink.ts';
import { KafkaTransport } from './transport/kafka/kafka-transport.ts';

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

export interface RunningConsumer {
  /** Stops consuming, writes what is buffered, commits, closes. */
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
  const pipelines: { group: string; pipeline: Pipeline }[] = [];
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
      ...(name === 'influxdb' ? { decode: decodeSampleWithLine } : {}),
      logger,
    });
    // No live state here, and the InfluxDB sink evaluates the alerts itself: the pipeline evaluates none.
    const pipeline = new Pipeline({
      transport,
      group,
      sinks: await sinksOf(name, config, logger),
      logger,
    });
    pipelines.push({ group, pipeline });
    logger.info({ group, topic: config.kafka.topic }, `consuming into ${name}`);
  }
  return {
    async stop() {
      return Promise.all(
        pipelines.map(async ({ group, pipeline }) => {
          await pipeline.close();
          return { group, received: pipeline.receivedCount(), sinks: pipeline.stats() };
        }),
      );
    },
  };
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
  // Writes of two requests' worth (two in flight, influx-client.ts); at a fleet's pace (1,000 GPUs at 1 Hz) a
  // write every 500 ms, which keeps a sample queryable within about a second of being read. Two writes' worth
  // held at most: one being written, the next one filling. (Bigger writes send faster when InfluxDB has the
  // machine to itself, but cost the consumer more memory and GC: no faster end to end, bench/pipeline.)
  const batching = { maxRows: lines * 2, maxAgeMs: 500, maxBuffered: lines * 4 };
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
