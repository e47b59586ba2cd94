/**
 * bench/server/live-state: the live window of a fleet in memory (`LiveState`, what `gpumon up` and `gpumon serve`
 * keep of every GPU's recent samples for the charts), beside the least it could be.
 *
 *   npx tsx bench/server/live-state.ts [--gpus 1000] [--window 900] [--pairs 3]
 *
 * Each step is a process of its own (`--step floor|live`) that feeds --gpus simulated GPUs (`gpumon up`'s
 * simulator, every catalog metric it reports), one sample each per simulated second, for the window and a
 * third of it again (the window full, then sliding), and reports:
 * - the memory the store holds after a full garbage collection: JS heap used plus array buffers, less the same
 *   before the first sample, MiB;
 * - its CPU per sample while the window slides (only the store's own work, not the simulator's);
 * - its peak RSS.
 * The baseline (`floor`) keeps the same values in the least space and time any store could: one preallocated
 * `Float64Array` per GPU and metric reported, the window's length exactly, written in place. Steps run
 * interleaved (floor, live, floor, live, ...); printed: each side's medians and spread, and live as a multiple
 * of the floor, with the machine's other load beside each step (bench/noise.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { METRICS } from '../../src/metrics/catalog.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { LiveState } from '../../src/pipeline/live-state.ts';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { fmt, measureNode } from '../harness.ts';
import { describeNoise, describeSpread, interleave, type NoiseMeter, spread } from '../noise.ts';

const { values } = parseArgs({
  options: {
    gpus: { type: 'string', default: '1000' },
    window: { type: 'string', default: '900' },
    pairs: { type: 'string', default: '3' },
    step: { type: 'string' },
  },
});
const gpus = Number(values.gpus);
const windowS = Number(values.window);
const pairs = Number(values.pairs);
for (const [name, n, min] of [
  ['--gpus', gpus, 1],
  ['--window', windowS, 10],
  ['--pairs', pairs, 1],
] as const) {
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, got ${n}`);
}

interface StepResult {
  heldMiB: number;
  cpuUsPerSample: number;
  samples: number;
}

/** The least any store could do: each GPU's reported metrics in preallocated columns, written in place. */
class Floor {
  private readonly stores = new Map<string, { at: number; columns: (Float64Array | null)[] }>();
  apply(samples: readonly GpuSample[]): void {
    for (const s of samples) {
      let store = this.stores.get(s.uuid);
      if (!store) {
        const columns = [
          new Float64Array(windowS),
          ...METRICS.map((m) => (s[m.name] === null ? null : new Float64Array(windowS))),
        ];
        store = { at: 0, columns };
        this.stores.set(s.uuid, store);
      }
      (store.columns[0] as Float64Array)[store.at] = s.ts;
      for (let m = 0; m < METRICS.length; m++) {
        const column = store.columns[m + 1];
        if (column) column[store.at] = s[(METRICS[m] as (typeof METRICS)[number]).name] ?? Number.NaN;
      }
      store.at = (store.at + 1) % windowS;
    }
  }
}

function runStep(kind: 'floor' | 'live'): StepResult {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the step with --expose-gc');
  const hosts = Math.ceil(gpus / 8);
  const simulator = new Simulator({ hosts, gpusPerHost: 8, seed: 42 });
  const store = kind === 'live' ? new LiveState(windowS * 1000) : new Floor();
  const start = Date.UTC(2026, 10, 25, 12);
  const ticks = Math.round(windowS * (4 / 3));
  simulator.sampleAll(start - 1000);
  gc();
  const empty = process.memoryUsage();
  let cpu = 0;
  let samples = 0;
  for (let t = 0; t < ticks; t++) {
    const tick = simulator.sampleAll(start + t * 1000).slice(0, gpus);
    const before = process.cpuUsage();
    store.apply(tick);
    const used = process.cpuUsage(before);
    if (t >= windowS) {
      cpu += used.user + used.system;
      samples += tick.length;
    }
  }
  gc();
  const memory = process.memoryUsage();
  // Keep the store alive until measured.
  if (kind === 'live' && (store as LiveState).latest().length !== gpus) throw new Error('lost a GPU');
  const held = memory.heapUsed + memory.arrayBuffers - (empty.heapUsed + empty.arrayBuffers);
  return { heldMiB: held / 2 ** 20, cpuUsPerSample: cpu / samples, samples };
}

if (values.step) {
  const kind = values.step;
  if (kind !== 'floor' && kind !== 'live') throw new Error(`--step must be floor or live, got ${kind}`);
  process.stdout.write(`${JSON.stringify(runStep(kind))}\n`);
  process.exit(0);
}

const results: Record<'floor' | 'live', (StepResult & { peakRssMiB: number })[]> = { floor: [], live: [] };
async function step(kind: 'floor' | 'live', meter: NoiseMeter): Promise<number> {
  const args = [
    'bench/server/live-state.ts',
    '--step',
    kind,
    '--gpus',
    String(gpus),
    '--window',
    String(windowS),
  ];
  const run = await measureNode(args, {}, { nodeFlags: ['--expose-gc'], meter });
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as StepResult;
  results[kind].push({ ...result, peakRssMiB: run.peakRssMiB });
  return result.heldMiB;
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`${gpus} GPUs x ${windowS} s window at 1 Hz, ${pairs} pairs; load average ${load()}`);
const run = await interleave(
  pairs,
  (meter) => step('floor', meter),
  (meter) => step('live', meter),
  (side, i, s) => {
    const r = results[side === 'a' ? 'floor' : 'live'][i];
    if (!r) return;
    console.log(
      `  ${side === 'a' ? 'floor' : 'live '} ${i + 1}: held ${fmt(r.heldMiB, 1)} MiB, ` +
        `${fmt(r.cpuUsPerSample, 2)} us CPU/sample, peak RSS ${fmt(r.peakRssMiB, 0)} MiB (${describeNoise(s.noise)})`,
    );
  },
);
const figure = (kind: 'floor' | 'live', key: 'heldMiB' | 'cpuUsPerSample' | 'peakRssMiB') =>
  spread(results[kind].map((r) => r[key])).median;
console.log(
  `held after GC, MiB:   floor ${describeSpread(run.a.all, 1)}; live ${describeSpread(run.b.all, 1)}`,
);
console.log(
  `live / floor, held:   ${fmt(run.ratioOfMedians, 2)}x (pairs ${describeSpread(run.pairRatio, 2)})`,
);
console.log(
  `CPU per sample, us:   floor ${fmt(figure('floor', 'cpuUsPerSample'), 2)}; live ${fmt(figure('live', 'cpuUsPerSample'), 2)} ` +
    `(${fmt(figure('live', 'cpuUsPerSample') / figure('floor', 'cpuUsPerSample'), 2)}x)`,
);
console.log(
  `peak RSS, MiB:        floor ${fmt(figure('floor', 'peakRssMiB'), 0)}; live ${fmt(figure('live', 'peakRssMiB'), 0)}`,
);
console.log(`load average ${load()}; ${run.disturbed} of ${run.steps} steps DISTURBED`);
