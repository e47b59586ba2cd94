import { DuckDBInstance } from '@duckdb/node-api';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { metricsPartition } from '../sinks/archive/layout.ts';
import type { ArchiveStorage } from '../sinks/archive/storage.ts';
import type { InputFile } from './engine.ts';
import { firstLine } from './engine-errors.ts';

/** Where unreadable files of the archive are moved: `quarantine/date=D/<file>`, beside gpu-metrics/. */
export const QUARANTINE_DIR = 'quarantine';

/** A file of the day that could not be read and was moved aside (`analytics.skipCorrupt`). */
export interface QuarantinedFile {
  /** Its archive URI where it was (`file:///data/gpu-metrics/date=D/part-....parquet`). */
  file: string;
  /** Its archive URI now, under quarantine/date=D/. */
  movedTo: string;
  /** Why it could not be read (the engine's first line). */
  reason: string;
}

/**
 * Moves `name` of the day's samples to quarantine/date=D/ (a numbered name if one is there already), logs it
 * and returns the record of it for the run and summary.json.
 */
export async function quarantineFile(
  storage: ArchiveStorage,
  date: string,
  name: string,
  reason: string,
  logger: Logger,
): Promise<QuarantinedFile> {
  const from = `${metricsPartition(date)}/${name}`;
  const dir = `${QUARANTINE_DIR}/date=${date}`;
  let to = `${dir}/${name}`;
  for (let n = 2; await storage.exists(to); n++) to = `${dir}/${name.replace(/(\.parquet)?$/, `.${n}$1`)}`;
  await storage.rename(from, to);
  const moved = {
    file: `${storage.uri}/${from}`,
    movedTo: `${storage.uri}/${to}`,
    reason: firstLine(reason),
  };
  logger.warn(moved, `analytics of ${date}: ${name} cannot be read; moved to ${to}, the day is partial`);
  return moved;
}

/**
 * The files among `files` whose Parquet footer cannot be read (truncated, not Parquet), each with DuckDB's
 * reason. Reads only footers: cheap, done before any engine reads the day. Files the engine reads by URI
 * (hdfs://, webhdfs://) are not checked here; an engine names those when it fails on them.
 */
export async function unreadableFooters(
  files: readonly InputFile[],
): Promise<{ file: InputFile; reason: string }[]> {
  const local = files.filter((f) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(f.location));
  if (local.length === 0) return [];
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  const footer = (paths: readonly string[]) =>
    connection.run(`SELECT count(*) FROM parquet_file_metadata([${paths.map(sqlString).join(', ')}])`);
  try {
    try {
      await footer(local.map((f) => f.location));
      return [];
    } catch {
      // At least one is unreadable: find every one.
    }
    const bad: { file: InputFile; reason: string }[] = [];
    for (const file of local) {
      try {
        await footer([file.location]);
      } catch (err) {
        bad.push({ file, reason: describeError(err).replaceAll(file.location, file.name) });
      }
    }
    return bad;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
