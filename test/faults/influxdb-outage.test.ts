/**
 * Issue 4, fault 3: InfluxDB stopped for 30 s under a running `gpumon consume` while samples keep coming: the
 * consumer waits, catches up once InfluxDB is back, and InfluxDB holds exactly N points. Own Kafka and
 * InfluxDB (helpers.ts); InfluxDB comes back with its data and on its port.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { startGpumon } from '../e2e/helpers.ts';
import { PrivateServices, pointsIn, sleep, until } from './helpers.ts';

const T0 = Date.UTC(2026, 10, 25, 12);
const OUTAGE_MS = 30_000;
const services = new PrivateServices();

describe('InfluxDB stopped for 30 s under gpumon consume (own Kafka and InfluxDB)', () => {
  before(() => services.start('kafka', 'influxdb'));
  after(() => services.stopAll());

  it('waits, catches up once InfluxDB is back and ends with exactly N points', async (t) => {
    const id = randomBytes(4).toString('hex');
    const topic = `gpumon-faults-influx-${id}`;
    const db = `gpumon_faults_influx_${id}`;
    const { kafka, influxdb } = services;

    const source = new SimSource({ hosts: 2, gpusPerHost: 4, seed: 7 });
    await source.open();
    const producer = new KafkaTransport({ brokers: kafka, topic, dlqTopic: `${topic}-dlq`, partitions: 3 });
    let reads = 0;
    let sent = 0;
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const samples = await source.read(T0 + reads++ * 1000);
        await producer.publish(samples);
        sent += samples.length;
      }
    };

    const consume = startGpumon(
      ['consume', '--brokers', kafka, '--topic', topic, '--influxdb', influxdb, '--sinks', 'influxdb'],
      {
        GPUMON_INFLUXDB_DATABASE: db,
        GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
        GPUMON_INFLUXDB_TIMEOUT_MS: '2000',
        GPUMON_LOG_LEVEL: 'warn',
      },
    );
    try {
      await publish(50);
      await until(
        `${sent} points before the outage`,
        async () => (await pointsIn(influxdb, db)) === sent,
        60_000,
      );

      await services.stop('influxdb');
      const outageEnds = Date.now() + OUTAGE_MS;
      while (Date.now() < outageEnds) {
        await publish(1); // a read every 250 ms all through the outage
        await sleep(250);
      }
      assert.equal(consume.child.exitCode, null, `the consumer keeps running: ${consume.stderr()}`);
      const duringOutage = sent;
      await services.restart('influxdb');
      t.diagnostic(`${duringOutage} samples published before InfluxDB came back`);

      await publish(50);
      await producer.close();
      let points = 0;
      await until(
        `${sent} points after the outage`,
        async () => {
          points = await pointsIn(influxdb, db);
          return points >= sent;
        },
        90_000,
        200,
      );
      await sleep(1500);
      assert.equal(await pointsIn(influxdb, db), sent, 'exactly N points: none lost, none extra');
    } finally {
      await producer.close();
      consume.child.kill('SIGINT');
    }
    const { code } = await consume.exited;
    assert.equal(code, 0, consume.stderr());
    assert.match(consume.stdout(), new RegExp(`gpumon-influxdb: ${sent} samples received`));
  });
});
