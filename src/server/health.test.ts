import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LiveFeedHealth } from '../live/live-feed.ts';
import type { BatcherStats } from '../pipeline/batcher.ts';
import { LiveState } from '../pipeline/live-state.ts';
import { MemoryRunHistory } from '../schedule/history.ts';
import type { Source, SourceHealth } from '../sources/source.ts';
import { embeddedHealth, serveHealth } from '../wiring.ts';
import type { HealthResponse, ProbeResponse } from './api-types.ts';
import { createApp } from './app.ts';
import type { ServerDeps } from './deps.ts';
import {
  ARCHIVE_FAILING_AFTER_MS,
  analyticsCheck,
  archiveWriteCheck,
  liveFeedCheck,
  sourceCheck,
} from './health.ts';
import { depsOf } from './test-support.ts';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const START = NOW - 600_000;

function sourceHealth(lastSuccessMs: number | null, extra: Partial<SourceHealth> = {}): SourceHealth {
  return { source: 'nvml', lastSuccessMs, lastReadDurationMs: 3, errors: {}, notice: null, ...extra };
}

function writerStats(failingSinceMs: number | null): BatcherStats {
  return {
    sink: 'archive',
    written: 1200,
    batches: 4,
    failures: 7,
    buffered: 300,
    failingSinceMs,
    replayed: 0,
    abandoned: 0,
    unjournaled: 0,
  };
}

/** A source that only reports the given health. */
function sourceOf(health: () => SourceHealth): Source {
  return {
    name: 'nvml',
    open: async () => {},
    read: async () => [],
    close: async () => {},
    health,
  };
}

describe('the checks of the health', () => {
  test('the source is ok while it reads, and failing once its reads stop for three intervals', () => {
    assert.equal(sourceCheck(sourceHealth(NOW - 900), 1000, START, NOW).status, 'ok');
    const stale = sourceCheck(sourceHealth(NOW - 45_000, { errors: { read: 45 } }), 1000, START, NOW);
    assert.equal(stale.status, 'failing');
    assert.match(stale.detail, /nvml: last successful read 45\.0 s ago; failed reads: read 45/);
  });

  test('the source before its first read is degraded for a while, then failing', () => {
    assert.equal(sourceCheck(sourceHealth(null), 1000, NOW - 2000, NOW).status, 'degraded');
    const never = sourceCheck(sourceHealth(null, { notice: 'rocm-smi not found' }), 1000, START, NOW);
    assert.equal(never.status, 'failing');
    assert.match(never.detail, /no successful read in 600\.0 s since the start \(rocm-smi not found\)/);
  });

  test('archive writes are degraded as soon as they all fail, failing after a while', () => {
    assert.equal(archiveWriteCheck(writerStats(null), NOW).status, 'ok');
    const fresh = archiveWriteCheck(writerStats(NOW - 5000), NOW);
    assert.equal(fresh.status, 'degraded');
    assert.match(fresh.detail, /every write failing for 5\.0 s \(7 failures; 300 samples held, retried\)/);
    assert.equal(archiveWriteCheck(writerStats(NOW - ARCHIVE_FAILING_AFTER_MS), NOW).status, 'failing');
  });

  test('the analytics are degraded when the latest finished run failed', () => {
    assert.equal(analyticsCheck([]).status, 'ok');
    const failed = analyticsCheck([
      { status: 'running' },
      { status: 'failed', scheduledAt: NOW, error: 'ANALYTICS_NO_DATA' },
      { status: 'succeeded', result: { date: '2026-01-13' } },
    ]);
    assert.equal(failed.status, 'degraded');
    assert.match(
      failed.detail,
      /the latest run scheduled at 2026-01-15T12:00:00\.000Z failed: ANALYTICS_NO_DATA/,
    );
    assert.equal(analyticsCheck([{ status: 'succeeded', result: { date: '2026-01-14' } }]).status, 'ok');
  });
});

