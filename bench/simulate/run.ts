/**
 * bench/simulate: `gpumon simulate` (the bundled bin/gpumon.js, as deployed) at 8 GPUs x 3 days and at
 * 80 GPUs x 1 day, 1 Hz: wall seconds, CPU seconds, samples per second and peak RSS (bench/peak-rss.mjs:
 * VmHWM, DuckDB's native memory included), with the machine's CPU use beside each run (bench/noise.ts: a run
 * during which other processes took more than the threshold of the cores is marked DISTURBED).
 * Target (issue 15 point 5): <= 400 MiB peak at any size, at least as fast as before.
 *
 *   npx tsx bench/simulate/run.ts [--runs 1] [--only 8x3|80x1] [--baseline REV]
 *
 * --baseline REV: the same, interleaved (baseline, this tree, baseline, ...), with gpumon as of a git revision
 * (checked out into a temporary worktree that shares this tree's node_modules, its bundle built there), and
 * the ratios this tree / baseline from the medians.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBundle, fmt, measureNode, ROOT } from '../harness.ts';
import { describeNoise, describeSpread, interleave, NoiseMeter, spread } from '../noise.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    only: { type: 'string' },
    baseline: { type: 'string' },
  },
});
const CASES = [
  { name: '8x3', hosts: 1, gpus: 8, days: 3 },
  { name: '80x1', hosts: 10, gpus: 8, days: 1 },
].filter((c) => values.only === undefined || c.name === values.only);
if (CASES.length === 0) throw new Error(`--only must be 8x3 or 80x1, got ${values.only}`);
const runs = Number(values.runs);

/** A worktree of `rev` beside this one, with its bundle built; removed when the bench ends. */
function baselineTree(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gpumon-bench-baseline-'));
  rmSync(dir, { recursive: true });
  execFileSync('git', ['worktree', 'add', '--detach', dir, rev], { cwd: ROOT, stdio: 'ignore' });
  process.on('exit', () => {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
  });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  ensureBundle(dir);
  return dir;
}
const baseline = values.baseline ? baselineTree(values.baseline) : undefined;

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
}
const MiB = (r: Run[]) => Math.max(...r.map((x) => x.peakRssMiB));

async function simulate(root: string, c: (typeof CASES)[number], meter: NoiseMeter): Promise<Run> {
  const out = mkdtempSync(join(tmpdir(), 'gpumon-bench-simulate-'));
  try {
    if (root === ROOT) ensureBundle();
    const args = ['--days', String(c.days), '--end', '2026-11-25', '--hosts', String(c.hosts)];
    let pid: number | undefined;
    const m = await measureNode(
      [join(root, 'bin/gpumon.js'), 'simulate', ...args, '--gpus', String(c.gpus), '--out', out],
      { GPUMON_CONFIG: '' },
      { tsx: false, meter, onSpawn: (p) => (pid = p) },
    );
    const cpuSeconds = meter.ticksOf(pid) / 100;
    return { seconds: m.seconds, cpuSeconds, peakRssMiB: m.peakRssMiB };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

for (const c of CASES) {
  const samples = c.hosts * c.gpus * c.days * 86_400;
  const label = `${c.hosts * c.gpus} GPUs x ${c.days} day(s)`;
  const line = (who: string, r: Run) =>
    `${label}, ${who}: ${fmt(r.seconds)} s, ${fmt(r.cpuSeconds)} CPU s, ${fmt(samples / r.seconds / 1e6)} M samples/s, ` +
    `${fmt(r.peakRssMiB, 0)} MiB peak RSS`;
  const mine: Run[] = [];
  const theirs: Run[] = [];
  if (!baseline) {
    for (let i = 0; i < runs; i++) {
      const meter = new NoiseMeter().start();
      const r = await simulate(ROOT, c, meter);
      mine.push(r);
      console.log(`${line('this tree', r)}; ${describeNoise(meter.stop())}`);
    }
    if (runs > 1) console.log(`  seconds: ${describeSpread(spread(mine.map((r) => r.seconds)))}`);
    continue;
  }
  const result = await interleave(
    runs,
    async (meter) => {
      const r = await simulate(baseline, c, meter);
      theirs.push(r);
      return r.seconds;
    },
    async (meter) => {
      const r = await simulate(ROOT, c, meter);
      mine.push(r);
      return r.seconds;
    },
    (side, i, step) => {
      const r = (side === 'a' ? theirs : mine)[i] as Run;
      console.log(
        `${line(side === 'a' ? `baseline ${values.baseline}` : 'this tree', r)}; ${describeNoise(step.noise)}`,
      );
    },
  );
  const cpu = (r: Run[]) => spread(r.map((x) => x.cpuSeconds));
  console.log(
    `${label}: baseline ${describeSpread(result.a.all)} s, this tree ${describeSpread(result.b.all)} s; ` +
      `this tree / baseline ${fmt(result.ratioOfMedians)}x wall (pairs ${describeSpread(result.pairRatio)}), ` +
      `${fmt(cpu(mine).median / cpu(theirs).median)}x CPU (${fmt(cpu(theirs).median)} -> ${fmt(cpu(mine).median)} CPU s); ` +
      `peak RSS ${fmt(MiB(theirs), 0)} -> ${fmt(MiB(mine), 0)} MiB; ${result.disturbed} of ${result.steps} runs disturbed`,
  );
}
