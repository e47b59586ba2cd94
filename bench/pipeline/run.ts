/**
 * bench/pipeline: Kafka -> `gpumon consume --sinks influxdb` -> InfluxDB, on this machine (issue 4).
 *
 *   eval "$(scripts/services/all.sh start | sed 's/^/export /')"   # or kafka.sh + influxdb.sh start
 *   npx tsx bench/pipeline/run.ts [--samples 500000] [--hosts 125] [--gpus 8] [--baseline-seconds 20]
 *                                 [--fresh-seconds 60] [--warmup-seconds 5] [--pairs 3]
 *                                 [--affinity both|shared|pinned] [--pin (= --affinity pinned)]
 *
 * --affinity: (a) and (b) are measured shared (every process on every CPU), pinned (InfluxDB on CPU 0 alone,
 * the rest on the other CPUs: see pinInfluxDbApart, at the end), or both, one after the other; (c) and (d) run
 * in the last of them. The services' affinity is given back (every CPU) when the bench ends.
 *
 * Noise (bench/noise.ts): each measured step records the machine's CPU use from /proc/stat and the share of
 * it not explained by InfluxDB, Kafka, the consumer and this process; a step where other load exceeded the
 * threshold is marked DISTURBED. (a) and (b) run interleaved, a, b, a, b, ... (--pairs of each), and the ratio
 * is reported from the medians, with the spread of each side and of the pair ratios.
 *
 * (a) InfluxDB's raw ingest ceiling: the same samples as (b), encoded by gpumon's own line-protocol encoder
 *     in 5,000-line requests BEFORE timing (gzip level 6, and plain), posted to /write with 1, 2 and 4
 *     requests in flight (gzip) and 2 and 4 (plain); the best of them is the way the ceiling is then measured,
 *     interleaved with (b), and the median of those runs is the ceiling. (a+), for information
 *     and not a target: the same with the window and alert points `gpumon consume` writes as well.
 *     The CPU each of InfluxDB, Kafka and the consumer used is printed per step (/proc, pid files under
 *     GPUMON_SERVICES_DIR).
 * (b) gpumon: the topic is pre-loaded with M samples (simulator, 1,000 GPUs), then `gpumon consume --sinks
 *     influxdb` starts as a child process (as deployed, with bench/peak-rss.mjs); timed until InfluxDB holds
 *     all M points (count polled every 500 ms). Rates from the spawn (startup included) and from the first
 *     point seen (steady); target steady >= 0.8x (a).
 * (c) baseline, the original dashboard's way: auto-commit consumer group, one point per HTTP /write request
 *     (baseline-consumer.ts), same topic, its own group, for a bounded time; target (b) >= 20x (c).
 * (d) freshness: 1,000 GPUs at 1 Hz through Kafka -> `gpumon consume` -> InfluxDB, per sample, each stamped in
 *     ms when taken (bench/pipeline/freshness-probe.ts: 10 groups of hosts a second at their own phases;
 *     InfluxDB polled every 50 ms per 1 ms bucket). p50/p95/p99 over every sample of the measured seconds
 *     (60,000 by default; the warm-up seconds left out), with the p99's 95% interval; target p99 <= 0.5 s
 *     (issue 15; it was <= 2 s), consumer peak RSS <= 200 MiB. bench/pipeline/freshness.ts measures it
 *     before/after a change of settings, interleaved with throughput.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../../src/config/load.ts';
import { streamAlerts } from '../../src/consumer.ts';
import { encodePoint, sampleLine } from '../../src/metrics/line-protocol.ts';
import type { AlertEvent } from '../../src/pipeline/alerts.ts';
import { type GpuWindow, WindowAggregator } from '../../src/pipeline/windows.ts';
import { alertLine } from '../../src/sinks/influxdb/alert-sink.ts';
import { windowPoint } from '../../src/sinks/influxdb/window-sink.ts';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { influxUrl, kafkaBootstrap } from '../../src/testing/services.ts';
import { KafkaTransport, sleep } from '../../src/transport/kafka/kafka-transport.ts';
import { ensureBundle, fmt, measureNode } from '../harness.ts';
import { BenchDatabases } from '../influx-databases.ts';
import { describeNoise, describeSpread, type Interleaved, interleave, type NoiseMeter } from '../noise.ts';
import { startConsume as startConsumeChild } from './consume-child.ts';
import { CpuMeter, describeCpu, servicePid } from './cpu.ts';
import { describeFreshness, measureFreshness, quantile } from './freshness-probe.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '500000' },
    hosts: { type: 'string', default: '125' },
    gpus: { type: 'string', default: '8' },
    'baseline-seconds': { type: 'string', default: '20' },
    'fresh-seconds': { type: 'string', default: '60' },
    'poll-ms': { type: 'string', default: '50' },
    'warmup-seconds': { type: 'string', default: '5' },
    pairs: { type: 'string', default: '3' },
    affinity: { type: 'string', default: 'both' },
    pin: { type: 'boolean', default: false },
  },
});
const affinities = (
  values.pin ? ['pinned'] : values.affinity === 'both' ? ['shared', 'pinned'] : [values.affinity]
) as ('shared' | 'pinned')[];
if (!affinities.every((a) => a === 'shared' || a === 'pinned')) {
  throw new Error(`--affinity must be both, shared or pinned, got ${values.affinity}`);
}
const pairs = Number(values.pairs);
const hosts = Number(values.hosts);
const gpus = Number(values.gpus);
const fleet = hosts * gpus;
const ticks = Math.ceil(Number(values.samples) / fleet);
const M = ticks * fleet;
const baselineSeconds = Number(values['baseline-seconds']);
const freshSeconds = Number(values['fresh-seconds']);
const warmupSeconds = Number(values['warmup-seconds']);
const PARTITIONS = 12;
const REQUEST_LINES = 5000;

const brokers = await kafkaBootstrap();
const influx = await influxUrl();
const id = randomBytes(4).toString('hex');
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const databases = new BenchDatabases(influx);

console.log(
  `bench/pipeline: ${hosts} hosts x ${gpus} GPUs, M = ${M.toLocaleString('en-US')} samples (${ticks} ticks); ` +
    `Kafka ${brokers} (${PARTITIONS} partitions), InfluxDB ${influx}\n`,
);

// Build the bundle outside any timing (bin/gpumon.js builds dist/ when a source is newer); again before each
// consumer run, in case a source changed meanwhile.
ensureBundle();

// ---- Pre-load: M samples on the topic; the same samples as line protocol, for (a). -----------------------
// (a) gets the samples' lines in 5,000-line bodies, gzipped (level 6) and plain; (a+) gets everything
// `gpumon consume` writes for them (samples, 30 s windows, alerts: the same stages), gzipped.
const topic = `gpumon-bench-${id}`;
const producer = new KafkaTransport({ brokers, topic, dlqTopic: `${topic}-dlq`, partitions: PARTITIONS });
const sim = new Simulator({ hosts, gpusPerHost: gpus, seed: 42 });
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000; // whole hour, 6 h ago
const gzipBodies: Buffer[] = [];
const plainBodies: Buffer[] = [];
const fullBodies: Buffer[] = [];
let extraPoints = 0; // window and alert points of (a+)
let loadSeconds = 0;
{
  const started = performance.now();
  const config = loadConfig();
  const windows = new WindowAggregator(config.stream.windowSeconds);
  const alerts = streamAlerts(config);
  let pendingLines: string[] = [];
  let fullLines: string[] = [];
  const flushSamples = () => {
    const text = `${pendingLines.join('\n')}\n`;
    gzipBodies.push(gzipSync(text));
    plainBodies.push(Buffer.from(text));
    pendingLines = [];
  };
  const flushFull = () => {
    fullBodies.push(gzipSync(`${fullLines.join('\n')}\n`));
    fullLines = [];
  };
  let batch: ReturnType<Simulator['sampleAll']> = [];
  for (let t = 0; t < ticks; t++) {
    const samples = sim.sampleAll(T0 + t * 1000);
    const closed: GpuWindow[] = [];
    const events: AlertEvent[] = [];
    for (const s of samples) {
      const line = sampleLine(s);
      if (line !== null) {
        pendingLines.push(line);
        fullLines.push(line);
      }
      windows.addOne(s, closed);
      alerts.evaluateOne(s, events);
      if (pendingLines.length === REQUEST_LINES) flushSamples();
    }
    for (const w of closed) fullLines.push(encodePoint(windowPoint(w)) as string);
    for (const e of events) fullLines.push(alertLine(e) as string);
    extraPoints += closed.length + events.length;
    while (fullLines.length >= REQUEST_LINES) {
      const rest = fullLines.slice(REQUEST_LINES);
      fullLines = fullLines.slice(0, REQUEST_LINES);
      flushFull();
      fullLines = rest;
    }
    batch = batch.concat(samples);
    if (batch.length >= 10_000 || t === ticks - 1) {
      await producer.publish(batch);
      batch = [];
    }
  }
  if (pendingLines.length > 0) flushSamples();
  if (fullLines.length > 0) flushFull();
  await producer.close();
  loadSeconds = (performance.now() - started) / 1000;
}
log(`pre-loaded ${M} samples in ${fmt(loadSeconds)} s (${gzipBodies.length} bodies for (a))`);

// ---- (a) raw ingest ceiling. ---------------------------------------------------------------------------
const servicePids = { influxdb: servicePid('influxdb'), kafka: servicePid('kafka') };
if (affinities.includes('pinned')) process.on('exit', () => unpin(servicePids));
interface Raw {
  name: string;
  rate: number;
  seconds: number;
  cpu: string;
}
async function rawIngest(
  bodies: readonly Buffer[],
  gzip: boolean,
  inFlight: number,
  noise?: NoiseMeter,
): Promise<{ seconds: number; points: number; cpu: string }> {
  const db = await databases.create(`bench_raw_${databases.count}_${id}`);
  const url = `${influx}/write?db=${db}&precision=ms`;
  let next = 0;
  const meter = new CpuMeter(servicePids);
  meter.start();
  noise?.track(servicePids.influxdb);
  noise?.track(servicePids.kafka);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as Buffer;
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
            'content-type': 'text/plain; charset=utf-8',
          },
          body: body as BodyInit,
        });
        const text = await res.text();
        if (res.status !== 204) throw new Error(`raw /write answered ${res.status} ${text}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = describeCpu(meter.stop());
  return { seconds, points: await databases.countPoints(db), cpu };
}
const raws: Raw[] = [];
let expected = -1; // samples with a utilization_gpu value: what count() sees
for (const [gzip, inFlight] of [
  [true, 1],
  [true, 2],
  [true, 4],
  [false, 2],
  [false, 4],
] as const) {
  const r = await rawIngest(gzip ? gzipBodies : plainBodies, gzip, inFlight);
  if (expected === -1) expected = r.points;
  if (r.points !== expected) throw new Error(`raw ingest counts differ: ${expected} vs ${r.points}`);
  const name = `(a) InfluxDB raw /write, 5,000-line ${gzip ? 'gzip' : 'plain'}, ${inFlight} in flight`;
  raws.push({ name, rate: M / r.seconds, seconds: r.seconds, cpu: r.cpu });
  log(`${name}: ${fmt(M / r.seconds, 0)} samples/s; ${r.cpu}`);
}
const bestRate = Math.max(...raws.map((r) => r.rate));
const best = raws.find((r) => r.rate === bestRate) as Raw;
const bestGzip = best.name.includes('gzip');
const bestInFlight = Number(/(\d) in flight/.exec(best.name)?.[1]);
const bestBodies = bestGzip ? gzipBodies : plainBodies;
// Informational: the same, with everything `gpumon consume` writes for the samples (gzip, best in flight).
const full = await rawIngest(fullBodies, true, best.name.includes('4 in') ? 4 : 2);
const fullRate = M / full.seconds;
log(`(a+) ${fmt(fullRate, 0)} samples/s with ${extraPoints} window and alert points; ${full.cpu}`);
(bestGzip ? plainBodies : gzipBodies).length = 0;
fullBodies.length = 0;

// ---- The consumer, as deployed (consume-child.ts). -------------------------------------------------------
const startConsume = (consumeTopic: string, db: string, groupPrefix = 'gpumon') =>
  startConsumeChild({ brokers, influx, topic: consumeTopic, db, partitions: PARTITIONS, groupPrefix });

// ---- (a) and (b), interleaved, shared and pinned. ------------------------------------------------------
interface ConsumerRun {
  /** Samples per second from the spawn (startup included) and from the first point seen (steady). */
  rate: number;
  steadyRate: number;
  seconds: number;
  steadySeconds: number;
  peakRssMiB: number;
  cpu: string;
  consumerUsPerSample: number;
}