describe('GET /api/health, /healthz and /readyz', () => {
  /** The app of `gpumon up` with the health of the real wiring over a source and archive writer of the test's. */
  function upApp(source: () => SourceHealth, archive: () => BatcherStats) {
    const history = new MemoryRunHistory();
    const health = embeddedHealth({
      source: sourceOf(source),
      intervalMs: 1000,
      startedAtMs: START,
      archive,
      history,
      now: () => NOW,
    });
    return createApp(depsOf(new LiveState(60_000), { health, sources: () => [source()] }));
  }

  async function healthOf(app: ReturnType<typeof upApp>) {
    const res = await app.request('/api/health');
    assert.equal(res.status, 200, 'the health itself always answers 200');
    return (await res.json()) as HealthResponse;
  }

  test('say ok, and ready, when the source reads and the archive takes the writes', async () => {
    const app = upApp(
      () => sourceHealth(NOW - 500),
      () => writerStats(null),
    );
    const body = await healthOf(app);
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.reasons, []);
    assert.deepEqual(
      body.checks.map((c) => [c.name, c.status]),
      [
        ['source', 'ok'],
        ['archive', 'ok'],
        ['analytics', 'ok'],
      ],
    );
    const ready = await app.request('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', health: 'ok' } satisfies ProbeResponse);
  });

  test('say degraded with the reason when archive writes start failing; still ready', async () => {
    const app = upApp(
      () => sourceHealth(NOW - 500),
      () => writerStats(NOW - 3000),
    );
    const body = await healthOf(app);
    assert.equal(body.status, 'degraded');
    assert.deepEqual(body.reasons, [
      'archive: every write failing for 3.0 s (7 failures; 300 samples held, retried)',
    ]);
    assert.equal((await app.request('/readyz')).status, 200);
  });

  test('say failing when the source stops reading, and /readyz answers 503 without the details', async () => {
    const app = upApp(
      () => sourceHealth(NOW - 120_000, { errors: { read: 120 } }),
      () => writerStats(NOW - 60_000),
    );
    const body = await healthOf(app);
    assert.equal(body.status, 'failing');
    assert.equal(body.reasons.length, 2);
    assert.match(body.reasons[0] ?? '', /^source: nvml: last successful read 120\.0 s ago/);
    assert.match(body.reasons[1] ?? '', /^archive: every write failing for 60\.0 s/);
    const ready = await app.request('/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'not ready', health: 'failing' } satisfies ProbeResponse);
    const alive = await app.request('/healthz');
    assert.equal(alive.status, 200, 'liveness: a failing part is no reason to restart the server');
    assert.deepEqual(await alive.json(), { status: 'alive' });
  });

  test('gpumon serve: failing when the archive cannot be listed, degraded when the run history is unreadable', async () => {
    const broken = {
      list: () => Promise.reject(Object.assign(new Error('EACCES /secret/path'), { code: 'EACCES' })),
    } as unknown as Parameters<typeof serveHealth>[0];
    const history = new MemoryRunHistory();
    history.load = () =>
      Promise.reject(Object.assign(new Error('bad json'), { code: 'ARCHIVE_FILE_CORRUPT' }));
    const deps: Partial<ServerDeps> = { health: serveHealth(broken, history), sources: () => [] };
    const app = createApp(depsOf(new LiveState(60_000), deps));
    const body = (await (await app.request('/api/health')).json()) as HealthResponse;
    assert.equal(body.status, 'failing');
    assert.deepEqual(body.reasons, [
      'archive: cannot be checked (EACCES)',
      'analytics: cannot be checked (ARCHIVE_FILE_CORRUPT)',
    ]);
    assert.doesNotMatch(JSON.stringify(body), /secret/, 'no server path in the answer');
    assert.equal((await app.request('/readyz')).status, 503);
  });

  test('without checks the server says ok', async () => {
    const body = (await (
      await createApp(depsOf(new LiveState(60_000))).request('/api/health')
    ).json()) as HealthResponse;
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.checks, []);
  });
});

describe('the live fleet check of gpumon serve', () => {
  const feed = (over: Partial<LiveFeedHealth> = {}): LiveFeedHealth => ({
    feed: 'influxdb',
    target: 'http://influxdb:8086 database gpumon',
    startedAtMs: START,
    lastPollMs: NOW - 1000,
    lastPollDurationMs: 40,
    newestSampleMs: NOW - 2000,
    gpus: 24,
    failures: 0,
    failingSinceMs: null,
    lastError: null,
    invalid: 0,
    ...over,
  });

  test('is ok while polls succeed and the newest sample is recent, and says how many GPUs', () => {
    const check = liveFeedCheck(feed(), 30_000, NOW);
    assert.equal(check.status, 'ok');
    assert.equal(check.name, 'live');
    assert.match(
      check.detail,
      /influxdb http:\/\/influxdb:8086 database gpumon: 24 GPUs, newest sample 2.0 s old/,
    );
  });

  test('is degraded, naming the error and for how long, while InfluxDB is away', () => {
    const check = liveFeedCheck(
      feed({ failingSinceMs: NOW - 45_000, failures: 20, lastError: 'cannot reach InfluxDB: ECONNREFUSED' }),
      30_000,
      NOW,
    );
    assert.equal(check.status, 'degraded');
    assert.match(check.detail, /every poll failing for 45.0 s \(20 failures.*ECONNREFUSED/);
  });

  test('is degraded before the first poll answers, and when InfluxDB holds nothing recent', () => {
    assert.match(liveFeedCheck(feed({ lastPollMs: null }), 30_000, NOW).detail, /no poll answered yet/);
    const empty = liveFeedCheck(feed({ newestSampleMs: null, gpus: 0 }), 30_000, NOW);
    assert.equal(empty.status, 'degraded');
    assert.match(empty.detail, /is gpumon consume writing/);
    const stale = liveFeedCheck(feed({ newestSampleMs: NOW - 120_000 }), 30_000, NOW);
    assert.equal(stale.status, 'degraded');
    assert.match(stale.detail, /newest sample is 120.0 s old/);
  });

  test('is never failing: serve still serves the results, and /readyz must keep the page reachable', () => {
    const away = liveFeedCheck(feed({ failingSinceMs: START, lastPollMs: null, failures: 300 }), 30_000, NOW);
    assert.equal(away.status, 'degraded');
  });

  test('tells the rows it skipped as invalid', () => {
    assert.match(
      liveFeedCheck(feed({ invalid: 3 }), 30_000, NOW).detail,
      /3 rows skipped as invalid samples/,
    );
  });
});
