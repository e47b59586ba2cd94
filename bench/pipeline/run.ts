/**
 * bench/pipeline: Kafka -> `gpumon consume --sinks influxdb` -> InfluxDB, on this machine (issue 4).
 *
 *   eval "$(scripts/services/all.sh start | sed 's/^/export /')"   # or kafka.sh + influxdb.sh start
 *   npx tsx bench/pipeline/run.ts [--samples 500000] [--hosts 125] [--gpus 8] [--baseline-seconds 20]
 *                                 [--fresh-seconds 60] [--warmup-seconds 5]
 *
 * (a) InfluxDB's raw ingest ceiling: the same samples as (b), encoded by gpumon's own line-protocol encoder
 *     and gzipped in 5,000-line requests BEFORE timing, posted to /write (1 request in flight, then 2); the
 *     better of the two is the ceiling.
 * (b) gpumon: the topic is pre-loaded with M samples (simulator, 1,000 GPUs), then `gpumon consume --sinks
 *     influxdb` starts as a child process (as deployed, with bench/peak-rss.mjs); timed until InfluxDB holds
 *     all M points (count polled every 500 ms). Rates from the spawn (startup included) and from the first
 *     point seen (steady); target steady >= 0.8x (a).
 * (c) baseline, the original dashboard's way: auto-commit consumer group, one point per HTTP /write request
 *     (baseline-consumer.ts), same topic, its own group, for a bounded time; target (b) >= 20x (c).
 * (d) freshness: a producer publishes 1,000 samples each second stamped with the real time (whole seconds)
 *     while `gpumon consume` runs; InfluxDB is polled every 200 ms (count per 1 s bucket); a second is
 *     "queryable" at the first poll answer that holds all its points. p50/p99 of (answer time - sample time)
 *     over the measured seconds (the first warm-up seconds are left out); target p99 <= 2 s, consumer peak
 *     RSS <= 200 MiB.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { sampleLine } from '../../src/sinks/influxdb/line-protocol.ts';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { influxQuery, influxUrl, kafkaBootstrap } from '../../src/testing/services.ts';
import { KafkaTransport, sleep } from '../../src/transport/kafka/kafka-transport.ts';
import { fmt, measureNode, ROOT } from '../harness.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '500000' },
    hosts: { type: 'string', default: '125' },
    gpus: { type: 'string', default: '8' },
    'baseline-seconds': { type: 'string', default: '20' },
    'fresh-seconds': { type: 'string', default: '60' },
    'warmup-seconds': { type: 'string', default: '5' },
  },
});
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
const databases: string[] = [];

async function createDb(name: string): Promise<string> {
  await influxQuery(influx, `CREATE DATABASE "${name}"`);
  databases.push(name);
  return name;
}

/** Points of `gpu_metrics` with a utilization_gpu field in `db` (0 while the database or measurement is missing). */
async function countPoints(db: string): Promise<number> {
  const results = await influxQuery(influx, 'SELECT count(utilization_gpu) FROM gpu_metrics', db).catch(
    () => [],
  );
  const value = results[0]?.series?.[0]?.values?.[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

console.log(
  `bench/pipeline: ${hosts} hosts x ${gpus} GPUs, M = ${M.toLocaleString('en-US')} samples (${ticks} ticks); ` +
    `Kafka ${brokers} (${PARTITIONS} partitions), InfluxDB ${influx}\n`,
);

// Build the bundle outside any timing (bin/gpumon.js builds dist/ when a source is newer).
await measureNode(['bin/gpumon.js', '--version']).catch(() => undefined);

// ---- Pre-load: M samples on the topic; the same samples as gzipped line protocol, for (a). -------------
const topic = `gpumon-bench-${id}`;
const producer = new KafkaTransport({ brokers, topic, dlqTopic: `${topic}-dlq`, partitions: PARTITIONS });
const sim = new Simulator({ hosts, gpusPerHost: gpus, seed: 42 });
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000; // whole hour, 6 h ago
const bodies: Buffer[] = [];
let pendingLines: string[] = [];
let loadSeconds = 0;
{
  const started = performance.now();
  let batch: ReturnType<Simulator['sampleAll']> = [];
  for (let t = 0; t < ticks; t++) {
    const samples = sim.sampleAll(T0 + t * 1000);
    for (const s of samples) {
      const line = sampleLine(s);
      if (line !== null) pendingLines.push(line);
      if (pendingLines.length === REQUEST_LINES) {
        bodies.push(gzipSync(`${pendingLines.join('\n')}\n`));
        pendingLines = [];
      }
    }
    batch = batch.concat(samples);
    if (batch.length >= 10_000 || t === ticks - 1) {
      await producer.publish(batch);
      batch = [];
    }
  }
  if (pendingLines.length > 0) bodies.push(gzipSync(`${pendingLines.join('\n')}\n`));
  pendingLines = [];
  await producer.close();
  loadSeconds = (performance.now() - started) / 1000;
}
log(`pre-loaded ${M} samples in ${fmt(loadSeconds)} s (${bodies.length} gzip bodies for (a))`);

// ---- (a) raw ingest ceiling. ---------------------------------------------------------------------------
async function rawIngest(inFlight: number): Promise<{ seconds: number; points: number; db: string }> {
  const db = await createDb(`bench_raw${inFlight}_${id}`);
  const url = `${influx}/write?db=${db}&precision=ms`;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as Buffer;
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-encoding': 'gzip', 'content-type': 'text/plain; charset=utf-8' },
          body: body as BodyInit,
        });
        const text = await res.text();
        if (res.status !== 204) throw new Error(`raw /write answered ${res.status} ${text}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, points: await countPoints(db), db };
}
const raw1 = await rawIngest(1);
const raw2 = await rawIngest(2);
const expected = raw1.points; // samples with a utilization_gpu value: what count() sees
if (raw2.points !== expected) throw new Error(`raw ingest counts differ: ${raw1.points} vs ${raw2.points}`);
const raw1Rate = M / raw1.seconds;
const raw2Rate = M / raw2.seconds;
const ceiling = Math.max(raw1Rate, raw2Rate);
bodies.length = 0;
log(`(a) ${fmt(raw1Rate, 0)} / ${fmt(raw2Rate, 0)} samples/s; count(utilization_gpu) = ${expected}`);

// ---- The consumer, as deployed. -------------------------------------------------------------------------
interface Consumer {
  child: ChildProcess;
  ready: Promise<void>;
  stop(): Promise<{ peakRssMiB: number; stdout: string; stderr: string }>;
}
function startConsume(consumeTopic: string, db: string): Consumer {
  const child = spawn(
    process.execPath,
    [
      '--import',
      './bench/peak-rss.mjs',
      'bin/gpumon.js',
      'consume',
      '--sinks',
      'influxdb',
      '--brokers',
      brokers,
      '--topic',
      consumeTopic,
      '--influxdb',
      influx,
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        GPUMON_INFLUXDB_DATABASE: db,
        GPUMON_KAFKA_DLQ_TOPIC: `${consumeTopic}-dlq`,
        GPUMON_KAFKA_PARTITIONS: String(PARTITIONS),
        GPUMON_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('Ctrl-C to stop')) markReady();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.BENCH_VERBOSE) process.stderr.write(d);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    child,
    ready,
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      if (code !== 0) throw new Error(`gpumon consume exited ${code}:\n${stderr.slice(-4000)}`);
      const kb = Number(/PEAK_RSS_KB=(\d+)/.exec(stderr)?.[1] ?? Number.NaN);
      return { peakRssMiB: kb / 1024, stdout, stderr };
    },
  };
}

// ---- (b) gpumon: pre-loaded topic -> InfluxDB. -----------------------------------------------------------
const dbB = await createDb(`bench_gpumon_${id}`);
let bFirst = 0;
let bFirstCount = 0;
let bDone = 0;
const bStart = performance.now();
const consumeB = startConsume(topic, dbB);
for (;;) {
  await sleep(500);
  const n = await countPoints(dbB);
  const now = performance.now();
  if (n > 0 && bFirst === 0) {
    bFirst = now;
    bFirstCount = n;
  }
  if (n >= expected) {
    bDone = now;
    break;
  }
  if (now - bStart > 300_000) throw new Error(`(b): only ${n} of ${expected} points after 300 s`);
  if (consumeB.child.exitCode !== null) throw new Error('(b): gpumon consume exited early');
}
const b = await consumeB.stop();
const bSeconds = (bDone - bStart) / 1000;
const bRate = M / bSeconds;
const bSteadyRate = ((expected - bFirstCount) / expected) * (M / ((bDone - bFirst) / 1000));
log(`(b) ${fmt(bRate, 0)} samples/s from spawn, ${fmt(bSteadyRate, 0)} steady; ${fmt(b.peakRssMiB, 0)} MiB`);

// ---- (c) baseline: one point per request, auto-commit. ---------------------------------------------------
const dbC = `bench_baseline_${id}`;
databases.push(dbC);
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

// ---- (d) freshness at 1,000 GPUs x 1 Hz. -----------------------------------------------------------------
const topicD = `gpumon-bench-fresh-${id}`;
const dbD = await createDb(`bench_fresh_${id}`);
const live = new KafkaTransport({
  brokers,
  topic: topicD,
  dlqTopic: `${topicD}-dlq`,
  partitions: PARTITIONS,
});
await live.ensureTopics();
const consumeD = startConsume(topicD, dbD);
await consumeD.ready;
await sleep(2000); // group join
const simD = new Simulator({ hosts, gpusPerHost: gpus, seed: 7 });
const expectedAt = new Map<number, number>(); // tick ts -> points with utilization_gpu
const seenAt = new Map<number, number>(); // tick ts -> epoch ms of the poll answer that held them all
let producing = true;
let lastTick = 0;
let publishErrors = 0;
const poller = (async () => {
  while (producing || seenAt.size < expectedAt.size) {
    const results = await influxQuery(
      influx,
      'SELECT count(utilization_gpu) FROM gpu_metrics WHERE time >= now() - 20s GROUP BY time(1s)',
      dbD,
    ).catch(() => []);
    const answered = Date.now();
    for (const [ts, n] of results[0]?.series?.[0]?.values ?? []) {
      const want = expectedAt.get(ts as number);
      if (want !== undefined && !seenAt.has(ts as number) && (n as number) >= want) {
        seenAt.set(ts as number, answered);
      }
    }
    if (!producing && Date.now() - lastTick > 20_000) break;
    await sleep(200);
  }
})();
const ticksD = warmupSeconds + freshSeconds;
const firstTick = Math.ceil(Date.now() / 1000) * 1000 + 1000;
for (let k = 0; k < ticksD; k++) {
  const ts = firstTick + k * 1000;
  await sleep(Math.max(0, ts - Date.now()));
  const samples = simD.sampleAll(ts);
  let want = 0;
  for (const s of samples) if (sampleLine(s)?.includes('utilization_gpu=')) want++;
  expectedAt.set(ts, want);
  lastTick = ts;
  live.publish(samples).catch(() => publishErrors++);
}
producing = false;
await poller;
await live.close();
const d = await consumeD.stop();
const latencies: number[] = [];
let missing = 0;
for (const [ts] of expectedAt) {
  if (ts < firstTick + warmupSeconds * 1000) continue;
  const seen = seenAt.get(ts);
  if (seen === undefined) missing++;
  else latencies.push((seen - ts) / 1000);
}
latencies.sort((x, y) => x - y);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? Number.NaN;
const p50 = pct(50);
const p99 = pct(99);
const max = latencies[latencies.length - 1] ?? Number.NaN;

for (const db of databases) await influxQuery(influx, `DROP DATABASE "${db}"`).catch(() => undefined);

// ---- Table. ---------------------------------------------------------------------------------------------
const rateRow = (name: string, rate: number, extra: string, rss?: number) =>
  `${name.padEnd(52)} ${fmt(rate, 0).padStart(10)} samples/s  ${extra.padEnd(22)} ${rss === undefined ? '' : `${fmt(rss, 0).padStart(5)} MiB peak RSS`}`;
console.log(`pre-load: ${M.toLocaleString('en-US')} samples published to Kafka in ${fmt(loadSeconds)} s\n`);
console.log(
  rateRow('(a) InfluxDB raw /write, 5,000-line gzip, 1 in flight', raw1Rate, `${fmt(raw1.seconds)} s`),
);
console.log(
  rateRow('(a) InfluxDB raw /write, 5,000-line gzip, 2 in flight', raw2Rate, `${fmt(raw2.seconds)} s`),
);
console.log(
  rateRow(
    '(b) gpumon consume, from spawn (startup included)',
    bRate,
    `${fmt(bSeconds)} s, ${fmt(bRate / ceiling)}x (a)`,
    b.peakRssMiB,
  ),
);
console.log(
  rateRow(
    '(b) gpumon consume, steady (from first point seen)',
    bSteadyRate,
    `${fmt((bDone - bFirst) / 1000)} s, ${fmt(bSteadyRate / ceiling)}x (a)`,
  ),
);
console.log(
  rateRow(
    '(c) baseline: 1 point/request, auto-commit',
    cRate,
    `${cPoints} pts in ${fmt(cSecs, 1)} s`,
    c.peakRssMiB,
  ),
);
console.log(
  `${'(d) freshness, 1,000 GPUs x 1 Hz, sample -> queryable'.padEnd(52)} p50 ${fmt(p50)} s, p99 ${fmt(p99)} s, ` +
    `max ${fmt(max)} s over ${latencies.length} s (${missing} not seen, ${publishErrors} publish errors)  ` +
    `${fmt(d.peakRssMiB, 0).padStart(5)} MiB peak RSS`,
);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
console.log(
  `\ntarget (b) steady >= 0.8x (a): ${verdict(bSteadyRate >= 0.8 * ceiling)} (${fmt(bSteadyRate / ceiling)}x; ` +
    `from spawn ${fmt(bRate / ceiling)}x)`,
);
console.log(
  `target (b) >= 20x (c): ${verdict(bSteadyRate >= 20 * cRate)} (${fmt(bSteadyRate / cRate, 1)}x steady, ${fmt(bRate / cRate, 1)}x from spawn)`,
);
console.log(`target (d) p99 <= 2 s: ${verdict(p99 <= 2 && missing === 0)} (${fmt(p99)} s)`);
console.log(
  `target (d) consumer peak RSS <= 200 MiB: ${verdict(d.peakRssMiB <= 200)} (${fmt(d.peakRssMiB, 0)} MiB)`,
);
