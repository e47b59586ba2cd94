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
import { boundStop, EXIT_KEPT } from './shutdown.ts';

interface UpFlags extends ServerFlags {
  source?: string;
}

/** `gpumon up`: the embedded mode, everything in one process. */
export function upCommand(): Command {
  return withServerOptions(withConfigOption(new Command('up')))
    .description(
      'Run gpumon on this machine: sample every local GPU (NVML, else nvidia-smi, else a simulated fleet, ' +
        'with a notice), keep live state, archive every sample as Parquet, run the daily analytics at 02:00 UTC ' +
        '(schedule.cron) and serve the live dashboard. Each sample is appended to a write-ahead log (the ' +
        'archive spool) before it counts as taken, so a crash loses at most the last second. Ctrl-C stops it ' +
        'after writing every sample to the archive, within shutdown.timeoutMs (20 s): what the archive does ' +
        'not take by then stays in the spool and is written at the next start.',
    )
    .option('-s, --source <type>', `GPU source: ${SOURCE_TYPES.join(' | ')} (source.type, default auto)`)
    .addHelpText(
      'after',
      '\nEvery setting can also come from a YAML file (--config) or GPUMON_* environment variables;\n' +
        'see docs/configuration.md. Exit status: 0 after Ctrl-C with every sample archived, 75 when samples\n' +
        'were kept in the spool instead (the archive could not take them in time; written at the next start),\n' +
        '2 for a bad setting, 1 on failure (an archive that cannot be written at start: ARCHIVE_NOT_WRITABLE).',
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
        const kept = `samples not yet archived stay in the spool ${running.spoolPath} for the next start`;
        exitOnSecondSignal(`gpumon: stopping now; ${kept}`);
        const stopped = boundStop(
          config.shutdown.timeoutMs,
          `gpumon: the stop took longer than shutdown.timeoutMs (${config.shutdown.timeoutMs} ms); exiting: ${kept}`,
        );
        const report = await running.stop();
        const replayed = report.replayed > 0 ? ` (${report.replayed} from the spool of an earlier run)` : '';
        const summary = `${report.emitted} samples emitted, ${report.archived} rows archived${replayed}`;
        if (report.kept === 0 && report.lost === 0) {
          process.stdout.write(`gpumon stopped: ${summary}\n`);
          return stopped(0);
        }
        const where = `${report.kept} samples kept in the spool ${report.spoolPath}, written to the archive at the next start`;
        const lost =
          report.lost > 0 ? `; up to ${report.lost} samples lost (the spool could not be written)` : '';
        logger.warn(
          { kept: report.kept, spool: report.spoolPath, lost: report.lost },
          `the archive did not take every sample by shutdown.timeoutMs: ${where}${lost}`,
        );
        process.stdout.write(`gpumon stopped: ${summary}; ${where}${lost}\n`);
        return stopped(report.lost > 0 ? 1 : EXIT_KEPT);
      }),
    );
}
