/**
 * Freshness, per sample: how long after a sample is taken it is queryable in InfluxDB, through Kafka and a
 * `gpumon consume` already running on `topic` -> `db` (issue 15 point 3).
 *
 * The fleet (hosts x gpus, 1 Hz) is sampled in `slots` groups of hosts, each at a phase of its own within the
 * second (group i at i/slots s), stamped with the real time in ms when taken and published at once by one of 8
 * producers (each, as an agent's, sends one publish at a time: a group whose producer is still busy waits, and
 * that wait counts). So a second of 1,000 GPUs is `slots` publishes spread over the second, not one burst.
 *
 * InfluxDB is polled every `pollMs` with `count(utilization_gpu) ... GROUP BY time(1ms) fill(none)` from the
 * oldest sample not yet seen: each 1 ms bucket holds the samples taken in that ms, so every sample is told
 * apart by its bucket, and a bucket's count rising from k to m makes m - k samples queryable at that answer.
 * Each sample gets an upper bound (the answer's arrival - taken) and a lower bound (the previous poll's start
 * - taken): the figures are the upper bounds, and the gap between the two is the probe's own resolution.
 */
import { sampleLine } from '../../src/metrics/line-protocol.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { Simulator } from '../../src/sources/sim/simulator.ts';
import { influxQuery } from '../../src/testing/services.ts';
import { KafkaTransport, sleep } from '../../src/transport/kafka/kafka-transport.ts';

export interface FreshnessOptions {
  brokers: string;
  influx: string;
  topic: string;
  db: string;
  partitions: number;
  hosts: number;
  gpus: number;
  /** Measured seconds, after `warmupSeconds` left out. */
  seconds: number;
  warmupSeconds: number;
  /**
   * Publishes a second, each of `slots` hosts' groups at its phase (1000/slots ms apart), its samples taken
   * then. 125 (one per host, as a fleet does) costs this one process a send per host, which a loaded machine
   * does not keep up with at 1 Hz; 10 (default) keeps phases spread over the second at 10 sends a second.
   */
  slots: number;
  /** Pause between the end of one poll and the start of the next. */
  pollMs: number;
  seed?: number;
}

export interface FreshnessResult {
  /** Seconds from taken to queryable (upper bound), one per measured sample, sorted. */
  latencies: Float64Array;
  /** The same samples' lower bounds (the previous poll's start), sorted. */
  lowerBounds: Float64Array;
  /** Measured samples not queryable within 20 s of being taken. */
  missing: number;
  publishErrors: number;
  /** Seconds from taken to the publish acknowledged by Kafka (acks=all), per group and tick, sorted. */
  publishAcks: Float64Array;
  /** Milliseconds a poll took (request to parsed answer), sorted. */
  pollMs: Float64Array;
  /** Samples of the measured ticks (those with utilization_gpu: what the probe counts). */
  samples: number;
  /**
   * How late each group of the measured ticks was taken, in ms after its due time, sorted: a loaded machine
   * falls behind 1 Hz (the fleet then sends fewer samples a second than it should).
   */
  takenLateMs: Float64Array;
  /**
   * InfluxDB's own count and mean duration of the /write requests it served during the step (from its
   * /debug/vars, server-wide: on services of the bench's own, the consumer's writes), and of /query (the
   * probe's polls).
   */
  influxWrites: { requests: number; meanMs: number };
  influxQueries: { requests: number; meanMs: number };
  /** The p99 of each block of 10 measured seconds (by the time taken): the spread of p99 over time. */
  blockP99: number[];
}

/** A sample not queryable this long after being taken counts as missing. */
const GIVE_UP_MS = 20_000;

/** Producers the fleet's hosts share (each publishes one send at a time). */
const PRODUCERS = 8;

