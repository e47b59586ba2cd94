/**
 * bench/sources: what one sampling tick of 8 GPUs costs through the NVML source (koffi calls into the fake
 * libnvidia-ml.so.1 built from src/sources/nvml/fake), against the floor of the nvidia-smi-per-tick approach
 * (nvidia_gpu_exporter, Telegraf's nvidia_smi input): spawning one process per tick that prints a CSV
 * capture (`cat` of testdata/tesla-p100-...csv; nvidia-smi itself is slower still). Then the peak RSS of a
 * minimal agent sampling 8 GPUs at 1 Hz through the NVML source.
 *
 *   npx tsx bench/sources/run.ts [--ticks 5000] [--spawns 300] [--seconds 20]
 *
 * Targets (issue 3): NVML <= 0.1x the spawn baseline per tick; agent peak RSS <= 60 MiB.
 * The fake library answers from memory, so the NVML figure is gpumon's own cost (FFI, decoding, samples);
 * a real driver adds its own time per call (see scripts/device/nvml-capture.sh for a real GPU).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import {
  buildFakeNvml,
  FAKE_NVML_SCENARIO_ENV,
  scenarioPath,
} from '../../src/sources/nvml/fake/fake-nvml.ts';
import { NvmlSource } from '../../src/sources/nvml/nvml-source.ts';
import { fmt, measureNode, ROOT } from '../harness.ts';

const { values } = parseArgs({
  options: {
    ticks: { type: 'string', default: '5000' },
    spawns: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '20' },
  },
});
const ticks = Number(values.ticks);
const spawns = Number(values.spawns);
const GPUS = 8;
const CSV = new URL('./testdata/tesla-p100-pcie-16gb-nounits-driver-510.47.03.csv', import.meta.url).pathname;

const library = buildFakeNvml();
process.env[FAKE_NVML_SCENARIO_ENV] = scenarioPath('eight-gpus');

/** CPU seconds of reaped children (cutime + cstime of /proc/self/stat, in clock ticks of 1/100 s). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// 1. NVML: ticks of 8 GPUs, in this process.
const source = new NvmlSource({ library, host: 'bench' });
await source.open();
for (let k = 0; k < 200; k++) await source.read(k); // warm-up (JIT)
let cpu0 = cpuSeconds();
let wall0 = performance.now();
for (let k = 0; k < ticks; k++) {
  const samples = await source.read(k * 1000);
  if (samples.length !== GPUS) throw new Error(`expected ${GPUS} samples, got ${samples.length}`);
}
const nvmlWall = (performance.now() - wall0) / 1000 / ticks;
const nvmlCpu = (cpuSeconds() - cpu0) / ticks;
await source.close();

// 2. Baseline: one process per tick printing the CSV.
const expected = readFileSync(CSV);
async function spawnOnce(): Promise<void> {
  const child = spawn('cat', [CSV], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0 || !Buffer.concat(chunks).equals(expected)) throw new Error('cat of the CSV failed');
}
for (let k = 0; k < 20; k++) await spawnOnce();
cpu0 = cpuSeconds();
const children0 = childrenCpuSeconds();
wall0 = performance.now();
for (let k = 0; k < spawns; k++) await spawnOnce();
const spawnWall = (performance.now() - wall0) / 1000 / spawns;
const spawnCpu = (cpuSeconds() - cpu0 + childrenCpuSeconds() - children0) / spawns;

// 3. Peak RSS of a minimal agent at 1 Hz: run as gpumon runs today (TypeScript through tsx), and bundled to
// plain JavaScript (esbuild, dependencies left in node_modules) as a packaged agent would run; each next to the
// same process idle, the floor of its runtime.
const env = { [FAKE_NVML_SCENARIO_ENV]: scenarioPath('eight-gpus') };
const agentArgs = ['--library', library, '--seconds', values.seconds as string];
const agent = await measureNode(['bench/sources/agent.ts', ...agentArgs], env);
const idle = await measureNode(['bench/sources/agent.ts', '--idle', '--seconds', '2']);
const bundle = join(ROOT, '.cache', 'bench-sources', 'agent.mjs');
await build({
  entryPoints: [join(ROOT, 'bench/sources/agent.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  outfile: bundle,
  logLevel: 'warning',
});
const agentJs = await measureNode([bundle, ...agentArgs], env, { tsx: false });
const idleJs = await measureNode([bundle, '--idle', '--seconds', '2'], {}, { tsx: false });

const us = (s: number) => `${fmt(s * 1e6, 1)} µs`;
console.log(`bench/sources: one tick = ${GPUS} GPUs (${ticks} NVML ticks, ${spawns} spawns)\n`);
console.log('| path | wall per tick | CPU per tick | wall per GPU sample | vs baseline (wall / CPU) |');
console.log('|---|---|---|---|---|');
console.log(
  `| baseline: spawn \`cat\` of an nvidia-smi CSV per tick | ${us(spawnWall)} | ${us(spawnCpu)} | ${us(spawnWall / GPUS)} | 1x / 1x |`,
);
console.log(
  `| NVML source, fake libnvidia-ml (koffi) | ${us(nvmlWall)} | ${us(nvmlCpu)} | ${us(nvmlWall / GPUS)} | ${fmt(nvmlWall / spawnWall, 3)}x / ${fmt(nvmlCpu / spawnCpu, 3)}x |`,
);
console.log(
  `\nagent: NVML source, 8 fake GPUs, 1 Hz, samples + processes, ${values.seconds} s (${agent.stdout.trim()})\n`,
);
console.log('| agent run as | peak RSS | same runtime idle | source + loop on top |');
console.log('|---|---|---|---|');
for (const [how, run, floor] of [
  ['TypeScript through tsx (as `gpumon` runs today)', agent, idle],
  ['bundled JavaScript, plain node', agentJs, idleJs],
] as const) {
  console.log(
    `| ${how} | ${fmt(run.peakRssMiB, 1)} MiB | ${fmt(floor.peakRssMiB, 1)} MiB | ${fmt(run.peakRssMiB - floor.peakRssMiB, 1)} MiB |`,
  );
}
const ratio = nvmlWall / spawnWall;
console.log(
  `\ntargets: NVML <= 0.1x per tick: ${ratio <= 0.1 ? 'met' : 'MISSED'} (${fmt(ratio, 3)}x); agent <= 60 MiB: ` +
    `${agentJs.peakRssMiB <= 60 ? 'met' : 'MISSED'} bundled (${fmt(agentJs.peakRssMiB, 1)} MiB), ` +
    `${agent.peakRssMiB <= 60 ? 'met' : 'MISSED'} through tsx (${fmt(agent.peakRssMiB, 1)} MiB)`,
);
