/**
 * Test helpers: small archives of hand-made samples, written as Parquet by DuckDB in the archive layout
 * (every SAMPLE_COLUMNS column with its catalog type, nulls for what a test leaves out).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../config/load.ts';
import type { Config, ConfigKey } from '../config/schema.ts';
import { type GpuSample, nullIdentity, nullMetrics } from '../metrics/sample.ts';
import { LocalStorage } from '../sinks/archive/local-storage.ts';
import { PARQUET_COLUMNS } from '../sinks/archive/parquet-writer.ts';
import { ANALYSES, type AnalysisName } from './analyses.ts';
import { type DailyResult, runDailyAnalytics } from './daily-job.ts';
import type { JsonRow } from './engine.ts';
import { sqlString } from './engines/duckdb.ts';
import { readResult } from './results.ts';

/** A GPU of the tests. */
export interface TestGpu {
  host: string;
  gpu_index: number;
  uuid: string;
  model: string;
}

export const GPU_A: TestGpu = { host: 'node-a', gpu_index: 0, uuid: 'GPU-aaaa', model: 'Test GPU' };
export const GPU_B: TestGpu = { host: 'node-a', gpu_index: 1, uuid: 'GPU-bbbb', model: 'Test GPU' };

/** Epoch ms of a UTC time on 2026-01-15, e.g. `at('10:00:03')`. */
export function at(time: string, date = '2026-01-15'): number {
  return Date.parse(`${date}T${time}Z`);
}

/** A full sample: the GPU, the time, the given metrics, every other metric null. */
export function sample(gpu: TestGpu, ts: number, metrics: Partial<GpuSample> = {}): GpuSample {
  return {
    ...nullMetrics(),
    ...nullIdentity(),
    ...gpu,
    pci_bus_id: null,
    driver_version: null,
    ts,
    ...metrics,
  };
}

/** Samples of one GPU, one per entry of `values`, `stepSeconds` apart from `start`. */
export function series(
  gpu: TestGpu,
  start: number,
  stepSeconds: number,
  values: readonly Partial<GpuSample>[],
): GpuSample[] {
  return values.map((metrics, i) => sample(gpu, start + i * stepSeconds * 1000, metrics));
}

/**
 * Six hours of a GPU every 20 s: idle holding memory for the first hour, then loaded; a temperature spike
 * every 97 samples; the power limit unknown for a while. Its samples carry its host's readings too (CPU
 * temperature with a spike every 89 samples, CPU utilization, system memory), unknown for a while.
 */
export function sixHoursOf(gpu: TestGpu, date: string, offset: number): GpuSample[] {
  const values = Array.from({ length: 1080 }, (_, i) => {
    const idle = i < 180;
    return {
      gpu_temperature_celsius: 40 + ((i + offset) % 9) + (i % 97 === 96 ? 12 : 0) + (idle ? 0 : 15),
      gpu_utilization_percent: idle ? 1 : 40 + ((i * 7 + offset) % 60),
      gpu_power_draw_watts: idle ? 60 + (i % 3) : 180 + ((i * 13 + offset) % 120) + 0.25,
      gpu_power_limit_watts: i % 200 < 20 ? null : 300,
      gpu_memory_used_bytes: idle ? 8 * 1024 ** 3 : (2 + (i % 5)) * 1024 ** 3,
      gpu_sm_clock_mhz: idle ? 210 : 1400 + ((i + offset) % 300),
      host_cpu_temperature_celsius:
        i % 300 < 10 ? null : 45 + (i % 11) + (i % 89 === 88 ? 14 : 0) + (idle ? 0 : 8.5),
      host_cpu_utilization_percent: idle ? 3 : 20 + ((i * 11) % 70),
      host_memory_used_bytes: (40 + (i % 13) + (idle ? 0 : 30)) * 1024 ** 3,
      host_memory_total_bytes: 256 * 1024 ** 3,
    };
  });
  return series(gpu, at('06:00:00', date) + offset * 1000, 20, values);
}

