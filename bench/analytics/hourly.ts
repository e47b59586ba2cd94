/**
 * Hourly partials (docs/decisions/0014-incremental-analytics.md): what the 24 hourly runs cost, and the
 * night with them beside the night without, each beside the single-pass baseline, interleaved in one run.
 *
 *   npx tsx bench/analytics/hourly.ts DIR [ROUNDS] [DATE]
 *
 * DIR holds a day of the archive (gpu-metrics/date=DATE/). First the 24 hourly runs, each the bundled
 * `gpumon analyze --hour DATE THH` as deployed (wall seconds, peak RSS, files read); their partials are then
 * set aside. Each round runs, each as its own process: the baseline (`baseline.ts scan`: one DuckDB aggregate
 * pass over the columns the analyses read), the night with no partial (the whole day computed), and the night
 * with the 24 partials back in place (`gpumon analyze --date DATE`). Printed: medians with their spread, each
 * night as a multiple of its round's baseline, peak RSS, and the machine's CPU use beside each process
 * (bench/noise.ts: DISTURBED when other load took more than the threshold). The archive is left as found
 * (partials removed at the end; the results of the last night stay in gpu-analytics/date=DATE/).
 *
 * Files named by the time of their first sample, as gpumon writes them, let each hour read only its files; a
 * day written by `gpumon simulate` (files of GPUs over the whole day) makes every hour read every file.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, measureNode } from '../harness.ts';
import { describeNoise, describeSpread, type Noise, NoiseMeter, spread } from '../noise.ts';
import { BENCH_DATE } from './synthetic.ts';

const [dir, roundsArg, dateArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: tsx bench/analytics/hourly.ts DIR [ROUNDS] [DATE]\n');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 2);
const date = dateArg ?? BENCH_DATE;
if (!existsSync(join(dir, 'gpu-metrics', `date=${date}`))) {
  process.stderr.write(`no day ${date} in ${dir}: give its date (the third argument)\n`);
  process.exit(2);
}
const partials = join(dir, 'gpu-analytics', 'partials');
const aside = join(dir, 'gpu-analytics', '.partials-aside-bench');
const env = { GPUMON_LOG_LEVEL: 'warn' };

interface Run {
  seconds: number;
  peakRssMiB: number;
  noise: Noise;
  stdout: string;
}

async function measured(args: string[], bundled: boolean): Promise<Run> {
  const meter = new NoiseMeter().start();
  const m = await measureNode(args, env, { tsx: !bundled, meter });
  return { seconds: m.seconds, peakRssMiB: m.peakRssMiB, noise: meter.stop(), stdout: m.stdout };
}

rmSync(partials, { recursive: true, force: true });
rmSync(aside, { recursive: true, force: true });
process.stdout.write(
  `bench/analytics/hourly: ${dir}, ${date}, ${rounds} rounds\n\nhourly runs (bundled gpumon):\n`,
);
const hours: Run[] = [];
for (let hour = 0; hour < 24; hour++) {
  const hh = String(hour).padStart(2, '0');
  const run = await measured(['bin/gpumon.js', 'analyze', '--hour', `${date}T${hh}`, '--archive', dir], true);
  const files = /T\d\d\s+ok\s+(\d+)\s+(\d+)/.exec(run.stdout);
  if (!files) throw new Error(`hour ${hh}: no result row in ${run.stdout}`);
  hours.push(run);
  process.stdout.write(
    `  ${hh}: ${fmt(run.seconds)} s, ${fmt(run.peakRssMiB, 0)} MiB, ${files[1]} files, ${files[2]} rows ` +
      `(${describeNoise(run.noise)})\n`,
  );
}
renameSync(partials, aside);

const scans: Run[] = [];
const wholes: Run[] = [];
const kepts: Run[] = [];
const night = () => measured(['bin/gpumon.js', 'analyze', '--date', date, '--archive', dir], true);
const keptHours = (run: Run) => Number(/\s(\d+)\n?$/.exec(run.stdout.trim().split('\n')[1] ?? '')?.[1]);
try {
  for (let round = 1; round <= rounds; round++) {
    const scan = await measured(['bench/analytics/baseline.ts', 'scan', dir, date], false);
    const whole = await night();
    renameSync(aside, partials);
    const kept = await night();
    renameSync(partials, aside);
    if (keptHours(whole) !== 0 || keptHours(kept) !== 24) {
      throw new Error(`hours kept: ${keptHours(whole)} and ${keptHours(kept)}, not 0 and 24`);
    }
    scans.push(scan);
    wholes.push(whole);
    kepts.push(kept);
    const line = (what: string, r: Run) =>
      `${what} ${fmt(r.seconds)} s (${fmt(r.seconds / scan.seconds)}x), ${fmt(r.peakRssMiB, 0)} MiB, ${describeNoise(r.noise)}`;
    process.stdout.write(
      `round ${round}: ${line('baseline', scan)}; ${line('night, whole day', whole)}; ${line('night, 24 kept', kept)}\n`,
    );
  }
} finally {
  if (existsSync(aside)) rmSync(aside, { recursive: true, force: true });
  rmSync(partials, { recursive: true, force: true });
}

const ratio = (runs: Run[]) => spread(runs.map((r, i) => r.seconds / (scans[i] as Run).seconds));
const peak = (runs: Run[]) => Math.max(...runs.map((r) => r.peakRssMiB));
const disturbed = [...hours, ...scans, ...wholes, ...kepts].filter((r) => r.noise.disturbed).length;
process.stdout.write(
  `\nhourly run:           ${describeSpread(spread(hours.map((r) => r.seconds)))} s, 24 in all ` +
    `${fmt(hours.reduce((n, r) => n + r.seconds, 0))} s, peak RSS ${fmt(peak(hours), 0)} MiB\n` +
    `baseline (one pass):  ${describeSpread(spread(scans.map((r) => r.seconds)))} s\n` +
    `night, whole day:     ${describeSpread(spread(wholes.map((r) => r.seconds)))} s, ` +
    `${describeSpread(ratio(wholes))}x baseline, peak RSS ${fmt(peak(wholes), 0)} MiB\n` +
    `night, 24 hours kept: ${describeSpread(spread(kepts.map((r) => r.seconds)))} s, ` +
    `${describeSpread(ratio(kepts))}x baseline, peak RSS ${fmt(peak(kepts), 0)} MiB\n` +
    `kept / whole:         ${fmt(spread(kepts.map((r, i) => r.seconds / (wholes[i] as Run).seconds)).median)} (median of rounds)\n` +
    `${disturbed} of ${hours.length + 3 * rounds} processes DISTURBED by other load\n`,
);
