import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GpuSample } from '../metrics/sample.ts';
import type { Sink } from '../sinks/sink.ts';
import { testSample } from '../testing/samples.ts';
import { Batcher } from './batcher.ts';

class RecordingSink implements Sink {
  readonly name = 'recording';
  batches: number[] = [];
  failuresLeft = 0;
  active = 0;
  maxActive = 0;
  closed = false;

  async write(batch: readonly GpuSample[]): Promise<void> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise((r) => setTimeout(r, 5));
    this.active--;
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('disk full');
    }
    this.batches.push(batch.length);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const samples = (n: number, from = 0) => Array.from({ length: n }, (_, i) => testSample({ ts: from + i }));

describe('Batcher', () => {
  it('writes a batch once it reaches maxRows and acknowledges only after the write', async () => {
    const sink = new RecordingSink();
    const batcher = new Batcher(sink, { maxRows: 3, maxAgeMs: 60_000, maxBuffered: 100 });
    let acked = false;
    const ack = batcher.add(samples(3)).then(() => {
      acked = true;
    });
    assert.equal(acked, false);
    await ack;
    assert.deepEqual(sink.batches, [3]);
    await batcher.close();
  });

  it('writes a partial batch once its oldest sample is maxAgeMs old', async () => {
    const sink = new RecordingSink();
    const batcher = new Batcher(sink, { maxRows: 1000, maxAgeMs: 20, maxBuffered: 10_000 });
    await batcher.add(samples(2));
    assert.deepEqual(sink.batches, [2]);
    await batcher.close();
  });

  it('retries a failed write with the same batch until it succeeds', async () => {
    const sink = new RecordingSink();
    sink.failuresLeft = 2;
    const batcher = new Batcher(sink, { maxRows: 2, maxAgeMs: 1000, maxBuffered: 100, retryDelayMs: 1 });
    await batcher.add(samples(2));
    assert.deepEqual(sink.batches, [2]);
    assert.equal(batcher.getStats().failures, 2);
    await batcher.close();
  });

  it('says since when its writes fail while it retries, and forgets it after a success', async () => {
    const sink = new RecordingSink();
    sink.failuresLeft = 3;
    const batcher = new Batcher(sink, { maxRows: 2, maxAgeMs: 1000, maxBuffered: 100, retryDelayMs: 20 });
    assert.equal(batcher.getStats().failingSinceMs, null);
    const before = Date.now();
    const written = batcher.add(samples(2));
    await new Promise((r) => setTimeout(r, 30));
    const failing = batcher.getStats().failingSinceMs;
    assert.ok(failing !== null && failing >= before && failing <= Date.now(), `failingSinceMs ${failing}`);
    await written;
    assert.equal(batcher.getStats().failingSinceMs, null);
    await batcher.close();
  });

  it('never overlaps two writes to one sink', async () => {
    const sink = new RecordingSink();
    const batcher = new Batcher(sink, { maxRows: 1, maxAgeMs: 1000, maxBuffered: 100 });
    await Promise.all([batcher.add(samples(1)), batcher.add(samples(1)), batcher.add(samples(1))]);
    assert.equal(sink.maxActive, 1);
    assert.deepEqual(sink.batches, [1, 1, 1]);
    await batcher.close();
  });

  it('refuses samples beyond maxBuffered instead of growing without bound', async () => {
    const sink = new RecordingSink();
    const batcher = new Batcher(sink, { maxRows: 1000, maxAgeMs: 60_000, maxBuffered: 5 });
    const first = batcher.add(samples(4));
    await assert.rejects(batcher.add(samples(2)), /behind: 5 samples buffered/);
    await batcher.close();
    await first;
    assert.deepEqual(sink.batches, [4]);
  });

  it('takes a delivery larger than maxBuffered when it holds nothing, so it never stalls', async () => {
    const sink = new RecordingSink();
    const batcher = new Batcher(sink, { maxRows: 1000, maxAgeMs: 10, maxBuffered: 5 });
    assert.equal(batcher.hasRoom(8), true);
    await batcher.add(samples(8));
    assert.deepEqual(sink.batches, [8]);
    await batcher.close();
  });

  it('flushes everything on close, then closes the sink', async () => {
    const sink = new RecordingSink();
    const batcher = new Batcher(sink, { maxRows: 1000, maxAgeMs: 60_000, maxBuffered: 10_000 });
    const ack = batcher.add(samples(7));
    await batcher.close();
    await ack;
    assert.deepEqual(sink.batches, [7]);
    assert.equal(sink.closed, true);
  });
});
