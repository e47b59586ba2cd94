import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { GpumonError } from '../errors.ts';
import type { ArchiveStorage } from '../sinks/archive/storage.ts';
import { ANALYSES, type AnalysisName } from './analyses.ts';
import { RESULTS_DIR, resultsPath } from './daily-job.ts';
import type { JsonRow } from './engine.ts';
import { sqlString, toJsonRow } from './engines/duckdb.ts';

/**
 * Reading the daily results back (for the HTTP API): rows as plain JSON-safe objects, 64-bit integers as
 * numbers, timestamps as epoch milliseconds (UTC). A date or analysis without results is ANALYTICS_NO_DATA;
 * a malformed date or an unknown analysis is USAGE, naming it.
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

/** The contents of summary.json of a date. */
export async function readSummary(storage: ArchiveStorage, date: string): Promise<JsonRow> {
  const path = `${resultsPath(checkDate(date))}/summary.json`;
  if (!(await storage.exists(path))) throw missing(storage, date, path);
  const text = await readFile(await storage.localPath(path), 'utf8');
  try {
    return JSON.parse(text) as JsonRow;
  } catch (cause) {
    throw new GpumonError('ARCHIVE_FILE_CORRUPT', `${storage.uri}/${path} is not valid JSON`, { cause });
  }
}

/** The rows of one analysis of a date, in the order the analysis sorted them. */
export async function readResult(storage: ArchiveStorage, date: string, analysis: string): Promise<JsonRow[]> {
  if (!(ANALYSES as readonly string[]).includes(analysis)) {
    throw new GpumonError(
      'USAGE',
      `unknown analysis ${JSON.stringify(analysis)}; known analyses: ${ANALYSES.join(', ')}`,
    );
  }
  const path = `${resultsPath(checkDate(date))}/${analysis as AnalysisName}.parquet`;
  if (!(await storage.exists(path))) throw missing(storage, date, path);
  const local = await storage.localPath(path);
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await db.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(local)}, hive_partitioning = false)`);
    return reader.getRowObjectsJS().map(toJsonRow);
  } catch (cause) {
    throw new GpumonError('ARCHIVE_FILE_CORRUPT', `cannot read ${storage.uri}/${path}`, { cause });
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

function checkDate(date: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    throw new GpumonError('USAGE', `date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  }
  return date;
}

function missing(storage: ArchiveStorage, date: string, path: string): GpumonError {
  return new GpumonError('ANALYTICS_NO_DATA', `no analytics results for ${date}: ${storage.uri}/${path} does not exist`);
}
