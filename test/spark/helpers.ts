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

/**
 * Environment of every analyze run of the tests: lower spike and CPU temperature thresholds, so the day has
 * many spikes and high-CPU-temperature alerts.
 */
export const ANALYZE_ENV = {
  GPUMON_LOG_LEVEL: 'warn',
  GPUMON_ALERTS_TEMP_SPIKE_CELSIUS: '2',
  GPUMON_ALERTS_HIGH_CPU_TEMP_CELSIUS: '55',
  GPUMON_ANALYTICS_MEMORY_LIMIT: '1GB',
  // Each GPU's power percentiles in parts of the GPUs (3 of the day's ~28,000 samples), as a large fleet's day.
  GPUMON_ANALYTICS_PERCENTILE_PART_SAMPLES: '10000',
};

/**
 * One simulated day of 8 GPUs (2 hosts x 4) every 20 s, reshaped as real archives look: gaps (five minutes
 * missing per GPU twice a day, and a whole hour of one host, longer than analytics.maxGapSeconds), and two
 * files, the second written by an older catalog without `gpu_power_limit_watts`,
 * `gpu_memory_temperature_celsius`, the host readings and the pod columns (which the first file's GPUs of each
 * host carry: withPods). Written into each of `roots` (archive roots) alike.
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
      `CREATE TABLE day AS SELECT * FROM read_parquet(${sqlString(`${sim}/gpu-metrics/date=${DATE}/*.parquet`)})
       WHERE NOT (hour(ts) IN (3, 15) AND minute(ts) BETWEEN gpu_index * 7 AND gpu_index * 7 + 4)
         AND NOT (hour(ts) = 9 AND host = (SELECT min(host) FROM read_parquet(${sqlString(`${sim}/gpu-metrics/date=${DATE}/*.parquet`)})))`,
    );
    await connection.run(withHostReadings('day', 'hosted'));
    await connection.run(withPods('hosted', 's'));
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
        `COPY (SELECT * EXCLUDE (gpu_power_limit_watts, gpu_memory_temperature_celsius, ${HOST_COLUMNS}, ${POD_COLUMNS}) FROM s
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

const HOST_COLUMNS =
  'host_cpu_temperature_celsius, host_cpu_utilization_percent, host_memory_used_bytes, host_memory_total_bytes';

/**
 * SQL copying `from` into `to` with the host readings the simulator left NULL filled in, the same in every GPU
 * sample of a host at one instant: the CPU temperature follows the host's GPUs (with a spike every 53
 * samples, and none read in minute 17 of each hour), CPU utilization and system memory vary.
 */
function withHostReadings(from: string, to: string): string {
  const k = '(hour(ts) * 180 + minute(ts) * 3 + second(ts) // 20)';
  return `CREATE TABLE ${to} AS SELECT * REPLACE (
      CASE WHEN minute(ts) = 17 THEN NULL ELSE coalesce(host_cpu_temperature_celsius,
        20 + 0.5 * avg(gpu_temperature_celsius) OVER (PARTITION BY host, ts) + (${k} % 7) * 0.5
          + CASE WHEN ${k} % 53 = 0 THEN 12 ELSE 0 END) END AS host_cpu_temperature_celsius,
      coalesce(host_cpu_utilization_percent, 10 + (${k} * 7) % 80 + 0.5) AS host_cpu_utilization_percent,
      coalesce(host_memory_used_bytes, (64 + ${k} % 29) * CAST(1073741824 AS BIGINT)) AS host_memory_used_bytes,
      coalesce(host_memory_total_bytes, 512 * CAST(1073741824 AS BIGINT)) AS host_memory_total_bytes
    ) FROM ${from}`;
}

const POD_COLUMNS = 'namespace, pod, container';

/**
 * SQL copying `from` into `to` with the Kubernetes pods holding the GPUs: GPU 0 of each host in namespace
 * team-a, GPU 1 in team-b, a pod per GPU and 6 hours (`job-<n>-<gpu>`), free for the last 2 hours of each 6.
 * The older file (GPUs 2 and 3) has no pod columns at all.
 */
function withPods(from: string, to: string): string {
  return `CREATE TABLE ${to} AS SELECT * REPLACE (
      CASE WHEN gpu_index < 2 AND hour(ts) % 6 < 4 THEN CASE gpu_index WHEN 0 THEN 'team-a' ELSE 'team-b' END
        END AS namespace,
      CASE WHEN gpu_index < 2 AND hour(ts) % 6 < 4
        THEN 'job-' || CAST(hour(ts) // 6 AS VARCHAR) || '-' || host || '-' || CAST(gpu_index AS VARCHAR) END AS pod,
      CASE WHEN gpu_index < 2 AND hour(ts) % 6 < 4 THEN 'main' END AS container
    ) FROM ${from}`;
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
