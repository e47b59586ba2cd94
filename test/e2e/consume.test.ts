import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { AlertEvaluator } from '../../src/pipeline/alerts.ts';
import { countArchiveRows } from '../../src/sinks/archive/archive-reader.ts';
import { LocalStorage } from '../../src/sinks/archive/local-storage.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { influxQuery, influxUrl, kafkaBootstrap } from '../../src/testing/services.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { freePort, interrupt, pollHttp, startGpumon, tempDir, waitFor } from './helpers.ts';

const T0 = Date.UTC(2026, 10, 25, 12);

async function pointsIn(url: string, db: string, measurement = 'gpu_metrics', field = 'utilization_gpu') {
  const [result] = await influxQuery(url, `SELECT count(${field}) FROM ${measurement}`, db).catch(() => []);
  const value = result?.series?.[0]?.values?.[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

describe('gpumon consume (real Kafka and InfluxDB)', () => {
  it('turns N samples on the topic into exactly N points in InfluxDB and N rows in the archive', async () => {
    const brokers = await kafkaBootstrap();
    const influx = await influxUrl();
    const id = randomBytes(4).toString('hex');
    const topic = `gpumon-e2e-${id}`;
    const db = `gpumon_e2e_${id}`;
    const archive = tempDir('consume');

    const source = new SimSource({ hosts: 2, gpusPerHost: 4, seed: 7 });
    await source.open();
    const producer = new KafkaTransport({ brokers, topic, dlqTopic: `${topic}-dlq`, partitions: 3 });
    const all: GpuSample[] = [];
    for (let i = 0; i < 50; i++) {
      const samples = await source.read(T0 + i * 1000);
      await producer.publish(samples);
      all.push(...samples);
    }
    await producer.close();
    const sent = all.length;
    assert.equal(sent, 400);
    // The alerts gpumon consume writes: episodes, reported when they start and every 20 s while they last.
    const config = loadConfig();
    const maxGapMs = config.analytics.maxGapSeconds * 1000;
    const alerts = new AlertEvaluator(config.alerts, maxGapMs, { repeatMs: 20_000 }).evaluate(all).length;
    const firingSamples = new AlertEvaluator(config.alerts, maxGapMs).evaluate(all).length;
    assert.ok(
      alerts > 0 && alerts < firingSamples / 5,
      `${alerts} alerts of ${firingSamples} firing samples`,
    );

    const healthPort = await freePort();
    const consume = startGpumon(
      [
        'consume',
        '--brokers',
        brokers,
        '--topic',
        topic,
        '--influxdb',
        influx,
        '--archive',
        archive,
        '--health-port',
        String(healthPort),
      ],
      {
        GPUMON_INFLUXDB_DATABASE: db,
        GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
        GPUMON_KAFKA_GROUP_PREFIX: `e2e-${id}`,
        GPUMON_ALERTS_REPEAT_SECONDS: '20',
        GPUMON_ARCHIVE_FLUSH_INTERVAL_MS: '500',
        GPUMON_LOG_LEVEL: 'warn',
      },
    );
    try {
      // Each sink is a consumer group of its own: wait for both, or Ctrl-C may stop one before it has read.
      const deadline = Date.now() + 60_000;
      while ((await pointsIn(influx, db)) < sent) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${sent} points in InfluxDB`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      while ((await countArchiveRows(new LocalStorage(archive))) < sent) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${sent} rows in the archive`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // Ready (both groups consuming, no sink failing), and /metrics counts what each sink wrote.
      const ready = await pollHttp(`http://127.0.0.1:${healthPort}/readyz`, (s) => s === 200, 10_000);
      assert.deepEqual(
        (JSON.parse(ready.body) as { checks: { name: string; ok: boolean }[] }).checks.map((c) => c.name),
        [
          `kafka:e2e-${id}-influxdb`,
          `sink:e2e-${id}-influxdb:influxdb`,
          `kafka:e2e-${id}-archive`,
          `sink:e2e-${id}-archive:archive`,
        ],
      );
      const written = new RegExp(
        `^gpumon_consume_sink_written_total\\{group="e2e-${id}-archive",sink="archive"\\} ${sent}$`,
        'm',
      );
      await pollHttp(
        `http://127.0.0.1:${healthPort}/metrics`,
        (s, body) => s === 200 && written.test(body),
        10_000,
      );
    } catch (err) {
      await interrupt(consume).catch(() => undefined);
      throw err;
    }
    const { code } = await interrupt(consume);
    assert.equal(code, 0, consume.stderr());
    assert.equal(await pointsIn(influx, db), sent, 'exactly N points: no loss, no duplicate');
    assert.equal(
      await pointsIn(influx, db, 'gpu_alerts', 'value'),
      alerts,
      'one alert per episode and repeat',
    );
    assert.equal(await countArchiveRows(new LocalStorage(archive)), sent, 'exactly N rows in the archive');
    assert.match(consume.stdout(), new RegExp(`e2e-${id}-archive: ${sent} samples received`));
    await influxQuery(influx, `DROP DATABASE "${db}"`);
  });
});

describe('gpumon consume stopped with Ctrl-C', () => {
  it('exits 0 on its own when its topic is still empty: nothing keeps the process alive', async () => {
    const brokers = await kafkaBootstrap();
    const id = randomBytes(4).toString('hex');
    const topic = `gpumon-e2e-empty-${id}`;
    const consume = startGpumon(
      [
        'consume',
        '--brokers',
        brokers,
        '--topic',
        topic,
        '--sinks',
        'archive',
        '--archive',
        tempDir('empty'),
      ],
      {
        GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
        GPUMON_KAFKA_GROUP_PREFIX: `e2e-empty-${id}`,
        GPUMON_LOG_LEVEL: 'info',
      },
    );
    try {
      // Joined, its stream open and waiting on an empty topic: the state in which the stop used to hang.
      await waitFor(
        'the consumer to join its group',
        () => consume.stderr().includes('joined the consumer group') || null,
        30_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } catch (err) {
      await interrupt(consume).catch(() => undefined);
      throw err;
    }
    const { code } = await interrupt(consume, 15_000);
    assert.equal(code, 0, consume.stderr());
    assert.match(consume.stdout(), new RegExp(`e2e-empty-${id}-archive: 0 samples received`));
  });
});
