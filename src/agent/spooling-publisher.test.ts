import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { GpuSample } from '../metrics/sample.ts';
import { testSample } from '../testing/samples.ts';
import { Spool } from './spool.ts';
import { type Publisher, SpoolingPublisher } from './spooling-publisher.ts';

/** A target that refuses while `down` is set, and records what it took. */
class FakeKafka implements Publisher {
  down = false;
  readonly got: number[] = [];
  async publish(samples: readonly GpuSample[]): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    this.got.push(...samples.map((s) => s.ts));
  }
  async close(): Promise<void> {}
}

const dir = () => mkdtempSync(join(tmpdir(), 'gpumon-spooling-'));
const read = (ts: number) => [testSample({ ts }, 0), testSample({ ts }, 1)];

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), 'condition not reached in 4 s');
}

describe('SpoolingPublisher', () => {
  it('publishes directly while the target takes samples', async () => {
    const kafka = new FakeKafka();
    const publisher = new SpoolingPublisher({
      target: kafka,
      spool: await Spool.open({ dir: dir(), maxBytes: 1 << 20 }),
    });
    await publisher.publish(read(1));
    assert.deepEqual(kafka.got, [1, 1]);
    assert.deepEqual(publisher.stats(), { sent: 2, spooled: 0, dropped: 0, pending: 0 });
    await publisher.close();
  });

  it('spools while the target is down and sends everything in read order once it is back', async () => {
    const kafka = new FakeKafka();
    const publisher = new SpoolingPublisher({
      target: kafka,
      spool: await Spool.open({ dir: dir(), maxBytes: 1 << 20 }),
      retryDelayMs: 20,
      maxRetryDelayMs: 40,
    });
    await publisher.publish(read(1));
    kafka.down = true;
    for (let ts = 2; ts <= 5; ts++) await publisher.publish(read(ts));
    assert.equal(publisher.isReachable(), false);
    assert.equal(publisher.stats().pending, 8);
    kafka.down = false;
    await publisher.publish(read(6)); // behind the spool, not before it
    await until(() => publisher.stats().pending === 0);
    await publisher.publish(read(7));
    assert.deepEqual(kafka.got, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    assert.deepEqual(publisher.stats(), { sent: 14, spooled: 10, dropped: 0, pending: 0 });
    await publisher.close();
  });

  it('sends what an earlier run left in the spool before anything new', async () => {
    const where = dir();
    const down = new FakeKafka();
    down.down = true;
    const before = new SpoolingPublisher({
      target: down,
      spool: await Spool.open({ dir: where, maxBytes: 1 << 20 }),
    });
    await before.publish(read(1));
    await before.publish(read(2));
    await before.close();

    const kafka = new FakeKafka();
    const after = new SpoolingPublisher({
      target: kafka,
      spool: await Spool.open({ dir: where, maxBytes: 1 << 20 }),
    });
    after.start();
    await after.publish(read(3));
    await until(() => after.stats().pending === 0);
    assert.deepEqual(kafka.got, [1, 1, 2, 2, 3, 3]);
    await after.close();
  });

  it('refuses publishes after close', async () => {
    const publisher = new SpoolingPublisher({
      target: new FakeKafka(),
      spool: await Spool.open({ dir: dir(), maxBytes: 1 << 20 }),
    });
    await publisher.close();
    await assert.rejects(publisher.publish(read(1)), /stopping/);
  });
});
