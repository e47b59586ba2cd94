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
  /** The flag, as people type it, that set each key in `flags` (`server.port` -> `--port`), for messages. */
  flagNames?: Partial<Record<ConfigKey, string>>;
  /** Told once per load of what is suspicious but not wrong (an unknown GPUMON_* variable). */
  onWarning?: (message: string) => void;
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
  for (const warning of unknownEnvWarnings(env)) options.onWarning?.(warning);
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
    const flag = options.flagNames?.[key as ConfigKey] ?? key;
    raw.set(key as ConfigKey, { value, origin: `flag ${flag}` });
  }

  const config: Record<string, unknown> = {};
  for (const key of KEYS) {
    const field: ConfigField = CONFIG_FIELDS[key];
    const { value, origin } = raw.get(key) as { value: unknown; origin: Origin };
    const result = field.schema.safeParse(value);
    // The validator's own report (zod's issues as JSON) says nothing the message does not: it is left out.
    if (!result.success) throw invalid(key, origin, `must be ${field.allowed}, got ${JSON.stringify(value)}`);
    setPath(config, key, result.data);
  }
  const typed = config as unknown as Config;
  checkSchedule(typed, raw);
  if (isRemoteArchive(typed.archive.path)) parseHdfsLocation(typed.archive.path);
  return typed;
}

/**
 * UTC (the default) is valid everywhere and is checked without asking ICU: the first `Intl.DateTimeFormat` loads
 * ICU's locale and zone data, about 8 MiB of RSS, which every command would carry for a check of a zone only the
 * scheduler uses (the agent's 100 MiB budget, docs/decisions/0001-agent-memory.md).
 */
const UTC_NAMES = new Set(['UTC', 'Etc/UTC']);

function checkSchedule(config: Config, raw: Map<ConfigKey, { origin: Origin }>): void {
  try {
    if (!UTC_NAMES.has(config.schedule.timezone)) {
      new Intl.DateTimeFormat('en-US', { timeZone: config.schedule.timezone });
    }
  } catch (cause) {
    throw invalid(
      'schedule.timezone',
      raw.get('schedule.timezone')?.origin ?? 'default',
      `must be an IANA time zone name (e.g. UTC, Europe/Paris), got ${JSON.stringify(config.schedule.timezone)}`,
      cause,
    );
  }
  const checkCron = (key: 'schedule.cron' | 'schedule.hourlyCron', timezone: string, example: string) => {
    const expression = key === 'schedule.cron' ? config.schedule.cron : config.schedule.hourlyCron;
    try {
      new Cron(expression, { paused: true, timezone });
    } catch (cause) {
      throw invalid(
        key,
        raw.get(key)?.origin ?? 'default',
        `must be a cron expression such as "${example}", got ${JSON.stringify(expression)}`,
        cause,
      );
    }
  };
  checkCron('schedule.cron', config.schedule.timezone, '0 2 * * *');
  checkCron('schedule.hourlyCron', 'UTC', '5 * * * *');
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
  const unknown: string[] = [];
  flatten(doc as Record<string, unknown>, '', out, unknown);
  if (unknown.length === 1) {
    throw invalid(
      unknown[0] as string,
      `file ${file}`,
      `is not a configuration key${didYouMean(unknown[0] as string)}`,
    );
  }
  if (unknown.length > 1) {
    const list = unknown.map((key) => `${key}${didYouMean(key)}`).join('; ');
    throw new GpumonError(
      'CONFIG_INVALID',
      `config file ${file}: ${unknown.length} keys are not configuration keys: ${list}`,
    );
  }
  return out;
}

/** Collects the known keys of `obj` into `out`, the unknown ones (every one of them) into `unknown`. */
function flatten(
  obj: Record<string, unknown>,
  prefix: string,
  out: Map<ConfigKey, unknown>,
  unknown: string[],
): void {
  for (const [name, value] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (key in CONFIG_FIELDS) {
      out.set(key as ConfigKey, value);
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && isPrefix(key)) {
      flatten(value as Record<string, unknown>, key, out, unknown);
    } else {
      unknown.push(key);
    }
  }
}

