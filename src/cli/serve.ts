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
        const { openStorage } = await import('../sinks/archive/open-storage.ts');
        const { VERSION } = await import('../version.ts');
        const { analyticsHistory, resultsApi } = await import('../wiring.ts');
        const logger = createLogger(config.log.level);
        const storage = openStorage(config);
        const history = analyticsHistory(config);
        const app = createApp(
          {
            live: new LiveState(config.live.windowSeconds * 1000),
            sources: () => [],
            runs: {
              list: () => history.load(),
              trigger: async () => ({
                started: false,
                reason: 'gpumon serve does not run analytics: use `gpumon analyze` or `gpumon up`',
              }),
              nextRunAt: () => null,
            },
            results: resultsApi(storage),
            logger,
            version: VERSION,
          },
          { sampleIntervalMs: config.source.intervalMs },
        );
        const server = await startServer(app, { host: config.server.host, port: config.server.port });
        process.stdout.write(
          `gpumon serve: dashboard at ${server.url} (archive: ${storage.uri}). Ctrl-C to stop.\n`,
        );
        await waitForStopSignal();
        exitOnSecondSignal('gpumon serve: stopping now');
        await server.close();
        return 0;
      }),
    );
}