/** (b) gpumon: the pre-loaded topic -> InfluxDB, in a database and consumer group of its own. */
async function consumerRun(noise: NoiseMeter, run: number): Promise<ConsumerRun> {
  ensureBundle();
  const db = await databases.create(`bench_gpumon_${run}_${id}`);
  let first = 0;
  let firstCount = 0;
  let done = 0;
  const start = performance.now();
  const consumer = startConsume(topic, db, `gpumon-bench-${id}-${run}`);
  noise.track(consumer.child.pid);
  noise.track(servicePids.influxdb);
  noise.track(servicePids.kafka);
  const meter = new CpuMeter({ ...servicePids, consumer: consumer.child.pid });
  for (;;) {
    await sleep(500);
    const n = await databases.countPoints(db);
    const now = performance.now();
    if (n > 0 && first === 0) {
      first = now;
      firstCount = n;
      meter.start();
    }
    if (n >= expected) {
      done = now;
      break;
    }
    if (now - start > 300_000) throw new Error(`(b): only ${n} of ${expected} points after 300 s`);
    if (consumer.child.exitCode !== null) throw new Error('(b): gpumon consume exited early');
  }
  const split = meter.stop();
  noise.sample();
  const stopped = await consumer.stop();
  const steadyShare = (expected - firstCount) / expected;
  return {
    rate: M / ((done - start) / 1000),
    steadyRate: steadyShare * (M / ((done - first) / 1000)),
    seconds: (done - start) / 1000,
    steadySeconds: (done - first) / 1000,
    peakRssMiB: stopped.peakRssMiB,
    cpu: describeCpu(split),
    consumerUsPerSample: ((split.cpu.consumer ?? Number.NaN) / (steadyShare * M)) * 1e6,
  };
}

