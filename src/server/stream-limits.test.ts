import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { GpuSample } from '../metrics/sample.ts';
import { LiveState } from '../pipeline/live-state.ts';
import type { ApiErrorBody } from './api-types.ts';
import { createApp } from './app.ts';
import { type RunningServer, startServer } from './serve.ts';
import { CountingLive, depsOf, sampleOf } from './test-support.ts';

const until = async (check: () => boolean, what: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
};

/** A client of /api/stream on a real socket, which reads only when told to. */
class RawStreamClient {
  received = '';
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString();
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  static async open(url: string): Promise<RawStreamClient> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(
      `GET /api/stream HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    return new RawStreamClient(socket);
  }

  status(): number {
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(this.received)?.[1] ?? 0);
  }
}

/** One update of `gpus` GPUs at `ts`: about 250 bytes of event per GPU. */
function updateOf(gpus: number, ts: number): GpuSample[] {
  return Array.from({ length: gpus }, (_, i) =>
    sampleOf(`node-${Math.floor(i / 8)}`, i % 8, ts, {
      gpu_utilization_percent: (ts / 1000 + i) % 100,
      gpu_temperature_celsius: 40 + (i % 30),
    }),
  );
}

describe('the bounds of the live stream, on a real server', () => {
  let server: RunningServer;
  let live: CountingLive;
  const warnings: string[] = [];

  before(async () => {
    live = new CountingLive(new LiveState(60_000));
    live.state.apply(updateOf(8, 1000));
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const app = createApp(depsOf(live, { logger }), {
      sampleIntervalMs: 1000,
      // Above one update of 200 new GPUs (about 115 KB with their identities), so only a client that stops
      // reading goes past it.
      limits: { maxStreams: 3, streamMaxBufferedBytes: 256 * 1024 },
    });
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server.close();
  });

  test('refuses a stream beyond server.maxStreams with 503 SERVER_BUSY and Retry-After, then takes one again', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => RawStreamClient.open(server.url)));
    await until(() => clients.every((c) => c.received.includes('event: snapshot')), 'three snapshots');
    const refused = await fetch(`${server.url}/api/stream`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(((await refused.json()) as ApiErrorBody).error.code, 'SERVER_BUSY');

    clients[0]?.socket.destroy();
    await until(() => live.subscribers === 2, 'the server noticed the client leave');
    const again = await RawStreamClient.open(server.url);
    await until(() => again.received.includes('event: snapshot'), 'a stream once a place is free');
    assert.equal(again.status(), 200);
    for (const c of [...clients, again]) c.socket.destroy();
    await until(() => live.subscribers === 0, 'every stream closed');
  });

  test('disconnects a client that stops reading, and keeps one that reads', async () => {
    const slow = await RawStreamClient.open(server.url);
    const fast = await RawStreamClient.open(server.url);
    await until(() => slow.received.includes('event: snapshot'), 'the slow client got its snapshot');
    await until(() => fast.received.includes('event: snapshot'), 'the fast client got its snapshot');
    slow.socket.pause();
    warnings.length = 0;

    // 200 GPUs an update, about 60 KB: the socket buffers fill, then the server's queue for the slow client.
    for (let i = 0; i < 2000 && live.subscribers === 2; i++) {
      live.state.apply(updateOf(200, 2000 + i * 1000));
      await new Promise((resolve) => setImmediate(resolve));
      if (fast.received.length > 1_000_000) fast.received = fast.received.slice(-1000);
    }
    await until(() => live.subscribers === 1, 'the server dropped the slow client');
    assert.match(warnings.join('\n'), /reads too slowly: disconnected/);
    assert.equal(fast.closed, false, 'the client that reads stays connected');
    slow.socket.resume(); // a paused socket sees its end only once it reads what was sent before
    await until(() => slow.closed, 'the slow client finds its connection closed');

    live.state.apply(updateOf(1, 999_999_000));
    await until(() => fast.received.includes('999999000'), 'the fast client still gets samples');
    fast.socket.destroy();
    await until(() => live.subscribers === 0, 'the fast client unsubscribed');
  });
});
