import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GpumonError } from '../../errors.ts';
import { METRICS } from '../../metrics/catalog.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { AlertEvaluator } from '../../pipeline/alerts.ts';
import { LiveState } from '../../pipeline/live-state.ts';
import { capturingLogger } from '../../testing/logger.ts';
import { testSample } from '../../testing/samples.ts';
import { followMs, InfluxDbLiveFeed, type InfluxQuerier } from './influxdb-live-feed.ts';

/**
 * A fake InfluxDB that answers the feed's queries as 1.x would: the points of gpu_metrics in the time range,
 * one series per GPU (sorted by its tags), each oldest first and cut at LIMIT, series paged by SLIMIT/SOFFSET.
 * Only points "written" so far are seen.
 */
class FakeInflux implements InfluxQuerier {
  readonly points: GpuSample[] = [];
  readonly queries: string[] = [];
  readonly rowsPerAnswer: number[] = [];
  failWith: Error | null = null;

  write(...samples: GpuSample[]): void {
    this.points.push(...samples);
  }

  async query(q: string): Promise<unknown[]> {
    this.queries.push(q);
    if (this.failWith) throw this.failWith;
    const num = (re: RegExp) => {
      const m = re.exec(q);
      return m ? Number(m[1]) : null;
    };
    const from = num(/time > (\d+)ms/) ?? 0;
    const to = num(/time <= (\d+)ms/) ?? Number.POSITIVE_INFINITY;
    const limit = num(/ LIMIT (\d+)/) ?? Number.POSITIVE_INFINITY;
    const slimit = num(/SLIMIT (\d+)/) ?? Number.POSITIVE_INFINITY;
    const soffset = num(/SOFFSET (\d+)/) ?? 0;
    const byGpu = new Map<string, GpuSample[]>();
    for (const p of this.points) {
      if (p.ts <= from || p.ts > to) continue;
      const key = `${p.gpu_index}\0${p.host}\0${p.model}\0${p.uuid}`;
      byGpu.set(key, [...(byGpu.get(key) ?? []), p]);
    }
    const series = [...byGpu.keys()]
      .sort()
      .slice(soffset, soffset + slimit)
      .map((key) => {
        const rows = (byGpu.get(key) ?? []).sort((a, b) => a.ts - b.ts).slice(0, limit);
        const first = rows[0] as GpuSample;
        return {
          name: 'gpu_metrics',
          tags: { gpu: String(first.gpu_index), host: first.host, model: first.model, uuid: first.uuid },
          columns: ['time', ...METRICS.map((m) => m.influx), 'pci_bus_id', 'driver_version'],
          values: rows.map((r) => [r.ts, ...METRICS.map((m) => r[m.name]), r.pci_bus_id, r.driver_version]),
        };
      });
    this.rowsPerAnswer.push(series.reduce((n, s) => n + s.values.length, 0));
    return [series.length ? { statement_id: 0, series } : { statement_id: 0 }];
  }
}

/** `hosts` x `gpus` GPUs sampled every second over [from, to], with temperature = seconds % 60. */
function fleet(hosts: number, gpus: number, from: number, to: number): GpuSample[] {
  const out: GpuSample[] = [];
  for (let ts = from; ts <= to; ts += 1000) {
    for (let h = 0; h < hosts; h++) {
      for (let g = 0; g < gpus; g++) {
        out.push(testSample({ ts, gpu_temperature_celsius: (ts / 1000) % 60 }, g, `node-${h}`));
      }
    }
  }
  return out;
}

const T0 = 1_795_600_800_000;

function feedOf(
  client: FakeInflux,
  clock: { now: number },
  overrides: Partial<{ querySeries: number; queryPoints: number; windowMs: number; pollMs: number }> = {},
) {
  const live = new LiveState(overrides.windowMs ?? 60_000);
  const { logger, lines } = capturingLogger();
  const feed = new InfluxDbLiveFeed({
    client,
    target: 'http://influxdb:8086 database gpumon',
    live,
    alerts: new AlertEvaluator(
      {
        highTempCelsius: 80,
        highCpuTempCelsius: 80,
        highLoadPercent: 90,
        tempSpikeCelsius: 5,
        highPowerPercent: 95,
        repeatSeconds: 0,
      },
      60_000,
    ),
    windowMs: overrides.windowMs ?? 60_000,
    pollMs: overrides.pollMs ?? 2000,
    intervalMs: 1000,
    querySeries: overrides.querySeries ?? 100,
    queryPoints: overrides.queryPoints ?? 20_000,
    logger,
    now: () => clock.now,
  });
  return { feed, live, lines };
}

