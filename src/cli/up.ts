import { Command } from 'commander';
import { SOURCE_TYPES } from '../config/schema.ts';
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

interface UpFlags extends ServerFlags {
  source?: string;
}

/** `gpumon up`: the embedded mode, everything in one process. */
export function upCommand(): Command {
  return withServerOptions(withConfigOption(new Command('up')))
    .description(
      'Run gpumon on this machine: sample every local GPU (NVML, else nvidia-smi, else a simulated fleet, ' +
        'with a notice), keep live state, archive every sample as Parquet, run the daily analytics at 02:00 UTC ' +
        '(schedule.cron) and serve the live dashboard. Ctrl-C stops it after writing every sample to the archive.',
    )
    .option('-s, --source <type>', `GPU source: ${SOURCE_TYPES.join(' | ')} (source.type, default auto)`)
    .addHelpText(
      'after',
      '\nEvery setting can also come from a YAML file (--config) or GPUMON_* environment variables;\n' +
        'see docs/configuration.md. Exit status: 0 after Ctrl-C, 2 for a bad setting, 1 on failure.',
    )
    .action(async (flags: UpFlags) =>
      runCommand(async () => {
        const config = configFromCli(flags, { ...serverFlagValues(flags), 'source.type': flags.source });
        // Loaded here, not at the top: every command's module loads when the CLI starts.
        const { createLogger } = await import('../log.ts');
        const { startEmbedded } = await import('../embedded.ts');
        const { serverSecurity, TOKEN_HINT } = await import('../server/security-config.ts');
        const access = await serverSecurity(config);
        if (access.warning) process.stderr.write(`\n  WARNING: ${access.warning}\n\n`);
        const logger = createLogger(config.log.level);
        const running = await startEmbedded(config, logger, access);
        const notice = running.source.health().notice;
        if (notice) process.stderr.write(`\n  NOTICE: ${notice}\n\n`);
        process.stdout.write(
          `gpumon up: dashboard at ${running.url} (source: ${running.source.name}, archive: ${running.storage.uri}). ` +
            'Ctrl-C to stop.\n',
        );
        if (access.security.token) process.stdout.write(`  ${TOKEN_HINT}\n`);
        const signal = await waitForStopSignal();
        process.stderr.write(`gpumon: ${signal}: writing buffered samples to the archive...\n`);
        exitOnSecondSignal('gpumon: stopping now, buffered samples are lost');
        const { emitted, archived } = await running.stop();
        process.stdout.write(`gpumon stopped: ${emitted} samples emitted, ${archived} rows archived\n`);
        return archived === emitted ? 0 : 1;
      }),
    );
}
