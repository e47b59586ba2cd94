import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Spool } from '../agent/spool.ts';
import { isGpumonError } from '../errors.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { Sink } from '../sinks/sink.ts';
import { testSample } from '../testing/samples.ts';
import { ABANDON_GRACE_MS, Batcher } from './batcher.ts';

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
    sink.failuresLeft = Number.POSITIVE_INFINITY; // fails until the test lets it succeed, however slow the machine
    const batcher = new Batcher(sink, { maxRows: 2, maxAgeMs: 1000, maxBuffered: 100, retryDelayMs: 20 });
    assert.equal(batcher.getStats().failingSinceMs, null);
    const before = Date.now();
    const written = batcher.add(samples(2));
    while (batcher.getStats().failures < 2) await new Promise((r) => setTimeout(r, 5));
    const failing = batcher.getStats().failingSinceMs;
    assert.ok(failing !== null && failing >= before && failing <= Date.now(), `failingSinceMs ${failing}`);
    sink.failuresLeft = 0;
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

  it('starts the next write while earlier ones are in flight, up to maxWritesInFlight, in the order cut', async () => {
    const started: number[] = [];
    const finish: (() => void)[] = [];
    const sink: Sink = {
      name: 'slow',
      write: (batch) => {
        started.push(batch[0]?.ts as number);
        return new Promise<void>((resolve) => finish.push(resolve));
      },
      close: async () => {},
    };
    const batcher = new Batcher(sink, { maxRows: 1, maxAgeMs: 1000, maxBuffered: 100, maxWritesInFlight: 2 });
    const acked: number[] = [];
    const adds = [0, 1, 2].map((i) => batcher.add(samples(1, i)).then(() => acked.push(i)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1], 'two writes at once, the third waits for a turn');
    finish[1]?.();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(acked, [1], 'a write is acknowledged once it is written, whatever came before it');
    assert.deepEqual(started, [0, 1, 2], 'the turn of the write that ended goes to the next batch');
    finish[0]?.();
    finish[2]?.();
    await Promise.all(adds);
    await batcher.close();
    assert.deepEqual(acked, [1, 0, 2]);
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

  it('gives up a sink that keeps failing at the deadline of its close, rejecting the samples it did not write', async () => {
    const sink = new RecordingSink();
    sink.failuresLeft = Number.POSITIVE_INFINITY;
    const batcher = new Batcher(sink, {
      maxRows: 1000,
      maxAgeMs: 60_000,
      maxBuffered: 100,
      retryDelayMs: 50,
    });
    const ack = batcher.add(samples(4));
    const started = Date.now();
    const stats = await batcher.close({ untilMs: started + 300 });
    assert.ok(Date.now() - started < 300 + ABANDON_GRACE_MS, `closed in ${Date.now() - started} ms`);
    await assert.rejects(ack, (err: unknown) => isGpumonError(err, 'SINK_ABANDONED'));
    assert.equal(stats.abandoned, 4);
    assert.equal(stats.written, 0);
    assert.ok(stats.failures >= 2, `retried until the deadline, ${stats.failures} failures`);
    await assert.rejects(batcher.add(samples(1)), (err: unknown) => isGpumonError(err, 'SINK_ABANDONED'));
  });

  describe('with a journal (write-ahead log)', () => {
    const journalDir = () => mkdtempSync(join(tmpdir(), 'gpumon-journal-'));
    const openJournal = (dir: string) => Spool.open({ dir, maxBytes: 64 * 1024 * 1024 });

    it('writes one batch at a time, whatever maxWritesInFlight says (segments are discarded in order)', async () => {
      const sink = new RecordingSink();
      const batcher = new Batcher(sink, {
        maxRows: 1,
        maxAgeMs: 1000,
        maxBuffered: 100,
        maxWritesInFlight: 4,
        journal: await openJournal(journalDir()),
      });
      await Promise.all([batcher.add(samples(1)), batcher.add(samples(1)), batcher.add(samples(1))]);
      assert.equal(sink.maxActive, 1);
      assert.deepEqual(sink.batches, [1, 1, 1]);
      await batcher.close();
    });

    it('holds every delivery on disk until its batch is written, then deletes it', async () => {
      const dir = journalDir();
      const sink = new RecordingSink();
      const batcher = new Batcher(sink, {
        maxRows: 1000,
        maxAgeMs: 60_000,
        maxBuffered: 10_000,
        journal: await openJournal(dir),
      });
      void batcher.add(samples(3));
      void batcher.add(samples(2, 3));
      // The appends reach the disk soon (later on a loaded machine); no write comes for a minute (maxAgeMs).
      for (let waited = 0; linesIn(dir) < 5 && waited < 5000; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(linesIn(dir), 5, 'both deliveries are in the journal before any write');
      assert.deepEqual(sink.batches, [], 'nothing written yet');
      await batcher.flush();
      assert.deepEqual(sink.batches, [5]);
      assert.equal(linesIn(dir), 0, 'deleted once written');
      await batcher.close();
    });

    it('keeps what a crash left and writes it first at the next start, once', async () => {
      const dir = journalDir();
      const crashed = new Batcher(new RecordingSink(), {
        maxRows: 1000,
        maxAgeMs: 60_000,
        maxBuffered: 10_000,
        journal: await openJournal(dir),
      });
      void crashed.add(samples(6));
      await new Promise((r) => setTimeout(r, 50)); // appended; the process dies without writing the batch
      const sink = new RecordingSink();
      const next = new Batcher(sink, {
        maxRows: 1000,
        maxAgeMs: 60_000,
        maxBuffered: 10_000,
        journal: await openJournal(dir),
      });
      const ack = next.add(samples(2, 100));
      await next.close();
      await ack;
      assert.deepEqual(sink.batches, [6, 2], 'the earlier run first, then this one');
      assert.equal(next.getStats().replayed, 6);
      assert.equal(linesIn(dir), 0);
    });

    it('resolves the samples it gave up at a deadline, since the journal keeps them for the next start', async () => {
      const dir = journalDir();
      const failing = new RecordingSink();
      failing.failuresLeft = Number.POSITIVE_INFINITY;
      const batcher = new Batcher(failing, {
        maxRows: 1000,
        maxAgeMs: 60_000,
        maxBuffered: 10_000,
        retryDelayMs: 20,
        journal: await openJournal(dir),
      });
      const ack = batcher.add(samples(5));
      const stats = await batcher.close({ untilMs: Date.now() + 200 });
      await ack;
      assert.equal(stats.abandoned, 5);
      assert.equal(stats.unjournaled, 0);
      assert.equal(linesIn(dir), 5, 'kept in the journal');
      const sink = new RecordingSink();
      const next = new Batcher(sink, {
        maxRows: 1000,
        maxAgeMs: 60_000,
        maxBuffered: 10_000,
        journal: await openJournal(dir),
      });
      await next.close();
      assert.deepEqual(sink.batches, [5], 'written at the next start');
    });
  });
});

function linesIn(dir: string): number {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .reduce((sum, n) => sum + readFileSync(join(dir, n), 'utf8').split('\n').length - 1, 0);
}
