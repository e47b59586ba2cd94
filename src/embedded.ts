import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Spool } from './agent/spool.ts';
import type { Config } from './config/schema.ts';
import { GpumonError, isGpumonError } from './errors.ts';
import type { Logger } from './log.ts';
import { AlertEvaluator } from './pipeline/alerts.ts';
import { LiveState } from './pipeline/live-state.ts';
import { Pipeline } from './pipeline/pipeline.ts';
import { Sampler } from './pipeline/sampler.ts';
import type { CronJob } from './schedule/cron-job.ts';
import { AlertEpisodeLog } from './server/alert-episodes.ts';
import { createApp } from './server/app.ts';
import { archiveHistory } from './server/archive-history.ts';
import { type ServerSecurity, serverSecurity } from './server/security-config.ts';
import { type RunningServer, startServer } from './server/serve.ts';
import { WebAssets } from './server/web-assets.ts';
import { ArchiveSink } from './sinks/archive/archive-sink.ts';
import { archiveSpoolPath, checkArchiveWritable, openStorage } from './sinks/archive/open-storage.ts';
import type { ArchiveStorage } from './sinks/archive/storage.ts';
import { hostMetricsOf } from './sources/host/host-metrics-source.ts';
import { withPodAttribution } from './sources/kubernetes/pod-attribution.ts';
import { selectSource } from './sources/registry.ts';
import { type Source, staleAfterMs } from './sources/source.ts';
import { MemoryTransport } from './transport/memory-transport.ts';
import { VERSION } from './version.ts';
import {
  analyticsHistory,
  analyticsJob,
  embeddedHealth,
  hourlyAnalyticsJob,
  resultReader,
  resultsApi,
  runsApi,
} from './wiring.ts';

/** What `gpumon up` runs, for as long as it runs. */
export interface EmbeddedGpumon {
  readonly url: string;
  readonly source: Source;
  readonly storage: ArchiveStorage;
  /** The archive spool: the write-ahead log of the samples not yet in the archive. */
  readonly spoolPath: string;
  /**
   * Stops sampling, writes every sample taken to the archive (until shortly before shutdown.timeoutMs; what
   * the archive did not take by then stays in the spool), stops the scheduler and the server.
   */
  stop(): Promise<StopReport>;
}

/** What a stop of `gpumon up` did with the samples. */
export interface StopReport {
  /** Samples taken from the source by this run. */
  emitted: number;
  /** Rows this run wrote to the archive, `replayed` included. */
  archived: number;
  /** Rows written from the spool an earlier run left (a crash, or a stop out of time). */
  replayed: number;
  /** Samples in the spool after the stop: written to the archive at the next start. */
  kept: number;
  /** At most this many samples are neither in the archive nor in the spool (the spool could not be written). */
  lost: number;
  spoolPath: string;
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
  const storage = openStorage(config);
  await checkArchiveWritable(storage);
  const spoolPath = resolve(archiveSpoolPath(config));
  const journal = await openArchiveSpool(spoolPath, config.archive.spoolMaxBytes, logger);
  let source: Source;
  try {
    // On a Kubernetes node, samples carry the pod holding their GPU; elsewhere the absent socket is only noted.
    source = withPodAttribution(await selectSource(config, logger), config, logger, 'info');
    await source.open();
  } catch (err) {
    await journal.close();
    throw err;
  }
  const transport = new MemoryTransport(logger);
  const live = new LiveState(config.live.windowSeconds * 1000);
  const archive = new ArchiveSink({
    storage,
    rowGroupSize: config.archive.rowGroupSize,
    threads: 1,
    logger,
  });
  const episodes = new AlertEpisodeLog();
  const alerts = new AlertEvaluator(config.alerts, config.analytics.maxGapSeconds * 1000, {
    repeatMs: 0,
    onEpisodeEnd: episodes.onEnd,
  });
  episodes.watch(alerts);
  const pipeline = new Pipeline({
    transport,
    group: 'embedded',
    alerts,
    live,
    sinks: [
      {
        sink: archive,
        batching: {
          maxRows: config.archive.flushMaxRows,
          maxAgeMs: config.archive.flushIntervalMs,
          maxBuffered: config.archive.flushMaxRows * 10,
          journal,
        },
      },
    ],
    logger,
    onAlerts: (alerts) => logger.debug({ alerts: alerts.length }, 'alerts raised'),
  });

