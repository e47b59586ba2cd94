import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import { AlertEvaluator } from './pipeline/alerts.ts';
import { LiveState } from './pipeline/live-state.ts';
import { Pipeline } from './pipeline/pipeline.ts';
import { Sampler } from './pipeline/sampler.ts';
import type { CronJob } from './schedule/cron-job.ts';
import { createApp } from './server/app.ts';
import { type ServerSecurity, serverSecurity } from './server/security-config.ts';
import { type RunningServer, startServer } from './server/serve.ts';
import { WebAssets } from './server/web-assets.ts';
import { ArchiveSink } from './sinks/archive/archive-sink.ts';
import { openStorage } from './sinks/archive/open-storage.ts';
import type { ArchiveStorage } from './sinks/archive/storage.ts';
import { selectSource } from './sources/registry.ts';
import type { Source } from './sources/source.ts';
import { MemoryTransport } from './transport/memory-transport.ts';
import { VERSION } from './version.ts';
import { analyticsHistory, analyticsJob, resultsApi, runsApi } from './wiring.ts';

/** What `gpumon up` runs, for as long as it runs. */
export interface EmbeddedGpumon {
  readonly url: string;
  readonly source: Source;
  readonly storage: ArchiveStorage;
  /** Stops sampling, writes every sample taken to the archive, stops the scheduler and the server. */
  stop(): Promise<{ emitted: number; archived: number }>;
}

/**
 * Starts gpumon on one machine: the source sampled into an in-process transport, the pipeline feeding the
 * live state and the Parquet archive, the daily analytics on a CronJob schedule, and the HTTP server.
 */
export async function startEmbedded(
  config: Config,
  logger: Logger,
  access?: ServerSecurity,
): Promise<EmbeddedGpumon> {
  const http = access ?? (await serverSecurity(config));
  const source = await selectSource(config, logger);
  await source.open();
  const storage = openStorage(config);
  const transport = new MemoryTransport(logger);
  const live = new LiveState(config.live.windowSeconds * 1000);
  const archive = new ArchiveSink({
    storage,
    rowGroupSize: config.archive.rowGroupSize,
    threads: 1,
    logger,
  });
  const pipeline = new Pipeline({
    transport,
    group: 'embedded',
    alerts: new AlertEvaluator(config.alerts, config.analytics.maxGapSeconds * 1000),
    live,
    sinks: [
      {
        sink: archive,
        batching: {
          maxRows: config.archive.flushMaxRows,
          maxAgeMs: config.archive.flushIntervalMs,
          maxBuffered: config.archive.flushMaxRows * 10,
        },
      },
    ],
    logger,
    onAlerts: (alerts) => logger.debug({ alerts: alerts.length }, 'alerts raised'),
  });

  const job: CronJob = analyticsJob(config, storage, logger);
  if (config.schedule.enabled) await job.start();

  const assets = new WebAssets();
  await assets.warm();
  const app = createApp(
    {
      live,
      sources: () => [source.health()],
      runs: runsApi(job, analyticsHistory(config)),
      results: resultsApi(storage),
      logger,
      version: VERSION,
    },
    { sampleIntervalMs: config.source.intervalMs, assets, security: http.security },
  );
  let server: RunningServer;
  try {
    server = await startServer(app, { host: config.server.host, port: config.server.port, tls: http.tls });
  } catch (err) {
    await job.stop();
    await pipeline.close();
    await source.close();
    throw err;
  }

  const sampler = new Sampler(source, transport, config.source.intervalMs, logger);
  sampler.start();

  return {
    url: server.url,
    source,
    storage,
    async stop() {
      await sampler.stop();
      await pipeline.close();
      const archived = pipeline.stats().find((s) => s.sink === archive.name)?.written ?? 0;
      await job.stop();
      await server.close();
      await source.close();
      return { emitted: sampler.emittedCount(), archived };
    },
  };
}
