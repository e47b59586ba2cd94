import { Command } from 'commander';
import {
  configFromCli,
  exitOnSecondSignal,
  runCommand,
  type ServerFlags,
  serverFlagValues,
  waitForStopSignal,
  withConfigOption,
  withServerOptions,
} from './common.ts';

interface ServeFlags extends ServerFlags {
  live?: string;
  influxdb?: string;
}

/** `gpumon serve`: the dashboard and API over an existing archive and the live fleet, without sampling. */
export function serveCommand(): Command {
  return withServerOptions(withConfigOption(new Command('serve')))
    .description(
      'Serve the dashboard and the HTTP API over an existing archive (analytics results and run history), ' +
        'without sampling any GPU. The live fleet (the GPU list, the live series, /api/stream, /metrics) is ' +
        'read from InfluxDB, where `gpumon consume` writes every sample: polled every serve.pollMs, the whole ' +
        'live window (live.windowSeconds) at start. serve.live auto (the default) uses InfluxDB if it answers ' +
        'at start; influxdb waits for it; none serves the analytics results only. InfluxDB is reached as ' +
        'influxdb.* says (url, database, username/password or token; GPUMON_INFLUXDB_* variables). Its health ' +
        'is the `live` check of /api/health. docs/influxdb.md, Reading.',
    )
    .option(
      '--live <mode>',
      'where the live fleet comes from: auto | influxdb | none (serve.live, default auto)',
    )
    .option('--influxdb <url>', 'InfluxDB base URL of the live fleet (influxdb.url)')
    .action(async (flags: ServeFlags) =>
      runCommand(async () => {
        const config = configFromCli(
          flags,
          {
            ...serverFlagValues(flags),
            'serve.live': flags.live,
            'influxdb.url': flags.influxdb,
          },
          { 'serve.live': '--live' },
        );
        // Loaded here, not at the top: every command's module loads when the CLI starts.
        const { createLogger } = await import('../log.ts');
        const { LiveState } = await import('../pipeline/live-state.ts');
        const { createApp } = await import('../server/app.ts');
        const { archiveHistory } = await import('../server/archive-history.ts');
        const { startServer } = await import('../server/serve.ts');
        const { serverSecurity, TOKEN_HINT } = await import('../server/security-config.ts');
        const { requireArchive } = await import('./analyze.ts');
        const { openStorage } = await import('../sinks/archive/open-storage.ts');
        const { VERSION } = await import('../version.ts');
        const { analyticsHistory, resultReader, resultsApi, serveHealth } = await import('../wiring.ts');
        const { openLiveFeed } = await import('../live/open-live-feed.ts');
        const { liveFeedSource } = await import('../live/live-feed.ts');
        const { liveFeedCheck } = await import('../server/health.ts');
        await requireArchive(config.archive.path, flags.archive === undefined ? 'archive.path' : '--archive');
        const access = await serverSecurity(config);
        if (access.warning) process.stderr.write(`\n  WARNING: ${access.warning}\n\n`);
        const logger = createLogger(config.log.level);
        const storage = openStorage(config);
        const history = analyticsHistory(config);
        const reader = resultReader(config, storage);
        const live = new LiveState(config.live.windowSeconds * 1000);
        const { AlertEvaluator } = await import('../pipeline/alerts.ts');
        const { AlertEpisodeLog } = await import('../server/alert-episodes.ts');
        const episodes = new AlertEpisodeLog();
        const alerts = new AlertEvaluator(config.alerts, config.analytics.maxGapSeconds * 1000, {
          repeatMs: 0,
          onEpisodeEnd: episodes.onEnd,
        });
        episodes.watch(alerts);
        const { feed, says } = await openLiveFeed(config, live, logger, alerts);
        logger.info({ live: feed?.name ?? 'none' }, says);
        const archiveHealth = serveHealth(storage, history);
        // The newest sample older than this is not live: a few of the agents' intervals and of the polls.
        const staleMs = Math.max(30_000, 3 * config.source.intervalMs, 3 * config.serve.pollMs);
        const app = createApp(
          {
            live,
            sources: () => (feed ? [liveFeedSource(feed.health())] : []),
            runs: {
              list: () => history.load(),
              trigger: async () => ({
                started: false,
                refusal: 'RUNS_NOT_AVAILABLE',
                reason:
                  'gpumon serve does not run analytics: run `gpumon analyze` (or a CronJob), or use `gpumon up`',
              }),
              nextRunAt: () => null,
              cannotRun:
                'gpumon serve does not run analytics: run `gpumon analyze` (or a CronJob), or use `gpumon up`',
            },
            results: resultsApi(storage, reader),
            archive: archiveHistory(storage, reader),
            ...(feed ? { episodes: () => episodes.list() } : {}),
            health: async () => [
              ...(feed ? [liveFeedCheck(feed.health(), staleMs, Date.now())] : []),
              ...(await archiveHealth()),
            ],
            logger,
            version: VERSION,
          },
          {
            sampleIntervalMs: config.source.intervalMs,
            idle: {
              loadPercent: config.analytics.idleLoadPercent,
              memoryBytes: config.analytics.idleMemoryBytes,
            },
            security: access.security,
            limits: config.server,
            prometheusNames: config.prometheus.names,
          },
        );
        const server = await startServer(app, {
          host: config.server.host,
          port: config.server.port,
          tls: access.tls,
        });
        // One write: a reader of the output (a test, a supervisor's log) gets the start message whole.
        process.stdout.write(
          `gpumon serve: dashboard at ${server.url} (archive: ${storage.uri}). Ctrl-C to stop.\n` +
            `  ${says}\n${access.security.token ? `  ${TOKEN_HINT}\n` : ''}`,
        );
        feed?.start();
        await waitForStopSignal();
        exitOnSecondSignal('gpumon serve: stopping now');
        await feed?.stop();
        await server.close();
        await reader.close();
        return 0;
      }),
    );
}
