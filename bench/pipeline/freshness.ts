/**
 * bench/pipeline/freshness.ts: freshness (sample taken -> queryable in InfluxDB) at 1,000 GPUs x 1 Hz through
 * Kafka -> `gpumon consume` -> InfluxDB, per sample (bench/pipeline/freshness-probe.ts), and ingest throughput
 * (a pre-loaded topic drained into InfluxDB, as bench/pipeline/run.ts (b)), for two variants of the consumer's
 * settings measured interleaved in one run: `before` (default: the settings before issue 15 point 3, a batch
 * written after 500 ms and one write at a time) and `after` (default: this build's defaults). Issue 15 point 3.
 *
 *   eval "$( (scripts/services/kafka.sh start; scripts/services/influxdb.sh start) | sed 's/^/export /')"
 *   npx tsx bench/pipeline/freshness.ts [--seconds 60] [--warmup-seconds 5] [--pairs 2] [--samples 200000]
 *                                       [--hosts 125] [--gpus 8] [--poll-ms 50] [--slots 10]
 *       [--before GPUMON_INFLUXDB_FLUSH_MS=500,GPUMON_INFLUXDB_WRITES_IN_FLIGHT=1] [--after ''] [--only after]
 *
 * Each pair runs, per variant, a throughput step then a freshness step, the variants' order swapped from one
 * pair to the next (before, after; after, before; ...); each step in a consumer group, topic (freshness) and
 * database of its own, with the machine's load beside it (bench/noise.ts). Freshness pools the samples of every
 * pair per variant; throughput is the median of the pairs, and after/before is given per pair as well.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sampleLine } from '../../src/metrics/line-protocol.ts';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { influxUrl, kafkaBootstrap } from '../../src/testing/services.ts';
import { KafkaTransport, sleep } from '../../src/transport/kafka/kafka-transport.ts';
import { ensureBundle, fmt } from '../harness.ts';
import { BenchDatabases } from '../influx-databases.ts';
import { describeNoise, describeSpread, type Noise, NoiseMeter, spread } from '../noise.ts';
import { type ConsumeChild, startConsume } from './consume-child.ts';
import { servicePid } from './cpu.ts';
import {
  describeFreshness,
  type FreshnessResult,
  measureFreshness,
  quantile,
  quantileInterval,
} from './freshness-probe.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    'warmup-seconds': { type: 'string', default: '5' },
    pairs: { type: 'string', default: '2' },
    samples: { type: 'string', default: '200000' },
    hosts: { type: 'string', default: '125' },
    gpus: { type: 'string', default: '8' },
    'poll-ms': { type: 'string', default: '50' },
    slots: { type: 'string', default: '10' },
    before: { type: 'string', default: 'GPUMON_INFLUXDB_FLUSH_MS=500,GPUMON_INFLUXDB_WRITES_IN_FLIGHT=1' },
    after: { type: 'string', default: '' },
    only: { type: 'string' },
  },
});
const PARTITIONS = 12;
const hosts = Number(values.hosts);
const gpus = Number(values.gpus);
const pairs = Number(values.pairs);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values['warmup-seconds']);
const pollMs = Number(values['poll-ms']);
const fleet = hosts * gpus;
const ticks = Math.ceil(Number(values.samples) / fleet);
const M = ticks * fleet;

/** `A=1,B=2` -> { A: '1', B: '2' } */
function envOf(spec: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of spec.split(',').filter((p) => p.trim() !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw new Error(`--before/--after take NAME=VALUE[,NAME=VALUE...], got ${JSON.stringify(part)}`);
    env[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return env;
}
type VariantName = 'before' | 'after';
const variants: { name: VariantName; env: Record<string, string> }[] = (
  [
    { name: 'before', env: envOf(values.before ?? '') },
    { name: 'after', env: envOf(values.after ?? '') },
  ] as const
).filter((v) => values.only === undefined || v.name === values.only);
if (variants.length === 0) throw new Error(`--only must be before or after, got ${values.only}`);

const brokers = await kafkaBootstrap();
const influx = await influxUrl();
const id = randomBytes(4).toString('hex');
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const databases = new BenchDatabases(influx);
const servicePids = [servicePid('influxdb'), servicePid('kafka')];
if (servicePids.includes(undefined)) {
  log(
    'GPUMON_SERVICES_DIR does not name the services: their CPU counts as other load (every step DISTURBED)',
  );
}

console.log(
  `bench/pipeline/freshness: ${hosts} hosts x ${gpus} GPUs at 1 Hz, ${seconds} s measured (+${warmupSeconds} s ` +
    `warm-up) per freshness step, poll every ${pollMs} ms; throughput on ${M.toLocaleString('en-US')} ` +
    `pre-loaded samples; ${pairs} pairs; Kafka ${brokers}, InfluxDB ${influx}`,
);
for (const v of variants) console.log(`  ${v.name}: ${JSON.stringify(v.env)}`);
ensureBundle();

// ---- Pre-load for throughput. ----------------------------------------------------------------------------
const topic = `gpumon-fresh-load-${id}`;
let expected = 0; // samples with a utilization_gpu value: what count() sees
{
  const producer = new KafkaTransport({ brokers, topic, dlqTopic: `${topic}-dlq`, partitions: PARTITIONS });
  const sim = new Simulator({ hosts, gpusPerHost: gpus, seed: 42 });
  const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000;
  let batch: ReturnType<Simulator['sampleAll']> = [];
  for (let t = 0; t < ticks; t++) {
    const samples = sim.sampleAll(T0 + t * 1000);
    for (const sample of samples) if (sampleLine(sample)?.includes('utilization_gpu=')) expected++;
    batch = batch.concat(samples);
    if (batch.length >= 10_000 || t === ticks - 1) {
      await producer.publish(batch);
      batch = [];
    }
  }
  await producer.close();
}
log(`pre-loaded ${M} samples (${expected} with utilization_gpu)`);

function track(meter: NoiseMeter, consumer: ConsumeChild): void {
  meter.track(consumer.child.pid);
  for (const pid of servicePids) meter.track(pid);
}

/** The pre-loaded topic drained into a database of its own: steady samples/s from the first point seen. */
async function throughput(env: Record<string, string>, run: string, meter: NoiseMeter): Promise<number> {
  ensureBundle();
  const db = await databases.create(`fresh_load_${run}_${id}`);
  const started = performance.now();
  const consumer = startConsume({
    brokers,
    influx,
    topic,
    db,
    partitions: PARTITIONS,
    groupPrefix: `gpumon-fresh-${id}-${run}`,
    env,
  });
  track(meter, consumer);
  let first = 0;
  let firstCount = 0;
  let n = 0;
  for (;;) {
    await sleep(100);
    n = await databases.countPoints(db);
    if (n > 0 && first === 0) {
      first = performance.now();
      firstCount = n;
    }
    if (n >= expected) break;
    if (performance.now() - started > 300_000) throw new Error(`throughput: only ${n} points after 300 s`);
    if (consumer.child.exitCode !== null) throw new Error('throughput: gpumon consume exited early');
  }
  const done = performance.now();
  meter.sample();
  await consumer.stop();
  return (expected - firstCount) / ((done - first) / 1000);
}

async function freshness(
  env: Record<string, string>,
  run: string,
  meter: NoiseMeter,
): Promise<FreshnessResult & { peakRssMiB: number }> {
  ensureBundle();
  const liveTopic = `gpumon-fresh-live-${run}-${id}`;
  const db = await databases.create(`fresh_live_${run}_${id}`);
  const live = new KafkaTransport({
    brokers,
    topic: liveTopic,
    dlqTopic: `${liveTopic}-dlq`,
    partitions: PARTITIONS,
  });
  await live.ensureTopics();
  await live.close();
  const consumer = startConsume({
    brokers,
    influx,
    topic: liveTopic,
    db,
    partitions: PARTITIONS,
    groupPrefix: `gpumon-fresh-${id}-${run}`,
    env,
  });
  track(meter, consumer);
  await consumer.ready;
  await sleep(2000); // group join
  const result = await measureFreshness({
    brokers,
    influx,
    topic: liveTopic,
    db,
    partitions: PARTITIONS,
    hosts,
    gpus,
    seconds,
    warmupSeconds,
    pollMs,
    slots: Number(values.slots),
  });
  meter.sample();
  const stopped = await consumer.stop();
  return { ...result, peakRssMiB: stopped.peakRssMiB };
}

interface VariantSteps {
  rates: { value: number; noise: Noise }[];
  fresh: { result: FreshnessResult & { peakRssMiB: number }; noise: Noise }[];
}
const steps = new Map<VariantName, VariantSteps>(variants.map((v) => [v.name, { rates: [], fresh: [] }]));
async function step<T>(run: (meter: NoiseMeter) => Promise<T>): Promise<{ value: T; noise: Noise }> {
  const meter = new NoiseMeter().start();
  try {
    const value = await run(meter);
    return { value, noise: meter.stop() };
  } catch (err) {
    meter.stop();
    throw err;
  }
}

for (let i = 0; i < pairs; i++) {
  const order = i % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) {
    const s = steps.get(v.name) as VariantSteps;
    const r = await step((meter) => throughput(v.env, `${v.name}_t${i}`, meter));
    s.rates.push(r);
    log(`#${i + 1} ${v.name} throughput: ${fmt(r.value, 0)} samples/s; ${describeNoise(r.noise)}`);
    const f = await step((meter) => freshness(v.env, `${v.name}_f${i}`, meter));
    s.fresh.push({ result: f.value, noise: f.noise });
    log(`#${i + 1} ${v.name} freshness: ${describeFreshness(f.value)}; ${describeNoise(f.noise)}`);
  }
}
await databases.dropAll();

// ---- Report. ---------------------------------------------------------------------------------------------
const pooled = (list: FreshnessResult[]): FreshnessResult => {
  const cat = (pick: (r: FreshnessResult) => Float64Array) =>
    Float64Array.from(list.flatMap((r) => [...pick(r)])).sort();
  return {
    latencies: cat((r) => r.latencies),
    lowerBounds: cat((r) => r.lowerBounds),
    publishAcks: cat((r) => r.publishAcks),
    pollMs: cat((r) => r.pollMs),
    missing: list.reduce((n, r) => n + r.missing, 0),
    samples: list.reduce((n, r) => n + r.samples, 0),
    takenLateMs: cat((r) => r.takenLateMs),
    influxWrites: meanOf(list.map((r) => r.influxWrites)),
    influxQueries: meanOf(list.map((r) => r.influxQueries)),
    publishErrors: list.reduce((n, r) => n + r.publishErrors, 0),
    blockP99: list.flatMap((r) => r.blockP99),
  };
};
function meanOf(list: { requests: number; meanMs: number }[]): { requests: number; meanMs: number } {
  const requests = list.reduce((n, x) => n + x.requests, 0);
  const ms = list.reduce((n, x) => n + x.requests * x.meanMs, 0);
  return { requests, meanMs: ms / Math.max(1, requests) };
}
const load = (noises: Noise[]) => {
  const other = spread(noises.map((n) => n.otherShare * 100));
  return `other load ${fmt(other.median, 0)}% (${fmt(other.min, 0)}-${fmt(other.max, 0)}%) of the cores, ${noises.filter((n) => n.disturbed).length}/${noises.length} steps DISTURBED`;
};
console.log('');
const summary = new Map<VariantName, { p99: number; rate: number }>();
for (const v of variants) {
  const s = steps.get(v.name) as VariantSteps;
  const all = pooled(s.fresh.map((f) => f.result));
  const rates = spread(s.rates.map((r) => r.value));
  summary.set(v.name, { p99: quantile(all.latencies, 0.99), rate: rates.median });
  console.log(`${v.name} ${JSON.stringify(v.env)}:`);
  console.log(`  freshness, ${s.fresh.length} steps pooled: ${describeFreshness(all)}`);
  console.log(
    `    ${load(s.fresh.map((f) => f.noise))}; consumer peak RSS ${fmt(Math.max(...s.fresh.map((f) => f.result.peakRssMiB)), 0)} MiB`,
  );
  console.log(`  throughput, samples/s: ${describeSpread(rates, 0)}; ${load(s.rates.map((r) => r.noise))}`);
}
const b = summary.get('before');
const a = summary.get('after');
if (a && b) {
  const ratios = (steps.get('after') as VariantSteps).rates.map(
    (r, i) => r.value / ((steps.get('before') as VariantSteps).rates[i]?.value ?? Number.NaN),
  );
  console.log(
    `\nafter/before throughput: ${fmt(a.rate / b.rate)}x from the medians; pair ratios ${describeSpread(spread(ratios))}`,
  );
  console.log(`freshness p99: before ${fmt(b.p99, 3)} s, after ${fmt(a.p99, 3)} s`);
}
for (const v of variants) {
  const all = pooled((steps.get(v.name) as VariantSteps).fresh.map((f) => f.result));
  const [lo, hi] = quantileInterval(all.latencies, 0.99);
  const p99 = quantile(all.latencies, 0.99);
  console.log(
    `target p99 <= 0.5 s, ${v.name}: ${p99 <= 0.5 && all.missing === 0 ? 'met' : 'NOT met'} (${fmt(p99, 3)} s, 95% CI ${fmt(lo, 3)}-${fmt(hi, 3)})`,
  );
}
