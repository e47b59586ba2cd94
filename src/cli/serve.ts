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

/** `gpumon serve`: the dashboard and API over an existing archive, without sampling. */
export function serveCommand(): Command {
  return withServerOptions(withConfigOption(new Command('serve')))
    .description(
      'Serve the dashboard and the HTTP API over an existing archive (analytics results and run history), ' +
        'without sampling any GPU. Live data comes from `gpumon up`; in a fleet, from InfluxDB (coming).',
    )
    .action(async (flags: ServerFlags) =>
      runCommand(async () => {
        const config = configFromCli(flags, serverFlagValues(flags));
        // Loaded here, not at the top: every command's module loads when the CLI starts.
        const { createLogger } = await import('../log.ts');
        const { LiveState } = await import('../pipeline/live-state.ts');
        const { createApp } = await import('../server/app.ts');
        const { startServer } = await import('../server/serve.ts');
        const { serverSecurity, TOKEN_HINT } = await import('../server/security-config.ts');
        const { requireArchive } = await import('./analyze.ts');
        const { openStorage } = await import('../sinks/archive/open-storage.ts');
        const { VERSION } = await import('../version.ts');
        const { analyticsHistory, resultReader, resultsApi, serveHealth } = await import('../wiring.ts');
        await requireArchive(config.archive.path, flags.archive === undefined ? 'archive.path' : '--archive');
        const access = await serverSecurity(config);
        if (access.warning) process.stderr.write(`\n  WARNING: ${access.warning}\n\n`);
        const logger = createLogger(config.log.level);
        const storage = openStorage(config);
        const history = analyticsHistory(config);
        const reader = resultReader(config, storage);
        const app = createApp(
          {
            live: new LiveState(config.live.windowSeconds * 1000),
            sources: () => [],
            runs: {
              list: () => history.load(),
              trigger: async () => ({
                started: false,
                refusal: 'RUNS_NOT_AVAILABLE',
                reason:
                  'gpumon serve does not run analytics: run `gpumon analyze` (or a CronJob), or use `gpumon up`',
              }),
              nextRunAt: () => null,
            },
            results: resultsApi(storage, reader),
            health: serveHealth(storage, history),
            logger,
            version: VERSION,
          },
          { sampleIntervalMs: config.source.intervalMs, security: access.security, limits: config.server },
        );
        const server = await startServer(app, {
          host: config.server.host,
          port: config.server.port,
          tls: access.tls,
        });
        process.stdout.write(
          `gpumon serve: dashboard at ${server.url} (archive: ${storage.uri}). Ctrl-C to stop.\n`,
        );
        if (access.security.token) process.stdout.write(`  ${TOKEN_HINT}\n`);
        await waitForStopSignal();
        exitOnSecondSignal('gpumon serve: stopping now');
        await server.close();
        await reader.close();
        return 0;
      }),
    );
}
