import { constants } from 'node:os';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { Config, ConfigKey } from '../config/schema.ts';
import { describeError, GpumonError, isGpumonError } from '../errors.ts';

/** Exit statuses of every command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** The command being run (`gpumon analyze`), for the --help hint after a usage error. */
let commandName = 'gpumon';

/** Names the command being run, for the hint after a usage error (`analyze` -> `gpumon analyze`). */
export function setCommandName(name: string): void {
  commandName = name === 'gpumon' ? name : `gpumon ${name}`;
}

/** The line printed after a usage error: `see 'gpumon analyze --help'`. */
export function usageHint(command = commandName): string {
  return `see '${command} --help'`;
}

/**
 * Makes commander's own errors (unknown flag or command, a flag without its value, a missing argument) exit
 * with status 2 and print the --help hint of `name` (`gpumon up`); --help and --version still exit 0.
 */
export function withUsageExit(command: Command, name: string): Command {
  return command
    .showHelpAfterError(usageHint(name))
    .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage));
}

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
  flagNames: Partial<Record<ConfigKey, string>> = {},
): Config {
  return loadConfig({
    file: opts.config ?? process.env.GPUMON_CONFIG,
    env: process.env,
    flags,
    flagNames: { ...FLAG_NAMES, ...flagNames },
    onWarning: warnOnce,
  });
}

/**
 * The flag that sets each configuration key, as people type it, the same on every command that has it (a
 * command with another spelling passes its own to `configFromCli`): errors name the flag, not the key.
 */
export const FLAG_NAMES: Partial<Record<ConfigKey, string>> = {
  'server.port': '--port',
  'server.host': '--host',
  'server.tokenFile': '--token-file',
  'server.auth': '--no-auth',
  'server.tlsCertFile': '--tls-cert',
  'server.tlsKeyFile': '--tls-key',
  'server.allowedHosts': '--allowed-hosts',
  'archive.path': '--archive',
  'source.type': '--source',
  'kafka.brokers': '--brokers',
  'kafka.topic': '--topic',
  'influxdb.url': '--influxdb',
  'health.port': '--health-port',
  'agent.spoolPath': '--spool',
  'analytics.engine': '--engine',
  'analytics.sparkRemote': '--spark-remote',
  'analytics.skipCorrupt': '--skip-corrupt',
  'analytics.writeInfluxdb': '--write-influxdb',
};

const warned = new Set<string>();

/** A configuration warning on stderr, once per process. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`gpumon: warning: ${message}\n`);
}

/**
 * Runs a command body; a GpumonError becomes a clear message on stderr and an exit status (2 for bad
 * configuration or usage, with the --help hint; 1 otherwise). Unexpected errors print their stack.
 */
export async function runCommand(body: () => Promise<unknown>): Promise<void> {
  try {
    const code = await body();
    process.exitCode = typeof code === 'number' ? code : EXIT.ok;
  } catch (err) {
    process.exitCode = exitCodeFor(err);
    if (err instanceof GpumonError) {
      process.stderr.write(`gpumon: ${describeError(err)}\n`);
      if (process.exitCode === EXIT.usage) process.stderr.write(`${usageHint()}\n`);
    } else
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

/** Flags of the commands that serve the dashboard: --port, --host, --archive and the access flags. */
export interface ServerFlags {
  config?: string;
  port?: string;
  host?: string;
  archive?: string;
  tokenFile?: string;
  /** false with --no-auth. */
  auth?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  allowedHosts?: string;
}

/** Adds --port, --host, --archive and the access flags, each naming the configuration key it sets. */
export function withServerOptions(command: Command): Command {
  return command
    .option('-p, --port <port>', 'HTTP port, 0 for any free port (server.port, default 8080)')
    .option('--host <address>', 'address to listen on (server.host, default 127.0.0.1)')
    .option('-a, --archive <dir>', 'archive directory (archive.path, default ./data)')
    .option(
      '--token-file <file>',
      'file holding the token the API and the page ask for (server.tokenFile; needed beyond loopback)',
    )
    .option(
      '--no-auth',
      'serve without a token, even beyond loopback (server.auth none; see docs/security.md)',
    )
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (server.tlsCertFile)')
    .option('--tls-key <file>', 'the private key of --tls-cert (server.tlsKeyFile)')
    .option(
      '--allowed-hosts <names>',
      'more host names the server answers, comma-separated (server.allowedHosts)',
    );
}

/** The configuration keys the server flags set. */
export function serverFlagValues(flags: ServerFlags): Partial<Record<ConfigKey, unknown>> {
  return {
    'server.port': flags.port,
    'server.host': flags.host,
    'archive.path': flags.archive,
    'server.tokenFile': flags.tokenFile,
    'server.auth': flags.auth === false ? 'none' : undefined,
    'server.tlsCertFile': flags.tlsCert,
    'server.tlsKeyFile': flags.tlsKey,
    'server.allowedHosts': flags.allowedHosts,
  };
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

/**
 * Calls `stop` on the first SIGINT or SIGTERM (instead of the default: dying at once); `signal()` says which
 * came, `dispose()` removes the handlers.
 */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void): {
  signal(): NodeJS.Signals | undefined;
  dispose(): void;
} {
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    const first = received === undefined;
    received ??= signal;
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    if (first) stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: () => received,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** The exit status of a command stopped by `signal`: 128 + its number (130 for SIGINT, 143 for SIGTERM). */
export function exitStatusOf(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** Resolves with the first SIGINT or SIGTERM. */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
