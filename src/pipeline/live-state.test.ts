import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testSample } from '../testing/samples.ts';
import { LiveState } from './live-state.ts';

describe('LiveState', () => {
  it('keeps the latest sample of every GPU, ordered by host and index', () => {
    const live = new LiveState(60_000);
    live.apply([testSample({ ts: 2 }, 1, 'b'), testSample({ ts: 1 }, 0, 'b'), testSample({ ts: 5 }, 3, 'a')]);
    live.apply([testSample({ ts: 3, gpu_utilization_percent: 42 }, 1, 'b')]);
    assert.deepEqual(
      live.latest().map((s) => [s.host, s.gpu_index, s.ts]),
      [
        ['a', 3, 5],
        ['b', 0, 1],
        ['b', 1, 3],
      ],
    );
  });

  it('returns a window of one metric and forgets what is older than the window', () => {
    const live = new LiveState(10_000);
    for (let t = 0; t <= 30_000; t += 1000) {
      live.apply([testSample({ ts: t, gpu_temperature_celsius: t === 25_000 ? null : t / 1000 })]);
    }
    const series = live.series('GPU-node-1-0', 'gpu_temperature_celsius', 24_000);
    assert.deepEqual(series?.ts, [24_000, 25_000, 26_000, 27_000, 28_000, 29_000, 30_000]);
    assert.deepEqual(series?.values, [24, null, 26, 27, 28, 29, 30]);
    assert.equal(live.series('GPU-node-1-0', 'gpu_temperature_celsius', 0)?.ts[0], 20_000);
    assert.equal(live.series('GPU-unknown', 'gpu_temperature_celsius', 0), null);
  });

  it('tells subscribers of each update until they unsubscribe', () => {
    const live = new LiveState(10_000);
    let updates = 0;
    const unsubscribe = live.subscribe(() => updates++);
    live.apply([testSample({ ts: 1 })]);
    unsubscribe();
    live.apply([testSample({ ts: 2 })]);
    assert.equal(updates, 1);
  });
});
