/**
 * bench/telegraf/xml: CPU per GPU of parsing `nvidia-smi -q -x`, gpumon beside Telegraf 1.37.2 (issue 15 point 4:
 * gpumon <= 0.5x Telegraf), both in-process, on every XML capture of src/sources/nvidia-smi/testdata (the
 * captures of /work/shared/fixtures/gpu/nvidia-smi-xml, plus Telegraf's own DTD v10 sample).
 *
 *   npx tsx bench/telegraf/xml.ts [--iterations 300] [--warmup 100] [--pairs 3] [--cpu-prof]
 *
 * (a) Telegraf: bench/telegraf/xmlparse (built by build.sh into ~/.cache/gpumon/telegraf), a Go program calling
 *     the nvidia_smi input's own DOCTYPE dispatch and schema_v11 / schema_v12 Parse into a testutil.Accumulator,
 *     --iterations times per capture after --warmup; CPU from getrusage (all threads: GC included).
 * (b) gpumon: parseSmiXml (src/sources/nvidia-smi/xml/parse-xml.ts) in this process, the same way; CPU from
 *     process.cpuUsage() (all threads: GC included).
 * Both run interleaved, a, b, a, b (--pairs of each, bench/noise.ts: machine load per step, DISTURBED above
 * the threshold); per capture the medians of the steps, their spread, and the ratio of the medians. "Fields"
 * is what each extracts per GPU: Telegraf's fields of the nvidia_smi measurement, gpumon's non-null metrics
 * of each GPU's sample (identity values such as uuid, model or driver version are tags in both, not counted).
 * --cpu-prof: profiles gpumon's side alone (no Telegraf) into .tmp/telegraf-profiles/ and exits.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { nullMetrics } from '../../src/metrics/sample.ts';
import { parseSmiXml } from '../../src/sources/nvidia-smi/xml/parse-xml.ts';
import { fmt, ROOT } from '../harness.ts';
import { describeNoise, describeSpread, interleave, spread } from '../noise.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '100' },
    pairs: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const pairs = Number(values.pairs);
const TESTDATA = join(ROOT, 'src/sources/nvidia-smi/testdata');
const files = readdirSync(TESTDATA)
  .filter((f) => f.endsWith('.xml'))
  .sort()
  .map((f) => join(TESTDATA, f));
const texts = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
const METRICS = Object.keys(nullMetrics());
const OPTIONS = { host: 'bench', now: Date.UTC(2026, 11, 7) };

interface Capture {
  gpus: number;
  fieldsPerGpu: number;
  schema: string;
}

/** What gpumon reads of a capture: its <gpu> blocks and the non-null metrics of their samples. */
function gpumonCapture(file: string): Capture {
  const result = parseSmiXml(texts.get(file) as string, OPTIONS);
  if (result.errors.length > 0) throw new Error(`${file}: ${JSON.stringify(result.errors)}`);
  const gpus = result.samples.filter((s) => s.parent_uuid === null);
  const fields = gpus.reduce(
    (n, s) => n + METRICS.filter((m) => (s as unknown as Record<string, unknown>)[m] != null).length,
    0,
  );
  return { gpus: result.gpuBlocks, fieldsPerGpu: fields / gpus.length, schema: result.schema };
}

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** gpumon: CPU microseconds per GPU of each capture, --iterations parses after --warmup. */
function gpumonStep(): Map<string, number> {
  const out = new Map<string, number>();
  for (const file of files) {
    const text = texts.get(file) as string;
    const gpus = gpumonCapture(file).gpus;
    for (let i = 0; i < warmup; i++) parseSmiXml(text, OPTIONS);
    const before = cpuSeconds();
    for (let i = 0; i < iterations; i++) parseSmiXml(text, OPTIONS);
    out.set(file, ((cpuSeconds() - before) / iterations / gpus) * 1e6);
  }
  return out;
}

