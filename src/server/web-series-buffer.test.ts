import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { estimateInterval, SeriesBuffer } from '../../web/series-buffer.ts';

describe('SeriesBuffer (the page chart buffer)', () => {
  test('appends points in time order and ignores a point not newer than the last', () => {
    const b = new SeriesBuffer(10, 1000);
    assert.equal(b.push(1000, 1), true);
    assert.equal(b.push(2000, 2), true);
    assert.equal(b.push(2000, 9), false);
    assert.equal(b.push(1500, 9), false);
    assert.deepEqual(
      [b.ts, b.values],
      [
        [1000, 2000],
        [1, 2],
      ],
    );
  });

  test('puts a null gap point before a sample late by more than 1.5 intervals', () => {
    const b = new SeriesBuffer(10, 1000);
    b.push(1000, 1);
    b.push(2400, 2);
    b.push(5000, 3);
    assert.deepEqual(b.ts, [1000, 2400, 3400, 5000]);
    assert.deepEqual(b.values, [1, 2, null, 3]);
  });

  test('keeps at most capacity points, dropping the oldest', () => {
    const b = new SeriesBuffer(3, 1000);
    for (let i = 1; i <= 5; i++) b.push(i * 1000, i);
    assert.deepEqual(b.values, [3, 4, 5]);
  });

  test('estimates the interval from the points when none is given', () => {
    const b = new SeriesBuffer(20, null);
    for (const t of [0, 200, 400, 600, 800]) b.push(t, 1);
    b.push(2000, 2);
    assert.deepEqual(b.ts, [0, 200, 400, 600, 800, 1000, 2000]);
    assert.equal(b.values[5], null);
  });

  test('loads history and keeps the live points newer than it, with gaps from the history', () => {
    const b = new SeriesBuffer(20, 1000);
    b.push(5000, 50);
    b.push(6000, 60);
    b.load({ ts: [1000, 2000, 4000, 5000], values: [10, 20, 40, 55] });
    assert.deepEqual(b.ts, [1000, 2000, 3000, 4000, 5000, 6000]);
    assert.deepEqual(b.values, [10, 20, null, 40, 55, 60]);
  });

  test('estimateInterval takes the median step', () => {
    assert.equal(estimateInterval([0, 1000, 2000, 9000, 10000]), 1000);
    assert.equal(estimateInterval([5]), null);
  });
});