/** Publishes the fleet at 1 Hz for warmup + seconds and measures each sample's freshness. */
export async function measureFreshness(o: FreshnessOptions): Promise<FreshnessResult> {
  // Producers as agents have them: one publish at a time each (an idempotent producer refuses sends that
  // overtake each other: OUT_OF_ORDER_SEQUENCE_NUMBER), PRODUCERS of them, group i on producer i % PRODUCERS.
  const producers = Array.from({ length: PRODUCERS }, () => ({
    transport: new KafkaTransport({
      brokers: o.brokers,
      topic: o.topic,
      dlqTopic: `${o.topic}-dlq`,
      partitions: o.partitions,
    }),
    last: Promise.resolve() as Promise<unknown>,
  }));
  for (const p of producers) await p.transport.ensureTopics();
  const sim = new Simulator({ hosts: o.hosts, gpusPerHost: o.gpus, seed: o.seed ?? 7 });
  const expected = new Map<number, number>(); // ms taken -> samples with utilization_gpu taken then
  const seen = new Map<number, number>(); // ms taken -> of those, seen so far
  const upper: number[] = [];
  const lower: number[] = [];
  const byTaken: { taken: number; upper: number }[] = [];
  const acks: number[] = [];
  const polls: number[] = [];
  let publishErrors = 0;
  let producing = true;
  let lastTaken = 0;
  const ticks = o.warmupSeconds + o.seconds;
  const varsBefore = await influxHttpd(o.influx);
  const firstTick = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  // Buckets (ms taken) of the measured ticks: a loaded machine may take a warm-up tick's samples late, so
  // a sample is measured by its tick, not by when it was taken.
  const measured = new Set<number>();
  let measuredFrom = Number.POSITIVE_INFINITY;
  const lateMs: number[] = [];

  const poller = (async () => {
    let previousStart = Date.now();
    while (producing || [...expected].some(([ts, n]) => (seen.get(ts) ?? 0) < n)) {
      if (!producing && Date.now() - lastTaken > GIVE_UP_MS) break;
      let from = Number.POSITIVE_INFINITY;
      // Samples not seen 20 s after being taken are given up (counted missing), so the window stays short.
      const giveUp = Date.now() - GIVE_UP_MS;
      for (const [ts, n] of expected) if ((seen.get(ts) ?? 0) < n && ts < from && ts >= giveUp) from = ts;
      if (from === Number.POSITIVE_INFINITY) {
        await sleep(o.pollMs);
        previousStart = Date.now();
        continue;
      }
      const started = Date.now();
      const results = await influxQuery(
        o.influx,
        `SELECT count(utilization_gpu) FROM gpu_metrics WHERE time >= ${from}ms GROUP BY time(1ms) fill(none)`,
        o.db,
      ).catch(() => []);
      const answered = Date.now();
      polls.push(answered - started);
      for (const [ts, n] of results[0]?.series?.[0]?.values ?? []) {
        const taken = ts as number;
        const want = expected.get(taken);
        const before = seen.get(taken) ?? 0;
        if (want === undefined || (n as number) <= before) continue;
        const now = Math.min(n as number, want);
        seen.set(taken, now);
        if (!measured.has(taken)) continue;
        for (let i = before; i < now; i++) {
          upper.push((answered - taken) / 1000);
          lower.push(Math.max(0, previousStart - taken) / 1000);
          byTaken.push({ taken, upper: (answered - taken) / 1000 });
        }
      }
      previousStart = started;
      await sleep(o.pollMs);
    }
  })();

  for (let k = 0; k < ticks; k++) {
    const tick = firstTick + k * 1000;
    await sleep(Math.max(0, tick - Date.now()));
    const hostsOf = groupByHost(sim.sampleAll(tick));
    const slots = Math.min(o.slots, hostsOf.length);
    const fleet = Array.from({ length: slots }, (_, i) =>
      hostsOf.filter((_, h) => Math.floor((h * slots) / hostsOf.length) === i).flat(),
    );
    for (let h = 0; h < fleet.length; h++) {
      const due = tick + Math.floor((h * 1000) / fleet.length);
      await sleep(Math.max(0, due - Date.now()));
      const taken = Date.now();
      if (k >= o.warmupSeconds) {
        measured.add(taken);
        measuredFrom = Math.min(measuredFrom, taken);
        lateMs.push(taken - due);
      }
      const samples = (fleet[h] as GpuSample[]).map((s) => ({ ...s, ts: taken }));
      let want = 0;
      for (const s of samples) if (sampleLine(s)?.includes('utilization_gpu=')) want++;
      expected.set(taken, (expected.get(taken) ?? 0) + want);
      lastTaken = taken;
      const producer = producers[h % PRODUCERS] as (typeof producers)[number];
      producer.last = producer.last
        .then(() => producer.transport.publish(samples))
        .then(
          () => {
            if (k >= o.warmupSeconds) acks.push((Date.now() - taken) / 1000);
          },
          () => publishErrors++,
        );
    }
  }
  producing = false;
  await poller;
  const varsAfter = await influxHttpd(o.influx);
  const mean = (req: string, ns: string) => {
    const requests = (varsAfter[req] ?? 0) - (varsBefore[req] ?? 0);
    return { requests, meanMs: ((varsAfter[ns] ?? 0) - (varsBefore[ns] ?? 0)) / 1e6 / Math.max(1, requests) };
  };
  for (const p of producers) {
    await p.last;
    await p.transport.close();
  }

  let missing = 0;
  let samples = 0;
  for (const [ts, n] of expected) {
    if (!measured.has(ts)) continue;
    samples += n;
    missing += n - (seen.get(ts) ?? 0);
  }
  const blocks = new Map<number, number[]>();
  for (const { taken, upper: u } of byTaken) {
    const block = Math.floor((taken - measuredFrom) / 10_000);
    const list = blocks.get(block) ?? [];
    blocks.set(block, list);
    list.push(u);
  }
  const sorted = (xs: number[]) => Float64Array.from(xs).sort();
  return {
    latencies: sorted(upper),
    lowerBounds: sorted(lower),
    missing,
    publishErrors,
    publishAcks: sorted(acks),
    pollMs: sorted(polls),
    samples,
    takenLateMs: sorted(lateMs),
    influxWrites: mean('writeReq', 'writeReqDurationNs'),
    influxQueries: mean('queryReq', 'queryReqDurationNs'),
    blockP99: [...blocks.keys()]
      .sort((a, b) => a - b)
      .map((b) => quantile(sorted(blocks.get(b) ?? []), 0.99)),
  };
}

