/**
 * Issue 4, fault 2: Kafka stopped for 30 s while `gpumon agent --source sim` keeps sampling: the agent spools,
 * sends the spool once Kafka is back, and every sample it read is on the topic exactly once, in read order per
 * GPU. Own Kafka (helpers.ts); Kafka comes back with its data and on its port.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { startGpumon } from '../e2e/helpers.ts';
import { PrivateServices, sleep, until } from './helpers.ts';

const OUTAGE_MS = 30_000;
const services = new PrivateServices();
const spool = mkdtempSync(join(tmpdir(), 'gpumon-faults-spool-'));

describe('Kafka stopped for 30 s under gpumon agent (own Kafka)', () => {
  before(() => services.start('kafka'));
  after(async () => {
    await services.stopAll();
    rmSync(spool, { recursive: true, force: true });
  });

  it('spools, sends the spool once Kafka is back, and every sample read arrives exactly once, in order', async (t) => {
    const id = randomBytes(4).toString('hex');
    const topic = `gpumon-faults-agent-${id}`;
    const dlqTopic = `${topic}-dlq`;
    const { kafka } = services;

    const agent = startGpumon(
      ['agent', '--brokers', kafka, '--topic', topic, '--source', 'sim', '--spool', spool],
      {
        GPUMON_SOURCE_INTERVAL_MS: '1000',
        GPUMON_SOURCE_SIM_HOSTS: '1',
        GPUMON_SOURCE_SIM_GPUS_PER_HOST: '2',
        GPUMON_KAFKA_DLQ_TOPIC: dlqTopic,
        GPUMON_KAFKA_PARTITIONS: '2',
        GPUMON_LOG_LEVEL: 'info',
      },
    );
    let summary: RegExpExecArray | null = null;
    try {
      await until('the agent to start', () => agent.stdout().includes('Ctrl-C to stop'), 60_000);
      await sleep(4000); // a few reads sent directly

      await services.stop('kafka');
      await sleep(OUTAGE_MS);
      await until('the agent to spool', () => agent.stderr().includes('Kafka unreachable'), 30_000);
      await services.restart('kafka');
      await until('the spool to be sent', () => agent.stderr().includes('spool drained'), 120_000, 250);
      await sleep(2000); // a few reads sent directly again
    } finally {
      agent.child.kill('SIGINT');
    }
    const { code } = await agent.exited;
    assert.equal(code, 0, agent.stderr());
    summary = /(\d+) samples read, (\d+) sent, (\d+) spooled, (\d+) dropped, (\d+) left in the spool/.exec(
      agent.stdout(),
    );
    assert.ok(summary, agent.stdout());
    const [read = 0, sent, spooled = 0, dropped, left] = summary.slice(1).map(Number);
    t.diagnostic(summary[0]);
    assert.ok(read > 0);
    assert.ok(spooled > 0, 'the outage made the agent spool');
    assert.equal(dropped, 0);
    assert.equal(left, 0);
    assert.equal(sent, read);

    const reader = new KafkaTransport({
      brokers: kafka,
      topic,
      dlqTopic,
      partitions: 2,
      redeliveryDelayMs: 100,
    });
    const got: GpuSample[] = [];
    try {
      reader.subscribe(`gpumon-faults-check-${id}`, async (samples) => {
        got.push(...samples);
      });
      await until(`${read} samples on the topic`, () => got.length >= read, 60_000);
      await sleep(2000); // anything more (a duplicate) would arrive now
    } finally {
      await reader.close();
    }
    assert.equal(got.length, read, 'every sample read is on the topic, once');
    const byGpu = new Map<string, number[]>();
    for (const s of got) byGpu.set(s.uuid, [...(byGpu.get(s.uuid) ?? []), s.ts]);
    assert.equal(byGpu.size, 2);
    for (const [uuid, ts] of byGpu) {
      assert.equal(new Set(ts).size, ts.length, `no duplicate of ${uuid}`);
      assert.deepEqual(
        ts,
        ts.toSorted((a, b) => a - b),
        `samples of ${uuid} in read order`,
      );
    }
  });
});
