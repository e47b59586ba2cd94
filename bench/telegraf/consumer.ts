/**
 * bench/telegraf/consumer: Kafka -> InfluxDB, `gpumon consume` beside Telegraf 1.37.2's kafka_consumer ->
 * outputs.influxdb (issue 15 point 4: gpumon <= 0.8x Telegraf's CPU per sample with >= 1.2x its throughput).
 *
 *   set -a; . /tmp/svc.env; set +a     # or: eval "$(scripts/services/all.sh start | sed 's/^/export /')"
 *   npx tsx bench/telegraf/consumer.ts [--samples 500000] [--pairs 2] [--cpu-prof DIR] [--telegraf-batched]
 *
 * The same M samples (simulator, 125 hosts x 8 GPUs, 1 Hz) are pre-loaded, before any timing, on two topics of
 * 12 partitions, lz4, each as its agent publishes them: for gpumon its wire format, one record per node and tick
 * keyed by the host (`gpumon agent`, docs/encoding.md v3); for Telegraf the sample's InfluxDB line (gpumon's own
 * line-protocol encoder: the very points gpumon writes, measurement gpu_metrics, ms timestamps), one record per
 * sample keyed by its GPU's uuid (Telegraf's outputs.kafka by default), or with --telegraf-batched one record
 * per node and tick holding its lines (outputs.kafka's `use_batch_format = true`). Each run consumes its topic from the start in a
 * consumer group and a fresh database of its own, until InfluxDB holds all M points (count polled every 500 ms).
 * Runs interleave Telegraf, gpumon, Telegraf, gpumon (--pairs of each, bench/noise.ts: machine load per step,
 * DISTURBED above the threshold). Per run: samples/s from the spawn (startup included) and from the first point
 * seen (steady); CPU us per sample, the child's own user + system time (/proc/<pid>/stat, all threads, sampled
 * every 100 ms) over the same two spans; peak RSS (VmHWM). Ratios are gpumon / Telegraf of the medians.
 *
 * Telegraf (bench/telegraf/build.sh) is tuned as its docs suggest for throughput, to the same batch as gpumon:
 * metric_batch_size 5,000, max_undelivered_messages 10,000, flush_interval 1 s, plain bodies (gpumon does not
 * gzip to a loopback InfluxDB either), omit_hostname. gpumon runs as deployed: the bundled bin/gpumon.js with its
 * defaults. --cpu-prof DIR: gpumon's runs write a V8 CPU profile into DIR (slower: for where the time goes).
 *
 * Then the floors (--no-floors to skip), --pairs times each, alternating (bench/telegraf/consume-floor.ts): the
 * Kafka client gpumon is built on reading gpumon's topic and doing nothing with the records, and the same
 * decoding each record into its sample and line, writing nothing. CPU us per sample from the first record to the
 * last: what `gpumon consume` spends before it writes anything, to set beside Telegraf's whole run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sampleLine } from '../../src/metrics/line-protocol.ts';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { influxUrl, kafkaBootstrap } from '../../src/testing/services.ts';
import { encodeRecords } from '../../src/transport/kafka/encoding.ts';
import { KafkaTransport, type OutgoingRecord, sleep } from '../../src/transport/kafka/kafka-transport.ts';
import { ensureBundle, fmt, ROOT } from '../harness.ts';
import { BenchDatabases } from '../influx-databases.ts';
import { describeNoise, describeSpread, interleave, NoiseMeter, spread } from '../noise.ts';
import { cpuSeconds, peakRssKiB } from '../pipeline/cpu.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '500000' },
    pairs: { type: 'string', default: '2' },
    'cpu-prof': { type: 'string' },
    'no-floors': { type: 'boolean', default: false },
    'telegraf-batched': { type: 'boolean', default: false },
  },
});
const HOSTS = 125;
const GPUS = 8;
const FLEET = HOSTS * GPUS;
const ticks = Math.ceil(Number(values.samples) / FLEET);
const M = ticks * FLEET;
const pairs = Number(values.pairs);
const PARTITIONS = 12;
const TIMEOUT_MS = 600_000;
/**
 * The protocol version Telegraf's Kafka client (sarama 1.46) speaks: the newest it knows. Without it, sarama
 * asks for versions that Kafka 4 (scripts/services/kafka.sh: 4.3.1) no longer serves, and every fetch ends in EOF.
 */
