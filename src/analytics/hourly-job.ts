import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.ts';
import { describeError, GpumonError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { metricsPartition, startOfDate } from '../sinks/archive/layout.ts';
import { openStorage } from '../sinks/archive/open-storage.ts';
import type { ArchiveStorage } from '../sinks/archive/storage.ts';
import {
  analysisParams,
  type DayPlan,
  hourlyQueries,
  PARTIAL_RELATIONS,
  type PartialRelationName,
  type StoredRelationName,
} from './analyses.ts';
import { checkDate, remoteArchiveBase } from './daily-job.ts';
import type { SqlParams } from './dialect.ts';
import type { Engine, EngineInput, EngineSession, InputFile } from './engine.ts';
import { abortError } from './engine-errors.ts';
import { engineFromConfig } from './engines/registry.ts';
import { unreadableFooters } from './quarantine.ts';

/**
 * Hourly partials (docs/decisions/0014-incremental-analytics.md): a run per closed hour computes that hour's
 * share of the nightly job's costliest steps and keeps it under `gpu-analytics/partials/date=D/hour=HH/`:
 *
 *   gpu_interval_hours.parquet     the window pass: the hour's intervals, summed per GPU, pod and spike
 *   correlation_hours.parquet      each GPU's count, means, deviations, co-moment and extremes of each pair
 *   hourly_pattern_hours.parquet   each GPU's sums and counts of the hour
 *   inputs.json                    what it was computed from (written last: a partial without it is not one)
 *
 * (PARTIAL_RELATIONS in analyses.ts; a relation with no rows has no file.) The night (`planDay`, for
 * daily-job.ts) reads every hour whose partial is still valid, computes the others from the samples by the
 * same SQL, and the analyses merge the 24. A partial is valid while the files that may hold samples of its
 * hour are those it read, the parameters it was computed with are the configuration's, its format is this
 * one and its files can be read: a late file, a file moved to quarantine or a changed threshold makes the
 * night compute the hour again, so the night never gives other numbers than a whole-day run.
 */
export const PARTIALS_DIR = 'gpu-analytics/partials';

/**
 * The format of a partial; the night ignores (and computes again) a partial of another format. 1: the window
 * pass alone; 2: and correlation_hours; 3: and hourly_pattern_hours.
 */
export const PARTIAL_FORMAT = 3;

const MANIFEST = 'inputs.json';
const HOUR_MS = 3_600_000;

/** The directory of one hour's partial: `gpu-analytics/partials/date=YYYY-MM-DD/hour=HH`. */
export function partialPath(date: string, hour: number): string {
  return `${PARTIALS_DIR}/date=${date}/hour=${String(hour).padStart(2, '0')}`;
}

/** What a partial was computed from: `inputs.json`. */
export interface PartialManifest {
  format: number;
  date: string;
  hour: number;
  /** The names of the day's files it read (those that may hold samples of the hour), sorted. */
  files: string[];
  /** The configuration values of the queries (analysisParams) it was computed with. */
  params: SqlParams;
  /** Rows of each partial relation (PARTIAL_RELATIONS), kept in `<name>.parquet`; 0: no file. */
  rows: Record<PartialRelationName, number>;
  engine: string;
  computedAt: string;
}

/**
 * The samples an hourly run reads for `hour` of `date`: from the hour's start to its end plus
 * `analytics.maxGapSeconds` (the next sample closes an interval opened in the hour), never past the day's end
 * (as in a whole-day run, no interval crosses midnight).
 */
export function hourWindow(
  date: string,
  hour: number,
  maxGapSeconds: number,
): { fromMs: number; toMs: number } {
  const dayStart = startOfDate(date);
  const fromMs = dayStart + hour * HOUR_MS;
  return {
    fromMs,
    toMs: Math.min(fromMs + HOUR_MS + Math.ceil(maxGapSeconds * 1000), dayStart + 24 * HOUR_MS),
  };
}

/**
 * The files of a day (names under gpu-metrics/date=D/) that may hold samples of the window of `hour`: a file
 * is named by the time of its first sample (layout.ts), so one named at or after the window's end holds none
 * of it. A file named otherwise may hold any. Sorted.
 */
export function filesForHour(
  names: readonly string[],
  date: string,
  hour: number,
  maxGapSeconds: number,
): string[] {
  const { toMs } = hourWindow(date, hour, maxGapSeconds);
  return names
    .filter((name) => {
      const first = /^part-(\d+)-/.exec(name);
      return !first || Number(first[1]) < toMs;
    })
    .sort();
}

/** The day's sample files (names), as the nightly and hourly runs read them. */
export async function dayFiles(storage: ArchiveStorage, date: string): Promise<string[]> {
  return (await storage.list(metricsPartition(date))).filter(
    (n) => n.endsWith('.parquet') && !n.startsWith('.'),
  );
}

export interface HourlyOptions {
  config: Config;
  /** The day, YYYY-MM-DD (UTC). */
  date: string;
  /** The hour of the day, 0-23 (UTC). */
  hour: number;
  storage: ArchiveStorage;
  logger?: Logger;
  signal?: AbortSignal;
  /** The engine; default the one `analytics.engine` names. */
  engine?: Engine;
  /** Where an engine that reads URIs finds the archive (daily-job.ts remoteArchiveBase). */
  remoteBase?: string | undefined;
}

export interface HourlyResult {
  date: string;
  hour: number;
  /** Storage path of the partial. */
  path: string;
  /** Files read (those that may hold samples of the hour). */
  inputFiles: number;
  /** Rows kept of each partial relation (e.g. GPU, pod and spike sums of the hour). */
  rows: Record<PartialRelationName, number>;
  durationMs: number;
}

/**
 * Computes the partial of `hour` of `date` and keeps it under partialPath(date, hour), replacing the one
 * there. Fails with USAGE (a bad date or hour), ANALYTICS_DEADLINE_EXCEEDED, ARCHIVE_FILE_CORRUPT or
 * ANALYTICS_QUERY_FAILED; a failed run leaves no partial for the hour (the night computes it).
 */
export async function runHourlyPartial(options: HourlyOptions): Promise<HourlyResult> {
  const { config, date, hour, storage, signal } = options;
  checkHour(date, hour);
  const logger = (options.logger ?? silentLogger()).child({ date, hour });
  const engine = options.engine ?? engineFromConfig(config);
  const started = Date.now();
  const maxGap = config.analytics.maxGapSeconds;
  const files = filesForHour(await dayFiles(storage, date), date, hour, maxGap);
  const dir = partialPath(date, hour);
  // The old partial stops counting before anything of the new one is written.
  await storage.remove(`${dir}/${MANIFEST}`);
  const params = analysisParams(config);
  const manifest: PartialManifest = {
    format: PARTIAL_FORMAT,
    date,
    hour,
    files,
    params,
    rows: Object.fromEntries(PARTIAL_RELATIONS.map((p) => [p.name, 0])) as Record<
      PartialRelationName,
      number
    >,
    engine: engine.name,
    computedAt: '',
  };
  const scratchDir = await mkdtemp(join(tmpdir(), `gpumon-hourly-${date}-${hour}-`));
  let session: EngineSession | undefined;
  try {
    if (files.length > 0) {
      const inputDir = metricsPartition(date);
      const inputs: InputFile[] = await Promise.all(
        files.map(async (name) => ({
          location: options.remoteBase
            ? `${options.remoteBase}/${inputDir}/${name}`
            : await storage.localPath(`${inputDir}/${name}`),
          name: `${storage.uri}/${inputDir}/${name}`,
        })),
      );
      session = await engine.open({
        files: inputs,
        timeRange: hourWindow(date, hour, maxGap),
        scratchDir,
        signal,
        logger,
      });
      const scope = { dayStartMs: startOfDate(date), hours: [hour], tailMs: Math.ceil(maxGap * 1000) };
      for (const query of hourlyQueries(engine.dialect, params, scope)) {
        checkAborted(signal);
        const rows = await session.materialize(query);
        if (Object.hasOwn(manifest.rows, query.name)) manifest.rows[query.name as PartialRelationName] = rows;
      }
      for (const { name } of PARTIAL_RELATIONS) {
        if (manifest.rows[name] === 0) continue;
        const local = join(scratchDir, `${name}.parquet`);
        await session.writeParquet(name, local);
        checkAborted(signal);
        await storage.put(local, `${dir}/${name}.parquet`);
      }
    }
    for (const { name } of PARTIAL_RELATIONS) {
      if (manifest.rows[name] === 0) await storage.remove(`${dir}/${name}.parquet`);
    }
    manifest.computedAt = new Date().toISOString();
    const manifestFile = join(scratchDir, MANIFEST);
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    checkAborted(signal);
    await storage.put(manifestFile, `${dir}/${MANIFEST}`);
  } finally {
    await session?.close().catch(() => {});
    await rm(scratchDir, { recursive: true, force: true });
  }
  const result = {
    date,
    hour,
    path: dir,
    inputFiles: files.length,
    rows: manifest.rows,
    durationMs: Date.now() - started,
  };
  logger.info(
    { ms: result.durationMs, files: files.length, rows: manifest.rows },
    `hourly partial of ${date} ${String(hour).padStart(2, '0')}:00 kept`,
  );
  return result;
}

/** The outcome of one hour in `analyzeHourList`. */
export type HourOutcome =
  | { date: string; hour: number; ok: true; result: HourlyResult }
  | { date: string; hour: number; ok: false; error: unknown };

/**
 * Computes the partials of `hours` in turn on the archive at `archive.path`; an hour that fails does not stop
 * the others (one aborted by `signal` does, and those left are reported aborted).
 */
export async function analyzeHourList(
  config: Config,
  hours: readonly { date: string; hour: number }[],
  logger: Logger,
  signal?: AbortSignal,
  extra: { storage?: ArchiveStorage; engine?: Engine } = {},
): Promise<HourOutcome[]> {
  const storage = extra.storage ?? openStorage(config);
  const remoteBase = (extra.engine ?? engineFromConfig(config)).readsUris
    ? remoteArchiveBase(config, storage)
    : undefined;
  const outcomes: HourOutcome[] = [];
  for (const { date, hour } of hours) {
    try {
      if (signal?.aborted) throw abortError(signal);
      const result = await runHourlyPartial({
        config,
        date,
        hour,
        storage,
        logger,
        signal,
        remoteBase,
        ...(extra.engine ? { engine: extra.engine } : {}),
      });
      outcomes.push({ date, hour, ok: true, result });
    } catch (error) {
      logger.error(
        { err: describeError(error), date, hour },
        `hourly partial of ${date} hour ${hour} failed`,
      );
      outcomes.push({ date, hour, ok: false, error });
    }
  }
  return outcomes;
}

/** The hours of a day with a valid partial, and where their rows are. */
export interface KeptHours {
  /** Hours (0-23) whose partial is valid, sorted. */
  hours: number[];
  /** Their Parquet files, by storage path, with the stored relation each is part of (an empty one has none). */
  files: { hour: number; stored: StoredRelationName; path: string }[];
  /** Hours with a partial that is no longer valid, and why (for the log). */
  stale: { hour: number; why: string }[];
}

/**
 * The hours of `date` whose partial the night can use instead of computing them: format, parameters and input
 * files as they are now (`names`: the day's files the night reads).
 */
export async function keptHours(
  storage: ArchiveStorage,
  config: Config,
  date: string,
  names: readonly string[],
): Promise<KeptHours> {
  const kept: KeptHours = { hours: [], files: [], stale: [] };
  const dayDir = `${PARTIALS_DIR}/date=${date}`;
  const present = new Set(await storage.list(dayDir));
  const params = analysisParams(config);
  for (let hour = 0; hour < 24; hour++) {
    const dir = partialPath(date, hour);
    if (!present.has(dir.slice(dayDir.length + 1))) continue;
    const manifest = await readManifest(storage, `${dir}/${MANIFEST}`);
    if (!manifest) continue;
    const why = staleness(
      manifest,
      date,
      hour,
      params,
      filesForHour(names, date, hour, config.analytics.maxGapSeconds),
    );
    if (why) {
      kept.stale.push({ hour, why });
      continue;
    }
    const files = PARTIAL_RELATIONS.filter((p) => (manifest.rows[p.name] ?? 0) > 0).map((p) => ({
      hour,
      stored: p.stored,
      path: `${dir}/${p.name}.parquet`,
    }));
    const missing = [];
    for (const f of files) if (!(await storage.exists(f.path))) missing.push(f.path.slice(dir.length + 1));
    if (missing.length > 0) {
      kept.stale.push({ hour, why: `${missing.join(', ')} missing` });
      continue;
    }
    kept.files.push(...files);
    kept.hours.push(hour);
  }
  return kept;
}

/**
 * What the night computes and what it reads for `date` (the day's files `names`): the hours with a valid,
 * readable partial are read (`tables`, for the engine), the others computed (`plan.hours`); no hour kept: the
 * whole day computed. Logs each partial not used and why.
 */
export async function planDay(
  storage: ArchiveStorage,
  config: Config,
  date: string,
  names: readonly string[],
  remoteBase: string | undefined,
  logger: Logger,
): Promise<{ plan: DayPlan; tables: NonNullable<EngineInput['tables']>; keptHours: number }> {
  const kept = await keptHours(storage, config, date, names);
  for (const { hour, why } of kept.stale) {
    logger.info({ hour, why }, `the partial of hour ${hour} is not used: ${why}; computing the hour again`);
  }
  const files = await Promise.all(
    kept.files.map(async ({ hour, stored, path }) => ({
      hour,
      stored,
      file: {
        location: remoteBase ? `${remoteBase}/${path}` : await storage.localPath(path),
        name: `${storage.uri}/${path}`,
      },
    })),
  );
  // A partial that cannot be read (truncated, not Parquet) is as if absent: its hour is computed again.
  let hours = kept.hours;
  for (const bad of await unreadableFooters(files.map((k) => k.file))) {
    const hour = files.find((k) => k.file === bad.file)?.hour;
    logger.warn(
      { hour, file: bad.file.name },
      `the partial of hour ${hour} cannot be read; computing it again`,
    );
    hours = hours.filter((h) => h !== hour);
  }
  if (hours.length === 0) return { plan: {}, tables: [], keptHours: 0 };
  logger.info({ kept: hours.length }, `${hours.length} of 24 hours read from hourly partials`);
  const used = files.filter((k) => hours.includes(k.hour));
  const stored = [...new Set(used.map((k) => k.stored))];
  return {
    plan: {
      hours: {
        dayStartMs: startOfDate(date),
        hours: Array.from({ length: 24 }, (_, h) => h).filter((h) => !hours.includes(h)),
        tailMs: Math.ceil(config.analytics.maxGapSeconds * 1000),
      },
      stored,
    },
    tables: stored.map((name) => ({ name, files: used.filter((k) => k.stored === name).map((k) => k.file) })),
    keptHours: hours.length,
  };
}

/** Why a partial cannot stand for its hour now, or null when it can. */
function staleness(
  manifest: PartialManifest,
  date: string,
  hour: number,
  params: SqlParams,
  files: readonly string[],
): string | null {
  if (manifest.format !== PARTIAL_FORMAT) return `format ${manifest.format}, not ${PARTIAL_FORMAT}`;
  if (manifest.date !== date || manifest.hour !== hour)
    return `it is of ${manifest.date} hour ${manifest.hour}`;
  if (!isDeepStrictEqual(manifest.params, params)) return 'computed with other analytics or alert thresholds';
  if (!isDeepStrictEqual(manifest.files, files)) {
    const added = files.filter((f) => !manifest.files.includes(f)).length;
    const gone = manifest.files.filter((f) => !files.includes(f)).length;
    return `its input files changed since (${added} new, ${gone} gone)`;
  }
  return null;
}

async function readManifest(storage: ArchiveStorage, path: string): Promise<PartialManifest | null> {
  if (!(await storage.exists(path))) return null;
  try {
    const parsed = JSON.parse(await readFile(await storage.localPath(path), 'utf8')) as PartialManifest;
    const valid =
      typeof parsed === 'object' &&
      parsed !== null &&
      Array.isArray(parsed.files) &&
      typeof parsed.rows === 'object' &&
      parsed.rows !== null;
    return valid ? parsed : null;
  } catch {
    return null;
  }
}

/** Checks a day and hour given by a user; USAGE names the bad one. */
export function checkHour(date: string, hour: number): void {
  checkDate(date);
  if (!(Number.isInteger(hour) && hour >= 0 && hour <= 23)) {
    throw new GpumonError('USAGE', `the hour must be a whole number from 0 to 23, got ${hour}`);
  }
}

/** `2026-11-25T13` (or `2026-11-25T13:00`, with a Z or not) as a date and an hour; USAGE names a bad one. */
export function parseHour(text: string): { date: string; hour: number } {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2})(?::00(?::00)?)?Z?$/.exec(text.trim());
  if (!match) {
    throw new GpumonError(
      'USAGE',
      `an hour must be written as YYYY-MM-DDTHH (UTC, e.g. 2026-11-25T13), got ${text}`,
    );
  }
  const date = match[1] as string;
  const hour = Number(match[2]);
  try {
    checkHour(date, hour);
  } catch {
    throw new GpumonError(
      'USAGE',
      `${text} is not an hour of a calendar day (YYYY-MM-DDTHH, UTC, hours 00-23)`,
    );
  }
  return { date, hour };
}

/** The last hour closed at `nowMs` (the hour before the current one), as a date and an hour. */
export function lastClosedHour(nowMs: number): { date: string; hour: number } {
  const start = new Date(Math.floor(nowMs / HOUR_MS) * HOUR_MS - HOUR_MS);
  return { date: start.toISOString().slice(0, 10), hour: start.getUTCHours() };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