interface AffinityResult {
  affinity: 'shared' | 'pinned';
  result: Interleaved;
  consumers: ConsumerRun[];
}
const byAffinity: AffinityResult[] = [];
for (const affinity of affinities) {
  if (affinity === 'pinned') pinInfluxDbApart(servicePids);
  else unpin(servicePids);
  const consumers: ConsumerRun[] = [];
  const result = await interleave(
    pairs,
    async (noise) => {
      const r = await rawIngest(bestBodies, bestGzip, bestInFlight, noise);
      if (r.points !== expected) throw new Error(`raw ingest counted ${r.points}, not ${expected}`);
      return M / r.seconds;
    },
    async (noise, i) => {
      const run = await consumerRun(noise, byAffinity.length * pairs + i);
      consumers.push(run);
      return run.steadyRate;
    },
    (side, i, step) => {
      const what = side === 'a' ? '(a) ceiling' : '(b) gpumon consume, steady';
      const extra =
        side === 'b' ? `; ${consumers[i]?.cpu}, ${fmt(consumers[i]?.peakRssMiB ?? 0, 0)} MiB` : '';
      log(
        `${affinity} ${what} #${i + 1}: ${fmt(step.value, 0)} samples/s; ${describeNoise(step.noise)}${extra}`,
      );
    },
  );
  byAffinity.push({ affinity, result, consumers });
}
bestBodies.length = 0;
const last = byAffinity[byAffinity.length - 1] as AffinityResult;

