import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBTimestampValue,
} from '@duckdb/node-api';
import { type DataType, type Field, type Table, TimeUnit, Type } from 'apache-arrow';
import type { JsonRow } from '../../engine.ts';
import { ident, sqlString } from '../duckdb.ts';

/** How one Arrow column of a Spark result is read into JSON and written to Parquet. */
interface ColumnKind {
  /** The DuckDB type the column is written as (the type DuckDB's own engine gives the same result). */
  readonly sqlType: string;
  /** The raw Arrow value (non-null) as JSON. */
  readonly json: (value: unknown) => string | number | boolean | null;
  readonly append: (appender: DuckDBAppender, value: unknown) => void;
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

/** The kind of an Arrow type Spark sends; throws on a type the analyses never produce. */
export function columnKind(field: Field): ColumnKind {
  const type: DataType = field.type;
  switch (type.typeId) {
    case Type.Bool:
      return {
        sqlType: 'BOOLEAN',
        json: (v) => Boolean(v),
        append: (a, v) => a.appendBoolean(Boolean(v)),
      };
    case Type.Int: {
      const { bitWidth } = type as unknown as { bitWidth: number };
      const sqlType = (
        { 8: 'TINYINT', 16: 'SMALLINT', 32: 'INTEGER', 64: 'BIGINT' } as Record<number, string>
      )[bitWidth];
      if (!sqlType) break;
      if (bitWidth === 64) {
        return {
          sqlType,
          json: (v) => Number(v),
          append: (a, v) => a.appendBigInt(BigInt(v as bigint | number)),
        };
      }
      return {
        sqlType,
        json: (v) => Number(v),
        append: (a, v) =>
          bitWidth === 32
            ? a.appendInteger(Number(v))
            : bitWidth === 16
              ? a.appendSmallInt(Number(v))
              : a.appendTinyInt(Number(v)),
      };
    }
    case Type.Float: {
      const { precision } = type as unknown as { precision: number };
      return {
        sqlType: precision === 2 ? 'DOUBLE' : 'FLOAT',
        json: (v) => finite(Number(v)),
        append: (a, v) => (precision === 2 ? a.appendDouble(Number(v)) : a.appendFloat(Number(v))),
      };
    }
    case Type.Utf8:
    case Type.LargeUtf8:
      return { sqlType: 'VARCHAR', json: (v) => String(v), append: (a, v) => a.appendVarchar(String(v)) };
    case Type.Timestamp: {
      // Spark's TIMESTAMP (session time zone UTC) and TIMESTAMP_NTZ both become DuckDB's TIMESTAMP, the
      // type of `ts` in the archive and in DuckDB's results: an instant in UTC, without a zone.
      const toMicros = timestampMicros((type as unknown as { unit: TimeUnit }).unit);
      return {
        sqlType: 'TIMESTAMP',
        json: (v) => Number(floorDiv(toMicros(v), 1000n)),
        append: (a, v) => a.appendTimestamp(new DuckDBTimestampValue(toMicros(v))),
      };
    }
    case Type.Null:
      return { sqlType: 'INTEGER', json: () => null, append: (a) => a.appendNull() };
    default:
      break;
  }
  throw new Error(`column ${field.name}: Arrow type ${String(type)} is not supported by the Spark engine`);
}

/** Arrow timestamp values (as Arrow JS reads them: epoch milliseconds, maybe fractional) to micros. */
function timestampMicros(unit: TimeUnit): (value: unknown) => bigint {
  return (value) => {
    if (typeof value === 'bigint') {
      if (unit === TimeUnit.SECOND) return value * 1_000_000n;
      if (unit === TimeUnit.MILLISECOND) return value * 1000n;
      if (unit === TimeUnit.MICROSECOND) return value;
      return floorDiv(value, 1000n);
    }
    return BigInt(Math.round(Number(value) * 1000));
  };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/**
 * The values of one column, by row index, null for nulls. Timestamps are read from the buffer as 64-bit
 * integers of their unit (Arrow JS's getter gives fractional milliseconds, which may round).
 */
function columnReader(table: Table, index: number): (row: number) => unknown {
  const column = table.getChildAt(index);
  if (!column) return () => null;
  if (column.type.typeId !== Type.Timestamp) return (row) => column.get(row) ?? null;
  const values: (bigint | null)[] = [];
  for (const data of column.data) {
    const buffer = data.values as unknown as BigInt64Array;
    for (let i = 0; i < data.length; i++) values.push(data.getValid(i) ? BigInt(buffer[i] ?? 0n) : null);
  }
  return (row) => values[row] ?? null;
}

/** Calls `each` with the values of every row, in order. */
function rowsOf(table: Table, each: (row: unknown[]) => void): void {
  const readers = table.schema.fields.map((_, j) => columnReader(table, j));
  for (let i = 0; i < table.numRows; i++) each(readers.map((read) => read(i)));
}

/**
 * A Spark result as JSON rows, exactly as the DuckDB engine gives them: 64-bit integers as numbers,
 * timestamps as epoch milliseconds (UTC), NaN and infinities as null.
 */
export function arrowToJsonRows(table: Table | undefined): JsonRow[] {
  if (!table) return [];
  const fields = table.schema.fields;
  const kinds = fields.map(columnKind);
  const out: JsonRow[] = [];
  rowsOf(table, (row) => {
    const json: JsonRow = {};
    fields.forEach((f, j) => {
      const value = row[j];
      json[f.name] = value === null || value === undefined ? null : (kinds[j]?.json(value) ?? null);
    });
    out.push(json);
  });
  return out;
}

/**
 * Writes a Spark result to a local Parquet file (zstd) with DuckDB, the columns in order with the types
 * DuckDB's engine writes for the same result (see `columnKind`). NaN stays NaN, as in DuckDB's files.
 * A one-off: `ParquetResultWriter` keeps one DuckDB for the results of a session.
 */
export async function writeArrowParquet(table: Table, localFile: string): Promise<void> {
  const writer = new ParquetResultWriter();
  try {
    await writer.write(table, localFile);
  } finally {
    await writer.close();
  }
}

/** Writes results to Parquet files, as `writeArrowParquet` does, with one in-memory DuckDB for them all. */
export class ParquetResultWriter {
  private opened: Promise<{ db: DuckDBInstance; connection: DuckDBConnection }> | undefined;

  async write(table: Table, localFile: string): Promise<void> {
    this.opened ??= DuckDBInstance.create(':memory:', { threads: '1' }).then(async (db) => ({
      db,
      connection: await db.connect(),
    }));
    const { connection } = await this.opened;
    const fields = table.schema.fields;
    const kinds = fields.map(columnKind);
    const columns = fields.map((f, j) => `${ident(f.name)} ${kinds[j]?.sqlType}`).join(', ');
    await connection.run(`CREATE OR REPLACE TABLE result (${columns})`);
    try {
      const appender = await connection.createAppender('result');
      rowsOf(table, (row) => {
        row.forEach((value, j) => {
          if (value === null || value === undefined) appender.appendNull();
          else kinds[j]?.append(appender, value);
        });
        appender.endRow();
      });
      appender.closeSync();
      await connection.run(
        `COPY (SELECT * FROM result) TO ${sqlString(localFile)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } finally {
      await connection.run('DROP TABLE IF EXISTS result');
    }
  }

  async close(): Promise<void> {
    const opened = await this.opened?.catch(() => undefined);
    this.opened = undefined;
    opened?.connection.closeSync();
    opened?.db.closeSync();
  }
}
