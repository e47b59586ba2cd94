import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { METRIC_NAMES } from '../metrics/catalog.ts';
import { LiveState } from '../pipeline/live-state.ts';
import type { StreamEventName, StreamEvents } from './api-types.ts';
import { createApp } from './app.ts';
import { CountingLive, depsOf, sampleOf } from './test-support.ts';

interface Received {
  event: string;
  data: string;
}

/** Reads server-sent events (and comments, as event `comment`) from a response body. */
class EventReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(res: Response) {
    assert.ok(res.body);
    this.reader = res.body.getReader();
  }

  async next(timeoutMs = 2000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return parse(block);
      }
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no event in time')), Math.max(0, deadline - Date.now())),
        ),
      ]);
      if (chunk.done) throw new Error('stream ended');
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  async nextOf<K extends StreamEventName>(name: K): Promise<StreamEvents[K]> {
    const received = await this.next();
    assert.equal(received.event, name);
    return JSON.parse(received.data) as StreamEvents[K];
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

function parse(block: string): Received {
  if (block.startsWith(':')) return { event: 'comment', data: block.slice(1).trim() };
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return { event, data: data.join('\n') };
}

const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
};

function setup(heartbeatMs = 15_000) {
  const state = new LiveState(600_000);
  state.apply([sampleOf('node-a', 0, 1000, { gpu_utilization_percent: 10 })]);
  const live = new CountingLive(state);
  const app = createApp(depsOf(live), { heartbeatMs, sampleIntervalMs: 1000 });
  return { state, live, app };
}

describe('GET /api/stream', () => {
  test('opens with a snapshot of every GPU as server-sent events', async () => {
    const { app } = setup();
    const res = await app.request('/api/stream');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = new EventReader(res);
    const snapshot = await events.nextOf('snapshot');
    assert.deepEqual(snapshot.metrics, METRIC_NAMES);
    assert.equal(snapshot.intervalMs, 1000);
    assert.deepEqual(
      snapshot.gpus.map((g) => [g.uuid, g.gpu_utilization_percent]),
      [['GPU-node-a-0', 10]],
    );
    await events.cancel();
  });

  test('delivers a samples event after live.apply, compact in catalog order', async () => {
    const { app, state } = setup();
    const events = new EventReader(await app.request('/api/stream'));
    await events.nextOf('snapshot');
    state.apply([
      sampleOf('node-a', 0, 2000, { gpu_utilization_percent: 77 }),
      sampleOf('node-b', 3, 2000, { gpu_temperature_celsius: 61 }),
    ]);
    const { samples } = await events.nextOf('samples');
    const util = METRIC_NAMES.indexOf('gpu_utilization_percent');
    assert.equal(samples[0]?.uuid, 'GPU-node-a-0');
    assert.equal(samples[0]?.ts, 2000);
    assert.equal(samples[0]?.v[util], 77);
    assert.equal(samples[0]?.id, undefined, 'a GPU of the snapshot carries no identity');
    assert.equal(samples[1]?.id?.host, 'node-b', 'a GPU new to the stream carries its identity');
    assert.equal(samples[1]?.v[METRIC_NAMES.indexOf('gpu_temperature_celsius')], 61);
    await events.cancel();
  });

  test('delivers an alerts event with the alerts of an update', async () => {
    const { app, state } = setup();
    const events = new EventReader(await app.request('/api/stream'));
    await events.nextOf('snapshot');
    const alert = {
      ts: 2000,
      rule: 'high_load',
      host: 'node-a',
      gpu_index: 0,
      uuid: 'GPU-node-a-0',
      model: 'NVIDIA H100 80GB HBM3',
      value: 99,
      threshold: 90,
    } as const;
    state.apply([sampleOf('node-a', 0, 2000, { gpu_utilization_percent: 99 })], [alert]);
    await events.nextOf('samples');
    assert.deepEqual(await events.nextOf('alerts'), { alerts: [alert] });
    await events.cancel();
  });

  test('sends a heartbeat comment while idle', async () => {
    const { app } = setup(50);
    const events = new EventReader(await app.request('/api/stream'));
    await events.nextOf('snapshot');
    assert.deepEqual(await events.next(), { event: 'comment', data: 'heartbeat' });
    await events.cancel();
  });

  test('subscribes to the live state only while a client is connected', async () => {
    const { app, live } = setup();
    assert.equal(live.subscribers, 0);
    const first = new EventReader(await app.request('/api/stream'));
    const second = new EventReader(await app.request('/api/stream'));
    await first.nextOf('snapshot');
    await second.nextOf('snapshot');
    assert.equal(live.subscribers, 2);
    await first.cancel();
    await until(() => live.subscribers === 1, 'the first client unsubscribed on disconnect');
    await second.cancel();
    await until(() => live.subscribers === 0, 'the second client unsubscribed on disconnect');
  });
});
