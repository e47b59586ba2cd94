/**
 * The InfluxDB sinks against the real InfluxDB 1.x that scripts/test starts (docs/services.md): each test
 * writes to a database of its own, reads back with InfluxQL, and drops it. They fail, never skip, without it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import type { GpumonError } from '../../src/errors.ts';
import { METRICS } from '../../src/metrics/catalog.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { AlertEvaluator } from '../../src/pipeline/alerts.ts';
import type { InfluxDbOptions } from '../../src/sinks/influxdb/influx-client.ts';
import { InfluxDbSink } from '../../src/sinks/influxdb/influxdb-sink.ts';
import { InfluxDbStreamSink } from '../../src/sinks/influxdb/stream-sink.ts';
import { testSample } from '../../src/testing/samples.ts';
import { influxQuery, influxUrl, influxWrite } from '../../src/testing/services.ts';

const config = loadConfig();
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
/** The model of testSample's GPUs. */
const MODEL = testSample({ ts: T0 }).model;
const databases: string[] = [];

/** Options for a fresh database (not created: the sink creates it on its first write). */
async function freshDatabase(over: Partial<InfluxDbOptions> = {}): Promise<InfluxDbOptions> {
  const url = await influxUrl();
  const database = `gpumon_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  databases.push(database);
  return { ...config.influxdb, url, database, ...over };
}

after(async () => {
  const url = await influxUrl();
  for (const db of databases) await influxQuery(url, `DROP DATABASE "${db}"`);
});

async function select(options: InfluxDbOptions, q: string) {
  const [result] = await influxQuery(options.url, q, options.database);
  return result?.series ?? [];
}

async function countPoints(options: InfluxDbOptions, measurement = 'gpu_metrics', field = 'temperature_gpu') {
  const series = await select(options, `SELECT count("${field}") FROM "${measurement}"`);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

/** `n` samples over 4 GPUs of 2 hosts, one per GPU per second, every metric set. */
function fleet(n: number, t0 = T0): GpuSample[] {
  const values = Object.fromEntries(METRICS.map((m, i) => [m.name, m.type === 'int64' ? i * 1000 : i + 0.5]));
  return Array.from({ length: n }, (_, i) =>
    testSample(
      { ...values, ts: t0 + Math.floor(i / 8) * 1000, gpu_temperature_celsius: 30 + (i % 50) },
      i % 4,
      `node-${(i >> 2) % 2}`,
    ),
  );
}

describe('InfluxDbSink against InfluxDB 1.x', () => {
  it('creates the database on the first write and stores N samples as exactly N points', async () => {
    const options = await freshDatabase({ batchLines: 1000 });
    const sink = new InfluxDbSink(options);
    await sink.write(fleet(2500));
    assert.equal(await countPoints(options), 2500);
    assert.deepEqual(sink.stats(), { points: 2500, requests: 3, rejected: 0, skippedEmpty: 0 });
  });

  it('returns the exact values, tags and types of a hand-built sample with nasty names', async () => {
    const options = await freshDatabase();
    const sample = testSample({
      ts: T0 + 123,
      host: 'rack 7,node=3',
      model: 'NVIDIA "A100", SXM',
      uuid: 'GPU-1234',
      driver_version: 'say "550" \\ beta',
      gpu_utilization_percent: 71.5,
      gpu_memory_used_bytes: 34_359_738_368,
      gpu_power_draw_watts: 1e-7,
      gpu_performance_state: 2,
    });
    await new InfluxDbSink(options).write([sample]);
    const [series] = await select(
      options,
      'SELECT "utilization_gpu", "memory_used_bytes", "power_draw_watts", "pstate", "driver_version", "host", "gpu", "model", "uuid" FROM "gpu_metrics"',
    );
    assert.deepEqual(series?.values, [
      [
        T0 + 123,
        71.5,
        34_359_738_368,
        1e-7,
        2,
        'say "550" \\ beta',
        'rack 7,node=3',
        '0',
        'NVIDIA "A100", SXM',
        'GPU-1234',
      ],
    ]);
    const [types] = await select(options, 'SHOW FIELD KEYS FROM "gpu_metrics"');
    assert.deepEqual(Object.fromEntries((types?.values ?? []).map(([k, t]) => [k, t])), {
      driver_version: 'string',
      memory_used_bytes: 'integer',
      power_draw_watts: 'float',
      pstate: 'integer',
      utilization_gpu: 'float',
    });
  });

  it('adds no point when the same batch is written again (same series and timestamp overwrite)', async () => {
    const options = await freshDatabase({ batchLines: 300 });
    const sink = new InfluxDbSink(options);
    const batch = fleet(1000);
    await sink.write(batch);
    await sink.write(batch);
    await sink.write(batch.slice(200, 700));
    assert.equal(await countPoints(options), 1000);
  });

  it('counts a field type conflict as done: the good points are written, the refusal is reported once', async () => {
    const options = await freshDatabase();
    const url = options.url;
    await influxQuery(url, `CREATE DATABASE "${options.database}"`);
    await influxWrite(
      url,
      options.database,
      `gpu_metrics,gpu=9,host=x,model=m,uuid=u temperature_gpu=1i ${T0}`,
    );
    const refused: GpumonError[] = [];
    const sink = new InfluxDbSink(options, { onRejected: (e) => refused.push(e) });
    await sink.write([
      testSample({ ts: T0, gpu_temperature_celsius: 40 }),
      testSample({ ts: T0, gpu_utilization_percent: 5 }, 1),
    ]);
    assert.equal(refused.length, 1);
    assert.match(
      refused[0]?.message ?? '',
      /400 partial write: field type conflict: .*temperature_gpu.* dropped=1/,
    );
    assert.deepEqual(sink.stats(), { points: 1, requests: 1, rejected: 1, skippedEmpty: 0 });
    assert.equal(await countPoints(options, 'gpu_metrics', 'utilization_gpu'), 1);
  });

  it('writes fast enough for a fleet: 100,000 full samples', async (t) => {
    const options = await freshDatabase();
    const sink = new InfluxDbSink(options);
    const batch = fleet(100_000);
    const started = performance.now();
    await sink.write(batch);
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `${Math.round(100_000 / seconds)} points/s (${METRICS.length} fields each, batchLines 5000, gzip)`,
    );
    assert.equal(await countPoints(options), 100_000);
  });
});

describe('the stream sink of gpumon consume against InfluxDB 1.x', () => {
  it('writes hand-computed 30 s aggregates of two GPUs over two windows to gpu_metrics_30s', async () => {
    const options = await freshDatabase();
    const sink = new InfluxDbStreamSink(options, {
      windowSeconds: 30,
      alerts: new AlertEvaluator(config.alerts, 60_000),
    });
    const s = (sec: number, gpu: number, temp: number, util: number, mem: number) =>
      testSample(
        {
          ts: T0 + sec * 1000,
          gpu_temperature_celsius: temp,
          gpu_utilization_percent: util,
          gpu_memory_used_bytes: mem,
        },
        gpu,
      );
    await sink.write([
      s(0, 0, 40, 10, 100),
      s(10, 0, 50, 20, 300),
      s(5, 1, 70, 90, 1000),
      s(20, 0, 60, 60, 200),
    ]);
    await sink.write([s(30, 0, 65, 50, 400), s(35, 1, 75, 95, 2000), s(45, 1, 77, 97, 4000)]);
    await sink.write([s(15, 0, 99, 99, 9)]); // late: window 0 of GPU 0 is closed
    await sink.close();
    assert.equal(sink.windows.lateCount(), 1);
    const series = await select(
      options,
      'SELECT "samples", "temperature_gpu_avg", "temperature_gpu_min", "temperature_gpu_max", "utilization_gpu_avg", "memory_used_bytes_min", "memory_used_bytes_max" FROM "gpu_metrics_30s" GROUP BY "gpu"',
    );
    assert.deepEqual(
      series.map((x) => [x.tags, x.values]),
      [
        [
          { gpu: '0' },
          [
            [T0, 3, 50, 40, 60, 30, 100, 300],
            [T0 + 30_000, 1, 65, 65, 65, 50, 400, 400],
          ],
        ],
        [
          { gpu: '1' },
          [
            [T0, 1, 70, 70, 70, 90, 1000, 1000],
            [T0 + 30_000, 2, 76, 75, 77, 96, 2000, 4000],
          ],
        ],
      ],
    );
  });

  it('writes alerts to gpu_alerts with host, gpu, uuid and rule tags and value and threshold fields', async () => {
    const options = await freshDatabase();
    const sink = new InfluxDbStreamSink(options, {
      windowSeconds: 30,
      alerts: new AlertEvaluator(config.alerts, 60_000),
    });
    await sink.write([
      testSample({ ts: T0, gpu_temperature_celsius: 50 }, 0),
      testSample({ ts: T0 + 1000, gpu_temperature_celsius: 85 }, 0),
      testSample({ ts: T0 + 1000, gpu_utilization_percent: 95 }, 1, 'node-2'),
    ]);
    const series = await select(
      options,
      'SELECT "value", "threshold" FROM "gpu_alerts" GROUP BY "host", "gpu", "uuid", "model", "rule"',
    );
    assert.deepEqual(
      series.map((x) => [x.tags, x.values]),
      [
        // model: testSample's, the same tag as on gpu_metrics, so the dashboards' Model variable filters alerts
        [
          { gpu: '0', host: 'node-1', model: MODEL, rule: 'high_temperature', uuid: 'GPU-node-1-0' },
          [[T0 + 1000, 85, 80]],
        ],
        [
          { gpu: '0', host: 'node-1', model: MODEL, rule: 'temperature_spike', uuid: 'GPU-node-1-0' },
          [[T0 + 1000, 35, 5]],
        ],
        [
          { gpu: '1', host: 'node-2', model: MODEL, rule: 'high_load', uuid: 'GPU-node-2-1' },
          [[T0 + 1000, 95, 90]],
        ],
      ],
    );
  });
});
