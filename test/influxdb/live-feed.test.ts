/**
 * gpumon serve's live feed against the real InfluxDB 1.x (docs/services.md): samples written by the real sink,
 * read back by InfluxDbLiveFeed through InfluxClient, equal to what was written, nulls and identity included.
 * Each test has a database of its own, dropped at the end. Fails, never skips, without InfluxDB.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { InfluxDbLiveFeed } from '../../src/live/influxdb/influxdb-live-feed.ts';
import { METRICS } from '../../src/metrics/catalog.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { LiveState } from '../../src/pipeline/live-state.ts';
import { InfluxClient, type InfluxDbOptions } from '../../src/sinks/influxdb/influx-client.ts';
import { InfluxDbSink } from '../../src/sinks/influxdb/influxdb-sink.ts';
import { capturingLogger } from '../../src/testing/logger.ts';
import { testSample } from '../../src/testing/samples.ts';
import { influxQuery, influxUrl, influxWrite } from '../../src/testing/services.ts';

const config = loadConfig();
const databases: string[] = [];

async function freshDatabase(): Promise<InfluxDbOptions> {
  const url = await influxUrl();
  const database = `gpumon_live_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  databases.push(database);
  return { ...config.influxdb, url, database };
}

after(async () => {
  const url = await influxUrl();
  for (const db of databases) await influxQuery(url, `DROP DATABASE "${db}"`).catch(() => undefined);
});

function feedOf(options: InfluxDbOptions, now: number, querySeries = 100) {
  const live = new LiveState(600_000);
  const { logger, lines } = capturingLogger();
  const feed = new InfluxDbLiveFeed({
    client: new InfluxClient(options),
    target: `${options.url} database ${options.database}`,
    live,
    windowMs: 600_000,
    pollMs: 1000,
    intervalMs: 1000,
    querySeries,
    queryPoints: 2000,
    logger,
    now: () => now,
  });
  return { feed, live, lines };
}

describe('InfluxDbLiveFeed against InfluxDB 1.x', () => {
  it('reads back exactly the samples the sink wrote: every metric, the nulls as nulls, the identity from tags and fields', async () => {
    const options = await freshDatabase();
    const now = Date.now();
    // every metric within its catalog range (some are small: a PCIe generation): integers as integers, floats
    // with a fraction, each a different value
    const inRange = (m: (typeof METRICS)[number], i: number) => {
      const step = Math.min(i, m.max - m.min - 1);
      return m.min + step + (m.type === 'int64' ? 1 : 0.25);
    };
    const full = {
      ...Object.fromEntries(METRICS.map((m, i) => [m.name, inRange(m, i)])),
      gpu_memory_total_bytes: 85_899_345_920,
      gpu_energy_joules_total: 123_456_789.125,
    };
    const written: GpuSample[] = [
      // every metric set, and the identity fields without a tag
      {
        ...testSample({ ...full, ts: now - 3000 }, 0, 'node "a", rack 1'),
        pci_bus_id: '00000000:3B:00.0',
        driver_version: '550.54.15',
      },
      // a few metrics only: the rest must come back null, not 0
      testSample({ ts: now - 2000, gpu_temperature_celsius: 0, gpu_utilization_percent: 12.5 }, 7, 'node-b'),
      testSample({ ts: now - 1000, gpu_fan_speed_percent: 40 }, 7, 'node-b'),
    ];
    await new InfluxDbSink(options).write(written);
    const { feed, live } = feedOf(options, now);
    await feed.poll();
    assert.equal(feed.health().lastError, null);
    const byUuid = new Map(live.latest().map((s) => [s.uuid, s]));
    assert.deepEqual(byUuid.get(written[0]?.uuid ?? ''), written[0]);
    assert.deepEqual(byUuid.get(written[2]?.uuid ?? ''), written[2]);
    assert.deepEqual(live.series(written[1]?.uuid ?? '', 'gpu_temperature_celsius', 0), {
      ts: [now - 2000, now - 1000],
      values: [0, null],
    });
  });

  it('pages through more GPUs than one query asks for, and reads only what is new at the next poll', async () => {
    const options = await freshDatabase();
    const now = Date.now();
    const sink = new InfluxDbSink(options);
    const batch = (ts: number) =>
      Array.from({ length: 25 }, (_, g) =>
        testSample({ ts, gpu_temperature_celsius: 40 + g }, g % 8, `h${g >> 3}`),
      );
    await sink.write([...batch(now - 2000), ...batch(now - 1000)]);
    const { feed, live } = feedOf(options, now, 10);
    await feed.poll();
    assert.equal(live.latest().length, 25);
    const applied: GpuSample[] = [];
    live.subscribe(({ samples }) => applied.push(...samples));
    await sink.write(batch(now));
    await feed.poll();
    assert.equal(applied.length, 25);
    assert.ok(applied.every((s) => s.ts === now));
  });

  it('skips and counts a point that is not a valid sample (a value beyond the catalog), keeping the others', async () => {
    const options = await freshDatabase();
    const now = Date.now();
    await new InfluxDbSink(options).write([testSample({ ts: now - 2000, gpu_temperature_celsius: 50 })]);
    await influxWrite(
      options.url,
      options.database,
      `gpu_metrics,gpu=0,host=node-1,model=X,uuid=GPU-bad temperature_gpu=999 ${now - 1000}`,
    );
    const { feed, live, lines } = feedOf(options, now);
    await feed.poll();
    assert.deepEqual(
      live.latest().map((s) => s.uuid),
      ['GPU-node-1-0'],
    );
    assert.equal(feed.health().invalid, 1);
    assert.ok(lines.some((l) => /not valid samples/.test(l.msg)));
  });

  it('fails a poll with LIVE_READ_FAILED naming the database when it does not exist', async () => {
    const options = { ...(await freshDatabase()), database: 'gpumon_live_does_not_exist' };
    const { feed } = feedOf(options, Date.now());
    await feed.poll();
    assert.equal(feed.health().failures, 1);
    assert.match(feed.health().lastError ?? '', /database not found: gpumon_live_does_not_exist/);
  });
});
