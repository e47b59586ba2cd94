import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { GpumonError } from '../../errors.ts';
import { IDENTITY, METRICS } from '../../metrics/catalog.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { METRICS_DATASET, metricsPartition, partitionDate } from './layout.ts';
import type { ArchiveStorage } from './storage.ts';

/**
 * Readers of the archive run in UTC: files of format 1 hold `ts` without a time zone (UTC by convention), those
 * of format 2 as UTC-adjusted; DuckDB converts between the two in the session's time zone (the machine's unless
 * set).
 */
export const IN_UTC = "SET TimeZone = 'UTC'";

/**
 * A column of the archive as the analytics read it, in DuckDB SQL: cast to its catalog type (`sqlType`), NULL
 * where no file has it (`stored` undefined: files of an older catalog), decimals as the double they carry.
 * A UTC-adjusted `ts` becomes a TIMESTAMP through its microseconds, not a cast: DuckDB casts TIMESTAMPTZ
 * through ICU's calendar, six times slower for the same value in a UTC session.
 */
export function archiveColumnSql(
  column: { name: string; sqlType: string },
  stored: string | undefined,
): string {
  const name = `"${column.name.replaceAll('"', '""')}"`;
  if (stored === undefined) return `CAST(NULL AS ${column.sqlType}) AS ${name}`;
  if (stored === 'TIMESTAMP WITH TIME ZONE' && column.sqlType === 'TIMESTAMP') {
    return `make_timestamp(epoch_us(${name})) AS ${name}`;
  }
  return `CAST(${name} AS ${column.sqlType}) AS ${name}`;
}

/** The Parquet files of the samples archive, for one date or all dates, as paths DuckDB can read. */
export async function archiveFiles(storage: ArchiveStorage, date?: string): Promise<string[]> {
  const dates = date
    ? [date]
    : (await storage.list(METRICS_DATASET)).map(partitionDate).filter((d): d is string => d !== null);
  const files: string[] = [];
  for (const d of dates) {
    for (const name of await storage.list(metricsPartition(d))) {
      if (name.endsWith('.parquet')) files.push(await storage.localPath(`${metricsPartition(d)}/${name}`));
    }
  }
  return files;
}

/** Rows in the samples archive (of one date, or of every date). */
export async function countArchiveRows(storage: ArchiveStorage, date?: string): Promise<number> {
  const files = await archiveFiles(storage, date);
  if (files.length === 0) return 0;
  const rows = await query(files, 'SELECT count(*)::DOUBLE FROM read_parquet($files)');
  return Number(rows[0]?.[0] ?? 0);
}

/** Every sample of the archive (of one date, or of every date), ordered by host, GPU index and time. */
export async function readArchiveSamples(storage: ArchiveStorage, date?: string): Promise<GpuSample[]> {
  const files = await archiveFiles(storage, date);
  if (files.length === 0) return [];
  const identity = IDENTITY.map((i) => `"${i.name}"`).join(', ');
  const metrics = METRICS.map((m) => `"${m.name}"::DOUBLE AS "${m.name}"`).join(', ');
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    await connection.run(IN_UTC);
    const reader = await connection.runAndReadAll(
      // union_by_name: files written before a column was added read it as NULL.
      `SELECT epoch_ms(ts)::DOUBLE AS ts, ${identity}, ${metrics} ` +
        'FROM read_parquet($files, union_by_name = true) ORDER BY host, gpu_index, ts',
      { files: listValue(files) },
    );
    return reader.getRowObjectsJS() as unknown as GpuSample[];
  } catch (cause) {
    throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read the archive at ${storage.uri}`, { cause });
  } finally {
    instance.closeSync();
  }
}

async function query(files: string[], sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    await connection.run(IN_UTC);
    const reader = await connection.runAndReadAll(sql, { files: listValue(files) });
    return reader.getRowsJS();
  } catch (cause) {
    throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read ${files.length} archive file(s)`, { cause });
  } finally {
    instance.closeSync();
  }
}
