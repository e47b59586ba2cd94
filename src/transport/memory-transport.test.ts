import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GpuSample } from '../metrics/sample.ts';
import { testSample } from '../testing/samples.ts';
import { MemoryTransport } from './memory-transport.ts';

describe('MemoryTransport', () => {
  it('delivers every batch to every group in publish order', async () => {
    const transport = new MemoryTransport();
    const seen: Record<string, number[]> = { live: [], archive: [] };
    for (const group of ['live', 'archive']) {
      transport.subscribe(group, async (samples) => {
        for (const s of samples) seen[group]?.push(s.ts);
      });
    }
    for (let i = 0; i < 5; i++) await transport.publish([testSample({ ts: i })]);
    await transport.close();
    assert.deepEqual(seen.live, [0, 1, 2, 3, 4]);
    assert.deepEqual(seen.archive, [0, 1, 2, 3, 4]);
  });

  it('redelivers a rejected batch until it is acknowledged', async () => {
    const transport = new MemoryTransport(undefined, 1);
    let calls = 0;
    const accepted: GpuSample[] = [];
    transport.subscribe('flaky', async (samples) => {
      calls++;
      if (calls < 3) throw new Error('not yet');
      accepted.push(...samples);
    });
    await transport.publish([testSample({ ts: 1 })]);
    await transport.close();
    assert.equal(calls, 3);
    assert.equal(accepted.length, 1);
  });

  it('waits on close for acknowledgements still in flight, then refuses publishes', async () => {
    const transport = new MemoryTransport();
    let acked = false;
    transport.subscribe('slow', async () => {
      await new Promise((r) => setTimeout(r, 30));
      acked = true;
    });
    await transport.publish([testSample({ ts: 1 })]);
    assert.equal(transport.inFlight(), 1);
    await transport.close();
    assert.equal(acked, true);
    await assert.rejects(transport.publish([testSample({ ts: 2 })]), /transport is closed/);
  });
});
