import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Engine, EngineSession } from '../../analytics/engine.ts';
import { DuckDbEngine } from '../../analytics/engines/duckdb.ts';
import { SparkEngine } from '../../analytics/engines/spark/spark-engine.ts';
import { METRICS } from '../../metrics/catalog.ts';
import { type GpuSample, nullIdentity, nullMetrics, parseSample } from '../../metrics/sample.ts';
import { sparkConnectUrl } from '../../testing/services.ts';
import { readArchiveSamples } from './archive-reader.ts';
import { rewriteAsFormat1 } from './format-1.ts';
import { LocalStorage } from './local-storage.ts';
import { ParquetWriter } from './parquet-writer.ts';

// The archive read with the tools users point at it: DuckDB (gpumon's reader and engine), Spark (the Spark
// engine, over Spark Connect), pyarrow and pandas (the pyspark environment's Python). One day holds a file of
// each format: format 1 (ts without time zone) and format 2 (ts UTC-adjusted).

const run = promisify(execFile);
const PYTHON_ENV = resolve('.cache/pyspark-4.0.1/bin/python');

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gpumon-archive-tools-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const t0 = Date.UTC(2026, 10, 25, 10, 0, 0);

/** Values that a lossy encoding would change: long fractions, tiny and huge magnitudes, the largest safe integer. */
function sample(i: number, gpu: number): GpuSample {
  return parseSample({
    ...nullIdentity(),
    ts: t0 + i * 1000,
    host: 'node-a',
    gpu_index: gpu,
    uuid: `GPU-tools-${gpu}`,
    model: 'NVIDIA H100 80GB HBM3',
    driver_version: '550.90.07',
    pod: i % 2 ? `train-${gpu}` : null,
    ...nullMetrics(),
    gpu_utilization_percent: (i * 0.1 + 0.2) % 100,
    gpu_power_draw_watts: 123.45 + i,
    gpu_power_limit_watts: 700 + i / 3,
    gpu_energy_joules_total: 1e9 + i * 700.123 + gpu,
    gpu_pcie_rx_bytes_per_second: 1024 * (1_000_003 * i + gpu),
    gpu_temperature_celsius: i % 3 === 0 ? null : 40 + i * 1e-9,
    gpu_memory_used_bytes: Number.MAX_SAFE_INTEGER - i,
    gpu_memory_total_bytes: 85_520_809_984,
    gpu_clock_throttle_reasons: 0x40,
    host_cpu_utilization_percent: 5e-324 * (i + 1),
  });
}

/** An archive of one day: the first 50 s of two GPUs in a file of format 1, the next 50 s in format 2. */
async function mixedArchive(): Promise<{
  root: string;
  samples: GpuSample[];
  format1: string;
  format2: string;
}> {
  const root = await tempDir();
  const storage = new LocalStorage(root);
  const writer = new ParquetWriter({ storage });
  const samples: GpuSample[] = [];
  for (let i = 0; i < 100; i++) for (const gpu of [0, 1]) samples.push(sample(i, gpu));
  const early = samples.filter((s) => s.ts < t0 + 50_000);
  const late = samples.filter((s) => s.ts >= t0 + 50_000);
  const [first] = await writer.writeSamples(early);
  const [format2] = await writer.writeSamples(late);
  await writer.close();
  assert.ok(first && format2);
  // The early file, rewritten as format 1 (named as gpumon named files then): an archive written before the
  // format changed.
  const written = await storage.localPath(first);
  const format1 = written.replace(/\.s-[0-9a-f]+\.parquet$/, '.parquet');
  assert.notEqual(format1, written);
  await rewriteAsFormat1(written, format1);
  await rm(written);
  return { root, samples, format1, format2: await storage.localPath(format2) };
}

/** The samples as an engine's `samples` relation gives them: ts in epoch ms, every metric as a number or null. */
function asRows(samples: readonly GpuSample[]): Record<string, unknown>[] {
  return samples.map((s) => {
    const row: Record<string, unknown> = { ts: s.ts };
    for (const m of METRICS) row[m.name] = s[m.name];
    return row;
  });
}

async function samplesOf(
  engine: Engine,
  files: string[],
  scratch: string,
): Promise<Record<string, unknown>[]> {
  const session: EngineSession = await engine.open({
    files: files.map((f) => ({ location: f, name: f })),
    scratchDir: scratch,
  });
  try {
    const rows = await session.rows('samples');
    return rows
      .map((r) => {
        const row: Record<string, unknown> = { ts: r.ts };
        for (const m of METRICS) row[m.name] = r[m.name] ?? null;
        return { row, gpu: Number(r.gpu_index) };
      })
      .sort((a, b) => a.gpu - b.gpu || Number(a.row.ts) - Number(b.row.ts))
      .map((r) => r.row);
  } finally {
    await session.close();
  }
}

function expectedRows(samples: readonly GpuSample[]): Record<string, unknown>[] {
  return asRows([...samples].sort((a, b) => a.gpu_index - b.gpu_index || a.ts - b.ts));
}

