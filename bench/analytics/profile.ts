/**
 * The daily job step by step beside its baseline, interleaved in one run (baseline, job, baseline, job, ...):
 *
 *   npx tsx bench/analytics/profile.ts DIR [ROUNDS] [DATE]
 *
 * DIR holds a day written by `synthetic.ts generate` (DATE defaults to its date). Each round runs, each as its
 * own process, the single-pass baseline (`baseline.ts scan`: one DuckDB aggregate pass over the columns the
 * analyses read) and the daily job (`synthetic.ts run`: time and RSS of each step). Printed: every step's median
 * seconds and share of the job, the job's and the baseline's medians with their spread, the job as a multiple of
 * the baseline (the figure to compare across runs and machines), peak RSS, and the machine's load average and
 * busy CPU share (/proc/stat) during each process, since other load moves the seconds but less the ratio.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fmt, measureNode } from '../harness.ts';
import { BENCH_DATE } from './synthetic.ts';

const [dir, roundsArg, dateArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: tsx bench/analytics/profile.ts DIR [ROUNDS] [DATE]\n');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 3);
const date = dateArg ?? BENCH_DATE;

/** Busy and total jiffies of all CPUs so far. */
function cpuTimes(): { busy: number; total: number } {
  const [line] = readFileSync('/proc/stat', 'utf8').split('\n');
  const values = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

interface Run {
  seconds: number;
  peakRssMiB: number;
  load: number;
  busyShare: number;
  steps: Map<string, number>;
}

async function measured(args: string[]): Promise<Run> {
  const before = cpuTimes();
  const m = await measureNode(args, { GPUMON_LOG_LEVEL: 'warn' });
  const after = cpuTimes();
  const steps = new Map<string, number>();
  for (const match of m.stderr.matchAll(/^\d+\/\d+ (\S+) ([\d.]+)s/gm)) {
    steps.set(match[1] as string, Number(match[2]));
  }
  return {
    seconds: m.seconds,
    peakRssMiB: m.peakRssMiB,
    load: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    busyShare: (after.busy - before.busy) / Math.max(1, after.total - before.total),
    steps,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const spread = (xs: number[]) => `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;

const scans: Run[] = [];
const jobs: Run[] = [];
for (let round = 1; round <= rounds; round++) {
  const scan = await measured(['bench/analytics/baseline.ts', 'scan', dir, date]);
  const job = await measured(['bench/analytics/synthetic.ts', 'run', dir, date]);
  scans.push(scan);
  jobs.push(job);
  process.stdout.write(
    `round ${round}: baseline ${fmt(scan.seconds)} s (load ${fmt(scan.load)}, CPU busy ${fmt(scan.busyShare * 100, 0)}%), ` +
      `job ${fmt(job.seconds)} s (load ${fmt(job.load)}, CPU busy ${fmt(job.busyShare * 100, 0)}%), ` +
      `${fmt(job.seconds / scan.seconds)}x, ${fmt(job.peakRssMiB, 0)} MiB\n`,
  );
}

const jobMedian = median(jobs.map((j) => j.seconds));
const scanMedian = median(scans.map((s) => s.seconds));
process.stdout.write(`\n${cpus().length} CPUs; per step (median of ${rounds}):\n`);
for (const step of jobs[0]?.steps.keys() ?? []) {
  const secs = median(jobs.map((j) => j.steps.get(step) ?? Number.NaN));
  process.stdout.write(
    `  ${step.padEnd(26)} ${fmt(secs).padStart(7)} s ${fmt((secs / jobMedian) * 100, 0).padStart(4)}% ` +
      `${fmt(secs / scanMedian).padStart(6)}x baseline\n`,
  );
}
process.stdout.write(
  `baseline (one scan pass): median ${fmt(scanMedian)} s (${spread(scans.map((s) => s.seconds))}), ` +
    `${fmt(median(scans.map((s) => s.peakRssMiB)), 0)} MiB\n` +
    `daily job:                median ${fmt(jobMedian)} s (${spread(jobs.map((j) => j.seconds))}), ` +
    `peak RSS ${fmt(Math.max(...jobs.map((j) => j.peakRssMiB)), 0)} MiB\n` +
    `job / baseline:           ${fmt(median(jobs.map((j, i) => j.seconds / (scans[i] as Run).seconds)))}x ` +
    `(median of per-round ratios), load ${spread([...scans, ...jobs].map((r) => r.load))}\n`,
);