/** InfluxDB's HTTP counters (/debug/vars, `httpd`): writeReq, writeReqDurationNs, queryReq, ... */
async function influxHttpd(influx: string): Promise<Record<string, number>> {
  const res = await fetch(`${influx}/debug/vars`);
  const vars = (await res.json()) as Record<string, { name?: string; values?: Record<string, number> }>;
  return Object.values(vars).find((v) => v.name === 'httpd')?.values ?? {};
}

function groupByHost(samples: readonly GpuSample[]): GpuSample[][] {
  const hosts = new Map<string, GpuSample[]>();
  for (const s of samples) {
    const list = hosts.get(s.host) ?? [];
    hosts.set(s.host, list);
    list.push(s);
  }
  return [...hosts.values()];
}

/** The q-quantile of sorted values: the smallest value with at least q of them at or below it. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/**
 * A distribution-free 95% confidence interval of the q-quantile from n sorted values: the order statistics at
 * ranks n*q -/+ 1.96 sqrt(n q (1-q)) (normal approximation of the binomial). It assumes independent samples;
 * samples written in the same batch are not, so read it as a lower bound of the uncertainty (the spread of
 * the per-block p99 shows the rest).
 */
export function quantileInterval(sorted: Float64Array, q: number): [number, number] {
  const n = sorted.length;
  if (n === 0) return [Number.NaN, Number.NaN];
  const half = 1.96 * Math.sqrt(n * q * (1 - q));
  const at = (rank: number) => sorted[Math.min(n - 1, Math.max(0, Math.round(rank) - 1))] as number;
  return [at(n * q - half), at(n * q + half)];
}

/** `p50 0.212 s, p95 0.301 s, p99 0.402 s (95% CI 0.395-0.410), max 0.9 s over 60,000 samples` */
export function describeFreshness(r: FreshnessResult): string {
  const s = (x: number) => `${x.toFixed(3)} s`;
  const [lo, hi] = quantileInterval(r.latencies, 0.99);
  const blocks = r.blockP99.filter((x) => !Number.isNaN(x));
  return (
    `p50 ${s(quantile(r.latencies, 0.5))}, p95 ${s(quantile(r.latencies, 0.95))}, ` +
    `p99 ${s(quantile(r.latencies, 0.99))} (95% CI ${lo.toFixed(3)}-${hi.toFixed(3)}), ` +
    `max ${s(r.latencies[r.latencies.length - 1] ?? Number.NaN)} over ${r.latencies.length.toLocaleString('en-US')} samples` +
    ` (${r.missing} of ${r.samples} not seen, ${r.publishErrors} publish errors); p99 per 10 s block ` +
    `${blocks.length > 0 ? `${Math.min(...blocks).toFixed(3)}-${Math.max(...blocks).toFixed(3)} s` : 'n/a'}; ` +
    `lower bounds p50 ${s(quantile(r.lowerBounds, 0.5))}, p99 ${s(quantile(r.lowerBounds, 0.99))}; ` +
    `publish acked p50 ${s(quantile(r.publishAcks, 0.5))}, p99 ${s(quantile(r.publishAcks, 0.99))}; ` +
    `poll ${quantile(r.pollMs, 0.5).toFixed(0)} ms median, ${quantile(r.pollMs, 0.99).toFixed(0)} ms p99; ` +
    `groups taken late by ${quantile(r.takenLateMs, 0.5).toFixed(0)} ms median, ${quantile(r.takenLateMs, 0.99).toFixed(0)} ms p99; ` +
    `InfluxDB served ${r.influxWrites.requests} writes of ${r.influxWrites.meanMs.toFixed(1)} ms mean, ` +
    `${r.influxQueries.requests} polls of ${r.influxQueries.meanMs.toFixed(1)} ms mean`
  );
}
