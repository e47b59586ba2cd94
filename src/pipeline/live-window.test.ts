import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricName } from '../metrics/catalog.ts';
import { testSample } from '../testing/samples.ts';
import { GpuWindow } from './live-window.ts';

const TEMP = 'gpu_temperature_celsius';
const ENERGY = 'gpu_energy_joules_total';

function filled(from: number, to: number, values: (t: number) => Record<string, number | null> = () => ({})) {
  const window = new GpuWindow();
  for (let t = from; t <= to; t++) window.push(testSample({ ts: t * 1000, [TEMP]: t, ...values(t) }));
  return window;
}

describe('GpuWindow', () => {
  it('gives back every value as it was pushed, nulls as nulls and zeros as zeros', () => {
    const window = new GpuWindow();
    const values = [0, null, 41.25, 2 ** 53 - 1, -0.001, 1e-300];
    values.forEach((v, i) => {
      window.push(testSample({ ts: i, [ENERGY]: v }));
    });
    assert.deepEqual(window.series(ENERGY, 0)?.values, values);
    assert.deepEqual(window.series(ENERGY, 0)?.ts, [0, 1, 2, 3, 4, 5]);
  });

  it('keeps the samples in the order they came, a late one after the newer ones', () => {
    const window = new GpuWindow();
    for (const ts of [1000, 3000, 2000, 4000]) window.push(testSample({ ts, [TEMP]: ts / 1000 }));
    assert.deepEqual(window.series(TEMP, 0)?.ts, [1000, 3000, 2000, 4000]);
    assert.deepEqual(window.series(TEMP, 0)?.values, [1, 3, 2, 4]);
  });

  it('starts a series at the first sample at or after the time asked', () => {
    const window = filled(1, 10);
    assert.deepEqual(window.series(TEMP, 7000)?.values, [7, 8, 9, 10]);
    assert.deepEqual(window.series(TEMP, 7001)?.values, [8, 9, 10]);
    assert.deepEqual(window.series(TEMP, 11_000), { ts: [], values: [] });
  });

  it('drops the oldest samples older than a cutoff, and stops at the first that is not', () => {
    const window = filled(1, 10);
    window.dropBefore(4000);
    assert.equal(window.length, 7);
    assert.deepEqual(window.series(TEMP, 0)?.ts, [4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
  });

  it('wraps around its ring and grows past it without losing or reordering a value', () => {
    const window = new GpuWindow(16);
    for (let t = 1; t <= 12; t++) window.push(testSample({ ts: t, [TEMP]: t }));
    window.dropBefore(9); // the start moves to the 9th slot: the next pushes wrap
    for (let t = 13; t <= 60; t++) window.push(testSample({ ts: t, [TEMP]: t }));
    const expected = Array.from({ length: 52 }, (_, i) => i + 9);
    assert.deepEqual(window.series(TEMP, 0)?.values, expected);
    assert.deepEqual(window.series(TEMP, 0)?.ts, expected);
  });

  it('gives memory back when a burst has passed', () => {
    const window = filled(1, 1000);
    const burst = window.bytes();
    window.dropBefore(990_000);
    assert.equal(window.length, 11);
    assert.ok(window.bytes() <= burst / 16, `${window.bytes()} bytes after the burst, ${burst} during it`);
    assert.deepEqual(
      window.series(TEMP, 0)?.values,
      [990, 991, 992, 993, 994, 995, 996, 997, 998, 999, 1000],
    );
  });

  it('costs nothing for a metric the GPU never reports, and starts it with nulls when it first does', () => {
    const without = filled(1, 100, () => ({ gpu_fan_speed_percent: null }));
    const withFan = filled(1, 100, () => ({ gpu_fan_speed_percent: 40 }));
    assert.equal(withFan.bytes() - without.bytes(), 128 * 8);

    const late = filled(1, 4, (t) => ({ gpu_fan_speed_percent: t >= 3 ? t * 10 : null }));
    assert.deepEqual(late.series('gpu_fan_speed_percent', 0)?.values, [null, null, 30, 40]);
    assert.deepEqual(without.series('gpu_fan_speed_percent', 99_000)?.values, [null, null]);
  });

  it('answers null for a name that is not a metric of the catalog', () => {
    assert.equal(filled(1, 3).series('gpu_no_such_metric' as MetricName, 0), null);
  });
});
