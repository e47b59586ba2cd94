import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testSample } from '../testing/samples.ts';
import { WindowAggregator } from './windows.ts';

const W = Date.UTC(2026, 10, 25, 10, 0, 0); // a multiple of 30 s
const at = (seconds: number, temp: number | null, gpu = 0, extra = {}) =>
  testSample({ ts: W + seconds * 1000, gpu_temperature_celsius: temp, ...extra }, gpu);

describe('per-GPU tumbling windows', () => {
  it('close a window when a sample of a later window of the same GPU arrives, with avg/min/max and count', () => {
    const windows = new WindowAggregator(30);
    assert.deepEqual(
      windows.add([at(0, 40, 0, { gpu_memory_used_bytes: 100 }), at(10, 50), at(29.999, 60)]),
      [],
    );
    const closed = windows.add([at(30, 70)]);
    assert.equal(closed.length, 1);
    assert.deepEqual(closed[0], {
      start: W,
      sizeMs: 30_000,
      host: 'node-1',
      gpu_index: 0,
      uuid: 'GPU-node-1-0',
      model: 'NVIDIA H100 80GB HBM3',
      samples: 3,
      stats: {
        gpu_temperature_celsius: { avg: 50, min: 40, max: 60, count: 3 },
        gpu_memory_used_bytes: { avg: 100, min: 100, max: 100, count: 1 },
      },
    });
  });

  it('keep two GPUs apart: one GPU moving on does not close the other', () => {
    const windows = new WindowAggregator(30);
    windows.add([at(0, 40, 0), at(5, 80, 1), at(20, 42, 0), at(25, 90, 1)]);
    const closed = windows.add([at(31, 44, 0)]);
    assert.deepEqual(
      closed.map((w) => [w.gpu_index, w.samples, w.stats.gpu_temperature_celsius?.avg]),
      [[0, 2, 41]],
    );
    assert.deepEqual(
      windows.flush().map((w) => [w.gpu_index, w.start - W, w.samples, w.stats.gpu_temperature_celsius]),
      [
        [0, 30_000, 1, { avg: 44, min: 44, max: 44, count: 1 }],
        [1, 0, 2, { avg: 85, min: 80, max: 90, count: 2 }],
      ],
    );
    assert.equal(windows.openCount(), 0);
  });

  it('count and drop a sample whose window has already closed; order inside the open window does not matter', () => {
    const windows = new WindowAggregator(30);
    windows.add([at(40, 50), at(35, 30)]);
    windows.add([at(10, 99)]);
    assert.equal(windows.lateCount(), 1);
    const [w] = windows.flush();
    assert.deepEqual([w?.start, w?.samples, w?.stats.gpu_temperature_celsius?.avg], [W + 30_000, 2, 40]);
  });

  it('skip nulls in the statistics but count the sample, and leave out a metric null in every sample', () => {
    const windows = new WindowAggregator(30);
    windows.add([at(0, null), at(1, 60)]);
    const [w] = windows.flush();
    assert.equal(w?.samples, 2);
    assert.deepEqual(w?.stats, { gpu_temperature_celsius: { avg: 60, min: 60, max: 60, count: 1 } });
  });

  it('jump over empty windows and close windows that ended before a given time', () => {
    const windows = new WindowAggregator(10);
    windows.add([at(0, 1, 0), at(25, 2, 1)]);
    const closed = windows.add([at(95, 3, 0)]);
    assert.deepEqual(
      closed.map((w) => w.start - W),
      [0],
    );
    assert.deepEqual(
      windows.flushBefore(W + 35_000).map((w) => [w.gpu_index, w.start - W]),
      [[1, 20_000]],
    );
  });

  it('refuse a window that is not a whole number of seconds', () => {
    assert.throws(() => new WindowAggregator(0.5), /whole number of seconds/);
  });
});
