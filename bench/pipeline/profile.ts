/**
 * A shorter bench/pipeline (b), for profiling the consumer: pre-loads M samples onto a fresh topic, runs
 * `gpumon consume --sinks influxdb` on it until InfluxDB holds them all, and prints the steady rate and the CPU
 * split between the consumer, InfluxDB and Kafka (their pid files under GPUMON_SERVICES_DIR).
 *
 *   npx tsx bench/pipeline/profile.ts [--samples 200000] [--cpu-prof DIR] [--processes 1] [--node-flags=...]
 *                                     [--root DIR]
 *
 * With --cpu-prof, the consumer runs under `node --cpu-prof` and writes its profile into DIR on exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { influxQuery, influxUrl, kafkaBootstrap } from '../../src/testing/services.ts';
import { KafkaTransport, sleep } from '../../src/transport/kafka/kafka-transport.ts';
import { fmt, measureNode, ROOT } from '../harness.ts';
import { CpuMeter, describeCpu, peakRssKiB, servicePid } from './cpu.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '200000' },
    'cpu-prof': { type: 'string' },
    processes: { type: 'string', default: '1' },
    'node-flags': { type: 'string', default: '' },
    /** Another checkout's consumer (an earlier commit, `git archive` into DIR), on the same services. */
    root: { type: 'string', default: ROOT },
  },
});
const fleet = 1000;
const ticks = Math.ceil(Number(values.samples) / fleet);
const M = ticks * fleet;
const processes = Number(values.processes);
const brokers = await kafkaBootstrap();
const influx = await influxUrl();
const id = randomBytes(4).toString('hex');
const topic = `gpumon-prof-${id}`;
const db = `prof_${id}`;
await measureNode(['bin/gpumon.js', '--version']).catch(() => undefined);

const producer = new KafkaTransport({ brokers, topic, dlqTopic: `${topic}-dlq`, partitions: 12 });
const sim = new Simulator({ hosts: 125, gpusPerHost: 8, seed: 42 });
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000;
let batch: ReturnType<Simulator['sampleAll']> = [];
for (let t = 0; t < ticks; t++) {
  batch = batch.concat(sim.sampleAll(T0 + t * 1000));
  if (batch.length >= 10_000 || t === ticks - 1) {
    await producer.publish(batch);
    batch = [];
  }
}
await producer.close();
await influxQuery(influx, `CREATE DATABASE "${db}"`);

async function count(): Promise<number> {
  const r = await influxQuery(influx, 'SELECT count(utilization_gpu) FROM gpu_metrics', db).catch(() => []);
  const v = r[0]?.series?.[0]?.values?.[0]?.[1];
  return typeof v === 'number' ? v : 0;
}

const children: { child: ChildProcess; stderr: () => string; exited: Promise<number | null> }[] = [];
for (let i = 0; i < processes; i++) {
  const prof = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [];
  prof.push(...(values['node-flags'] ?? '').split(' ').filter((f) => f !== ''));
  const child = spawn(
    process.execPath,
    [
      ...prof,
      'bin/gpumon.js',
      'consume',
      '--sinks',
      'influxdb',
      '--brokers',
      brokers,
      '--topic',
      topic,
      '--influxdb',
      influx,
    ],
    {
      cwd: values.root,
      env: {
        ...process.env,
        GPUMON_INFLUXDB_DATABASE: db,
        GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
        GPUMON_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.on('data', (d: Buffer) => {
    if (process.env.BENCH_VERBOSE) process.stderr.write(d);
  });
  children.push({ child, stderr: () => stderr, exited: new Promise((r) => child.on('exit', r)) });
}
const pids: Record<string, number | undefined> = {
  influxdb: servicePid('influxdb'),
  kafka: servicePid('kafka'),
};
children.forEach(({ child }, i) => {
  pids[`consumer${processes > 1 ? i : ''}`] = child.pid;
});
const meter = new CpuMeter(pids);
const started = performance.now();
let first = 0;
let firstCount = 0;
for (;;) {
  await sleep(250);
  const n = await count();
  if (n > 0 && first === 0) {
    first = performance.now();
    firstCount = n;
    meter.start();
  }
  if (n >= M) break;
  if (performance.now() - started > 300_000) throw new Error(`only ${n} of ${M} after 300 s`);
}
const split = meter.stop();
const steady = (M - firstCount) / ((performance.now() - first) / 1000);
let rss = '';
for (const c of children) {
  const peak = peakRssKiB(c.child.pid) ?? Number.NaN; // VmHWM: getrusage's maxRSS is this process's
  c.child.kill('SIGINT');
  await c.exited;
  rss += ` ${fmt(peak / 1024, 0)} MiB`;
}
const consumerCpu = Object.entries(split.cpu)
  .filter(([k]) => k.startsWith('consumer'))
  .reduce((s, [, v]) => s + v, 0);
console.log(
  `M=${M} from spawn ${fmt(M / ((performance.now() - started) / 1000), 0)}/s, steady ${fmt(steady, 0)} samples/s; ` +
    `CPU: ${describeCpu(split)}; consumer ${fmt((consumerCpu / (M - firstCount)) * 1e6, 1)} µs CPU/sample; peak RSS${rss}`,
);
await influxQuery(influx, `DROP DATABASE "${db}"`).catch(() => undefined);
