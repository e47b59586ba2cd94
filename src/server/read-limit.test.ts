import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONFIG_FIELDS } from '../config/schema.ts';
import { LiveState } from '../pipeline/live-state.ts';
import type { AnalyticsResultResponse, ApiErrorBody } from './api-types.ts';
import { createApp } from './app.ts';
import { DEFAULT_LIMITS, type ResultsApi, type ServerLimits } from './deps.ts';
import { ReadLimit, ReadLimitFull } from './read-limit.ts';
import { depsOf } from './test-support.ts';

const DAY = '2025-01-14';
const RESULT = `/api/analytics/${DAY}/hourly_patterns`;

/** A results store whose reads wait until `release()`, counting those running. */
function blockingResults(rowCount = 3) {
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const store = {
    running: 0,
    started: 0,
    filters: [] as { limit: number; offset?: number; uuid?: string }[],
    release() {
      open();
      gate = Promise.resolve();
    },
    api: {
      dates: async () => [DAY],
      summary: async () => ({ gpus: 1 }),
      result: async (_date, _analysis, filter) => {
        store.running++;
        store.started++;
        store.filters.push(filter);
        try {
          await gate;
        } finally {
          store.running--;
        }
        const rows = Array.from({ length: rowCount }, (_, i) => ({ hour: i }));
        return rows.slice(filter.offset ?? 0, (filter.offset ?? 0) + filter.limit);
      },
    } satisfies ResultsApi,
  };
  return store;
}

function appWith(results: ResultsApi, limits: Partial<ServerLimits>) {
  return createApp(depsOf(new LiveState(60_000), { results }), { limits });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('the limit on result reads', () => {
  test('answers 503 SERVER_BUSY with Retry-After beyond the reads running and waiting', async () => {
    const store = blockingResults();
    const app = appWith(store.api, { maxConcurrentReads: 2, maxQueuedReads: 3 });
    const admitted = Array.from({ length: 5 }, () => app.request(RESULT));
    await settle();
    assert.equal(store.running, 2, 'two reads run, three wait');

    const refused = await app.request(RESULT);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    const { error } = (await refused.json()) as ApiErrorBody;
    assert.equal(error.code, 'SERVER_BUSY');
    assert.match(error.message, /busy/);

    store.release();
    const answers = await Promise.all(admitted);
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    assert.equal(store.started, 5, 'the refused request never reached the store');
  });

  test('serves the requests that waited once the reads ahead of them finish', async () => {
    const store = blockingResults();
    store.release();
    const app = appWith(store.api, { maxConcurrentReads: 1, maxQueuedReads: 100 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => app.request(RESULT)));
    assert.ok(answers.every((r) => r.status === 200));
  });

  test('a queue of 0 refuses every read beyond those running', async () => {
    const store = blockingResults();
    const app = appWith(store.api, { maxConcurrentReads: 1, maxQueuedReads: 0 });
    const first = app.request(RESULT);
    await settle();
    assert.equal((await app.request(RESULT)).status, 503);
    store.release();
    assert.equal((await first).status, 200);
  });

  test('a waiting read whose client went away leaves the queue', async () => {
    const limit = new ReadLimit(1, 1);
    let finish: () => void = () => {};
    const running = limit.run(() => new Promise<void>((resolve) => (finish = resolve)));
    const gone = new AbortController();
    const waiting = limit.run(async () => 'never', gone.signal);
    assert.deepEqual(limit.stats(), { running: 1, queued: 1 });
    await assert.rejects(
      limit.run(async () => 'x'),
      ReadLimitFull,
    );
    gone.abort(new Error('client closed'));
    await assert.rejects(waiting, /client closed/);
    assert.deepEqual(limit.stats(), { running: 1, queued: 0 });
    finish();
    await running;
    assert.deepEqual(limit.stats(), { running: 0, queued: 0 });
  });

  test('refuses a limit of no reads at all', () => {
    assert.throws(() => new ReadLimit(0, 5), /maxRunning/);
    assert.throws(() => new ReadLimit(1, -1), /maxQueued/);
  });
});

describe('the row cap of a result response', () => {
  const read = async (app: ReturnType<typeof appWith>, query: string) => {
    const res = await app.request(`${RESULT}${query}`);
    assert.equal(res.status, 200);
    return (await res.json()) as AnalyticsResultResponse;
  };

  test('cuts a result longer than the cap and says it is truncated', async () => {
    const store = blockingResults(25);
    store.release();
    const app = appWith(store.api, { maxResultRows: 10 });
    const capped = await read(app, '?limit=1000');
    assert.equal(capped.rows.length, 10);
    assert.equal(capped.truncated, true);
    assert.equal(store.filters.at(-1)?.limit, 11, 'one row more than the cap tells whether there are more');
    const whole = await read(appWith(store.api, { maxResultRows: 25 }), '?limit=25');
    assert.equal(whole.rows.length, 25);
    assert.equal(whole.truncated, false);
  });

  test('pages through a long result with offset', async () => {
    const store = blockingResults(25);
    store.release();
    const app = appWith(store.api, { maxResultRows: 10 });
    const pages: number[][] = [];
    for (let offset = 0, more = true; more; ) {
      const page = await read(app, `?offset=${offset}`);
      assert.equal(page.offset, offset);
      pages.push(page.rows.map((r) => r.hour as number));
      offset += page.rows.length;
      more = page.truncated;
    }
    assert.deepEqual(
      pages.map((p) => p.length),
      [10, 10, 5],
    );
    assert.deepEqual(
      pages.flat(),
      Array.from({ length: 25 }, (_, i) => i),
    );
  });

  test('answers at most 1000 rows without a limit, and refuses a bad offset', async () => {
    const store = blockingResults(1500);
    store.release();
    const app = appWith(store.api, {});
    const first = await read(app, '');
    assert.equal(first.rows.length, 1000);
    assert.equal(first.truncated, true);
    const res = await app.request(`${RESULT}?offset=-1`);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as ApiErrorBody).error.message, /offset/);
  });
});

test('the default limits are the defaults of the server.* configuration keys', () => {
  for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
    const field = CONFIG_FIELDS[`server.${name}` as keyof typeof CONFIG_FIELDS];
    assert.equal(field?.default, value, `server.${name}`);
  }
});