const KAFKA_VERSION = '4.1.0';
const profileDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;

const brokers = await kafkaBootstrap();
const influx = await influxUrl();
const telegraf = execFileSync(join(ROOT, 'bench/telegraf/build.sh'), {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();
const id = randomBytes(4).toString('hex');
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const work = mkdtempSync(join(tmpdir(), 'gpumon-bench-telegraf-'));
const databases = new BenchDatabases(influx);
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

console.log(
  `bench/telegraf/consumer: M = ${M.toLocaleString('en-US')} samples (${HOSTS} hosts x ${GPUS} GPUs, ${ticks} ticks); ` +
    `Kafka ${brokers} (${PARTITIONS} partitions), InfluxDB ${influx}; Telegraf ${telegraf}\n`,
);
ensureBundle();

// ---- Pre-load: the same samples on two topics, gpumon's wire format and InfluxDB lines. --------------------
const gpumonTopic = `gpumon-bench-tg-${id}`;
const lineTopic = `telegraf-bench-tg-${id}`;
let expected = 0; // samples with a utilization_gpu field: what count() sees
let gpumonRecords = 0;
{
  const started = performance.now();
  const wire = new KafkaTransport({
    brokers,
    topic: gpumonTopic,
    dlqTopic: `${gpumonTopic}-dlq`,
    partitions: PARTITIONS,
  });
  const lines = new KafkaTransport({
    brokers,
    topic: lineTopic,
    dlqTopic: `${lineTopic}-dlq`,
    partitions: PARTITIONS,
  });
  const sim = new Simulator({ hosts: HOSTS, gpusPerHost: GPUS, seed: 42 });
  const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000; // whole hour, 6 h ago
  let records: OutgoingRecord[] = [];
  let lineRecords: OutgoingRecord[] = [];
  for (let t = 0; t < ticks; t++) {
    const tick = sim.sampleAll(T0 + t * 1000);
    // As each node's agent publishes its tick: one record of the node's samples.
    for (const r of encodeRecords(tick)) records.push({ topic: gpumonTopic, ...r });
    const byNode = new Map<string, string[]>();
    for (const s of tick) {
      const line = sampleLine(s);
      if (line === null) throw new Error(`sample of ${s.uuid} has no line`);
      if (line.includes('utilization_gpu=')) expected++;
      if (values['telegraf-batched']) {
        byNode.set(s.host, [...(byNode.get(s.host) ?? []), line]);
      } else {
        lineRecords.push({
          topic: lineTopic,
          key: Buffer.from(s.uuid),
          value: Buffer.from(line),
          headers: {},
        });
      }
    }
    for (const [host, list] of byNode) {
      lineRecords.push({
        topic: lineTopic,
        key: Buffer.from(host),
        value: Buffer.from(list.join('\n')),
        headers: {},
      });
    }
    if (records.length >= 1_000 || t === ticks - 1) {
      gpumonRecords += records.length;
      await Promise.all([wire.produceRaw(records), lines.produceRaw(lineRecords)]);
      records = [];
      lineRecords = [];
    }
  }
  await Promise.all([wire.close(), lines.close()]);
  log(`pre-loaded ${M} samples on both topics in ${fmt((performance.now() - started) / 1000)} s`);
}

function telegrafConfig(db: string, group: string): string {
  const path = join(work, `${group}.conf`);
  writeFileSync(
    path,
    `[agent]
  interval = "10s"
  flush_interval = "1s"
  flush_jitter = "0s"
  metric_batch_size = 5000
  metric_buffer_limit = 100000
  omit_hostname = true
  quiet = true

[[inputs.kafka_consumer]]
  brokers = ["${brokers}"]
  topics = ["${lineTopic}"]
  consumer_group = "${group}"
  offset = "oldest"
  max_undelivered_messages = 10000
  version = "${KAFKA_VERSION}"
  data_format = "influx"
  influx_timestamp_precision = "1ms"

[[outputs.influxdb]]
  urls = ["${influx}"]
  database = "${db}"
  skip_database_creation = true
  content_encoding = "identity"
  timeout = "30s"
`,
  );
  return path;
}

interface Run {
  rate: number;
  steadyRate: number;
  cpuUsPerSample: number;
  steadyCpuUsPerSample: number;
  peakRssMiB: number;
}

/** Runs one consumer (already spawned by `start`) until InfluxDB's database `db` holds every point. */
async function timed(
  name: string,
  db: string,
  noise: NoiseMeter,
  start: () => ChildProcess,
  stopSignal: NodeJS.Signals,
): Promise<Run> {
  const began = performance.now();
  const child = start();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
    if (process.env.BENCH_VERBOSE) process.stderr.write(d);
  });
  child.stdout?.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  noise.track(child.pid);
  let peakKiB = 0;
  let cpu = 0;
  const watch = () => {
    peakKiB = Math.max(peakKiB, peakRssKiB(child.pid) ?? 0);
    cpu = cpuSeconds(child.pid) ?? cpu;
  };
  const watcher = setInterval(watch, 100);
  let first = 0;
  let firstCount = 0;
  let firstCpu = 0;
  let done = 0;
  try {
    for (;;) {
      await sleep(500);
      const n = await databases.countPoints(db);
      const now = performance.now();
      if (n > 0 && first === 0) {
        first = now;
        firstCount = n;
        watch();
        firstCpu = cpu;
      }
      if (n >= expected) {
        done = now;
        break;
      }
      if (now - began > TIMEOUT_MS)
        throw new Error(`${name}: ${n} of ${expected} points after ${TIMEOUT_MS / 1000} s`);
      if (child.exitCode !== null) throw new Error(`${name} exited early:\n${stderr}`);
    }
    watch();
  } finally {
    clearInterval(watcher);
    noise.sample();
    child.kill(stopSignal);
    await exited;
  }
  const steadyShare = (expected - firstCount) / expected;
  if (steadyShare === 0)
    log(`${name}: every point was there at the first poll: no steady figures (raise --samples)`);
  return {
    rate: M / ((done - began) / 1000),
    steadyRate: (steadyShare * M) / ((done - first) / 1000),
    cpuUsPerSample: (cpu / M) * 1e6,
    steadyCpuUsPerSample: ((cpu - firstCpu) / (steadyShare * M)) * 1e6,
    peakRssMiB: peakKiB / 1024,
  };
}

