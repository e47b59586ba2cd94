/**
 * KafkaTransport against the real broker (docs/services.md): publishing, consumer groups, at-least-once
 * acknowledgement, the dead-letter topic. Each test uses topics and groups of its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { capturingLogger } from '../../src/testing/logger.ts';
import { kafkaBootstrap } from '../../src/testing/services.ts';
import { ENCODING_VERSION, encodeSampleJson } from '../../src/transport/kafka/encoding.ts';
import { DLQ_REASON_HEADER, DLQ_SOURCE_HEADER } from '../../src/transport/kafka/group-consumer.ts';
import { eventually, fleetReads, readRaw, testTransport, tsByGpu, unique } from './helpers.ts';

describe('KafkaTransport', () => {
  it('delivers every sample of a simulated fleet to a consumer group exactly once, in order per GPU', async () => {
    const bootstrap = await kafkaBootstrap();
    const producer = testTransport(bootstrap);
    const consumer = testTransport(bootstrap, producer.options);
    const reads = fleetReads(50);
    const published = reads.flat();
    const received: GpuSample[] = [];
    try {
      for (const read of reads) await producer.publish(read);
      consumer.subscribe('archive', async (samples) => {
        received.push(...samples);
      });
      await eventually(() => received.length >= published.length, `${published.length} samples`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(received.length, published.length);
      assert.deepEqual(tsByGpu(received), tsByGpu(published));
      assert.deepEqual(received.toSorted(byGpuThenTs), published.toSorted(byGpuThenTs));
      assert.equal(producer.stats().published, published.length);
    } finally {
      await producer.close();
      await consumer.close();
    }
  });

  it('hands a rejected batch over again and commits its offsets only after the handler resolved', async () => {
    const bootstrap = await kafkaBootstrap();
    const producer = testTransport(bootstrap);
    const first = testTransport(bootstrap, producer.options);
    const group = unique('acks');
    const reads = fleetReads(10, 1, 2);
    const batches: number[][] = [];
    let failures = 0;
    try {
      for (const read of reads.slice(0, 5)) await producer.publish(read);
      first.subscribe(group, async (samples) => {
        batches.push(samples.map((s) => s.ts));
        if (failures++ === 0) throw new Error('sink behind');
      });
      await eventually(() => first.stats().groups[group]?.delivered === 10, 'the redelivery');
      // the first delivery failed, the second carried the same samples
      assert.deepEqual(batches[1], batches[0]);
      assert.equal(first.stats().groups[group]?.redeliveries, 1);
      assert.equal(first.stats().groups[group]?.delivered, 10);
    } finally {
      await first.close();
    }

    // What was acknowledged is not delivered again to the group; what comes after is.
    const second = testTransport(bootstrap, producer.options);
    const later: GpuSample[] = [];
    try {
      for (const read of reads.slice(5)) await producer.publish(read);
      second.subscribe(group, async (samples) => {
        later.push(...samples);
      });
      await eventually(() => later.length >= 10, 'the unacknowledged samples');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual(
        later.map((s) => s.ts).toSorted(),
        reads
          .slice(5)
          .flat()
          .map((s) => s.ts)
          .toSorted(),
      );
    } finally {
      await second.close();
      await producer.close();
    }
  });

  it('hands over the next batches while a taken one becomes durable, then commits them all', async () => {
    const bootstrap = await kafkaBootstrap();
    const producer = testTransport(bootstrap);
    const first = testTransport(bootstrap, producer.options, { maxBatch: 12 });
    const reads = fleetReads(20); // 20 reads x 12 GPUs, at most 12 samples a delivery: many deliveries
    const published = reads.flat();
    const taken: GpuSample[] = [];
    let release: () => void = () => {};
    const durable = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      for (const read of reads) await producer.publish(read);
      // Like a sink holding samples for its batch age: takes every delivery, durable only once released.
      first.subscribe('aged', (samples) => {
        taken.push(...samples);
        return durable;
      });
      await eventually(() => taken.length === published.length, 'every delivery taken before any is durable');
      assert.deepEqual(tsByGpu(taken), tsByGpu(published));
    } finally {
      release();
      await first.close();
    }
    const second = testTransport(bootstrap, producer.options, { maxBatch: 12 });
    const again: GpuSample[] = [];
    try {
      second.subscribe('aged', async (samples) => {
        again.push(...samples);
      });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(again.length, 0, 'everything durable was committed');
    } finally {
      await second.close();
      await producer.close();
    }
  });

  it('leaves the offsets of a batch uncommitted when it closes while the handler keeps refusing it', async () => {
    const bootstrap = await kafkaBootstrap();
    const producer = testTransport(bootstrap);
    const group = unique('down');
    const reads = fleetReads(4, 1, 2);
    for (const read of reads) await producer.publish(read);
    const refusing = testTransport(bootstrap, producer.options);
    let attempts = 0;
    refusing.subscribe(group, async () => {
      attempts++;
      throw new Error('InfluxDB is down');
    });
    await eventually(() => attempts >= 3, 'three attempts');
    await refusing.close();
    assert.equal(refusing.stats().groups[group]?.delivered, 0);

    const recovered = testTransport(bootstrap, producer.options);
    const got: GpuSample[] = [];
    try {
      recovered.subscribe(group, async (samples) => {
        got.push(...samples);
      });
      await eventually(() => got.length >= 8, 'every sample once the sink is back');
      assert.equal(got.length, 8);
    } finally {
      await recovered.close();
      await producer.close();
    }
  });

  it('sends garbage, truncated and invalid records to the dead-letter topic with the reason, and the rest on', async () => {
    const bootstrap = await kafkaBootstrap();
    const transport = testTransport(bootstrap);
    const { topic, dlqTopic } = transport.options;
    const [valid, second] = fleetReads(1, 1, 2).flat() as [GpuSample, GpuSample];
    const full = encodeSampleJson(valid);
    const raw = new Producer({
      clientId: 'gpumon-test-raw',
      bootstrapBrokers: [bootstrap],
      acks: ProduceAcks.ALL,
    });
    const received: GpuSample[] = [];
    try {
      await transport.publish([valid]);
      const bad = [
        { value: 'not json at all', reason: /^not JSON/ },
        { value: full.slice(0, full.length / 2), reason: /^not JSON/ },
        {
          value: JSON.stringify({ ...JSON.parse(full), v: ENCODING_VERSION + 1 }),
          reason: new RegExp(`^unsupported version v=${ENCODING_VERSION + 1}`),
        },
        {
          value: JSON.stringify({ ...JSON.parse(full), gpu_temperature_celsius: 900 }),
          reason: /gpu_temperature/,
        },
        { value: '[1,2,3]', reason: /^unsupported version v=1 \(batches of samples start at v3\)$/ },
        { value: '"a string"', reason: /^not a JSON object or array$/ },
      ];
      await raw.send({
        messages: bad.map((b, i) => ({ topic, key: Buffer.from(`bad-${i}`), value: Buffer.from(b.value) })),
      });
      await transport.publish([second]);
      transport.subscribe('archive', async (samples) => {
        received.push(...samples);
      });
      await eventually(() => received.length >= 2, 'the two valid samples');
      await eventually(
        () => transport.stats().groups.archive?.deadLettered === bad.length,
        'the dead letters',
      );

      const dead = await readRaw(bootstrap, dlqTopic, bad.length);
      const byKey = new Map(dead.map((m) => [m.key.toString(), m]));
      bad.forEach((b, i) => {
        const m = byKey.get(`bad-${i}`);
        assert.ok(m, `bad-${i} in the dead-letter topic`);
        assert.equal(m.value.toString(), b.value);
        const headers = new Map([...m.headers].map(([k, v]) => [k.toString(), v.toString()]));
        assert.match(headers.get(DLQ_REASON_HEADER) ?? '', b.reason);
        assert.match(headers.get(DLQ_SOURCE_HEADER) ?? '', new RegExp(`^${topic}/\\d+@\\d+$`));
      });
      assert.deepEqual(
        received.map((s) => s.uuid),
        [valid.uuid, second.uuid],
      );
    } finally {
      await new Promise<void>((resolve) => raw.close(true, () => resolve()));
      await transport.close();
    }
  });

  it('splits the partitions between two consumers of one group, and together they get everything', async () => {
    const bootstrap = await kafkaBootstrap();
    const producer = testTransport(bootstrap);
    const a = testTransport(bootstrap, producer.options);
    const b = testTransport(bootstrap, producer.options);
    const group = unique('shared');
    const got = { a: [] as GpuSample[], b: [] as GpuSample[] };
    try {
      a.subscribe(group, async (s) => {
        got.a.push(...s);
      });
      b.subscribe(group, async (s) => {
        got.b.push(...s);
      });
      await eventually(
        () =>
          a.assignedPartitions(group).length + b.assignedPartitions(group).length === 4 &&
          a.assignedPartitions(group).length > 0 &&
          b.assignedPartitions(group).length > 0,
        'both members to own partitions',
      );
      const pa = a.assignedPartitions(group);
      const pb = b.assignedPartitions(group);
      assert.deepEqual([...pa, ...pb].toSorted(), [0, 1, 2, 3]);

      // Records are keyed by node: 12 nodes of 2 GPUs spread over the 4 partitions.
      const reads = fleetReads(20, 12, 2);
      for (const read of reads) await producer.publish(read);
      const expected = reads.flat();
      await eventually(() => got.a.length + got.b.length >= expected.length, 'every sample');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(got.a.length + got.b.length, expected.length);
      assert.ok(got.a.length > 0 && got.b.length > 0);
      const hostsA = new Set(got.a.map((s) => s.host));
      assert.ok(
        got.b.every((s) => !hostsA.has(s.host)),
        'a node, and so each of its GPUs, is read by one member only',
      );
      assert.deepEqual(tsByGpu([...got.a, ...got.b]), tsByGpu(expected), "each GPU's samples in order");
    } finally {
      await a.close();
      await b.close();
      await producer.close();
    }
  });

  it('gives two consumers of one group name that read different topics every partition of their own topic', async () => {
    // Two `gpumon consume` of different topics keep the default group names (gpumon-influxdb, gpumon-archive).
    const bootstrap = await kafkaBootstrap();
    const one = testTransport(bootstrap);
    const two = testTransport(bootstrap);
    const group = unique('same-name');
    const got = { one: [] as GpuSample[], two: [] as GpuSample[] };
    try {
      one.subscribe(group, async (s) => {
        got.one.push(...s);
      });
      await eventually(() => one.assignedPartitions(group).length === 4, 'the first member to own its topic');
      two.subscribe(group, async (s) => {
        got.two.push(...s);
      });
      await eventually(
        () => one.assignedPartitions(group).length === 4 && two.assignedPartitions(group).length === 4,
        'each member to own the 4 partitions of its own topic',
      );
      const reads = fleetReads(5);
      for (const read of reads) {
        await one.publish(read);
        await two.publish(read);
      }
      const expected = reads.flat().length;
      await eventually(() => got.one.length >= expected && got.two.length >= expected, 'every sample, twice');
      assert.equal(got.one.length, expected);
      assert.equal(got.two.length, expected);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('leaves its group cleanly when closed while it waits on an empty topic, however long it waited', async () => {
    // The client's stream close could call back before the stream had ended: the consumer then refused to
    // leave its group and kept its sockets open, and `gpumon consume` did not exit after Ctrl-C.
    const bootstrap = await kafkaBootstrap();
    for (const idleMs of [200, 1500, 4000]) {
      const { logger, lines } = capturingLogger('warn');
      const transport = testTransport(bootstrap, undefined, { logger });
      const group = unique('idle');
      transport.subscribe(group, async () => undefined);
      await eventually(() => transport.assignedPartitions(group).length === 4, 'the member to own its topic');
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      await transport.close();
      assert.deepEqual(
        lines.map((l) => l.msg),
        [],
        `closed after ${idleMs} ms idle: ${JSON.stringify(lines)}`,
      );
    }
  });

  it('rejects a publish within the send timeout when no broker answers', async () => {
    const transport = testTransport('127.0.0.1:1', undefined, { sendTimeoutMs: 1500 });
    const started = Date.now();
    await assert.rejects(transport.publish(fleetReads(1).flat()));
    assert.ok(Date.now() - started < 5000);
    assert.equal(transport.stats().publishFailures, 1);
    await transport.close();
  });
});

function byGpuThenTs(a: GpuSample, b: GpuSample): number {
  return a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : a.ts - b.ts;
}
