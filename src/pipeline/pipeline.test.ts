import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/load.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { Sink } from '../sinks/sink.ts';
import type { Source, SourceHealth } from '../sources/source.ts';
import { testSample } from '../testing/samples.ts';
import { MemoryTransport } from '../transport/memory-transport.ts';
import { AlertEvaluator } from './alerts.ts';
import { ABANDON_GRACE_MS } from './batcher.ts';
import { LiveState } from './live-state.ts';
import { Pipeline } from './pipeline.ts';
import { Sampler } from './sampler.ts';

class ArraySink implements Sink {
  readonly rows: GpuSample[] = [];
  constructor(readonly name: string) {}
  async write(batch: readonly GpuSample[]): Promise<void> {
    this.rows.push(...batch);
  }
  async close(): Promise<void> {}
}

class CountingSource implements Source {
  readonly name = 'counting';
  async open(): Promise<void> {}
  async read(now: number): Promise<GpuSample[]> {
    return [0, 1, 2].map((gpu) => testSample({ ts: now, gpu_temperature_celsius: 85 }, gpu));
  }
  health(): SourceHealth {
    return { source: this.name, lastSuccessMs: null, lastReadDurationMs: null, errors: {}, notice: null };
  }
  async close(): Promise<void> {}
}

describe('pipeline', () => {
  it('fans each sample out to every sink, the live state and the alert rules', async () => {
    const transport = new MemoryTransport();
    const live = new LiveState(60_000);
    const archive = new ArraySink('archive');
    const other = new ArraySink('other');
    const alerts: string[] = [];
    const pipeline = new Pipeline({
      transport,
      group: 'embedded',
      alerts: new AlertEvaluator(loadConfig().alerts, 60_000),
      live,
      sinks: [
        { sink: archive, batching: { maxRows: 100, maxAgeMs: 60_000, maxBuffered: 1000 } },
        { sink: other, batching: { maxRows: 2, maxAgeMs: 60_000, maxBuffered: 1000 } },
      ],
      onAlerts: (events) => alerts.push(...events.map((e) => e.rule)),
    });
    await transport.publish([testSample({ ts: 1000, gpu_temperature_celsius: 81 })]);
    await transport.publish([testSample({ ts: 2000, gpu_temperature_celsius: 82 })]);
    assert.equal(live.latest()[0]?.ts, 2000);
    await pipeline.close();
    assert.equal(archive.rows.length, 2);
    assert.equal(other.rows.length, 2);
    assert.deepEqual(alerts, ['high_temperature', 'high_temperature']);
  });

  it('loses no sample when stopped: samples emitted equal rows written', async () => {
    const transport = new MemoryTransport();
    const archive = new ArraySink('archive');
    const pipeline = new Pipeline({
      transport,
      group: 'embedded',
      alerts: new AlertEvaluator(loadConfig().alerts, 60_000),
      sinks: [
        { sink: archive, batching: { maxRows: 1_000_000, maxAgeMs: 3_600_000, maxBuffered: 10_000_000 } },
      ],
    });
    const sampler = new Sampler(new CountingSource(), transport, 10);
    sampler.start();
    await new Promise((r) => setTimeout(r, 120));
    await sampler.stop();
    await pipeline.close();
    assert.ok(sampler.emittedCount() >= 3, `emitted ${sampler.emittedCount()}`);
    assert.equal(archive.rows.length, sampler.emittedCount());
    assert.equal(pipeline.receivedCount(), sampler.emittedCount());
  });

  it('refuses a delivery whole while one sink is behind, so its redelivery duplicates nothing', async () => {
    const transport = new MemoryTransport(undefined, 5);
    const fast = new ArraySink('fast');
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = new ArraySink('slow');
    const slowWrite = slow.write.bind(slow);
    slow.write = async (batch) => {
      await gate;
      await slowWrite(batch);
    };
    const live = new LiveState(60_000);
    let updates = 0;
    live.subscribe(() => updates++);
    const pipeline = new Pipeline({
      transport,
      group: 'embedded',
      alerts: new AlertEvaluator(loadConfig().alerts, 60_000),
      live,
      sinks: [
        { sink: fast, batching: { maxRows: 1, maxAgeMs: 60_000, maxBuffered: 100 } },
        { sink: slow, batching: { maxRows: 1, maxAgeMs: 60_000, maxBuffered: 1 } },
      ],
    });
    await transport.publish([testSample({ ts: 1000 })]);
    await transport.publish([testSample({ ts: 2000 })]); // slow is full: refused, redelivered later
    await new Promise((r) => setTimeout(r, 30));
    release();
    await pipeline.close();
    assert.deepEqual(
      fast.rows.map((s) => s.ts),
      [1000, 2000],
    );
    assert.deepEqual(
      slow.rows.map((s) => s.ts),
      [1000, 2000],
    );
    assert.equal(updates, 2);
    assert.equal(pipeline.receivedCount(), 2);
  });

  it('closes by its deadline while a sink keeps failing, and the transport gives up the refused deliveries', async () => {
    const transport = new MemoryTransport(undefined, 20);
    const failing: Sink = {
      name: 'broken-archive',
      write: async () => {
        throw new Error('ENOTDIR: not a directory');
      },
      close: async () => {},
    };
    const pipeline = new Pipeline({
      transport,
      group: 'embedded',
      sinks: [
        { sink: failing, batching: { maxRows: 2, maxAgeMs: 60_000, maxBuffered: 2, retryDelayMs: 20 } },
      ],
    });
    for (let i = 0; i < 4; i++) await transport.publish([testSample({ ts: i * 1000 })]);
    assert.ok(transport.inFlight() > 0, 'deliveries waiting: one batch being retried, the rest refused');
    const started = Date.now();
    const [stats] = await pipeline.close({ deadlineMs: started + 300 });
    const took = Date.now() - started;
    assert.ok(took < 300 + 2 * ABANDON_GRACE_MS, `closed in ${took} ms`);
    assert.equal(transport.inFlight(), 0, 'no delivery left retrying');
    assert.equal(stats?.written, 0);
    assert.ok((stats?.abandoned ?? 0) >= 2, `abandoned ${stats?.abandoned}`);
  });
});