describe('InfluxDbLiveFeed', () => {
  it('reads the whole live window at the first poll: every GPU, with its recent series', async () => {
    const influx = new FakeInflux();
    influx.write(...fleet(3, 2, T0 - 120_000, T0));
    const clock = { now: T0 + 500 };
    const { feed, live } = feedOf(influx, clock);
    await feed.poll();
    assert.equal(live.latest().length, 6);
    assert.ok(live.latest().every((s) => s.ts === T0));
    const series = live.series('GPU-node-2-1', 'gpu_temperature_celsius', 0);
    assert.equal(series?.ts[0], T0 - 59_000, 'the window, not more');
    assert.equal(series?.ts.length, 60);
    assert.deepEqual(series?.values.slice(-2), [(T0 / 1000 - 1) % 60, (T0 / 1000) % 60]);
    assert.equal(feed.health().gpus, 6);
    assert.equal(feed.health().newestSampleMs, T0);
  });

  it('applies only the samples it has not seen at each next poll: the timestamp advances, nothing twice', async () => {
    const influx = new FakeInflux();
    influx.write(...fleet(2, 2, T0 - 10_000, T0));
    const clock = { now: T0 + 500 };
    const { feed, live } = feedOf(influx, clock);
    await feed.poll();
    const applied: GpuSample[] = [];
    live.subscribe(({ samples }) => applied.push(...samples));
    influx.write(...fleet(2, 2, T0 + 1000, T0 + 2000));
    clock.now = T0 + 2500;
    await feed.poll();
    assert.equal(applied.length, 8, 'two new samples of each of 4 GPUs');
    assert.ok(live.latest().every((s) => s.ts === T0 + 2000));
    await feed.poll();
    assert.equal(applied.length, 8, 'a poll with nothing new applies nothing');
    assert.equal(live.series('GPU-node-0-0', 'gpu_temperature_celsius', 0)?.ts.length, 13);
  });

  it('asks from the oldest latest sample of the GPUs that keep up, not from the window again', async () => {
    const influx = new FakeInflux();
    influx.write(...fleet(1, 2, T0 - 5000, T0));
    const clock = { now: T0 + 500 };
    const { feed } = feedOf(influx, clock);
    await feed.poll();
    influx.queries.length = 0;
    clock.now = T0 + 2500;
    await feed.poll();
    assert.match(influx.queries[0] ?? '', new RegExp(`time > ${T0}ms`));
  });

  it('still gets every sample of a GPU whose samples reach InfluxDB later than the others', async () => {
    const influx = new FakeInflux();
    const clock = { now: T0 + 500 };
    const slow = (from: number, to: number) => fleet(1, 2, from, to).filter((s) => s.gpu_index === 1);
    const fast = (from: number, to: number) => fleet(1, 2, from, to).filter((s) => s.gpu_index === 0);
    influx.write(...fast(T0 - 3000, T0), ...slow(T0 - 3000, T0 - 2000));
    const { feed, live } = feedOf(influx, clock);
    await feed.poll();
    influx.write(...slow(T0 - 1000, T0 + 3000), ...fast(T0 + 1000, T0 + 3000));
    clock.now = T0 + 3500;
    await feed.poll();
    const series = live.series('GPU-node-0-1', 'gpu_temperature_celsius', 0);
    assert.deepEqual(
      series?.ts,
      [-3, -2, -1, 0, 1, 2, 3].map((s) => T0 + s * 1000),
    );
  });

  it('is not misled by an agent whose clock is an hour ahead: the other GPUs still update', async () => {
    const influx = new FakeInflux();
    const ahead = (ts: number) =>
      testSample({ ts: ts + 3_600_000, gpu_temperature_celsius: 40 }, 0, 'skewed');
    influx.write(...fleet(2, 1, T0 - 2000, T0), ahead(T0));
    const clock = { now: T0 + 500 };
    const { feed, live } = feedOf(influx, clock);
    await feed.poll();
    influx.write(...fleet(2, 1, T0 + 1000, T0 + 2000), ahead(T0 + 2000));
    clock.now = T0 + 2500;
    await feed.poll();
    const latest = new Map(live.latest().map((s) => [s.host, s.ts]));
    assert.deepEqual(Object.fromEntries(latest), {
      'node-0': T0 + 2000,
      'node-1': T0 + 2000,
      skewed: T0 + 3_602_000,
    });
  });

  it('keeps every query bounded: SLIMIT querySeries, LIMIT queryPoints / querySeries, pages until a short one', async () => {
    const influx = new FakeInflux();
    influx.write(...fleet(5, 5, T0 - 60_000, T0)); // 25 GPUs x 61 s
    const clock = { now: T0 + 500 };
    const { feed, live } = feedOf(influx, clock, { querySeries: 10, queryPoints: 200 });
    await feed.poll();
    assert.equal(live.latest().length, 25);
    assert.equal(live.series('GPU-node-4-4', 'gpu_temperature_celsius', 0)?.ts.length, 60);
    assert.ok(
      influx.queries.every((q) => / LIMIT 20 SLIMIT 10 SOFFSET \d+$/.test(q)),
      influx.queries[0],
    );
    assert.ok(
      Math.max(...influx.rowsPerAnswer) <= 200,
      `at most 200 rows an answer: ${Math.max(...influx.rowsPerAnswer)}`,
    );
    // spans of 10 s (half of 20 intervals): 6 spans, each 3 pages (10, 10, 5 GPUs)
    assert.equal(influx.queries.length, 18);
  });

  it('raises the alerts of the samples it reads, as gpumon up does', async () => {
    const influx = new FakeInflux();
    influx.write(
      testSample({ ts: T0 - 1000, gpu_temperature_celsius: 60 }),
      testSample({ ts: T0, gpu_temperature_celsius: 85 }),
    );
    const clock = { now: T0 + 500 };
    const { feed, live } = feedOf(influx, clock);
    await feed.poll();
    assert.deepEqual(
      live
        .recentAlerts(10)
        .map((a) => a.rule)
        .sort(),
      ['high_temperature', 'temperature_spike'],
    );
  });

  it('survives InfluxDB away: counts and logs the failures once, changes nothing, and reads on when it answers', async () => {
    const influx = new FakeInflux();
    influx.write(...fleet(1, 1, T0 - 2000, T0));
    const clock = { now: T0 + 500 };
    const { feed, live, lines } = feedOf(influx, clock);
    await feed.poll();
    influx.failWith = new GpumonError(
      'SINK_WRITE_FAILED',
      'cannot reach InfluxDB at http://influxdb:8086: ECONNREFUSED',
    );
    for (let i = 1; i <= 3; i++) {
      clock.now = T0 + 500 + i * 2000;
      await feed.poll();
    }
    const health = feed.health();
    assert.equal(health.failures, 3);
    assert.equal(health.failingSinceMs, T0 + 2500);
    assert.match(
      health.lastError ?? '',
      /live fleet from http:\/\/influxdb:8086 database gpumon: .*ECONNREFUSED/,
    );
    assert.equal(lines.filter((l) => /cannot read InfluxDB/.test(l.msg)).length, 1, 'logged once per outage');
    assert.equal(
      (lines.find((l) => /cannot read InfluxDB/.test(l.msg))?.err as { code?: string })?.code,
      'LIVE_READ_FAILED',
    );
    assert.equal(live.latest()[0]?.ts, T0, 'the live state keeps what it had');
    influx.failWith = null;
    influx.write(...fleet(1, 1, T0 + 1000, T0 + 7000));
    clock.now = T0 + 8000;
    await feed.poll();
    assert.equal(feed.health().failingSinceMs, null);
    assert.equal(feed.health().lastError, null);
    assert.equal(live.latest()[0]?.ts, T0 + 7000);
    assert.equal(
      live.series('GPU-node-0-0', 'gpu_temperature_celsius', 0)?.ts.length,
      10,
      'the outage left no gap',
    );
    assert.ok(lines.some((l) => /answers again/.test(l.msg)));
  });

  it('skips rows that are not valid samples, counts them and logs the first once', async () => {
    const influx = new FakeInflux();
    influx.write(testSample({ ts: T0 - 1000, gpu_temperature_celsius: 50 }), {
      ...testSample({ ts: T0, gpu_temperature_celsius: 50 }),
      gpu_utilization_percent: 250,
    });
    const clock = { now: T0 + 500 };
    const { feed, live, lines } = feedOf(influx, clock);
    await feed.poll();
    await feed.poll();
    assert.equal(live.latest()[0]?.ts, T0 - 1000);
    assert.equal(feed.health().invalid, 2, 'counted at each poll that reads it');
    assert.equal(lines.filter((l) => /not valid samples/.test(l.msg)).length, 1);
  });

  it('polls every pollMs once started, and stop waits for the poll in flight', async () => {
    const influx = new FakeInflux();
    const { feed: fast } = feedOf(influx, { now: T0 }, { pollMs: 20 });
    fast.start();
    // A second is some 50 polls at 20 ms; even on a loaded machine (timers late) well over 5, which a feed
    // polling at its default interval instead would not reach.
    await new Promise((r) => setTimeout(r, 1000));
    await fast.stop();
    const after = influx.queries.length;
    assert.ok(after >= 5, `polled ${after} times in 1 s at 20 ms`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(influx.queries.length, after, 'no poll after stop');
  });

  it('stops in the middle of a long first read without sending its remaining queries', async () => {
    const influx = new FakeInflux();
    influx.write(...fleet(10, 4, T0 - 60_000, T0));
    const slow: InfluxQuerier = {
      query: async (q) => {
        await new Promise((r) => setTimeout(r, 20));
        return influx.query(q);
      },
    };
    const live = new LiveState(60_000);
    const feed = new InfluxDbLiveFeed({
      client: slow,
      target: 'test',
      live,
      windowMs: 60_000,
      pollMs: 1000,
      intervalMs: 1000,
      querySeries: 1, // 40 GPUs: 41 queries a span
      queryPoints: 100,
      logger: capturingLogger().logger,
      now: () => T0 + 500,
    });
    feed.start();
    await new Promise((r) => setTimeout(r, 100));
    const stopping = Date.now();
    await feed.stop();
    assert.ok(Date.now() - stopping < 500, `stop took ${Date.now() - stopping} ms`);
    const sent = influx.queries.length;
    assert.ok(sent < 20, `${sent} queries before the stop`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(influx.queries.length, sent);
  });

  it('waits for a GPU that lags by up to the larger of 10 s and three polls or intervals', () => {
    assert.equal(followMs(2000, 1000), 10_000);
    assert.equal(followMs(5000, 1000), 15_000);
    assert.equal(followMs(1000, 30_000), 90_000);
  });
});