  const job: CronJob = analyticsJob(config, storage, logger);
  if (config.schedule.enabled) await job.start();
  const hourly =
    config.schedule.enabled && config.schedule.hourly ? hourlyAnalyticsJob(config, storage, logger) : null;
  await hourly?.start();

  const assets = new WebAssets();
  await assets.warm();
  const history = analyticsHistory(config);
  const reader = resultReader(config, storage);
  const app = createApp(
    {
      live,
      sources: () => [source.health()],
      cpuPackages: () => freshCpuPackages(source, config),
      ...(source.processes ? { processes: () => source.processes?.() ?? Promise.resolve([]) } : {}),
      runs: runsApi(job, history),
      results: resultsApi(storage, reader),
      archive: archiveHistory(storage, reader),
      episodes: () => episodes.list(),
      health: embeddedHealth({
        source,
        intervalMs: config.source.intervalMs,
        startedAtMs: Date.now(),
        archive: () => pipeline.stats().find((s) => s.sink === archive.name),
        history,
      }),
      logger,
      version: VERSION,
    },
    {
      sampleIntervalMs: config.source.intervalMs,
      idle: { loadPercent: config.analytics.idleLoadPercent, memoryBytes: config.analytics.idleMemoryBytes },
      assets,
      security: http.security,
      limits: config.server,
      prometheusNames: config.prometheus.names,
    },
  );
  let server: RunningServer;
  try {
    server = await startServer(app, { host: config.server.host, port: config.server.port, tls: http.tls });
  } catch (err) {
    await hourly?.stop();
    await job.stop();
    await reader.close();
    await pipeline.close({ deadlineMs: Date.now() + config.shutdown.timeoutMs / 2 });
    await source.close();
    throw err;
  }

  const sampler = new Sampler(source, transport, config.source.intervalMs, logger);
  sampler.start();

  return {
    url: server.url,
    source,
    storage,
    spoolPath,
    async stop() {
      const timeoutMs = config.shutdown.timeoutMs;
      // The sinks get all but a reserve of the time, for giving up on a write and closing the rest.
      const deadlineMs = Date.now() + timeoutMs - Math.min(5000, timeoutMs / 4);
      await sampler.stop();
      const [stats] = await pipeline.close({ deadlineMs });
      await hourly?.stop();
      await job.stop();
      await server.close();
      await reader.close();
      await source.close();
      const kept = journal.stats().pending;
      return {
        emitted: sampler.emittedCount(),
        archived: stats?.written ?? 0,
        replayed: stats?.replayed ?? 0,
        kept,
        lost: Math.min(stats?.abandoned ?? 0, stats?.unjournaled ?? 0),
        spoolPath,
      };
    },
  };
}

/** Opens the archive spool for this process alone; ARCHIVE_NOT_WRITABLE when its directory cannot be made. */
async function openArchiveSpool(dir: string, maxBytes: number, logger: Logger): Promise<Spool> {
  try {
    return await Spool.open({ dir, maxBytes, exclusive: true, logger });
  } catch (err) {
    if (isGpumonError(err)) throw err;
    throw new GpumonError(
      'ARCHIVE_NOT_WRITABLE',
      `the archive spool ${dir} cannot be written; check archive.spoolPath (or archive.statePath)`,
      { cause: err },
    );
  }
}

/**
 * The host's CPU packages of the source's last read, for /metrics: none where the source reads no host, or
 * where its last successful read is stale (the rule of the GPU values: no frozen readings).
 */
function freshCpuPackages(source: Source, config: Config) {
  const reading = hostMetricsOf(source)?.lastReading();
  const last = source.health().lastSuccessMs;
  if (!reading || last === null || Date.now() - last > staleAfterMs(config.source.intervalMs)) return null;
  return { host: config.source.host || hostname(), packages: reading.cpuPackages };
}
