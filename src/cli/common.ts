import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { Config, ConfigKey } from '../config/schema.ts';
import { describeError, GpumonError, isGpumonError } from '../errors.ts';

/** Exit statuses of every command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Adds the option every command has: --config FILE (also GPUMON_CONFIG). */
export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'YAML configuration file (env: GPUMON_CONFIG)');
}

/**
 * Loads the configuration for a command: the --config file (or GPUMON_CONFIG), the process environment, and
 * the given flag values by dotted key (undefined = not given).
 */
export function configFromCli(
  opts: { config?: string },
  flags: Partial<Record<ConfigKey, unknown>> = {},
): Config {
  return loadConfig({ file: opts.config ?? process.env.GPUMON_CONFIG, env: process.env, flags });
}

/**
 * Runs a command body; a GpumonError becomes a clear message on stderr and an exit status (2 for bad
 * configuration or usage, 1 otherwise). Unexpected errors print their stack.
 */
export async function runCommand(body: () => Promise<unknown>): Promise<void> {
  try {
    const code = await body();
    process.exitCode = typeof code === 'number' ? code : EXIT.ok;
  } catch (err) {
    process.exitCode = exitCodeFor(err);
    if (err instanceof GpumonError) process.stderr.write(`gpumon: ${describeError(err)}\n`);
    else
      process.stderr.write(
        `gpumon: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
  }
}

export function exitCodeFor(err: unknown): number {
  if (
    isGpumonError(err, 'CONFIG_INVALID') ||
    isGpumonError(err, 'CONFIG_FILE_UNREADABLE') ||
    isGpumonError(err, 'USAGE')
  ) {
    return EXIT.usage;
  }
  return EXIT.failure;
}

/** Parses a YYYY-MM-DD date argument, or throws USAGE naming the flag. */
export function parseDateArg(value: string, flag: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new GpumonError('USAGE', `${flag} must be a date as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  }
  const roundTrip = new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10);
  if (roundTrip !== value) throw new GpumonError('USAGE', `${flag}: ${value} is not a calendar date`);
  return value;
}

/** Flags of the commands that serve the dashboard: --port, --host, --archive. */
export interface ServerFlags {
  config?: string;
  port?: string;
  host?: string;
  archive?: string;
}

/** Adds --port, --host and --archive, each naming the configuration key it sets. */
export function withServerOptions(command: Command): Command {
  return command
    .option('-p, --port <port>', 'HTTP port, 0 for any free port (server.port, default 8080)')
    .option('--host <address>', 'address to listen on (server.host, default 127.0.0.1)')
    .option('-a, --archive <dir>', 'archive directory (archive.path, default ./data)');
}

/** The configuration keys the server flags set. */
export function serverFlagValues(flags: ServerFlags): Partial<Record<ConfigKey, unknown>> {
  return { 'server.port': flags.port, 'server.host': flags.host, 'archive.path': flags.archive };
}

/**
 * Once a command is stopping: a second SIGINT or SIGTERM exits at once with status 130, after saying on
 * stderr what is given up (`what`).
 */
export function exitOnSecondSignal(what: string): void {
  const forced = () => {
    process.stderr.write(`${what}\n`);
    process.exit(130);
  };
  process.once('SIGINT', forced);
  process.once('SIGTERM', forced);
}

/** Resolves with the first SIGINT or SIGTERM. */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
