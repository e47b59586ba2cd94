import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isGpumonError } from '../errors.ts';
import { LiveState } from '../pipeline/live-state.ts';
import type { HealthResponse } from './api-types.ts';
import { createApp } from './app.ts';
import { startServer } from './serve.ts';
import { CountingLive, depsOf, sampleOf } from './test-support.ts';

describe('startServer', () => {
  test('listens on a free port when given port 0 and names it in its url', async () => {
    const server = await startServer(createApp(depsOf(new LiveState(60_000))), {
      host: '127.0.0.1',
      port: 0,
    });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(new URL(server.url).port, '0');
      const body = (await (await fetch(`${server.url}/api/health`)).json()) as HealthResponse;
      assert.equal(body.status, 'ok');
    } finally {
      await server.close();
    }
  });

  test('close ends open live streams, and the server unsubscribes them', async () => {
    const state = new LiveState(60_000);
    state.apply([sampleOf('node-a', 0, 1000)]);
    const live = new CountingLive(state);
    const server = await startServer(createApp(depsOf(live)), { host: '127.0.0.1', port: 0 });
    const res = await fetch(`${server.url}/api/stream`);
    const reader = res.body?.getReader();
    const first = await reader?.read();
    assert.match(new TextDecoder().decode(first?.value), /event: snapshot/);
    assert.equal(live.subscribers, 1);
    await server.close();
    await reader?.read().catch(() => undefined);
    for (let i = 0; i < 100 && live.subscribers > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(live.subscribers, 0);
  });

  test('a client that goes away is unsubscribed', async () => {
    const state = new LiveState(60_000);
    const live = new CountingLive(state);
    const server = await startServer(createApp(depsOf(live)), { host: '127.0.0.1', port: 0 });
    try {
      const abort = new AbortController();
      const res = await fetch(`${server.url}/api/stream`, { signal: abort.signal });
      await res.body?.getReader().read();
      assert.equal(live.subscribers, 1);
      abort.abort();
      for (let i = 0; i < 100 && live.subscribers > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(live.subscribers, 0);
    } finally {
      await server.close();
    }
  });

  test('rejects with a USAGE error naming the address when the port is taken', async () => {
    const app = createApp(depsOf(new LiveState(60_000)));
    const first = await startServer(app, { host: '127.0.0.1', port: 0 });
    const port = Number(new URL(first.url).port);
    try {
      await assert.rejects(startServer(app, { host: '127.0.0.1', port }), (err) => {
        assert.ok(isGpumonError(err, 'USAGE'));
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
        return true;
      });
    } finally {
      await first.close();
    }
  });
});
