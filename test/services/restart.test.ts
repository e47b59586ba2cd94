/**
 * `<service>.sh restart` (docs/services.md): the service stops and starts again on the same run directory, so
 * it keeps its data and comes back on the same address. Each service here is this file's own (a temporary
 * GPUMON_SERVICES_DIR, ports 0); the shared instances are never restarted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { WebHdfsStorage } from '../../src/sinks/archive/webhdfs-storage.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { influxQuery, influxWrite } from '../../src/testing/services.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { PrivateServices, sleep, until } from '../faults/helpers.ts';
import { OwnHdfs } from '../hdfs/own-hdfs.ts';

describe('scripts/services/*.sh restart keeps the data and the address (own instances)', () => {
  const services = new PrivateServices();
  const hdfs = new OwnHdfs();
  after(async () => {
    await services.stopAll();
    await hdfs.stop();
  });

  it('influxdb.sh restart: the points written before are there after, on the same port', async () => {
    await services.start('influxdb');
    const url = services.influxdb;
    await influxQuery(url, 'CREATE DATABASE "kept"');
    const t0 = Date.UTC(2026, 10, 26, 12);
    await influxWrite(url, 'kept', [0, 1, 2].map((i) => `m,host=a v=${i + 0.5} ${t0 + i * 1000}`).join('\n'));

    await services.restart('influxdb'); // throws if the address changed
    assert.equal(services.influxdb, url);
    const [result] = await influxQuery(url, 'SELECT v FROM m', 'kept');
    assert.deepEqual(result?.series?.[0]?.values, [
      [t0, 0.5],
      [t0 + 1000, 1.5],
      [t0 + 2000, 2.5],
    ]);

    // restart after stop (the fault tests' outage): the same
    await services.stop('influxdb');
    await services.restart('influxdb');
    const [again] = await influxQuery(url, 'SELECT count(v) FROM m', 'kept');
    assert.equal(again?.series?.[0]?.values?.[0]?.[1], 3);
  });

  it('kafka.sh restart: the topic, its messages and the committed offsets survive, on the same port', async () => {
    await services.start('kafka');
    const brokers = services.kafka;
    const topic = `restart-${randomBytes(4).toString('hex')}`;
    const options = { brokers, topic, dlqTopic: `${topic}-dlq`, partitions: 1, redeliveryDelayMs: 100 };
    const source = new SimSource({ hosts: 1, gpusPerHost: 2, seed: 9 });
    await source.open();
    const t0 = Date.UTC(2026, 10, 26, 12);
    const publish = async (from: number, reads: number) => {
      const producer = new KafkaTransport(options);
      try {
        for (let i = from; i < from + reads; i++) await producer.publish(await source.read(t0 + i * 1000));
      } finally {
        await producer.close();
      }
    };
    const read = async (group: string, expected: number): Promise<GpuSample[]> => {
      const reader = new KafkaTransport(options);
      const got: GpuSample[] = [];
      try {
        reader.subscribe(group, async (samples) => {
          got.push(...samples);
        });
        await until(`${expected} samples for ${group}`, () => got.length >= expected, 60_000);
        await sleep(1500); // a duplicate would arrive now
      } finally {
        await reader.close();
      }
      return got;
    };

    await publish(0, 10);
    assert.equal((await read('kept-group', 20)).length, 20);
    await publish(10, 10);

    await services.restart('kafka'); // throws if the address changed
    assert.equal(services.kafka, brokers);
    const rest = await read('kept-group', 20);
    assert.equal(rest.length, 20, 'the group goes on from its committed offset');
    assert.ok(
      rest.every((s) => s.ts >= t0 + 10_000),
      'only the messages published after its commit',
    );
    assert.equal((await read('new-group', 40)).length, 40, 'every message is still on the topic');
  });

  it('hdfs.sh restart: the files written before read back the same, on the same WebHDFS address', async () => {
    await hdfs.start();
    const url = hdfs.webhdfs;
    const local = mkdtempSync(join(tmpdir(), 'gpumon-restart-'));
    try {
      const storage = new WebHdfsStorage({ url, root: '/kept', user: 'gpumon', cacheDir: join(local, 'c') });
      const content = randomBytes(3 * 1024 * 1024);
      writeFileSync(join(local, 'f.bin'), content);
      await storage.put(join(local, 'f.bin'), 'd/f.bin');

      const out = await hdfs.script('restart');
      assert.match(out, new RegExp(`^GPUMON_TEST_WEBHDFS=${url}$`, 'm'));
      assert.deepEqual(await storage.list('d'), ['f.bin']);
      const back = readFileSync(await storage.localPath('d/f.bin'));
      assert.ok(back.equals(content), 'the same bytes');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });
});