// ---- (c) baseline: one point per request, auto-commit. ---------------------------------------------------
const dbC = `bench_baseline_${id}`;
databases.adopt(dbC);
const c = await measureNode([
  'bench/pipeline/baseline-consumer.ts',
  brokers,
  topic,
  `bench-baseline-${id}`,
  influx,
  dbC,
  String(baselineSeconds),
]);
const cPoints = Number(/BASELINE_POINTS=(\d+)/.exec(c.stdout)?.[1]);
const cSecs = Number(/BASELINE_SECONDS=([\d.]+)/.exec(c.stdout)?.[1]);
const cRate = cPoints / cSecs;
log(`(c) ${cPoints} points in ${fmt(cSecs)} s`);

// ---- (d) freshness at 1,000 GPUs x 1 Hz, per sample (freshness-probe.ts). ---------------------------------
const topicD = `gpumon-bench-fresh-${id}`;
const dbD = await databases.create(`bench_fresh_${id}`);
{
  const live = new KafkaTransport({
    brokers,
    topic: topicD,
    dlqTopic: `${topicD}-dlq`,
    partitions: PARTITIONS,
  });
  await live.ensureTopics();
  await live.close();
}
const consumeD = startConsume(topicD, dbD);
await consumeD.ready;
await sleep(2000); // group join
const fresh = await measureFreshness({
  brokers,
  influx,
  topic: topicD,
  db: dbD,
  partitions: PARTITIONS,
  hosts,
  gpus,
  seconds: freshSeconds,
  warmupSeconds,
  pollMs: Number(values['poll-ms']),
  slots: 10,
});
const d = await consumeD.stop();
const p99 = quantile(fresh.latencies, 0.99);
const missing = fresh.missing;