function literal(value: unknown, column: string): string {
  if (value === null || value === undefined) return 'NULL';
  if (column === 'ts') return `make_timestamp(${Math.round(Number(value) * 1000)})`;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'NULL';
  return sqlString(String(value));
}

/**
 * Writes samples, in the order given, to one Parquet file with the archive's schema; `omit` leaves columns
 * out, as a file of an older catalog would.
 */
export async function writeSamplesParquet(
  file: string,
  samples: readonly GpuSample[],
  omit: readonly string[] = [],
): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const columns = PARQUET_COLUMNS.filter((c) => !omit.includes(c.name));
  const names = columns.map((c) => c.name);
  const casts = columns.map((c) => `CAST(${c.name} AS ${c.sqlType}) AS ${c.name}`).join(', ');
  const rows = samples.map(
    (s) => `(${names.map((n) => literal((s as unknown as Record<string, unknown>)[n], n)).join(', ')})`,
  );
  const source =
    rows.length > 0
      ? `(VALUES ${rows.join(', ')}) AS t(${names.join(', ')})`
      : `(SELECT ${names.map((n) => `NULL AS ${n}`).join(', ')} LIMIT 0) AS t`;
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    await connection.run(`COPY (SELECT ${casts} FROM ${source}) TO ${sqlString(file)} (FORMAT parquet)`);
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** A temporary archive on the local filesystem. */
export interface TestArchive {
  root: string;
  storage: LocalStorage;
  /** Writes gpu-metrics/date=D/<name> (default part-N.parquet); returns its path. */
  addFile(
    date: string,
    samples: readonly GpuSample[],
    name?: string,
    omit?: readonly string[],
  ): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createTestArchive(): Promise<TestArchive> {
  const root = await mkdtemp(join(tmpdir(), 'gpumon-analytics-test-'));
  const storage = new LocalStorage(root);
  let files = 0;
  return {
    root,
    storage,
    async addFile(date, samples, name = `part-${files++}.parquet`, omit = []) {
      const file = join(root, 'gpu-metrics', `date=${date}`, name);
      await writeSamplesParquet(file, samples, omit);
      return file;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** The configuration of the tests: defaults, small memory, the given values by dotted key. */
export function testConfig(flags: Partial<Record<ConfigKey, unknown>> = {}): Config {
  return loadConfig({ flags: { 'analytics.memoryLimit': '512MB', 'analytics.threads': 1, ...flags } });
}

/** Runs the job on the given samples of one date (one file) and returns a reader of its results. */
export async function analyze(
  samples: readonly GpuSample[],
  flags: Partial<Record<ConfigKey, unknown>> = {},
  date = '2026-01-15',
): Promise<{ result: DailyResult; read: (analysis: AnalysisName) => Promise<JsonRow[]> }> {
  const archive = await createTestArchive();
  try {
    await archive.addFile(date, samples);
    const result = await runDailyAnalytics({ config: testConfig(flags), date, storage: archive.storage });
    const results = new Map<AnalysisName, JsonRow[]>();
    for (const analysis of ANALYSES) {
      results.set(analysis, (await readResult(archive.storage, date, analysis)) ?? []);
    }
    return { result, read: async (analysis) => results.get(analysis) ?? [] };
  } finally {
    await archive.cleanup();
  }
}

/** The row of one GPU (by UUID), or the fleet row (uuid undefined), of a per-GPU result. */
export function rowOf(rows: readonly JsonRow[], uuid?: string): JsonRow {
  const row = rows.find((r) =>
    uuid === undefined ? r.scope === 'fleet' : r.uuid === uuid && r.scope === 'gpu',
  );
  if (!row) throw new Error(`no row for ${uuid ?? 'the fleet'} in ${JSON.stringify(rows)}`);
  return row;
}
