/**
 * The Spark engine against a real Spark Connect server (scripts/services/spark-connect.sh): the session's
 * `samples`, errors as GpumonErrors, the deadline interrupting a running query. Fails without the server.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Query } from '../../src/analytics/analyses.ts';
import { runDailyAnalytics } from '../../src/analytics/daily-job.ts';
import { SparkEngine } from '../../src/analytics/engines/spark/spark-engine.ts';
import {
  at,
  createTestArchive,
  GPU_A,
  GPU_B,
  series,
  type TestArchive,
  testConfig,
} from '../../src/analytics/testing.ts';
import { GpumonError, isGpumonError } from '../../src/errors.ts';
import { sparkRemote } from './helpers.ts';

const DAY = '2026-01-15';
const query = (name: Query['name'], sql: string): Query => ({
  name,
  sql,
  source: `queries/${name}.sql`,
  ordered: true,
});

describe('the Spark engine', () => {
  let archive: TestArchive;
  let engine: SparkEngine;
  beforeEach(async () => {
    engine = new SparkEngine({ remote: sparkRemote() });
    archive = await createTestArchive();
  });
  afterEach(() => archive.cleanup());

  const files = (...locations: string[]) => locations.map((location) => ({ location, name: location }));

  it('reads every catalog column, NULL where a file lacks one, ts as UTC epoch ms, in query order', async () => {
    const a = await archive.addFile(
      DAY,
      series(GPU_A, at('10:00:00', DAY), 1, [{ gpu_power_draw_watts: 100 }, { gpu_power_draw_watts: 200 }]),
    );
    const b = await archive.addFile(
      DAY,
      series(GPU_B, at('11:00:00', DAY), 1, [{ gpu_temperature_celsius: 50 }]),
      'old.parquet',
      ['gpu_power_draw_watts'],
    );
    const session = await engine.open({ files: files(a, b), scratchDir: archive.root });
    try {
      const n = await session.materialize(
        query(
          'gpus',
          'SELECT uuid, ts, gpu_power_draw_watts AS p, gpu_temperature_celsius AS t, gpu_index FROM samples ORDER BY ts',
        ),
      );
      assert.equal(n, 3);
      assert.deepEqual(await session.rows('gpus'), [
        { uuid: 'GPU-aaaa', ts: at('10:00:00', DAY), p: 100, t: null, gpu_index: 0 },
        { uuid: 'GPU-aaaa', ts: at('10:00:01', DAY), p: 200, t: null, gpu_index: 0 },
        { uuid: 'GPU-bbbb', ts: at('11:00:00', DAY), p: null, t: 50, gpu_index: 1 },
      ]);
    } finally {
      await session.close();
    }
  });

  it('fails a bad query with ANALYTICS_QUERY_FAILED naming the analysis and Spark’s message', async () => {
    const a = await archive.addFile(DAY, series(GPU_A, at('10:00:00', DAY), 1, [{}]));
    const session = await engine.open({ files: files(a), scratchDir: archive.root });
    try {
      await assert.rejects(
        session.materialize(query('daily_stats', 'SELECT no_such_column FROM samples')),
        (err) =>
          isGpumonError(err, 'ANALYTICS_QUERY_FAILED') &&
          err.message.includes('queries/daily_stats.sql') &&
          err.message.includes('no_such_column') &&
          err.message.includes('UNRESOLVED_COLUMN'),
      );
    } finally {
      await session.close();
    }
  });

  it('names the unreadable archive file with ARCHIVE_FILE_CORRUPT', async () => {
    await archive.addFile(DAY, series(GPU_A, at('10:00:00', DAY), 1, [{}, {}]));
    const bad = join(archive.root, 'gpu-metrics', `date=${DAY}`, 'part-9.parquet');
    await writeFile(bad, 'PAR1 this is not a Parquet file PAR1');
    await assert.rejects(
      runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage, engine }),
      (err) =>
        isGpumonError(err, 'ARCHIVE_FILE_CORRUPT') &&
        err.message.includes(`${archive.storage.uri}/gpu-metrics/date=${DAY}/part-9.parquet`),
    );
  });

  it('with skipCorrupt, analyses the day without an unreadable file, moved to quarantine before Spark reads', async () => {
    await archive.addFile(DAY, series(GPU_A, at('10:00:00', DAY), 1, [{}, {}, {}]));
    const bad = join(archive.root, 'gpu-metrics', `date=${DAY}`, 'part-9.parquet');
    await writeFile(bad, 'PAR1 this is not a Parquet file PAR1');
    const result = await runDailyAnalytics({
      config: testConfig({ 'analytics.skipCorrupt': true }),
      date: DAY,
      storage: archive.storage,
      engine,
    });
    assert.equal(result.inputFiles, 1);
    assert.equal(result.summary.sample_count, 3);
    assert.equal(result.summary.partial, true);
    assert.deepEqual(
      result.quarantined.map((q) => q.movedTo),
      [`${archive.storage.uri}/quarantine/date=${DAY}/part-9.parquet`],
    );
  });

  it('with skipCorrupt, sets aside a file whose pages Spark cannot read, and runs the day again without it', async () => {
    await archive.addFile(DAY, series(GPU_A, at('10:00:00', DAY), 1, [{}, {}, {}]));
    const file = await archive.addFile(
      DAY,
      series(GPU_B, at('11:00:00', DAY), 1, [{}, {}]),
      'part-pages.parquet',
    );
    // Scramble everything between the magic bytes and the footer: the footer still opens.
    const bytes = await readFile(file);
    const end = bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8);
    for (let i = 4; i < end; i++) bytes[i] = ((bytes[i] ?? 0) * 31 + 7) & 0xff;
    await writeFile(file, bytes);
    const result = await runDailyAnalytics({
      config: testConfig({ 'analytics.skipCorrupt': true }),
      date: DAY,
      storage: archive.storage,
      engine,
    });
    assert.equal(result.summary.sample_count, 3);
    assert.deepEqual(
      result.quarantined.map((q) => q.movedTo),
      [`${archive.storage.uri}/quarantine/date=${DAY}/part-pages.parquet`],
    );
  });

  it('interrupts the running query when the signal aborts: ANALYTICS_DEADLINE_EXCEEDED, quickly', async () => {
    const a = await archive.addFile(DAY, series(GPU_A, at('10:00:00', DAY), 1, [{}]));
    const controller = new AbortController();
    const session = await engine.open({
      files: files(a),
      scratchDir: archive.root,
      signal: controller.signal,
    });
    try {
      const slow = session.materialize(
        query('gpus', 'SELECT count(DISTINCT id % 1000003, id % 7) AS n FROM range(0, 20000000000)'),
      );
      setTimeout(
        () => controller.abort(new GpumonError('ANALYTICS_DEADLINE_EXCEEDED', 'deadline of 1s')),
        1500,
      );
      const started = Date.now();
      await assert.rejects(slow, (err) => isGpumonError(err, 'ANALYTICS_DEADLINE_EXCEEDED'));
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await session.close();
    }
    // The server is free again: a new session answers at once.
    const next = await engine.open({ files: files(a), scratchDir: archive.root });
    try {
      assert.equal(await next.materialize(query('gpus', 'SELECT 1 AS one')), 1);
    } finally {
      await next.close();
    }
  });

  it('names the address of a Spark Connect server that cannot be reached', async () => {
    const a = await archive.addFile(DAY, series(GPU_A, at('10:00:00', DAY), 1, [{}]));
    const unreachable = new SparkEngine({ remote: 'sc://127.0.0.1:1' });
    await assert.rejects(
      unreachable.open({ files: files(a), scratchDir: archive.root }),
      (err) => isGpumonError(err, 'ANALYTICS_ENGINE_UNAVAILABLE') && err.message.includes('127.0.0.1:1'),
    );
  });
});
