/**
 * The daily job step by step beside its baseline, interleaved in one run (baseline, job, baseline, job, ...):
 *
 *   npx tsx bench/analytics/profile.ts DIR [ROUNDS] [DATE] [--before REV]
 *
 * DIR holds a day written by `synthetic.ts generate` (DATE defaults to its date). Each round runs, each as its
 * own process, the single-pass baseline (`baseline.ts scan`: one DuckDB aggregate pass over the columns the
 * analyses read) and the daily job (`synthetic.ts run`: wall and CPU seconds and RSS of each step). Printed:
 * every step's median wall and CPU seconds and share of the job, the job's and the baseline's medians with
 * their spread, the job as a multiple of the baseline (the figure to compare across runs and machines) by
 * wall and by CPU seconds (of the whole process, DuckDB's threads included: load moves them far less), peak
 * RSS, and the machine's CPU use beside each process (bench/noise.ts: a process during which other load took
 * more than the threshold of the cores is marked DISTURBED).
 *
 * --before REV: each round also runs the job as of git revision REV (its queries and engine, from a temporary
 * worktree sharing this tree's node_modules, with this tree's synthetic.ts), interleaved baseline, before, job:
 * the change as two multiples of the same baselines.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, measureNode, ROOT } from '../harness.ts';
import { describeNoise, type Noise, NoiseMeter } from '../noise.ts';
import { BENCH_DATE } from './synthetic.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { before: { type: 'string' } },
});
const [dir, roundsArg, dateArg] = positionals;
if (!dir) {
  process.stderr.write('usage: tsx bench/analytics/profile.ts DIR [ROUNDS] [DATE] [--before REV]\n');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 3);
const date = dateArg ?? BENCH_DATE;

/** A worktree of `rev` with this tree's node_modules and synthetic.ts; removed when the bench ends. */
function beforeTree(rev: string): string {
  const tree = mkdtempSync(join(tmpdir(), 'gpumon-bench-before-'));
  rmSync(tree, { recursive: true });
  execFileSync('git', ['worktree', 'add', '--detach', tree, rev], { cwd: ROOT, stdio: 'ignore' });
  process.on('exit', () => {
    execFileSync('git', ['worktree', 'remove', '--force', tree], { cwd: ROOT, stdio: 'ignore' });
  });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  copyFileSync(join(ROOT, 'bench/analytics/synthetic.ts'), join(tree, 'bench/analytics/synthetic.ts'));
  return tree;
}
const before = values.before ? beforeTree(values.before) : undefined;

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  load: number;
  noise: Noise;
  /** Wall and CPU seconds of each step of the job. */
  steps: Map<string, { seconds: number; cpuSeconds: number; rssMiB: number }>;
}