function isPrefix(key: string): boolean {
  return KEYS.some((k) => k.startsWith(`${key}.`));
}

function didYouMean(key: string): string {
  const hint = closestKey(key);
  return hint ? ` (did you mean ${hint}?)` : '';
}

/**
 * The configuration key closest to a misspelled `key`: the same key in another case, a key it begins, else the
 * key at the smallest edit distance when that distance is small for the length, else a key with the same last
 * part (`port` -> server.port); undefined when nothing is close.
 */
export function closestKey(key: string): ConfigKey | undefined {
  const lower = key.toLowerCase();
  const exact = KEYS.find((k) => k.toLowerCase() === lower);
  if (exact) return exact;
  const begun = lower.includes('.') ? KEYS.find((k) => k.toLowerCase().startsWith(lower)) : undefined;
  if (begun) return begun;
  const last = (k: string) => k.split('.').pop()?.toLowerCase();
  return closest(lower, KEYS, (k) => k.toLowerCase()) ?? KEYS.find((k) => last(k) === last(lower));
}

/** Warnings for GPUMON_* variables that set nothing: not a key's variable, nor one gpumon's scripts use. */
export function unknownEnvWarnings(env: NodeJS.ProcessEnv): string[] {
  const known = new Set(KEYS.map((key) => envName(key)));
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('GPUMON_') || known.has(name) || NOT_CONFIG_VARIABLES.has(name)) continue;
    if (NOT_CONFIG_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const hint = closest(name.toLowerCase(), [...known], (n) => n.toLowerCase());
    warnings.push(
      `environment variable ${name} is not a gpumon setting and is ignored` +
        `${hint ? ` (did you mean ${hint}?)` : ''}; the variables are listed in docs/configuration.md`,
    );
  }
  return warnings;
}

/** GPUMON_* variables that are not configuration keys: the config file, and those of the build and test scripts. */
const NOT_CONFIG_VARIABLES = new Set([
  'GPUMON_CONFIG',
  'GPUMON_NO_BUNDLE',
  'GPUMON_CACHE',
  'GPUMON_BUILDER',
  'GPUMON_DEBIAN_MIRROR',
  'GPUMON_FAKE_NVML_SCENARIO',
  'GPUMON_SERVICES_DIR',
  'GPUMON_DEPLOY_STATE',
  'GPUMON_CLUSTER_IMAGES_DIR',
  'GPUMON_KUBERNETES_VALIDATE',
  'GPUMON_SHELLCHECK',
  'GPUMON_HADOLINT',
  'GPUMON_CHECKOV',
  'GPUMON_KAFKA_PORT',
  'GPUMON_KAFKA_CONTROLLER_PORT',
  'GPUMON_KAFKA_START_TIMEOUT',
  'GPUMON_KAFKA_HEAP_OPTS',
  'GPUMON_KAFKA_AUTO_CREATE_TOPICS',
  'GPUMON_INFLUXDB_PORT',
  'GPUMON_INFLUXDB_RPC_PORT',
  'GPUMON_INFLUXDB_START_TIMEOUT',
  'GPUMON_SPARK_CONNECT_PORT',
  'GPUMON_SPARK_MASTER',
  'GPUMON_SPARK_DRIVER_MEMORY',
  'GPUMON_SPARK_START_TIMEOUT',
]);
const NOT_CONFIG_PREFIXES = ['GPUMON_TEST_', 'GPUMON_HDFS_', 'GPUMON_K8S_'];

/** The candidate nearest to `word` by edit distance, if near enough (at most a third of its length, >= 2). */
function closest<T extends string>(
  word: string,
  candidates: readonly T[],
  spell: (c: T) => string,
): T | undefined {
  let best: T | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = editDistance(word, spell(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (previous[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = row;
  }
  return previous[b.length] as number;
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
