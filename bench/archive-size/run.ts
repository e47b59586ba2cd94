/**
 * bench/archive-size: what a sample costs on disk in the archive, format 1 against format 2, in one run.
 *
 * 1. `gpumon simulate` writes one day of the simulated fleet (format 2: float64 metrics as exact decimals,
 *    version 2 encodings, src/sinks/archive/encoding.ts);
 * 2. each file is rewritten as format 1 (every metric of its catalog type, version 1 encodings, `ts` without
 *    time zone: what gpumon wrote before), the same rows in the same order;
 * 3. bytes per sample of each column and in all, from the Parquet footers (compressed column chunks), the
 *    entropy of the largest columns' deltas (what bounds them), and the real captures of the sources'
 *    testdata replayed into both formats;
 * 4. `gpumon analyze` of the day on each format, interleaved (1, 2, 1, 2, ...): wall time, CPU time and peak
 *    RSS, the median of each; and a check that both formats give the same analyses, result for result.
 *
 *   npx tsx bench/archive-size/run.ts [--hosts 1] [--gpus 8] [--runs 3] [--keep DIR]
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { captureSamples } from '../../src/sinks/archive/capture-samples.ts';
import { rewriteAsFormat1 } from '../../src/sinks/archive/format-1.ts';
import { LocalStorage } from '../../src/sinks/archive/local-storage.ts';
import { ParquetWriter } from '../../src/sinks/archive/parquet-writer.ts';
import { fmt, measureNode, simulateArchive } from '../harness.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '1' },
    gpus: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    keep: { type: 'string' },
  },
});
const hosts = Number(values.hosts);
const gpus = Number(values.gpus);
const runs = Number(values.runs);
const date = '2026-11-25';
const samples = hosts * gpus * 86_400;
const root = values.keep ?? mkdtempSync(join(tmpdir(), 'gpumon-bench-archive-size-'));
const dirs = { 1: join(root, 'format-1'), 2: join(root, 'format-2') } as const;
const partition = (dir: string) => join(dir, 'gpu-metrics', `date=${date}`);

console.log(
  `bench/archive-size: ${hosts} hosts x ${gpus} GPUs x 86,400 s = ${samples.toLocaleString('en-US')} samples`,
);
console.log(`archive: ${root}\n`);

const simulate = await simulateArchive({ end: date, hosts, gpus, out: dirs[2] });
mkdirSync(partition(dirs[1]), { recursive: true });
for (const name of readdirSync(partition(dirs[2]))) {
  await rewriteAsFormat1(
    join(partition(dirs[2]), name),
    join(partition(dirs[1]), name.replace(/\.s-[0-9a-f]+\.parquet$/, '.parquet')),
  );
}

interface Column {
  bytes: number;
  type: string;
  encodings: string;
}

async function columns(dir: string): Promise<Map<string, Column>> {
  const db = await DuckDBInstance.create(':memory:');
  try {
    const connection = await db.connect();
    const reader = await connection.runAndReadAll(
      `SELECT path_in_schema, sum(total_compressed_size)::DOUBLE, any_value(type), ` +
        `string_agg(DISTINCT encodings, ',') FROM parquet_metadata('${partition(dir)}/*.parquet') GROUP BY 1`,
    );
    const out = new Map<string, Column>();
    for (const [name, bytes, type, encodings] of reader.getRowsJS() as [string, number, string, string][]) {
      out.set(name, { bytes, type, encodings: [...new Set(encodings.split(','))].join(',') });
    }
    return out;
  } finally {
    db.closeSync();
  }
}

const [one, two] = [await columns(dirs[1]), await columns(dirs[2])];
const total = (cols: Map<string, Column>) => [...cols.values()].reduce((sum, c) => sum + c.bytes, 0);
const perSample = (bytes: number) => fmt(bytes / samples, 3);
const fileBytes = (dir: string) =>
  readdirSync(partition(dir)).reduce((sum, f) => sum + statSync(join(partition(dir), f)).size, 0);

console.log(`${'column'.padEnd(42)} ${'format 1'.padStart(9)} ${'format 2'.padStart(9)}  format 2 stored as`);
const names = [...one.keys()].sort((a, b) => (two.get(b)?.bytes ?? 0) - (two.get(a)?.bytes ?? 0));
for (const name of names) {
  const a = one.get(name) as Column;
  const b = two.get(name) as Column;
  if (a.bytes / samples < 0.0005 && b.bytes / samples < 0.0005) continue;
  console.log(
    `${name.padEnd(42)} ${perSample(a.bytes).padStart(9)} ${perSample(b.bytes).padStart(9)}  ${b.type} ${b.encodings}`,
  );
}
console.log(
  `${'(columns under 0.0005 B each)'.padEnd(42)} ${perSample(
    names
      .filter((n) => (one.get(n)?.bytes ?? 0) / samples < 0.0005)
      .reduce((s, n) => s + (one.get(n)?.bytes ?? 0), 0),
  ).padStart(9)} ${perSample(
    names
      .filter((n) => (one.get(n)?.bytes ?? 0) / samples < 0.0005)
      .reduce((s, n) => s + (two.get(n)?.bytes ?? 0), 0),
  ).padStart(9)}`,
);
console.log(
  `${'all columns (bytes per sample)'.padEnd(42)} ${perSample(total(one)).padStart(9)} ${perSample(total(two)).padStart(9)}  ` +
    `${fmt(total(two) / total(one), 3)}x`,
);
console.log(
  `${'files on disk (bytes per sample)'.padEnd(42)} ${perSample(fileBytes(dirs[1])).padStart(9)} ${perSample(fileBytes(dirs[2])).padStart(9)}`,
);

// What bounds the biggest columns: the order-0 entropy of each GPU's consecutive differences, the least a
// coder of deltas without a model of the series spends on a sample.
{
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  // Format 2: decimals subtract exactly (differences of doubles would add rounding noise).
  const source = `read_parquet('${partition(dirs[2])}/*.parquet', union_by_name = true, hive_partitioning = false)`;
  console.log(`\n${'largest columns'.padEnd(42)} ${'entropy of the deltas (B/sample)'.padStart(34)}`);
  for (const name of names.filter((n) => n !== 'ts').slice(0, 6)) {
    const q = `"${name}"`;
    const [row] = (
      await connection.runAndReadAll(
        `SELECT entropy(d) / 8 FROM (SELECT ${q} - lag(${q}) OVER (PARTITION BY uuid ORDER BY ts) AS d FROM ${source})`,
      )
    ).getRowsJS();
    console.log(`${name.padEnd(42)} ${fmt(Number(row?.[0]), 3).padStart(34)}`);
  }
  db.closeSync();
}
// The real captures of the sources' testdata, replayed into an archive of each format.
{
  const captures = captureSamples(Date.UTC(2026, 10, 24));
  const real = { 1: join(root, 'captures-1'), 2: join(root, 'captures-2') } as const;
  const writer = new ParquetWriter({ storage: new LocalStorage(real[2]) });
  await writer.writeSamples(captures);
  await writer.close();
  mkdirSync(join(real[1], 'gpu-metrics', 'date=2026-11-24'), { recursive: true });
  const day = (dir: string) => join(dir, 'gpu-metrics', 'date=2026-11-24');
  for (const name of readdirSync(day(real[2]))) {
    await rewriteAsFormat1(
      join(day(real[2]), name),
      join(day(real[1]), name.replace(/\.s-[0-9a-f]+\.parquet$/, '.parquet')),
    );
  }
  const bytes = (dir: string) =>
    readdirSync(day(dir)).reduce((sum, f) => sum + statSync(join(day(dir), f)).size, 0);
  console.log(
    `\nreal captures replayed (${captures.length.toLocaleString('en-US')} samples, files on disk, footers included): ` +
      `format 1 ${fmt(bytes(real[1]) / captures.length)} B/sample, format 2 ${fmt(bytes(real[2]) / captures.length)} B/sample, ` +
      `${fmt(bytes(real[2]) / bytes(real[1]), 3)}x`,
  );
}
console.log(
  `\ngpumon simulate (writes format 2): ${fmt(simulate.seconds)} s, ${fmt(simulate.peakRssMiB, 0)} MiB peak RSS`,
);

// Reading: the whole analyze job on each format, interleaved; wall time, CPU time (all threads) and peak RSS.
interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
}
const times: Record<1 | 2, Run[]> = { 1: [], 2: [] };
for (let r = 0; r < runs; r++) {
  for (const format of [1, 2] as const) {
    const m = await measureNode(
      ['src/cli/main.ts', 'analyze', '--date', date, '--archive', dirs[format]],
      { GPUMON_LOG_LEVEL: 'warn' },
      { nodeFlags: ['--import', './bench/archive-size/cpu-time.mjs'] },
    );
    const cpuSeconds = Number(/CPU_MS=([\d.]+)/.exec(m.stderr)?.[1] ?? Number.NaN) / 1000;
    times[format].push({ seconds: m.seconds, cpuSeconds, peakRssMiB: m.peakRssMiB });
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const medianOf = (format: 1 | 2, key: keyof Run) => median(times[format].map((t) => t[key]));
for (const format of [1, 2] as const) {
  const list = (key: keyof Run) => times[format].map((t) => fmt(t[key])).join(', ');
  console.log(
    `gpumon analyze, format ${format}: median wall ${fmt(medianOf(format, 'seconds'))} s (${list('seconds')}), ` +
      `median CPU ${fmt(medianOf(format, 'cpuSeconds'))} s (${list('cpuSeconds')}), ` +
      `${fmt(medianOf(format, 'peakRssMiB'), 0)} MiB peak RSS`,
  );
}
console.log(
  `analyze on format 2 / format 1: wall ${fmt(medianOf(2, 'seconds') / medianOf(1, 'seconds'), 3)}x, ` +
    `CPU ${fmt(medianOf(2, 'cpuSeconds') / medianOf(1, 'cpuSeconds'), 3)}x, ` +
    `peak RSS ${fmt(medianOf(2, 'peakRssMiB') / medianOf(1, 'peakRssMiB'), 3)}x`,
);
console.log(`the analyses of both formats agree (doubles to 1e-9): ${await sameResults(dirs[1], dirs[2])}`);

/**
 * Whether every result file of the day holds the same rows in both archives: the same values, doubles to 1e-9
 * relative (sums of doubles in another order differ in their last bits from one run to the next).
 */
async function sameResults(a: string, b: string): Promise<boolean> {
  const db = await DuckDBInstance.create(':memory:');
  try {
    const connection = await db.connect();
    const results = (dir: string) =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.parquet') && !f.startsWith('gpu-metrics'))
        .sort();
    const files = results(a);
    if (files.length === 0 || files.join() !== results(b).join()) return false;
    const rows = async (file: string) =>
      (await connection.runAndReadAll(`SELECT * FROM '${file}'`)).getRowsJS().flat();
    for (const file of files) {
      const [x, y] = [await rows(join(a, file)), await rows(join(b, file))];
      if (x.length !== y.length) return false;
      for (const [i, v] of x.entries()) {
        const w = y[i];
        const close =
          typeof v === 'number' && typeof w === 'number'
            ? Math.abs(v - w) <= 1e-9 * Math.max(Math.abs(v), Math.abs(w))
            : String(v) === String(w);
        if (!close) {
          console.log(`  ${file}: value ${i} differs: ${String(v)} against ${String(w)}`);
          return false;
        }
      }
    }
    return true;
  } finally {
    db.closeSync();
  }
}

if (!values.keep) rmSync(root, { recursive: true, force: true });