await databases.dropAll();

// ---- Table. ---------------------------------------------------------------------------------------------
const rateRow = (name: string, rate: number, extra: string, rss?: number) =>
  `${name.padEnd(52)} ${fmt(rate, 0).padStart(10)} samples/s  ${extra.padEnd(22)} ${rss === undefined ? '' : `${fmt(rss, 0).padStart(5)} MiB peak RSS`}`;
console.log(`pre-load: ${M.toLocaleString('en-US')} samples published to Kafka in ${fmt(loadSeconds)} s\n`);
for (const r of raws) {
  console.log(
    rateRow(r.name, r.rate, `${fmt(r.seconds)} s${r === best ? ', used below' : ''}`),
    `  CPU: ${r.cpu}`,
  );
}
console.log(
  rateRow('(a+) same, + windows and alerts (not the target)', fullRate, `${fmt(full.seconds)} s`),
  `  CPU: ${full.cpu}`,
);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
for (const { affinity, result, consumers } of byAffinity) {
  console.log(
    `\n${affinity}: ${pairs} interleaved pairs, ${result.disturbed} of ${result.steps} steps disturbed by other load`,
  );
  console.log(`  (a) ceiling, samples/s: ${describeSpread(result.a.all, 0)}`);
  console.log(`  (b) gpumon consume steady, samples/s: ${describeSpread(result.b.all, 0)}`);
  console.log(
    `  (b)/(a): ${fmt(result.ratioOfMedians)}x from the medians; pair ratios ${describeSpread(result.pairRatio)}`,
  );
  if (result.a.quiet && result.b.quiet) {
    console.log(
      `  (b)/(a) over undisturbed steps only: ${fmt(result.b.quiet.median / result.a.quiet.median)}x`,
    );
  }
  console.log(
    `  (b) from spawn (startup included): median ${fmt(median(consumers.map((c) => c.rate)), 0)} samples/s; ` +
      `consumer ${fmt(median(consumers.map((c) => c.consumerUsPerSample)), 1)} µs CPU/sample; peak RSS ` +
      `${fmt(Math.max(...consumers.map((c) => c.peakRssMiB)), 0)} MiB`,
  );
  for (const [side, steps] of [
    ['a', result.a.steps],
    ['b', result.b.steps],
  ] as const) {
    steps.forEach((step, i) => {
      console.log(`    (${side}) #${i + 1} ${fmt(step.value, 0)} samples/s; ${describeNoise(step.noise)}`);
    });
  }
}
const bSteadyRate = last.result.b.all.median;
const bRate = median(last.consumers.map((c) => c.rate));
console.log(
  rateRow('(c) baseline: 1 point/request, auto-commit', cRate, `${cPoints} pts in ${fmt(cSecs, 1)} s`),
);
console.log(
  `${`(d) freshness, ${fleet.toLocaleString('en-US')} GPUs x 1 Hz, sample -> queryable`.padEnd(52)} ${describeFreshness(fresh)}  ` +
    `${fmt(d.peakRssMiB, 0).padStart(5)} MiB peak RSS (VmHWM; getrusage maxRSS ${fmt(d.maxRssMiB, 0)} MiB, ` +
    'inherited from this process)',
);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
console.log('');
for (const { affinity, result } of byAffinity) {
  console.log(
    `target (b) steady >= 0.8x (a), ${affinity}: ${verdict(result.ratioOfMedians >= 0.8)} ` +
      `(${fmt(result.ratioOfMedians)}x from medians, pairs ${fmt(result.pairRatio.min)}-${fmt(result.pairRatio.max)}x)`,
  );
}
console.log(
  `target (b) >= 20x (c): ${verdict(bSteadyRate >= 20 * cRate)} (${fmt(bSteadyRate / cRate, 1)}x steady, ${fmt(bRate / cRate, 1)}x from spawn)`,
);
console.log(`target (d) p99 <= 0.5 s: ${verdict(p99 <= 0.5 && missing === 0)} (${fmt(p99, 3)} s)`);
console.log(
  `target (d) consumer peak RSS <= 200 MiB: ${verdict(d.peakRssMiB <= 200)} (${fmt(d.peakRssMiB, 0)} MiB)`,
);

