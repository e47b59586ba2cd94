/**
 * Issue 4, fault 1: `gpumon consume` killed with SIGKILL in the middle of a stream and started again loses no
 * sample and adds none: exactly N points in InfluxDB afterwards. Own Kafka and InfluxDB (helpers.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { type Running, startGpumon } from '../e2e/helpers.ts';
import { PrivateServices, pointsIn, sleep, until } from './helpers.ts';

const T0 = Date.UTC(2026, 10, 25, 12);
const READS = 2000; // x 8 GPUs
const services = new PrivateServices();

describe('gpumon consume killed with SIGKILL mid-stream (own Kafka and InfluxDB)', () => {
  before(() => services.start('kafka', 'influxdb'));
  after(() => services.stopAll());

  it('writes exactly N points once it is started again: no loss, no duplicate', async (t) => {
    const id = randomBytes(4).toString('hex');
    const topic = `gpumon-faults-kill-${id}`;
    const db = `gpumon_faults_kill_${id}`;
    const { kafka, influxdb } = services;

    const source = new SimSource({ hosts: 2, gpusPerHost: 4, seed: 7 });
    await source.open();
    const producer = new KafkaTransport({ brokers: kafka, topic, dlqTopic: `${topic}-dlq`, partitions: 3 });
    let sent = 0;
    try {
      for (let i = 0; i < READS; i += 20) {
        const batch = [];
        for (let j = i; j < i + 20; j++) batch.push(...(await source.read(T0 + j * 1000)));
        await producer.publish(batch);
        sent += batch.length;
      }
    } finally {
      await producer.close();
    }
    assert.equal(sent, READS * 8);

    const consume = () =>
      startGpumon(
        ['consume', '--brokers', kafka, '--topic', topic, '--influxdb', influxdb, '--sinks', 'influxdb'],
        {
          GPUMON_INFLUXDB_DATABASE: db,
          GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
          // small requests, so that the stream takes long enough to be cut in the middle
          GPUMON_INFLUXDB_BATCH_LINES: '250',
          GPUMON_LOG_LEVEL: 'warn',
        },
      );

    let running: Running = consume();
    try {
      await until('the first points in InfluxDB', async () => (await pointsIn(influxdb, db)) > 0, 60_000, 20);
      running.child.kill('SIGKILL');
      assert.equal((await running.exited).signal, 'SIGKILL');
      const atKill = await pointsIn(influxdb, db);
      t.diagnostic(`SIGKILL with ${atKill} of ${sent} points in InfluxDB`);
      assert.ok(atKill > 0 && atKill < sent, `killed mid-stream: ${atKill} of ${sent} points were written`);

      running = consume();
      let points = 0;
      await until(
        `${sent} points after the restart`,
        async () => {
          points = await pointsIn(influxdb, db);
          assert.ok(points <= sent, `${points} points for ${sent} samples`);
          return points === sent;
        },
        90_000,
        200,
      );
      await sleep(1500);
      assert.equal(await pointsIn(influxdb, db), sent, 'still exactly N points a moment later');
    } finally {
      running.child.kill('SIGINT');
    }
    const { code } = await running.exited;
    assert.equal(code, 0, running.stderr());
    assert.equal(await pointsIn(influxdb, db), sent, 'exactly N points: no loss, no duplicate');
  });
});
