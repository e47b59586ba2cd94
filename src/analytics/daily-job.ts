import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRemoteArchive } from '../config/archive-uri.ts';
import type { Config } from '../config/schema.ts';
import { describeError, GpumonError, isGpumonError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { metricsPartition } from '../sinks/archive/layout.ts';
import { openStorage } from '../sinks/archive/open-storage.ts';
import type { ArchiveStorage } from '../sinks/archive/storage.ts';
import { ANALYSES, type AnalysisName, analysisParams, dailyQueries, partCount } from './analyses.ts';
import type { Engine, EngineSession, InputFile, JsonRow } from './engine.ts';
import { abortError, CorruptFileError } from './engine-errors.ts';
import { engineFromConfig } from './engines/registry.ts';
import { dayFiles, planDay } from './hourly-job.ts';
import { readResultFiles, writeResultsToInfluxdb } from './influx-results.ts';
import { QUARANTINE_DIR, type QuarantinedFile, quarantineFile, unreadableFooters } from './quarantine.ts';

/** Where the job keeps its results (storage paths), beside the samples (gpu-metrics/, see layout.ts). */
export const RESULTS_DIR = 'gpu-analytics';

/** The directory of one date's results: `gpu-analytics/date=YYYY-MM-DD`. */
export const resultsPath = (date: string): string => `${RESULTS_DIR}/date=${date}`;

/** Called as the job moves on: `step` just finished, `done` of `total` steps. */
export type ProgressFn = (step: string, done: number, total: number) => void;

export interface DailyOptions {
  config: Config;
  /** The day to analyse, YYYY-MM-DD (UTC). */
  date: string;
  storage: ArchiveStorage;
  logger?: Logger;
  /** Aborting stops the job (the running query is interrupted) with ANALYTICS_DEADLINE_EXCEEDED. */
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  /** The engine; default the one `analytics.engine` names, configured by `analytics.*`. */
  engine?: Engine;
  /** Move unreadable files to quarantine/ and analyse the rest (default: `analytics.skipCorrupt`). */
  skipCorrupt?: boolean;
  /** Also write the results to InfluxDB (default: `analytics.writeInfluxdb`). */
  writeInfluxdb?: boolean;
}

export interface DailyResult {
  date: string;
  /** Storage path of the results: gpu-analytics/date=D. */
  path: string;
  /** Rows written per analysis. */
  rows: Record<AnalysisName, number>;
  /** The summary row, as in summary.json. */
  summary: JsonRow;
  /** Parquet files read. */
  inputFiles: number;
  /** Hours of the day taken from the partials of hourly runs (`gpumon analyze --hour`), not computed again. */
  keptHours: number;
  /** Files moved to quarantine/ because they could not be read (skipCorrupt): the day is partial. */
  quarantined: QuarantinedFile[];
  /** Points written to InfluxDB per measurement (analytics.writeInfluxdb); absent when not written. */
  influxdb?: Record<string, number>;
  durationMs: number;
}

/**
 * Runs every analysis for one day of the archive and writes gpu-analytics/date=D/<analysis>.parquet (zstd)
 * and summary.json. The results are built in a hidden directory beside, then swapped in with renames, the
 * previous results of the day deleted: re-running a date replaces them exactly, and readers never see a mix
 * of two runs. Run one job per date at a time.
 *
 * With `skipCorrupt` (analytics.skipCorrupt), a file that cannot be read is moved to quarantine/date=D/ and
 * the day analysed without it: summary.json says `partial: true` and names the files, the result lists them.
 *
 * With `writeInfluxdb` (analytics.writeInfluxdb), once the Parquet results are published, the same rows
 * replace the day's points in InfluxDB (influx-results.ts).
 *
 * Fails with ANALYTICS_NO_DATA (no samples for the date), ARCHIVE_FILE_CORRUPT (naming the file),
 * ANALYTICS_DEADLINE_EXCEEDED (signal aborted) or ANALYTICS_QUERY_FAILED; a failed run leaves the previous
 * results of the date as they were. ANALYTICS_INFLUXDB_WRITE_FAILED comes after the Parquet results are
 * published: they stay.
 */
export async function runDailyAnalytics(options: DailyOptions): Promise<DailyResult> {
  const { config, date, storage } = options;
  const logger = (options.logger ?? silentLogger()).child({ date });
  const engine = options.engine ?? engineFromConfig(config);
  const skipCorrupt = options.skipCorrupt ?? config.analytics.skipCorrupt;
  const started = Date.now();
  checkDate(date);

  const inputDir = metricsPartition(date);
  const names = await dayFiles(storage, date);
  if (names.length === 0) throw noData(date, storage, 'no Parquet files');
  const remoteBase = engine.readsUris ? remoteArchiveBase(config, storage) : undefined;
  let inputs: { name: string; file: InputFile }[] = await Promise.all(
    names.map(async (n) => ({
      name: n,
      file: {
        location: remoteBase ? `${remoteBase}/${inputDir}/${n}` : await storage.localPath(`${inputDir}/${n}`),
        name: `${storage.uri}/${inputDir}/${n}`,
      },
    })),
  );

  // With skipCorrupt, a file that cannot be read is moved to quarantine/ and the day analysed without it:
  // first every file whose footer is unreadable (before any engine reads), then any file an engine names
  // when it fails on it (a corrupt page), one at a time, running the day again without it.
  const quarantined: QuarantinedFile[] = [];
  const setAside = async (input: { name: string; file: InputFile }, reason: string) => {
    quarantined.push(await quarantineFile(storage, date, input.name, reason, logger));
    inputs = inputs.filter((i) => i !== input);
  };
  if (skipCorrupt) {
    for (const bad of await unreadableFooters(inputs.map((i) => i.file))) {
      const input = inputs.find((i) => i.file === bad.file);
      if (input) await setAside(input, bad.reason);
    }
  }
  for (;;) {
    if (inputs.length === 0) {
      throw noData(date, storage, `no readable Parquet file (moved to ${QUARANTINE_DIR}/date=${date}/)`);
    }
    try {
      const day = { files: inputs.map((i) => i.file), names: inputs.map((i) => i.name), remoteBase };
      return await analyseFiles({ ...options, logger, engine }, day, quarantined, started);
    } catch (err) {
      const input =
        skipCorrupt && err instanceof CorruptFileError
          ? inputs.find((i) => i.file === err.file || i.file.name === err.file.name)
          : undefined;
      if (!input || !(err instanceof CorruptFileError)) throw withDate(err, date);
      await setAside(input, err.message);
    }
  }
}

/**
 * The analyses of one day over `day.files` (named `day.names` in the day's directory), built aside and swapped
 * in; `quarantined` marks the day partial. The hours with a valid partial of an hourly run are read from it,
 * the others computed (hourly-job.ts).
 */
async function analyseFiles(
  options: DailyOptions & { logger: Logger; engine: Engine },
  day: { files: InputFile[]; names: string[]; remoteBase: string | undefined },
  quarantined: readonly QuarantinedFile[],
  started: number,
): Promise<DailyResult> {
  const { config, date, storage, signal, logger, engine } = options;
  const { files } = day;
  const { plan, tables, keptHours } = await planDay(storage, config, date, day.names, day.remoteBase, logger);
  const queries = dailyQueries(engine.dialect, analysisParams(config), plan);
  const writeInfluxdb = options.writeInfluxdb ?? config.analytics.writeInfluxdb;
  const total = queries.length + 3 + (writeInfluxdb ? 1 : 0);
  let done = 0;
  const progress = (step: string, since: number) => {
    done += 1;
    logger.debug({ step, ms: Date.now() - since }, `analytics step ${step} done`);
    options.onProgress?.(step, done, total);
  };

  await removeLeftovers(storage, date, logger);
  const runId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const buildPath = `${RESULTS_DIR}/.date=${date}.tmp-${runId}`;
  const scratchDir = await mkdtemp(join(tmpdir(), `gpumon-analytics-${date}-`));
  let session: EngineSession | undefined;
  try {
    let since = Date.now();
    session = await engine.open({ files, tables, scratchDir, signal, logger });
    progress('open', since);

    const rows = {} as Record<AnalysisName, number>;
    let day = { samples: 0, gpus: 0 };
    for (const query of queries) {
      since = Date.now();
      let count = 0;
      const parts = query.parts?.(
        partCount(day.samples, day.gpus, config.analytics.percentilePartSamples),
      ) ?? [query];
      for (const part of parts) count = await session.materialize(part);
      if (query.name === 'gpus') {
        if (count === 0) throw noData(date, storage, `${files.length} file(s), no samples`);
        day = await sizeOfDay(session);
      }
      if ((ANALYSES as readonly string[]).includes(query.name)) rows[query.name as AnalysisName] = count;
      progress(query.name, since);
    }

    since = Date.now();
    const localFiles = new Map<AnalysisName, string>();
    for (const analysis of ANALYSES) {
      checkAborted(signal);
      const local = join(scratchDir, `${analysis}.parquet`);
      await session.writeParquet(analysis, local);
      localFiles.set(analysis, local);
    }
    // For InfluxDB: the rows of these Parquet files, read back the same way whichever engine wrote them.
    const influxRows = writeInfluxdb ? await readResultFiles(localFiles) : undefined;
    for (const [analysis, local] of localFiles) {
      checkAborted(signal);
      await storage.put(local, `${buildPath}/${analysis}.parquet`);
    }
    const [summaryRow] = await session.rows('summary');
    const summary: JsonRow = { date, ...summaryRow };
    if (quarantined.length > 0) {
      summary.partial = true;
      summary.quarantined_files = quarantined.map((q) => q.file).join(', ');
    }
    const summaryFile = join(scratchDir, 'summary.json');
    await writeFile(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
    await storage.put(summaryFile, `${buildPath}/summary.json`);
    progress('write', since);

    since = Date.now();
    checkAborted(signal);
    await swapIn(storage, buildPath, resultsPath(date), `${RESULTS_DIR}/.date=${date}.old-${runId}`);
    progress('publish', since);

    let influxdb: Record<string, number> | undefined;
    if (influxRows) {
      since = Date.now();
      checkAborted(signal);
      influxdb = await writeResultsToInfluxdb({
        influxdb: config.influxdb,
        date,
        results: influxRows,
        partial: quarantined.length > 0,
        resultsUri: `${storage.uri.replace(/\/+$/, '')}/${resultsPath(date)}`,
        logger,
      });
      progress('influxdb', since);
    }

    const result: DailyResult = {
      date,
      path: resultsPath(date),
      rows,
      summary,
      inputFiles: files.length,
      keptHours,
      quarantined: [...quarantined],
      ...(influxdb ? { influxdb } : {}),
      durationMs: 0,
    };
    result.durationMs = Date.now() - started;
    logger.info(
      {
        ms: result.durationMs,
        files: files.length,
        keptHours,
        rows,
        ...(influxdb ? { influxdb } : {}),
        ...(quarantined.length > 0 ? { partial: true } : {}),
      },
      `analytics of ${date} done${quarantined.length > 0 ? `, partial: ${quarantined.length} file(s) in quarantine` : ''}`,
    );
    return result;
  } catch (err) {
    await storage.remove(buildPath).catch(() => {});
    throw err;
  } finally {
    await session?.close().catch(() => {});
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** The day's GPUs and their samples (from `gpus`): how many parts the partitioned relations take. */
export async function sizeOfDay(session: EngineSession): Promise<{ samples: number; gpus: number }> {
  const gpus = await session.rows('gpus');
  return { samples: gpus.reduce((n, row) => n + Number(row.sample_count ?? 0), 0), gpus: gpus.length };
}

/**
 * Where an engine that reads URIs finds a remote (HDFS) archive: `archive.path` as configured when it names
 * this storage (hdfs:// is read over RPC, webhdfs:// over HTTP), else the storage's own webhdfs:// URI;
 * undefined for a local archive (local paths, as for every engine).
 */
export function remoteArchiveBase(config: Config, storage: ArchiveStorage): string | undefined {
  if (!isRemoteArchive(storage.uri)) return undefined;
  const configured = config.archive.path.replace(/\/+$/, '');
  const path = (uri: string) => new URL(uri).pathname.replace(/\/+$/, '');
  if (isRemoteArchive(configured) && path(configured) === path(storage.uri)) return configured;
  return storage.uri.replace(/\/+$/, '');
}

/**
 * Removes what a run of `date` cut off by a crash left behind (its build directory, or the previous results
 * renamed aside): one run per date at a time, so anything there now is stale.
 */
async function removeLeftovers(storage: ArchiveStorage, date: string, logger: Logger): Promise<void> {
  const prefixes = [`.date=${date}.tmp-`, `.date=${date}.old-`];
  for (const entry of await storage.list(RESULTS_DIR)) {
    if (!prefixes.some((p) => entry.startsWith(p))) continue;
    logger.warn({ entry }, `removing ${RESULTS_DIR}/${entry}, left by an interrupted run`);
    await storage.remove(`${RESULTS_DIR}/${entry}`);
  }
}

/** Replaces `target` by `build`: the old one is renamed aside, then removed; restored if the swap fails. */
async function swapIn(storage: ArchiveStorage, build: string, target: string, aside: string): Promise<void> {
  const hadOld = await storage.exists(target);
  if (hadOld) await storage.rename(target, aside);
  try {
    await storage.rename(build, target);
  } catch (err) {
    if (hadOld) await storage.rename(aside, target).catch(() => {});
    throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot publish the results at ${storage.uri}/${target}`, {
      cause: err,
    });
  }
  if (hadOld) await storage.remove(aside);
}

/** Checks a day given by a user (YYYY-MM-DD, a calendar date); USAGE names it. */
export function checkDate(date: string): void {
  const valid =
    /^\d{4}-\d{2}-\d{2}$/.test(date) && new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) === date;
  if (!valid)
    throw new GpumonError('USAGE', `analytics date must be a calendar date as YYYY-MM-DD, got ${date}`);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

function noData(date: string, storage: ArchiveStorage, found: string): GpumonError {
  return new GpumonError(
    'ANALYTICS_NO_DATA',
    `no samples for ${date}: ${found} under ${storage.uri}/${metricsPartition(date)}/`,
  );
}

/** Errors of the engine name the query or the file; this adds the date where the message lacks it. */
function withDate(err: unknown, date: string): unknown {
  if (!isGpumonError(err) || err.message.includes(date)) return err;
  return new GpumonError(err.code, `analytics of ${date}: ${err.message}`, { cause: err.cause ?? err });
}

/** The outcome of one date in `analyzeDates`. */
export type DateOutcome =
  | { date: string; ok: true; result: DailyResult }
  | { date: string; ok: false; error: unknown };

/** Progress of `analyzeDates`: the date, then as `ProgressFn`. */
export type DatesProgressFn = (date: string, step: string, done: number, total: number) => void;

/**
 * Runs the daily job for each date in turn, on the archive at `archive.path` (or `extra.storage`); a date that
 * fails does not stop the others. The entry point for the CLI and for a scheduler that records runs.
 */
export async function analyzeDates(
  config: Config,
  dates: readonly string[],
  logger: Logger,
  onProgress?: DatesProgressFn,
  extra: { storage?: ArchiveStorage; signal?: AbortSignal; engine?: Engine } = {},
): Promise<DateOutcome[]> {
  const storage = extra.storage ?? openStorage(config);
  const outcomes: DateOutcome[] = [];
  for (const date of dates) {
    if (extra.signal?.aborted) {
      // Stopped (a deadline, Ctrl-C): the dates left are not started.
      outcomes.push({ date, ok: false, error: abortError(extra.signal) });
      continue;
    }
    try {
      const result = await runDailyAnalytics({
        config,
        date,
        storage,
        logger,
        ...(extra.signal ? { signal: extra.signal } : {}),
        ...(extra.engine ? { engine: extra.engine } : {}),
        ...(onProgress ? { onProgress: (step, done, total) => onProgress(date, step, done, total) } : {}),
      });
      outcomes.push({ date, ok: true, result });
    } catch (error) {
      logger.error({ err: describeError(error) }, `analytics of ${date} failed`);
      outcomes.push({ date, ok: false, error });
    }
  }
  return outcomes;
}
