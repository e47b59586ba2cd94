/**
 * bench/analytics: one day of 1,000 GPUs at 1 Hz (86.4 M samples).
 *
 *   npx tsx bench/analytics/run.ts [--hosts 125] [--gpus 8] [--keep DIR]
 *
 * 1. `gpumon simulate` writes the day; baseline: DuckDB writing the same number of rows, same schema, straight
 *    from SQL (the cost floor of producing that Parquet).
 * 2. `gpumon analyze` runs every analysis on it; baseline: one DuckDB aggregate pass over the columns the
 *    analyses read (the cost floor of reading the day once).
 * Each step runs as its own process; it prints wall time, samples/s, the ratio to its baseline and peak RSS.
 * Targets (issue 2): the whole analyze job under 60 s and under 4 GiB peak RSS on a 2-core machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, measureNode, simulateArchive } from '../harness.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '125' },
    gpus: { type: 'string', default: '8' },
    keep: { type: 'string' },
  },
});
const hosts = Number(values.hosts);
const gpus = Number(values.gpus);
const date = '2026-11-25';
const samples = hosts * gpus * 86_400;
const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'gpumon-bench-analytics-'));
const baselineDir = mkdtempSync(join(tmpdir(), 'gpumon-bench-baseline-'));

console.log(
  `bench/analytics: ${hosts} hosts x ${gpus} GPUs x 86,400 s = ${samples.toLocaleString('en-US')} samples`,
);
console.log(`archive: ${dir}\n`);

const simBase = await measureNode(['bench/analytics/baseline.ts', 'write', baselineDir, String(samples)]);
const sim = await simulateArchive({ end: date, hosts, gpus, out: dir });
rmSync(baselineDir, { recursive: true, force: true });

const scanBase = await measureNode(['bench/analytics/baseline.ts', 'scan', dir, date]);
const analyze = await measureNode(['bin/gpumon.js', 'analyze', '--date', date, '--archive', dir], {
  GPUMON_LOG_LEVEL: 'warn',
});

const row = (name: string, m: { seconds: number; peakRssMiB: number }, base?: { seconds: number }) =>
  `${name.padEnd(34)} ${fmt(m.seconds).padStart(8)} s ${fmt(samples / m.seconds / 1e6).padStart(7)} M samples/s ` +
  `${base ? `${fmt(m.seconds / base.seconds).padStart(6)}x baseline` : ''.padStart(16)} ${fmt(m.peakRssMiB, 0).padStart(6)} MiB peak RSS`;

console.log(row('baseline: DuckDB SQL -> Parquet', simBase));
console.log(row('gpumon simulate', sim, simBase));
console.log(row('baseline: one DuckDB scan pass', scanBase));
console.log(row('gpumon analyze (all analyses)', analyze, scanBase));
const ok = analyze.seconds < 60 && analyze.peakRssMiB < 4096;
console.log(
  `\ntarget analyze < 60 s and < 4096 MiB: ${ok ? 'met' : 'NOT met'} ` +
    `(${fmt(analyze.seconds)} s, ${fmt(analyze.peakRssMiB, 0)} MiB)`,
);
if (!values.keep) rmSync(dir, { recursive: true, force: true });