async function measured(args: string[]): Promise<Run> {
  const meter = new NoiseMeter().start();
  const m = await measureNode(args, { GPUMON_LOG_LEVEL: 'warn' }, { meter });
  const noise = meter.stop();
  const steps = new Map<string, { seconds: number; cpuSeconds: number; rssMiB: number }>();
  for (const match of m.stderr.matchAll(/^\d+\/\d+ (\S+) ([\d.]+)s, ([\d.]+) CPU s, RSS <= (\d+) MiB/gm)) {
    steps.set(match[1] as string, {
      seconds: Number(match[2]),
      cpuSeconds: Number(match[3]),
      rssMiB: Number(match[4]),
    });
  }
  return {
    seconds: m.seconds,
    // As the process reports it at its end (a tracked child's own ticks are gone once it is reaped).
    cpuSeconds: Number(/^CPU_SECONDS=([\d.]+)$/m.exec(m.stderr)?.[1] ?? Number.NaN),
    peakRssMiB: m.peakRssMiB,
    load: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    noise,
    steps,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const spread = (xs: number[]) => `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;

const describe = (what: string, job: Run, scan: Run) =>
  `${what} ${fmt(job.seconds)} s, ${fmt(job.cpuSeconds)} CPU s (load ${fmt(job.load)}, ${describeNoise(job.noise)}), ` +
  `${fmt(job.seconds / scan.seconds)}x wall, ${fmt(job.cpuSeconds / scan.cpuSeconds)}x CPU, ${fmt(job.peakRssMiB, 0)} MiB`;
const scans: Run[] = [];
const jobs: Run[] = [];
const befores: Run[] = [];
for (let round = 1; round <= rounds; round++) {
  const scan = await measured(['bench/analytics/baseline.ts', 'scan', dir, date]);
  const old = before
    ? await measured([join(before, 'bench/analytics/synthetic.ts'), 'run', dir, date])
    : undefined;
  const job = await measured(['bench/analytics/synthetic.ts', 'run', dir, date]);
  scans.push(scan);
  jobs.push(job);
  if (old) befores.push(old);
  process.stdout.write(
    `round ${round}: baseline ${fmt(scan.seconds)} s, ${fmt(scan.cpuSeconds)} CPU s (load ${fmt(scan.load)}, ${describeNoise(scan.noise)}); ` +
      `${old ? `${describe(`before (${values.before})`, old, scan)}; ` : ''}${describe('job', job, scan)}\n`,
  );
}

const jobMedian = median(jobs.map((j) => j.seconds));
const jobCpuMedian = median(jobs.map((j) => j.cpuSeconds));
const scanMedian = median(scans.map((s) => s.seconds));
const scanCpuMedian = median(scans.map((s) => s.cpuSeconds));
const perStep = (what: string, runs: Run[]) => {
  const cpuMedian = median(runs.map((j) => j.cpuSeconds));
  process.stdout.write(
    `\n${what}, ${cpus().length} CPUs; per step (median of ${rounds}): wall, CPU, share of the job's CPU, CPU x baseline's CPU, ` +
      `highest RSS during the step\n`,
  );
  for (const step of runs[0]?.steps.keys() ?? []) {
    const secs = median(runs.map((j) => j.steps.get(step)?.seconds ?? Number.NaN));
    const cpu = median(runs.map((j) => j.steps.get(step)?.cpuSeconds ?? Number.NaN));
    const rss = Math.max(...runs.map((j) => j.steps.get(step)?.rssMiB ?? 0));
    process.stdout.write(
      `  ${step.padEnd(26)} ${fmt(secs).padStart(7)} s ${fmt(cpu).padStart(7)} CPU s ${fmt((cpu / cpuMedian) * 100, 0).padStart(4)}% ` +
        `${fmt(cpu / scanCpuMedian).padStart(6)}x ${fmt(rss, 0).padStart(6)} MiB\n`,
    );
  }
};
if (before) perStep(`before (${values.before})`, befores);
perStep('job', jobs);
const ratios = (runs: Run[]) =>
  `${fmt(median(runs.map((j, i) => j.seconds / (scans[i] as Run).seconds)))}x wall, ` +
  `${fmt(median(runs.map((j, i) => j.cpuSeconds / (scans[i] as Run).cpuSeconds)))}x CPU (medians of per-round ratios), ` +
  `peak RSS ${fmt(Math.max(...runs.map((j) => j.peakRssMiB)), 0)} MiB`;
if (before) process.stdout.write(`before / baseline:        ${ratios(befores)}\n`);
const disturbed = [...scans, ...jobs, ...befores].filter((r) => r.noise.disturbed).length;
process.stdout.write(
  `baseline (one scan pass): median ${fmt(scanMedian)} s (${spread(scans.map((s) => s.seconds))}), ` +
    `${fmt(scanCpuMedian)} CPU s (${spread(scans.map((s) => s.cpuSeconds))}), ` +
    `${fmt(median(scans.map((s) => s.peakRssMiB)), 0)} MiB\n` +
    `daily job:                median ${fmt(jobMedian)} s (${spread(jobs.map((j) => j.seconds))}), ` +
    `${fmt(jobCpuMedian)} CPU s (${spread(jobs.map((j) => j.cpuSeconds))}), ` +
    `peak RSS ${fmt(Math.max(...jobs.map((j) => j.peakRssMiB)), 0)} MiB\n` +
    `job / baseline:           ${fmt(median(jobs.map((j, i) => j.seconds / (scans[i] as Run).seconds)))}x wall, ` +
    `${fmt(median(jobs.map((j, i) => j.cpuSeconds / (scans[i] as Run).cpuSeconds)))}x CPU (medians of per-round ratios), ` +
    `load ${spread([...scans, ...jobs, ...befores].map((r) => r.load))}, ` +
    `${disturbed} of ${scans.length + jobs.length + befores.length} processes DISTURBED\n`,
);
