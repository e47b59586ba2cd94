import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import { runDailyAnalytics } from './daily-job.ts';
import { ResultReader, readResult } from './results.ts';
import { at, createTestArchive, GPU_A, GPU_B, series, type TestArchive, testConfig } from './testing.ts';

const DAY = '2026-01-15';

describe('the result reader of the server', () => {
  let archive: TestArchive;
  before(async () => {
    archive = await createTestArchive();
    const values = Array.from({ length: 30 }, (_, i) => ({
      gpu_temperature_celsius: 50 + (i % 4) * 3,
      gpu_utilization_percent: (i * 37) % 100,
    }));
    await archive.addFile(DAY, [
      ...series(GPU_A, at('08:00:00', DAY), 5, values),
      ...series(GPU_B, at('09:00:00', DAY), 5, values),
    ]);
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
  });
  after(async () => {
    await archive.cleanup();
  });

  it('answers many reads at once from one DuckDB instance and at most `connections` connections', async () => {
    const reader = new ResultReader(archive.storage, { connections: 2 });
    try {
      assert.equal(reader.stats().instances, 0, 'nothing is opened before the first read');
      const expected = await readResult(archive.storage, DAY, 'daily_stats');
      const reads = await Promise.all(Array.from({ length: 20 }, () => reader.read(DAY, 'daily_stats')));
      for (const rows of reads) assert.deepEqual(rows, expected);
      assert.deepEqual(reader.stats(), { instances: 1, connections: 2, running: 0, waiting: 0 });
    } finally {
      await reader.close();
    }
  });

  it('pages through a result with limit and offset, in the order of the analysis', async () => {
    const reader = new ResultReader(archive.storage);
    try {
      const all = (await reader.read(DAY, 'daily_stats')) ?? [];
      assert.equal(all.length, 3);
      assert.deepEqual(await reader.read(DAY, 'daily_stats', { limit: 2 }), all.slice(0, 2));
      assert.deepEqual(await reader.read(DAY, 'daily_stats', { limit: 2, offset: 2 }), all.slice(2));
      assert.deepEqual(await reader.read(DAY, 'daily_stats', { offset: 3 }), []);
    } finally {
      await reader.close();
    }
  });

  it('refuses a negative offset, naming it', async () => {
    const reader = new ResultReader(archive.storage);
    try {
      await assert.rejects(
        reader.read(DAY, 'daily_stats', { offset: -1 }),
        (err) => isGpumonError(err, 'USAGE') && /offset/.test(err.message),
      );
    } finally {
      await reader.close();
    }
  });

  it('lets the read running finish on close, fails the one waiting, and refuses reads after it', async () => {
    const reader = new ResultReader(archive.storage, { connections: 1 });
    // Which of the two gets the one connection depends on which file check answers first.
    const reads = [reader.read(DAY, 'hourly_patterns'), reader.read(DAY, 'hourly_patterns')];
    for (let i = 0; i < 500 && reader.stats().waiting === 0; i++) await new Promise((r) => setTimeout(r, 2));
    assert.equal(reader.stats().waiting, 1, 'one read waits for the one connection');
    const closed = reader.close();
    const settled = await Promise.allSettled(reads);
    await closed;
    const answered = settled.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const failures = settled.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    assert.equal(answered.length, 1, 'the read in flight was answered');
    assert.ok((answered[0] ?? []).length > 0, 'with the rows of the day');
    const isClosed = (err: unknown) =>
      isGpumonError(err, 'ARCHIVE_READ_FAILED') && /closed/.test(err.message);
    assert.equal(failures.length, 1, 'the waiting read failed');
    assert.ok(isClosed(failures[0]), `as closed: ${String(failures[0])}`);
    await assert.rejects(reader.read(DAY, 'hourly_patterns'), isClosed);
  });
});
