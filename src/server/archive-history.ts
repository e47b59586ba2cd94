import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import type { ResultReader } from '../analytics/results.ts';
import { GpumonError } from '../errors.ts';
import { archiveFiles } from '../sinks/archive/archive-reader.ts';
import { dateOfTs, METRICS_DATASET, partitionDate } from '../sinks/archive/layout.ts';
import type { ArchiveStorage } from '../sinks/archive/storage.ts';
import type { ArchiveHistoryApi, BucketStats, FlagBuckets, HistoryBuckets } from './deps.ts';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * A GPU's samples in the Parquet archive, in time buckets, read on a connection of the server's one DuckDB
 * instance (the ResultReader's). Only the date partitions of the range are read; files of any catalog version
 * together (`union_by_name`: a metric a file lacks is no value), `ts` as TIMESTAMP or TIMESTAMPTZ (UTC).
 */
export function archiveHistory(storage: ArchiveStorage, reader: ResultReader): ArchiveHistoryApi {
  /** The Parquet files of the date partitions that hold [fromMs, toMs). */
  const filesOf = async (fromMs: number, toMs: number): Promise<string[]> => {
    const first = dateOfTs(fromMs);
    const last = dateOfTs(toMs - 1);
    const dates = (await storage.list(METRICS_DATASET))
      .map(partitionDate)
      .filter((d): d is string => d !== null && d >= first && d <= last)
      .sort();
    const files: string[] = [];
    for (const date of dates) files.push(...(await archiveFiles(storage, date)));
    return files;
  };
  return {
    async counterSpans(metric, fromMs, toMs) {
      const files = await filesOf(fromMs, toMs);
      const spans = new Map<string, { first: number; last: number }>();
      if (files.length === 0) return spans;
      try {
        return await reader.withConnection(async (connection) => {
          const from = 'read_parquet($files, union_by_name = true, hive_partitioning = false)';
          const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`, {
            files: listValue(files),
          });
          if (!described.getRowsJS().some((row) => String(row[0]) === metric)) return spans;
          const v = `${quote(metric)}::DOUBLE`;
          const rows = await connection.runAndReadAll(
            `SELECT uuid, arg_min(${v}, ts), arg_max(${v}, ts) FROM ${from} ` +
              `WHERE ${quote(metric)} IS NOT NULL AND ts >= epoch_ms(${Math.floor(fromMs)}::BIGINT) ` +
              `AND ts < epoch_ms(${Math.ceil(toMs)}::BIGINT) GROUP BY uuid`,
            { files: listValue(files) },
          );
          for (const row of rows.getRowsJS()) {
            spans.set(String(row[0]), { first: Number(row[1]), last: Number(row[2]) });
          }
          return spans;
        });
      } catch (cause) {
        throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read ${metric} at ${storage.uri}`, { cause });
      }
    },
    async flagBuckets(uuid, metric, bits, q) {
      const files = await filesOf(q.fromMs, q.toMs);
      if (files.length === 0) return new Map();
      try {
        return await reader.withConnection((connection) =>
          flagBucketsOf(connection, files, uuid, metric, bits, q),
        );
      } catch (cause) {
        throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read ${metric} of ${uuid} at ${storage.uri}`, {
          cause,
        });
      }
    },
    async buckets(uuid, q) {
      const files = await filesOf(q.fromMs, q.toMs);
      if (files.length === 0) return new Map();
      try {
        return await reader.withConnection((connection) => bucketsOf(connection, files, uuid, q));
      } catch (cause) {
        throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read the history of ${uuid} at ${storage.uri}`, {
          cause,
        });
      }
    },
  };
}

async function bucketsOf(
  connection: DuckDBConnection,
  files: string[],
  uuid: string,
  q: { metrics: readonly string[]; fromMs: number; toMs: number; bucketMs: number },
): Promise<HistoryBuckets> {
  const from = 'read_parquet($files, union_by_name = true, hive_partitioning = false)';
  const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`, {
    files: listValue(files),
  });
  const columns = new Set(described.getRowsJS().map((row) => String(row[0])));
  const aggregates = q.metrics.map((m) => {
    if (!columns.has(m)) return '0, 0, NULL, NULL';
    const v = `${quote(m)}::DOUBLE`;
    return `count(${v}), coalesce(sum(${v}), 0), min(${v}), max(${v})`;
  });
  const bucket = Math.round(q.bucketMs);
  const sql =
    `SELECT epoch_ms(ts) // ${bucket} AS bucket, ${aggregates.join(', ')} FROM ${from} ` +
    `WHERE uuid = ${literal(uuid)} AND ts >= epoch_ms(${Math.floor(q.fromMs)}::BIGINT) ` +
    `AND ts < epoch_ms(${Math.ceil(q.toMs)}::BIGINT) GROUP BY bucket`;
  const reader = await connection.runAndReadAll(sql, { files: listValue(files) });
  const buckets: HistoryBuckets = new Map();
  for (const row of reader.getRowsJS()) {
    const stats: BucketStats[] = q.metrics.map((_, i) => {
      const count = Number(row[1 + i * 4]);
      return {
        count,
        sum: Number(row[2 + i * 4] ?? 0),
        min: count > 0 ? Number(row[3 + i * 4]) : Number.POSITIVE_INFINITY,
        max: count > 0 ? Number(row[4 + i * 4]) : Number.NEGATIVE_INFINITY,
      };
    });
    buckets.set(Number(row[0]), stats);
  }
  return buckets;
}

/** Per bucket, the samples of GPU `uuid` with a value of bitmask `metric`, and per bit those with it set. */
async function flagBucketsOf(
  connection: DuckDBConnection,
  files: string[],
  uuid: string,
  metric: string,
  bits: readonly number[],
  q: { fromMs: number; toMs: number; bucketMs: number },
): Promise<FlagBuckets> {
  const from = 'read_parquet($files, union_by_name = true, hive_partitioning = false)';
  const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`, {
    files: listValue(files),
  });
  const buckets: FlagBuckets = new Map();
  if (!described.getRowsJS().some((row) => String(row[0]) === metric)) return buckets;
  const v = `${quote(metric)}::BIGINT`;
  const counts = bits.map((bit) => `count(*) FILTER (WHERE (${v} & ${Math.trunc(bit)}) <> 0)`);
  const sql =
    `SELECT epoch_ms(ts) // ${Math.round(q.bucketMs)} AS bucket, count(*), ${counts.join(', ')} FROM ${from} ` +
    `WHERE uuid = ${literal(uuid)} AND ${quote(metric)} IS NOT NULL ` +
    `AND ts >= epoch_ms(${Math.floor(q.fromMs)}::BIGINT) AND ts < epoch_ms(${Math.ceil(q.toMs)}::BIGINT) ` +
    'GROUP BY bucket';
  const rows = await connection.runAndReadAll(sql, { files: listValue(files) });
  for (const row of rows.getRowsJS()) {
    buckets.set(Number(row[0]), {
      measured: Number(row[1]),
      set: bits.map((_, i) => Number(row[2 + i])),
    });
  }
  return buckets;
}