if (values['cpu-prof']) {
  const dir = join(ROOT, '.tmp/telegraf-profiles');
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  gpumonStep();
  const { profile } = await session.post('Profiler.stop');
  const path = join(dir, `xml-${Date.now()}.cpuprofile`);
  writeFileSync(path, JSON.stringify(profile));
  console.log(`gpumon's side profiled: ${path}`);
  process.exit(0);
}

const harness = execFileSync(join(ROOT, 'bench/telegraf/build.sh'), ['xmlparse'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();

const telegrafCaptures = new Map<string, Capture>();
/** Telegraf: CPU microseconds per GPU of each capture, from the harness's getrusage. */
function telegrafStep(): Map<string, number> {
  const stdout = execFileSync(harness, ['-n', String(iterations), '-warmup', String(warmup), ...files], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const out = new Map<string, number>();
  for (const line of stdout.trim().split('\n')) {
    const r = JSON.parse(line) as {
      file: string;
      schema: string;
      gpus: number;
      fieldsPerGpu: number;
      iterations: number;
      cpuSeconds: number;
    };
    telegrafCaptures.set(r.file, { gpus: r.gpus, fieldsPerGpu: r.fieldsPerGpu, schema: r.schema });
    out.set(r.file, (r.cpuSeconds / r.iterations / r.gpus) * 1e6);
  }
  return out;
}

const perCapture = { telegraf: [] as Map<string, number>[], gpumon: [] as Map<string, number>[] };
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
console.log(
  `bench/telegraf/xml: ${files.length} captures, ${iterations} parses each after ${warmup} (per step), ` +
    `${pairs} pairs Telegraf, gpumon, ...; Telegraf harness ${basename(harness)}\n`,
);
const result = await interleave(
  pairs,
  async () => {
    const m = telegrafStep();
    perCapture.telegraf.push(m);
    return total(m);
  },
  async () => {
    const m = gpumonStep();
    perCapture.gpumon.push(m);
    return total(m);
  },
  (side, i, step) =>
    console.error(
      `${side === 'a' ? 'Telegraf' : 'gpumon  '} #${i + 1}: sum over captures ${fmt(step.value, 0)} us/GPU; ${describeNoise(step.noise)}`,
    ),
);

console.log(
  '| capture | GPUs | DTD (gpumon / Telegraf parser) | gpumon us/GPU | Telegraf us/GPU | ratio | fields/GPU gpumon / Telegraf |',
);
console.log('|---|---:|---|---:|---:|---:|---|');
const ratios: number[] = [];
for (const file of files) {
  const g = spread(perCapture.gpumon.map((m) => m.get(file) as number));
  const t = spread(perCapture.telegraf.map((m) => m.get(file) as number));
  const ratio = g.median / t.median;
  ratios.push(ratio);
  const mine = gpumonCapture(file);
  const theirs = telegrafCaptures.get(file) as Capture;
  const range = (s: typeof g) => `${fmt(s.median, 0)} (${fmt(s.min, 0)}-${fmt(s.max, 0)})`;
  console.log(
    `| ${basename(file, '.xml')} | ${mine.gpus} | ${mine.schema} / ${theirs.schema === 'v10' || theirs.schema === 'v11' ? 'v11' : 'v12'} | ${range(g)} | ${range(t)} | ${fmt(ratio)}x | ${fmt(mine.fieldsPerGpu, 0)} / ${fmt(theirs.fieldsPerGpu, 0)} |`,
  );
}
const geo = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
console.log(
  `\nratio gpumon / Telegraf CPU per GPU: geometric mean ${fmt(geo)}x, min ${fmt(Math.min(...ratios))}x, ` +
    `max ${fmt(Math.max(...ratios))}x (target <= 0.50x)`,
);
console.log(`sum over captures, gpumon: ${describeSpread(result.b.all, 0)} us/GPU`);
console.log(`sum over captures, Telegraf: ${describeSpread(result.a.all, 0)} us/GPU`);
console.log(`pair ratio of the sums: ${describeSpread(result.pairRatio)}`);
console.log(
  `steps disturbed by other load: ${result.disturbed} of ${result.steps}; gpumon peak RSS ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MiB`,
);
