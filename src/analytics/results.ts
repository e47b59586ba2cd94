import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { GpumonError } from '../errors.ts';
import type { ArchiveStorage } from '../sinks/archive/storage.ts';
import { ANALYSES, type AnalysisName } from './analyses.ts';
import { RESULTS_DIR, resultsPath } from './daily-job.ts';
import type { JsonRow } from './engine.ts';
import { sqlString, toJsonRow } from './engines/duckdb.ts';

/**
 * Reading the daily results back (for the HTTP API, see ResultsApi in server/deps.ts): rows as plain JSON-safe
 * objects, 64-bit integers as numbers, timestamps as epoch milliseconds (UTC). A date or an analysis without
 * results is `null`; a malformed date is USAGE, naming it.
 */

/** The dates that have published results, oldest first (runs in progress are not listed). */
export async function listResultDates(storage: ArchiveStorage): Promise<string[]> {
  const dates: string[] = [];
  for (const entry of await storage.list(RESULTS_DIR)) {
    const match = /^date=(\d{4}-\d{2}-\d{2})$/.exec(entry);
    if (match?.[1]) dates.push(match[1]);
  }
  return dates.sort();
}

/** The contents of summary.json of a date, or null when the date has no results. */
export async function readSummary(storage: ArchiveStorage, date: string): Promise<JsonRow | null> {
  const path = `${resultsPath(checkDate(date))}/summary.json`;
  if (!(await storage.exists(path))) return null;
  let text: string;
  try {
    text = await readFile(await storage.localPath(path), 'utf8');
  } catch (err) {
    // Replaced by a re-run of the date between the two calls: as if absent.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read ${storage.uri}/${path}`, { cause: err });
  }
  try {
    return JSON.parse(text) as JsonRow;
  } catch (cause) {
    throw new GpumonError('ARCHIVE_FILE_CORRUPT', `${storage.uri}/${path} is not valid JSON`, { cause });
  }
}

/** Which rows of a result to read: those of one GPU, and at most `limit` of them. */
export interface ResultFilter {
  uuid?: string;
  limit?: number;
}

/**
 * The rows of one analysis of a date, in the order the analysis sorted them, or null when the date has no
 * results or there is no such analysis (temperature_spikes can hold many rows: filter by GPU, or limit).
 */
export async function readResult(
  storage: ArchiveStorage,
  date: string,
  analysis: string,
  filter: ResultFilter = {},
): Promise<JsonRow[] | null> {
  checkDate(date);
  if (!(ANALYSES as readonly string[]).includes(analysis)) return null;
  if (filter.uuid !== undefined && analysis === 'summary') {
    throw new GpumonError('USAGE', 'the summary is of the fleet: it cannot be filtered by GPU');
  }
  const path = `${resultsPath(date)}/${analysis as AnalysisName}.parquet`;
  if (!(await storage.exists(path))) return null;
  const local = await storage.localPath(path);
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await db.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    const where = filter.uuid === undefined ? '' : ` WHERE uuid = ${sqlString(filter.uuid)}`;
    const limit = filter.limit === undefined ? '' : ` LIMIT ${checkLimit(filter.limit)}`;
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet(${sqlString(local)}, hive_partitioning = false)${where}${limit}`,
    );
    return reader.getRowObjectsJS().map(toJsonRow);
  } catch (cause) {
    if (!(await storage.exists(path))) return null; // replaced by a re-run meanwhile
    throw new GpumonError('ARCHIVE_FILE_CORRUPT', `cannot read ${storage.uri}/${path}`, { cause });
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new GpumonError('USAGE', `limit must be a whole number >= 0, got ${limit}`);
  }
  return limit;
}

function checkDate(date: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    throw new GpumonError('USAGE', `date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  }
  return date;
}
