/**
 * Helpers of the Spark engine's tests: the Spark Connect server of scripts/services/spark-connect.sh (the tests
 * FAIL, never skip, without it), a simulated day with gaps, and comparing two engines' results.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { sqlString } from '../../src/analytics/engines/duckdb.ts';
import { sparkConnectUrl } from '../../src/testing/services.ts';
import { runGpumon, tempDir } from '../e2e/helpers.ts';

/** The Spark Connect URL of the test server (GPUMON_TEST_SPARK_CONNECT); throws when it is not set. */
export const sparkRemote = sparkConnectUrl;

export const DATE = '2026-11-20';

/** Environment of every analyze run of the tests: a lower spike threshold, so the day has many spikes. */
export const ANALYZE_ENV = {
  GPUMON_LOG_LEVEL: 'warn',
  GPUMON_ALERTS_TEMP_SPIKE_CELSIUS: '2',
  GPUMON_ANALYTICS_MEMORY_LIMIT: '1GB',
};

/**
 * One simulated day of 8 GPUs (2 hosts x 4) every 20 s, reshaped as real archives look: gaps (five minutes
 * missing per GPU twice a day, and a whole hour of one host, longer than analytics.maxGapSeconds), and two
 * files, the second written by an older catalog without `gpu_power_limit_watts` and
 * `gpu_memory_temperature_celsius`. Written into each of `roots` (archive roots) alike.
 */
export async function writeGappyDay(roots: readonly string[]): Promise<number> {
  const sim = tempDir('spark-sim');
  const result = await runGpumon([
    'simulate',
    '--days',
    '1',
    '--end',
    DATE,
    '--hosts',
    '2',
    '--gpus',
    '4',
    '--interval-ms',
    '20000',
    '--seed',
    '7',
    '--out',
    sim,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    await connection.run(
      `CREATE TABLE s AS SELECT * FROM read_parquet(${sqlString(`${sim}/gpu-metrics/date=${DATE}/*.parquet`)})
       WHERE NOT (hour(ts) IN (3, 15) AND minute(ts) BETWEEN gpu_index * 7 AND gpu_index * 7 + 4)
         AND NOT (hour(ts) = 9 AND host = (SELECT min(host) FROM read_parquet(${sqlString(`${sim}/gpu-metrics/date=${DATE}/*.parquet`)})))`,
    );
    const reader = await connection.runAndReadAll('SELECT count(*) AS n FROM s');
    const rows = Number(reader.getRowObjectsJS()[0]?.n);
    for (const root of roots) {
      const dir = join(root, 'gpu-metrics', `date=${DATE}`);
      await mkdir(dir, { recursive: true });
      await connection.run(
        `COPY (SELECT * FROM s WHERE gpu_index < 2 ORDER BY host, gpu_index, ts)
         TO ${sqlString(join(dir, 'part-0.parquet'))} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await connection.run(
        `COPY (SELECT * EXCLUDE (gpu_power_limit_watts, gpu_memory_temperature_celsius) FROM s
               WHERE gpu_index >= 2 ORDER BY host, gpu_index, ts)
         TO ${sqlString(join(dir, 'part-1.parquet'))} (FORMAT parquet, COMPRESSION zstd)`,
      );
    }
    return rows;
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** A result file read back by DuckDB: its columns with their types, and its rows. */
export interface ParquetResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

export async function readParquet(file: string): Promise<ParquetResult> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const described = await connection.runAndReadAll(
      `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`,
    );
    const columns = described.getRowObjectsJS().map((r) => `${r.column_name} ${r.column_type}`);
    const rows = (
      await connection.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(file)})`)
    ).getRowObjectsJS();
    return { columns, rows: rows as Record<string, unknown>[] };
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/**
 * Relative tolerance of floating-point results between the engines: sums, averages, standard deviations
 * and correlations add the same numbers in another order; p95 is the same linear interpolation
 * (`quantile_cont`, `percentile`).
 */
export const RELATIVE_TOLERANCE = 1e-9;

export function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= RELATIVE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b)) + 1e-12;
}

/**
 * Asserts two engines' rows are the same: integers, strings and timestamps exactly, doubles within
 * RELATIVE_TOLERANCE; `what` names the result in failures.
 */
export function assertSameRows(
  duckdb: readonly Record<string, unknown>[],
  spark: readonly Record<string, unknown>[],
  what: string,
): void {
  assert.equal(spark.length, duckdb.length, `${what}: row count`);
  duckdb.forEach((expected, i) => {
    const actual = spark[i] ?? {};
    assert.deepEqual(Object.keys(actual), Object.keys(expected), `${what}: columns of row ${i}`);
    for (const [column, want] of Object.entries(expected)) {
      const got = actual[column];
      const where = `${what}: row ${i} (${String(expected.uuid ?? expected.scope ?? '')}) ${column}`;
      if (typeof want === 'number' && typeof got === 'number' && !Number.isInteger(want)) {
        assert.ok(close(got, want), `${where}: spark ${got} vs duckdb ${want}`);
      } else if (want instanceof Date && got instanceof Date) {
        assert.equal(got.getTime(), want.getTime(), where);
      } else if (typeof want === 'number' && typeof got === 'number') {
        assert.ok(got === want || close(got, want), `${where}: spark ${got} vs duckdb ${want}`);
      } else {
        assert.deepEqual(got, want, where);
      }
    }
  });
}