/**
 * `--pin`: InfluxDB on CPU 0 alone, everything else (Kafka, this process and the consumers it spawns, which
 * inherit its affinity) on the other CPUs, for every step: (a) is then InfluxDB's ceiling on the CPU it has,
 * and (b) says whether gpumon keeps that InfluxDB busy, as in a deployment where InfluxDB runs on machines of
 * its own, instead of measuring how the consumer and InfluxDB share two cores.
 */
function pinInfluxDbApart(pids: { influxdb?: number | undefined; kafka?: number | undefined }): void {
  const cpus = availableParallelism();
  if (cpus < 2) throw new Error(`--pin needs at least 2 CPUs, this machine has ${cpus}`);
  if (!pids.influxdb || !pids.kafka) throw new Error('--pin needs the pid files of InfluxDB and Kafka');
  const rest = cpus === 2 ? '1' : `1-${cpus - 1}`;
  const pin = (cpuList: string, pid: number) =>
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, `${pid}`]);
  pin('0', pids.influxdb);
  pin(rest, pids.kafka);
  pin(rest, process.pid);
  log(`pinned: InfluxDB (pid ${pids.influxdb}) on CPU 0; Kafka, the bench and its consumers on CPU ${rest}`);
}

/** Every process back on every CPU (the services are shared: never leave them pinned). */
function unpin(pids: { influxdb?: number | undefined; kafka?: number | undefined }): void {
  const all = `0-${availableParallelism() - 1}`;
  for (const pid of [pids.influxdb, pids.kafka, process.pid]) {
    if (!pid) continue;
    try {
      execFileSync('taskset', ['-a', '-p', '-c', all, `${pid}`], { stdio: 'ignore' });
    } catch {
      // A service that has exited has no affinity to give back.
    }
  }
}
