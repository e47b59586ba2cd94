import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { kafkaBootstrap } from '../../src/testing/services.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { countArchive } from './archive-rows.ts';
import {
  breakArchive,
  interrupt,
  runGpumon,
  startGpumon,
  tempDir,
  terminateWithin,
  waitFor,
} from './helpers.ts';

const T0 = Date.UTC(2026, 10, 25, 12);
const SHUTDOWN_TIMEOUT_MS = 6000;

async function waitForRows(archive: string, rows: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = await countArchive(archive).catch(() => ({ rows: 0, distinct: 0 }));
    if (count.rows >= rows) return;
    if (Date.now() > deadline)
      throw new Error(`${count.rows} rows archived after ${timeoutMs} ms, waiting for ${rows}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('gpumon consume, stopped while the archive cannot be written (real Kafka)', () => {
  it('exits 75 within shutdown.timeoutMs, commits nothing it did not archive, and the next consume archives it', async (t) => {
    const brokers = await kafkaBootstrap();
    const id = randomBytes(4).toString('hex');
    const topic = `gpumon-e2e-stop-${id}`;
    const archive = tempDir('consume-shutdown');
    const source = new SimSource({ hosts: 2, gpusPerHost: 4, seed: 11 });
    await source.open();
    const producer = new KafkaTransport({ brokers, topic, dlqTopic: `${topic}-dlq`, partitions: 3 });
    const publish = async (from: number, reads: number) => {
      for (let i = from; i < from + reads; i++) await producer.publish(await source.read(T0 + i * 1000));
    };
    const consume = () =>
      startGpumon(
        ['consume', '--brokers', brokers, '--topic', topic, '--sinks', 'archive', '--archive', archive],
        {
          GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
          GPUMON_KAFKA_GROUP_PREFIX: `e2e-stop-${id}`,
          GPUMON_ARCHIVE_FLUSH_INTERVAL_MS: '500',
          GPUMON_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
          GPUMON_LOG_LEVEL: 'warn',
        },
      );
    try {
      await publish(0, 25);
      const first = consume();
      await waitForRows(archive, 200, 60_000);
      const restore = breakArchive(archive);
      await publish(25, 25);
      await waitFor(
        'a failed archive write',
        () => (first.stderr().includes('sink write failed') ? true : null),
        60_000,
      );

      const code = await terminateWithin(first, SHUTDOWN_TIMEOUT_MS, t);
      assert.equal(code, 75, `exit status 75; stdout: ${first.stdout()} stderr: ${first.stderr()}`);
      assert.match(
        first.stdout(),
        /\d+ samples not written to archive \(group e2e-stop-[0-9a-f]+-archive\) by shutdown\.timeoutMs: their offsets are not committed, Kafka delivers them again to the next consume\n$/,
      );

      restore();
      const second = consume();
      await waitForRows(archive, 400, 60_000);
      const stopped = await interrupt(second, 60_000);
      assert.equal(stopped.code, 0, `stderr: ${second.stderr()}`);
      const rows = await countArchive(archive);
      assert.deepEqual(rows, { rows: 400, distinct: 400 }, 'every sample archived, once');
    } finally {
      await producer.close();
      await source.close();
    }
  });

  it('refuses to start, exit 1, naming the path, when the archive cannot be written', async () => {
    const file = join(tempDir('consume-archive-file'), 'archive');
    writeFileSync(file, 'a file, not a directory\n');
    const result = await runGpumon([
      'consume',
      '--sinks',
      'archive',
      '--archive',
      file,
      '--brokers',
      '127.0.0.1:1',
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ARCHIVE_NOT_WRITABLE/);
    assert.ok(result.stderr.includes(file), `the error names the path: ${result.stderr}`);
  });
});
