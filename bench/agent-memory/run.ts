/**
 * bench/agent-memory: the memory of `gpumon agent` over time (issue 15 point 6), run as deployed: the bundle
 * (`bin/gpumon.js agent`) with the DaemonSet's NODE_OPTIONS and MALLOC_ARENA_MAX (read from
 * deploy/kubernetes/stack/gpumon/agent-daemonset.yaml) and the deployed configuration
 * (deploy/kubernetes/stack/gpumon/gpumon.yaml: 1 Hz, lz4, 12 partitions, the health server), 8 fake NVML GPUs,
 * publishing to a real Kafka (GPUMON_TEST_KAFKA) on a topic of its own. Its /metrics, /readyz and /healthz are
 * asked as a Prometheus scrape and the kubelet's probes would (15 s, 10 s, 20 s).
 *
 *   npx tsx bench/agent-memory/run.ts [--minutes 30] [--every 5] [--warmup 3] [--json .tmp/agent-memory.json]
 *                                     [--node-options '--max-semi-space-size=1 ...'] (instead of the DaemonSet's)
 *                                     [--malloc-arena-max N] (instead of the DaemonSet's; 0: glibc's default)
 *                                     [--gpumon DIR] (another checkout's bin/gpumon.js, built)
 *
 * Every --every seconds: the agent's RSS (VmRSS of /proc/<pid>/status, from outside) and, from inside
 * (bench/agent-memory/probe.mjs, loaded with --import), V8's heap used and total, external memory and the
 * garbage collections since the last sample. After --warmup minutes: RSS and heap used p50 and peak, and a
 * least-squares slope in MiB/hour with a 95% confidence interval (its standard error widened for the
 * samples' lag-1 autocorrelation: a sawtooth of garbage collections is not independent noise). The baseline of
 * the same run is its first window after the warm-up: the ratio is the last window's RSS p50 over it. The
 * machine's CPU use is sampled per minute (bench/noise.ts): minutes with other load over the threshold are
 * DISTURBED. Budget (docs/decisions/0001-agent-memory.md): peak RSS <= 100 MiB, and flat: the slope's
 * interval holds 0, or its upper end would take more than 30 days to use up the margin under the budget.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildFakeNvml,
  FAKE_NVML_SCENARIO_ENV,
  scenarioPath,
} from '../../src/sources/nvml/fake/fake-nvml.ts';
import { ensureBundle, fmt, ROOT } from '../harness.ts';
import { describeNoise, type Noise, NoiseMeter, spread } from '../noise.ts';
import { type Fit, fitSlope } from './slope.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    every: { type: 'string', default: '5' },
    warmup: { type: 'string' },
    json: { type: 'string' },
    'node-options': { type: 'string' },
    'malloc-arena-max': { type: 'string' },
    gpumon: { type: 'string' },
  },
});
// The gpumon measured: this tree's, or another checkout's (built), e.g. a copy with a change to compare.
const gpumonBin = join(values.gpumon ?? ROOT, 'bin/gpumon.js');
const minutes = Number(values.minutes);
const every = Number(values.every);
const warmup = Number(values.warmup ?? Math.min(3, minutes / 10));
if (!(minutes > 0 && every > 0 && warmup >= 0 && warmup < minutes)) {
  console.error('bench/agent-memory: --minutes > 0, --every > 0 and 0 <= --warmup < --minutes');
  process.exit(2);
}
const brokers = process.env.GPUMON_TEST_KAFKA;
if (!brokers) {
  console.error('bench/agent-memory needs Kafka: GPUMON_TEST_KAFKA=host:port (e.g. from /tmp/svc.env)');
  process.exit(2);
}
const BUDGET_MIB = 100;
const GPUS = 8;
const MiB = 1024 * 1024;

/** The agent container's environment in its DaemonSet (NODE_OPTIONS, MALLOC_ARENA_MAX), to run what is deployed. */
function deployedEnv(name: string): string {
  const yaml = readFileSync(join(ROOT, 'deploy/kubernetes/stack/gpumon/agent-daemonset.yaml'), 'utf8');
  const m = new RegExp(`- name: ${name}\\s+value: (.+)`).exec(yaml);
  if (!m?.[1]) throw new Error(`no ${name} in the agent DaemonSet`);
  return m[1].trim().replace(/^"(.*)"$/, '$1');
}

function vmStatus(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(s)?.[1]) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