const runs = { telegraf: [] as Run[], gpumon: [] as Run[] };

async function telegrafRun(noise: NoiseMeter, i: number): Promise<number> {
  const group = `telegraf-bench-${id}-${i}`;
  const db = await databases.create(`bench_telegraf_${i}_${id}`);
  const conf = telegrafConfig(db, group);
  const run = await timed(
    'telegraf',
    db,
    noise,
    () => spawn(telegraf, ['--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] }),
    'SIGTERM',
  );
  runs.telegraf.push(run);
  return run.steadyRate;
}

async function gpumonRun(noise: NoiseMeter, i: number): Promise<number> {
  ensureBundle();
  const db = await databases.create(`bench_gpumon_${i}_${id}`);
  const flags = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const args = ['consume', '--sinks', 'influxdb', '--brokers', brokers, '--topic', gpumonTopic];
  const run = await timed(
    'gpumon consume',
    db,
    noise,
    () =>
      spawn(process.execPath, [...flags, 'bin/gpumon.js', ...args, '--influxdb', influx], {
        cwd: ROOT,
        env: {
          ...process.env,
          GPUMON_INFLUXDB_DATABASE: db,
          GPUMON_KAFKA_DLQ_TOPIC: `${gpumonTopic}-dlq`,
          GPUMON_KAFKA_PARTITIONS: String(PARTITIONS),
          GPUMON_KAFKA_GROUP_PREFIX: `gpumon-bench-${id}-${i}`,
          GPUMON_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    'SIGINT',
  );
  runs.gpumon.push(run);
  return run.steadyRate;
}

let result: Awaited<ReturnType<typeof interleave>>;
try {
  result = await interleave(pairs, telegrafRun, gpumonRun, (side, i, step) => {
    const r = side === 'a' ? runs.telegraf[i] : runs.gpumon[i];
    log(
      `${side === 'a' ? 'Telegraf      ' : 'gpumon consume'} #${i + 1}: steady ${fmt(step.value, 0)} samples/s, ` +
        `${fmt(r?.cpuUsPerSample ?? Number.NaN, 1)} us CPU/sample, ${fmt(r?.peakRssMiB ?? Number.NaN, 0)} MiB; ` +
        describeNoise(step.noise),
    );
  });
} finally {
  await databases.dropAll();
}

interface Floor {
  mode: 'kafka' | 'decode';
  records: number;
  decoded: number;
  cpuSeconds: number;
  seconds: number;
}
const floors = { kafka: [] as Floor[], decode: [] as Floor[] };
if (!values['no-floors']) {
  for (let i = 0; i < pairs; i++) {
    for (const mode of ['kafka', 'decode'] as const) {
      const noise = new NoiseMeter().start();
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/telegraf/consume-floor.ts',
          brokers,
          gpumonTopic,
          String(gpumonRecords),
          mode,
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      noise.track(child.pid);
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      if (code !== 0) throw new Error(`consume-floor ${mode} exited with ${code}`);
      const floor = JSON.parse(out) as Floor;
      if (floor.records !== gpumonRecords || (mode === 'decode' && floor.decoded !== M))
        throw new Error(`consume-floor ${mode}: ${out}`);
      floors[mode].push(floor);
      log(
        `floor ${mode.padEnd(6)} #${i + 1}: ${fmt((floor.cpuSeconds / M) * 1e6, 1)} us CPU/sample, ` +
          `${fmt(M / floor.seconds, 0)} samples/s; ${describeNoise(noise.stop())}`,
      );
    }
  }
}

const med = (list: Run[], f: (r: Run) => number) => spread(list.map(f));
const rows: [string, (r: Run) => number, number][] = [
  ['samples/s, steady (from the first point)', (r) => r.steadyRate, 0],
  ['samples/s, from the spawn', (r) => r.rate, 0],
  ['CPU us per sample, steady (first to last point)', (r) => r.steadyCpuUsPerSample, 1],
  ['CPU us per sample, from the spawn (startup included)', (r) => r.cpuUsPerSample, 1],
  ['peak RSS, MiB', (r) => r.peakRssMiB, 0],
];
console.log('| | Telegraf 1.37.2 | gpumon consume | gpumon / Telegraf |');
console.log('|---|---:|---:|---:|');
for (const [what, f, digits] of rows) {
  const t = med(runs.telegraf, f);
  const g = med(runs.gpumon, f);
  console.log(
    `| ${what} | ${fmt(t.median, digits)} (${fmt(t.min, digits)}-${fmt(t.max, digits)}) | ` +
      `${fmt(g.median, digits)} (${fmt(g.min, digits)}-${fmt(g.max, digits)}) | ${fmt(g.median / t.median)}x |`,
  );
}
if (!values['no-floors']) {
  const tg = med(runs.telegraf, (r) => r.steadyCpuUsPerSample).median;
  for (const [what, list] of [
    ['floor: the Kafka client alone, CPU us per sample', floors.kafka],
    ['floor: Kafka client + decoding (sample and line), CPU us per sample', floors.decode],
  ] as const) {
    const f = spread(list.map((r) => (r.cpuSeconds / M) * 1e6));
    console.log(
      `| ${what} | | ${fmt(f.median, 1)} (${fmt(f.min, 1)}-${fmt(f.max, 1)}) | ${fmt(f.median / tg)}x |`,
    );
  }
}
console.log(`\npair ratio of steady rates (gpumon / Telegraf): ${describeSpread(result.pairRatio)}`);
console.log(
  `targets: CPU per sample <= 0.80x, throughput >= 1.20x; steps disturbed by other load: ${result.disturbed} of ${result.steps}`,
);
if (profileDir) console.log(`gpumon's CPU profiles: ${profileDir}`);
process.exit(0);