describe('the archive read by the tools users point at it', () => {
  test('DuckDB: gpumon reads a day of both formats back bit for bit, every value and null as written', async () => {
    const { root, samples } = await mixedArchive();
    const back = await readArchiveSamples(new LocalStorage(root));
    assert.equal(back.length, samples.length);
    const expected = [...samples].sort((a, b) => a.gpu_index - b.gpu_index || a.ts - b.ts);
    for (const [i, s] of back.entries()) {
      const want = expected[i] as GpuSample;
      assert.equal(s.ts, want.ts, `ts of row ${i}`);
      for (const m of METRICS) assert.ok(Object.is(s[m.name], want[m.name]), `${m.name} of row ${i}`);
      assert.equal(s.pod, want.pod);
    }
  });

  test('DuckDB engine: the analytics see both formats as one day, in UTC', async () => {
    const { format1, format2, samples } = await mixedArchive();
    const rows = await samplesOf(
      new DuckDbEngine({ memoryLimit: '1GB', threads: 1 }),
      [format1, format2],
      await tempDir(),
    );
    assert.deepEqual(rows, expectedRows(samples));
  });

  test('Spark: the Spark engine sees both formats as one day, every value as written', async () => {
    const remote = sparkConnectUrl();
    const { format1, format2, samples } = await mixedArchive();
    const rows = await samplesOf(new SparkEngine({ remote }), [format1, format2], await tempDir());
    assert.deepEqual(rows, expectedRows(samples));
  });

  test('pyarrow and pandas: ts is timestamp[us, tz=UTC], every value as written', async () => {
    assert.ok(
      existsSync(PYTHON_ENV),
      `${PYTHON_ENV} is missing: scripts/services/spark-connect.sh start installs pyspark with pyarrow and pandas`,
    );
    const { format2, samples } = await mixedArchive();
    const script = join(await tempDir(), 'read.py');
    await writeFile(
      script,
      [
        'import json, sys, decimal',
        'import pyarrow as pa, pyarrow.parquet as pq, pandas as pd',
        'table = pq.read_table(sys.argv[1])',
        'frame = pd.read_parquet(sys.argv[1])',
        'names = sys.argv[2:]',
        '# A decimal as its exact text, a double as itself: JSON carries both exactly.',
        'exact = lambda v: str(v) if isinstance(v, decimal.Decimal) else v',
        'plain = lambda v: None if pd.isna(v) else getattr(v, "item", lambda: v)()',
        "# pyarrow's own decimal -> float64 cast is off by one ulp on some values; through the text it is exact.",
        'as_float = lambda c: c.cast(pa.string()).cast(pa.float64()) if pa.types.is_decimal(c.type) else c',
        'print(json.dumps({',
        "  'arrow_ts': str(table.schema.field('ts').type),",
        "  'pandas_ts': str(frame['ts'].dtype),",
        "  'first_ts': frame['ts'].iloc[0].isoformat(),",
        "  'ts_us': [int(v) for v in table.column('ts').cast('int64').to_pylist()],",
        "  'types': {k: str(table.schema.field(k).type) for k in names},",
        "  'exact': {k: [exact(v) for v in table.column(k).to_pylist()] for k in names},",
        "  'arrow_float': {k: as_float(table.column(k)).to_pylist() for k in names},",
        "  'pandas_float': {k: [plain(v) for v in frame[k].astype('float64')] for k in names},",
        '}))',
      ].join('\n'),
    );
    const names = METRICS.map((m) => m.name);
    const { stdout } = await run(PYTHON_ENV, [script, format2, ...names], { maxBuffer: 64 << 20 });
    const read = JSON.parse(stdout) as {
      arrow_ts: string;
      pandas_ts: string;
      first_ts: string;
      ts_us: number[];
      types: Record<string, string>;
      exact: Record<string, (number | string | null)[]>;
      arrow_float: Record<string, (number | null)[]>;
      pandas_float: Record<string, (number | null)[]>;
    };
    assert.equal(read.arrow_ts, 'timestamp[us, tz=UTC]');
    assert.equal(read.pandas_ts, 'datetime64[us, UTC]');
    assert.equal(read.first_ts, '2026-11-25T10:00:50+00:00');
    // Decimal places where the values allow them (encoding.ts), doubles where they do not.
    assert.equal(read.types.gpu_power_draw_watts, 'decimal128(9, 2)');
    assert.equal(read.types.gpu_energy_joules_total, 'decimal128(18, 3)');
    assert.equal(read.types.gpu_temperature_celsius, 'decimal128(18, 9)');
    assert.equal(read.types.gpu_power_limit_watts, 'double');
    assert.equal(read.types.gpu_pcie_rx_bytes_per_second, 'decimal128(18, 0)');
    assert.equal(read.types.host_cpu_utilization_percent, 'double');
    assert.equal(read.types.gpu_memory_used_bytes, 'int64');
    const late = [...samples]
      .filter((s) => s.ts >= t0 + 50_000)
      .sort((a, b) => a.gpu_index - b.gpu_index || a.ts - b.ts);
    assert.deepEqual(
      read.ts_us,
      late.map((s) => s.ts * 1000),
    );
    for (const name of names) {
      const want = late.map((s) => s[name as keyof GpuSample]);
      const exact = read.exact[name]?.map((v) => (typeof v === 'string' ? Number(v) : v));
      assert.deepEqual(exact, want, `${name}: the exact values pyarrow reads`);
      assert.deepEqual(read.arrow_float[name], want, `${name}: pyarrow's float64 through the text`);
      assert.deepEqual(read.pandas_float[name], want, `${name}: pandas' astype('float64')`);
    }
  });
});
