import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { testSample } from '../testing/samples.ts';
import { ENCODING_VERSION, encodeSampleJson } from '../transport/kafka/encoding.ts';
import { Spool } from './spool.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'gpumon-spool-'));
const samples = (from: number, count: number): GpuSample[] =>
  Array.from({ length: count }, (_, i) => testSample({ ts: from + i }, (from + i) % 4));

async function drainAll(spool: Spool, max = 7): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const batch = await spool.peek(max);
    if (batch.end === batch.start) return out;
    out.push(...batch.samples.map((s) => s.ts));
    await spool.remove(batch);
  }
}

describe('Spool', () => {
  it('gives back what was appended, oldest first, and is empty after everything was removed', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1024 * 1024, segmentBytes: 2048 });
    await spool.append(samples(0, 10));
    await spool.append(samples(10, 15));
    assert.equal(spool.stats().pending, 25);
    assert.ok(spool.stats().segments > 1, 'small segments rotate');
    assert.deepEqual(
      await drainAll(spool),
      Array.from({ length: 25 }, (_, i) => i),
    );
    assert.ok(spool.isEmpty());
    await spool.close();
  });

  it('keeps a peeked batch until it is removed, so a failed send is retried from the same place', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1024 * 1024 });
    await spool.append(samples(0, 5));
    const first = await spool.peek(3);
    const again = await spool.peek(3);
    assert.deepEqual(
      again.samples.map((s) => s.ts),
      first.samples.map((s) => s.ts),
    );
    await spool.remove(first);
    assert.deepEqual(
      (await spool.peek(10)).samples.map((s) => s.ts),
      [3, 4],
    );
    await spool.close();
  });

  it('takes appends while it is being read, and keeps them behind the older samples', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1024 * 1024 });
    await spool.append(samples(0, 3));
    const batch = await spool.peek(100);
    await spool.append(samples(3, 3));
    await spool.remove(batch);
    assert.deepEqual(await drainAll(spool), [3, 4, 5]);
    await spool.close();
  });

  it('survives a restart: a new spool on the same directory gives back what was not removed', async () => {
    const where = dir();
    const first = await Spool.open({ dir: where, maxBytes: 1024 * 1024, segmentBytes: 4096 });
    await first.append(samples(0, 20));
    await first.append(samples(20, 20));
    await first.close();
    const second = await Spool.open({ dir: where, maxBytes: 1024 * 1024, segmentBytes: 4096 });
    assert.equal(second.stats().pending, 40);
    await second.append(samples(40, 5));
    assert.deepEqual(
      await drainAll(second),
      Array.from({ length: 45 }, (_, i) => i),
    );
    await second.close();
    assert.deepEqual(readdirSync(where), [], 'no segment is left once everything was sent');
  });

  it('drops the oldest segments past its bound, counts them, and keeps the count across restarts', async () => {
    const where = dir();
    const one = Buffer.byteLength(`${encodeSampleJson(samples(0, 1)[0] as GpuSample)}\n`);
    const spool = await Spool.open({ dir: where, maxBytes: one * 40, segmentBytes: one * 10 });
    for (let i = 0; i < 100; i += 10) await spool.append(samples(i, 10));
    const stats = spool.stats();
    assert.ok(stats.bytes <= one * 40 + 20, `bytes ${stats.bytes} within the bound`);
    assert.equal(stats.dropped + stats.pending, 100, 'nothing lost without being counted');
    assert.ok(stats.dropped > 0);
    const kept = await drainAll(spool);
    assert.deepEqual(
      kept,
      Array.from({ length: stats.pending }, (_, i) => 100 - stats.pending + i),
      'the newest stay',
    );
    await spool.close();
    const reopened = await Spool.open({ dir: where, maxBytes: one * 40 });
    assert.equal(reopened.stats().dropped, stats.dropped);
    await reopened.close();
  });

  it('skips a torn last line left by a crash mid-write and counts it', async () => {
    const where = dir();
    const spool = await Spool.open({ dir: where, maxBytes: 1024 * 1024 });
    await spool.append(samples(0, 3));
    await spool.close();
    const [segment] = readdirSync(where).filter((n) => n.endsWith('.seg'));
    await appendFile(join(where, segment as string), '{"v":1,"ts":3,"host":"no');
    const reopened = await Spool.open({ dir: where, maxBytes: 1024 * 1024 });
    assert.equal(reopened.stats().corrupt, 1);
    assert.deepEqual(await drainAll(reopened), [0, 1, 2]);
    await reopened.close();
  });

  it('skips a line that does not decode (written by another version) and counts it', async () => {
    const where = dir();
    writeFileSync(
      join(where, '0000000000000000.seg'),
      `not a sample\n${encodeSampleJson(samples(7, 1)[0] as GpuSample)}\n`,
    );
    const spool = await Spool.open({ dir: where, maxBytes: 1024 * 1024 });
    assert.deepEqual(await drainAll(spool), [7]);
    assert.equal(spool.stats().corrupt, 1);
    await spool.close();
  });

  it('writes one sample per line in the Kafka wire format', async () => {
    const where = dir();
    const spool = await Spool.open({ dir: where, maxBytes: 1024 * 1024 });
    await spool.append(samples(0, 2));
    const [segment] = readdirSync(where).filter((n) => n.endsWith('.seg'));
    const lines = readFileSync(join(where, segment as string), 'utf8')
      .trimEnd()
      .split('\n');
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.startsWith(`{"v":${ENCODING_VERSION},`)));
    await spool.close();
  });

  it('as a write-ahead log, deletes whole the segments up to a cut and keeps what was appended after it', async () => {
    const where = dir();
    const spool = await Spool.open({ dir: where, maxBytes: 1024 * 1024 });
    await spool.append(samples(0, 3));
    await spool.append(samples(3, 2));
    const mark = await spool.cut();
    await spool.append(samples(5, 4));
    assert.equal(await spool.discardThrough(mark), 5, 'the samples appended before the cut');
    assert.equal(spool.stats().pending, 4);
    await spool.close();
    const reopened = await Spool.open({ dir: where, maxBytes: 1024 * 1024 });
    assert.deepEqual(await drainAll(reopened), [5, 6, 7, 8], 'after a restart, only what followed the cut');
    await reopened.close();
  });

  it('refuses a directory another living process holds, naming it, and takes over one whose holder is gone', async () => {
    const where = dir();
    writeFileSync(join(where, 'lock'), `${process.ppid}\n`);
    await assert.rejects(
      Spool.open({ dir: where, maxBytes: 1024 * 1024, exclusive: true }),
      (err: unknown) =>
        isGpumonError(err, 'SPOOL_IN_USE') &&
        err.message.includes(where) &&
        err.message.includes(`${process.ppid}`),
    );
    writeFileSync(join(where, 'lock'), '2147483646\n'); // no such process
    const spool = await Spool.open({ dir: where, maxBytes: 1024 * 1024, exclusive: true });
    assert.equal(readFileSync(join(where, 'lock'), 'utf8').trim(), String(process.pid));
    await spool.close();
    assert.ok(!readdirSync(where).includes('lock'), 'the lock goes with the close');
  });
});