ensureBundle();
const library = buildFakeNvml();
// --node-options: another setting to compare with the deployed one (decision 0001's "what would change this").
const nodeOptions = values['node-options'] ?? deployedEnv('NODE_OPTIONS');
const arenaMax = values['malloc-arena-max'] ?? deployedEnv('MALLOC_ARENA_MAX');
const work = mkdtempSync(join(tmpdir(), 'gpumon-bench-agent-memory-'));
const probeFile = join(work, 'probe.jsonl');
const topic = `bench-agent-memory-${Date.now()}-${process.pid}`;
const healthPort = 20_000 + (process.pid % 10_000);
// glibc reads MALLOC_ARENA_MAX at start; without it (0 here), its default: up to eight arenas a core.
const { MALLOC_ARENA_MAX: _outer, ...outerEnv } = process.env;
const child = spawn(
  process.execPath,
  ['--import', './bench/agent-memory/probe.mjs', gpumonBin, 'agent', '--source', 'nvml'],
  {
    cwd: ROOT,
    env: {
      ...outerEnv,
      NODE_OPTIONS: nodeOptions,
      ...(arenaMax === '0' ? {} : { MALLOC_ARENA_MAX: arenaMax }),
      GPUMON_CONFIG: join(ROOT, 'deploy/kubernetes/stack/gpumon/gpumon.yaml'),
      GPUMON_KAFKA_BROKERS: brokers,
      GPUMON_KAFKA_TOPIC: topic,
      GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
      GPUMON_AGENT_SPOOL_PATH: join(work, 'spool'),
      GPUMON_HEALTH_HOST: '127.0.0.1',
      GPUMON_HEALTH_PORT: String(healthPort),
      GPUMON_SOURCE_HOST: 'bench-node',
      GPUMON_SOURCE_NVML_LIBRARY: library,
      [FAKE_NVML_SCENARIO_ENV]: scenarioPath('eight-gpus'),
      BENCH_AGENT_MEMORY_FILE: probeFile,
      BENCH_AGENT_MEMORY_MS: String(every * 1000),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
const pid = child.pid as number;
let stdout = '';
let stderr = '';
child.stdout.on('data', (d: Buffer) => {
  stdout += d.toString();
});
child.stderr.on('data', (d: Buffer) => {
  stderr = (stderr + d.toString()).slice(-20_000);
});
const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
let gone = false;
void exited.then(() => {
  gone = true;
});

// Prometheus and the kubelet, as deployed: /metrics every 15 s, /readyz every 10 s, /healthz every 20 s.
const asked = { ok: 0, failed: 0 };
const ask = (path: string) => async () => {
  try {
    const r = await fetch(`http://127.0.0.1:${healthPort}${path}`);
    await r.text();
    asked.ok++;
  } catch {
    asked.failed++;
  }
};
const probes = [
  setInterval(ask('/metrics'), 15_000),
  setInterval(ask('/readyz'), 10_000),
  setInterval(ask('/healthz'), 20_000),
];

interface Sample {
  s: number;
  rss: number;
}
const samples: Sample[] = [];
const noise: Noise[] = [];
const load0 = loadavg();
const started = performance.now();
const endAt = started + minutes * 60_000;
let meter = new NoiseMeter(undefined, 1000).start();
meter.track(pid);
let meterStarted = started;
let hwm = 0;
console.error(
  `bench/agent-memory: pid ${pid}, NODE_OPTIONS=${nodeOptions}, MALLOC_ARENA_MAX=${arenaMax}, topic ${topic}, ${minutes} min, a sample every ${every} s`,
);
while (!gone && performance.now() < endAt) {
  const next = started + (samples.length + 1) * every * 1000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
  const v = vmStatus(pid);
  if (!v) break;
  hwm = Math.max(hwm, v.hwm);
  samples.push({ s: (performance.now() - started) / 1000, rss: v.rss });
  if (performance.now() - meterStarted >= 60_000) {
    noise.push(meter.stop());
    meter = new NoiseMeter(undefined, 1000).start();
    meter.track(pid);
    meterStarted = performance.now();
    const last = samples[samples.length - 1] as Sample;
    console.error(
      `  ${fmt(last.s / 60, 1)} min: RSS ${fmt(last.rss / MiB, 1)} MiB; ${describeNoise(noise[noise.length - 1] as Noise)}`,
    );
  }
}
noise.push(meter.stop());
for (const p of probes) clearInterval(p);
const final = vmStatus(pid);
hwm = Math.max(hwm, final?.hwm ?? 0);
if (gone) throw new Error(`gpumon agent exited early:\n${stderr.slice(-4000)}`);
child.kill('SIGINT');
const code = await exited;
const load1 = loadavg();
const summary = /(\d+) samples read, (\d+) sent/.exec(stdout);
if (code !== 0 || !summary || summary[1] !== summary[2] || Number(summary[1]) < GPUS * minutes * 50)
  throw new Error(
    `gpumon agent did not send every sample it read (exit ${code}):\n${stdout}\n${stderr.slice(-3000)}`,
  );

interface Probe {
  s: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  malloced: number;
  minor: number;
  major: number;
  ms: number;
}
const inside: Probe[] = readFileSync(probeFile, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Probe);
rmSync(work, { recursive: true, force: true });

const after = <T extends { s: number }>(xs: T[]): T[] => xs.filter((x) => x.s >= warmup * 60);
const rss = after(samples);
const heap = after(inside);
if (rss.length < 3 || heap.length < 3) throw new Error('too few samples after the warm-up');
const rssFit = fitSlope(rss.map((x) => [x.s / 3600, x.rss / MiB]));
const heapFit = fitSlope(heap.map((x) => [x.s / 3600, x.heapUsed / MiB]));
const rssSpread = spread(rss.map((x) => x.rss / MiB));
const heapSpread = spread(heap.map((x) => x.heapUsed / MiB));
const window = Math.max(3, Math.round(300 / every)); // 5 minutes of samples
const first = spread(rss.slice(0, window).map((x) => x.rss / MiB)).median;
const last = spread(rss.slice(-window).map((x) => x.rss / MiB)).median;
const peak = hwm / MiB;
const margin = BUDGET_MIB - peak;
const disturbed = noise.filter((n) => n.disturbed).length;
const gcs = heap.reduce((a, x) => ({ minor: a.minor + x.minor, major: a.major + x.major, ms: a.ms + x.ms }), {
  minor: 0,
  major: 0,
  ms: 0,
});
const hours = (heap[heap.length - 1] as Probe).s / 3600 - (heap[0] as Probe).s / 3600;
const ticks = hours * 3600; // 1 Hz

/** A slope is flat when its interval holds 0, or when at its upper end the margin lasts over 30 days. */
const flat = (f: Fit) => f.low <= 0 || (margin > 0 && margin / f.high / 24 > 30);
const slope = (f: Fit) =>
  `${fmt(f.slope, 3)} MiB/h (95% CI ${fmt(f.low, 3)} .. ${fmt(f.high, 3)}; n=${f.n}, effective n ${Math.round(f.nEffective)}, lag-1 r ${fmt(f.r1, 2)})`;

console.log(
  `bench/agent-memory: \`gpumon agent\` (bin/gpumon.js, NODE_OPTIONS=${nodeOptions}, MALLOC_ARENA_MAX=${arenaMax}, deployed gpumon.yaml), ` +
    `${GPUS} fake NVML GPUs at 1 Hz, Kafka at ${brokers}, ${minutes} min, a sample every ${every} s, ` +
    `first ${fmt(warmup, 1)} min left out (warm-up)\n`,
);
console.log(
  `samples read ${summary[1]}, sent ${summary[2]}; health endpoints asked ${asked.ok}, failed ${asked.failed}`,
);
console.log('\n| figure | RSS | V8 heap used |');
console.log('|---|---|---|');
console.log(`| peak | ${fmt(peak, 1)} MiB (VmHWM, whole run) | ${fmt(heapSpread.max, 1)} MiB |`);
console.log(`| p50 after warm-up | ${fmt(rssSpread.median, 1)} MiB | ${fmt(heapSpread.median, 1)} MiB |`);
console.log(
  `| min .. max after warm-up | ${fmt(rssSpread.min, 1)} .. ${fmt(rssSpread.max, 1)} MiB | ${fmt(heapSpread.min, 1)} .. ${fmt(heapSpread.max, 1)} MiB |`,
);
console.log(`| slope | ${slope(rssFit)} | ${slope(heapFit)} |`);
console.log(
  `\nbaseline (same run): RSS p50 of the first 5 min after the warm-up ${fmt(first, 1)} MiB, of the last 5 min ` +
    `${fmt(last, 1)} MiB: ratio ${fmt(last / first, 3)}x`,
);
console.log(
  `garbage collections after warm-up: ${gcs.minor} scavenges (${fmt(gcs.minor / ticks, 2)} a tick), ${gcs.major} mark-compacts, ` +
    `${fmt(gcs.ms, 0)} ms in all (${fmt((gcs.ms / 1000 / (hours * 3600)) * 100, 3)}% of the time)`,
);
const lastInside = inside[inside.length - 1] as Probe;
console.log(
  `at the end: heap total ${fmt(lastInside.heapTotal / MiB, 1)} MiB, external ${fmt(lastInside.external / MiB, 1)} MiB ` +
    `(array buffers ${fmt(lastInside.arrayBuffers / MiB, 1)} MiB), V8 malloced ${fmt(lastInside.malloced / MiB, 1)} MiB`,
);
console.log(
  `machine: ${availableParallelism()} cores, load average ${load0.map((x) => fmt(x, 2)).join(' ')} at the start, ` +
    `${load1.map((x) => fmt(x, 2)).join(' ')} at the end; ${disturbed} of ${noise.length} minutes DISTURBED ` +
    `(median other load ${Math.round(spread(noise.map((n) => n.otherShare)).median * 100)}% of the cores)`,
);
const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
console.log(
  `\ntargets (docs/decisions/0001-agent-memory.md): peak RSS <= ${BUDGET_MIB} MiB: ${mark(peak <= BUDGET_MIB)} ` +
    `(${fmt(peak, 1)} MiB, margin ${fmt(margin, 1)} MiB); RSS flat: ${mark(flat(rssFit))}; heap used flat: ${mark(flat(heapFit))}`,
);
if (values.json) {
  mkdirSync(dirname(values.json), { recursive: true });
  writeFileSync(
    values.json,
    JSON.stringify(
      { minutes, every, warmup, nodeOptions, arenaMax, peak, rssFit, heapFit, samples, inside, noise },
      null,
      1,
    ),
  );
}
