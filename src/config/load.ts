import { readFileSync } from 'node:fs';
import { Cron } from 'croner';
import { parse as parseYaml } from 'yaml';
import { GpumonError } from '../errors.ts';
import { isRemoteArchive, parseHdfsLocation } from './archive-uri.ts';
import { CONFIG_FIELDS, type Config, type ConfigField, type ConfigKey, envName } from './schema.ts';

/** Where a configuration value came from, for error messages. */
type Origin = 'default' | `file ${string}` | `env ${string}` | `flag ${string}`;

export interface LoadOptions {
  /** A YAML file; its keys are the nested form of the dotted keys (`server: { port: 8080 }`). */
  file?: string | undefined;
  /** Environment to read GPUMON_* variables from (default: none). */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, by dotted key; undefined values are ignored. */
  flags?: Partial<Record<ConfigKey, unknown>>;
}

const KEYS = Object.keys(CONFIG_FIELDS) as ConfigKey[];

/**
 * Builds the configuration: defaults, then the YAML file, then GPUMON_* environment variables, then flags.
 * Any bad key or value throws CONFIG_INVALID naming the key, where it came from and what is allowed.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const raw = new Map<ConfigKey, { value: unknown; origin: Origin }>();
  for (const key of KEYS) raw.set(key, { value: CONFIG_FIELDS[key].default, origin: 'default' });

  if (options.file) {
    for (const [key, value] of readConfigFile(options.file))
      raw.set(key, { value, origin: `file ${options.file}` });
  }
  const env = options.env ?? {};
  for (const key of KEYS) {
    const field: ConfigField = CONFIG_FIELDS[key];
    for (const name of [envName(key), ...(field.aliases ?? [])]) {
      const value = env[name];
      if (value !== undefined && value !== '') {
        raw.set(key, { value, origin: `env ${name}` });
        break;
      }
    }
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    if (!(key in CONFIG_FIELDS)) throw invalid(key, `flag`, 'is not a configuration key');
    raw.set(key as ConfigKey, { value, origin: `flag ${key}` });
  }

  const config: Record<string, unknown> = {};
  for (const key of KEYS) {
    const field: ConfigField = CONFIG_FIELDS[key];
    const { value, origin } = raw.get(key) as { value: unknown; origin: Origin };
    const result = field.schema.safeParse(value);
    if (!result.success) {
      throw invalid(key, origin, `must be ${field.allowed}, got ${JSON.stringify(value)}`, result.error);
    }
    setPath(config, key, result.data);
  }
  const typed = config as unknown as Config;
  checkSchedule(typed, raw);
  if (isRemoteArchive(typed.archive.path)) parseHdfsLocation(typed.archive.path);
  return typed;
}

function checkSchedule(config: Config, raw: Map<ConfigKey, { origin: Origin }>): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: config.schedule.timezone });
  } catch (cause) {
    throw invalid(
      'schedule.timezone',
      raw.get('schedule.timezone')?.origin ?? 'default',
      `must be an IANA time zone name (e.g. UTC, Europe/Paris), got ${JSON.stringify(config.schedule.timezone)}`,
      cause,
    );
  }
  try {
    new Cron(config.schedule.cron, { paused: true, timezone: config.schedule.timezone });
  } catch (cause) {
    throw invalid(
      'schedule.cron',
      raw.get('schedule.cron')?.origin ?? 'default',
      `must be a cron expression such as "0 2 * * *", got ${JSON.stringify(config.schedule.cron)}`,
      cause,
    );
  }
}

function readConfigFile(file: string): Map<ConfigKey, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new GpumonError('CONFIG_FILE_UNREADABLE', `cannot read config file ${file}`, { cause });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new GpumonError('CONFIG_INVALID', `config file ${file} is not valid YAML`, { cause });
  }
  const out = new Map<ConfigKey, unknown>();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new GpumonError('CONFIG_INVALID', `config file ${file} must hold a mapping of keys`);
  }
  flatten(doc as Record<string, unknown>, '', out, file);
  return out;
}

function flatten(
  obj: Record<string, unknown>,
  prefix: string,
  out: Map<ConfigKey, unknown>,
  file: string,
): void {
  for (const [name, value] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (key in CONFIG_FIELDS) {
      out.set(key as ConfigKey, value);
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && isPrefix(key)) {
      flatten(value as Record<string, unknown>, key, out, file);
    } else {
      const hint = suggest(key);
      throw invalid(
        key,
        `file ${file}`,
        `is not a configuration key${hint ? ` (did you mean ${hint}?)` : ''}`,
      );
    }
  }
}

function isPrefix(key: string): boolean {
  return KEYS.some((k) => k.startsWith(`${key}.`));
}

function suggest(key: string): string | undefined {
  const lower = key.toLowerCase();
  return (
    KEYS.find((k) => k.toLowerCase() === lower) ??
    KEYS.find((k) => k.toLowerCase().startsWith(lower)) ??
    KEYS.find((k) => k.split('.').pop()?.toLowerCase() === lower.split('.').pop())
  );
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

function invalid(key: string, origin: string, what: string, cause?: unknown): GpumonError {
  return new GpumonError('CONFIG_INVALID', `config key ${key} (from ${origin}) ${what}`, { cause });
}
