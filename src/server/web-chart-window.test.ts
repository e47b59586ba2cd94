import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  dragWindow,
  gapsOf,
  keyWindow,
  minimumSpan,
  panWindow,
  wheelFactor,
  type XWindow,
  zoomWindow,
} from '../../web/chart-window.ts';
import { timeTickSpace, timeTicks } from '../../web/time-chart.ts';

/** The data of a chart: 1,000 s to 2,000 s. */
const BOUNDS: XWindow = [1000, 2000];
const MIN_SPAN = 10;

describe('panning a zoomed window', () => {
  test('moves it later or earlier by the time asked, keeping its span', () => {
    assert.deepEqual(panWindow([1200, 1400], 100, BOUNDS), [1300, 1500]);
    assert.deepEqual(panWindow([1200, 1400], -150, BOUNDS), [1050, 1250]);
  });

  test('stops at either end of the data, still as wide', () => {
    assert.deepEqual(panWindow([1700, 1900], 500, BOUNDS), [1800, 2000]);
    assert.deepEqual(panWindow([1100, 1300], -500, BOUNDS), [1000, 1200]);
  });

  test('by a drag: what was under the pointer stays under it', () => {
    // A plot 400 px wide shows 200 s: a drag 100 px to the left shows 50 s later.
    assert.deepEqual(dragWindow([1200, 1400], -100, 400, BOUNDS), [1250, 1450]);
    assert.deepEqual(dragWindow([1200, 1400], 40, 400, BOUNDS), [1180, 1380]);
    assert.deepEqual(dragWindow([1200, 1400], 40, 0, BOUNDS), [1200, 1400], 'no plot, no move');
  });
});

describe('zooming a window', () => {
  test('in around a time that stays where it was on the axis', () => {
    // 1,300 s is a quarter into [1,200, 1,600]: still a quarter into the half as wide window.
    assert.deepEqual(zoomWindow([1200, 1600], 0.5, 1300, BOUNDS, MIN_SPAN), [1250, 1450]);
  });

  test('out, kept within the data', () => {
    assert.deepEqual(zoomWindow([1800, 2000], 2, 1900, BOUNDS, MIN_SPAN), [1600, 2000]);
  });

  test('out over all the data is no zoom at all', () => {
    assert.equal(zoomWindow([1200, 1700], 2, 1450, BOUNDS, MIN_SPAN), null);
    assert.equal(zoomWindow([1000, 2000], 1, 1500, BOUNDS, MIN_SPAN), null);
  });

  test('in no further than the shortest span', () => {
    assert.deepEqual(zoomWindow([1500, 1520], 0.1, 1510, BOUNDS, MIN_SPAN), [1505, 1515]);
  });

  test('a wheel turned up zooms in, down zooms out, a turn of 100 px by about a fifth', () => {
    assert.ok(wheelFactor(-100) < 1 && wheelFactor(100) > 1);
    assert.ok(Math.abs(wheelFactor(100) - Math.exp(0.2)) < 1e-12);
    assert.equal(wheelFactor(10_000), wheelFactor(500), 'one flick of a fast wheel is capped');
  });

  test('the shortest span is two steps of the data, 1 s at least', () => {
    assert.equal(minimumSpan(0, 60_000 * 99, 100), 120_000);
    assert.equal(minimumSpan(0, 99, 100), 1000);
    assert.equal(minimumSpan(0, 0, 1), 1000);
  });

  test('a few seconds of live points can still be zoomed into', () => {
    // Four points 2 s apart: 40 % of them is narrower than two steps, widened to them, not refused.
    const bounds: XWindow = [0, 6000];
    assert.deepEqual(zoomWindow([1800, 4200], 1, 1800, bounds, minimumSpan(0, 6000, 4)), [1800, 5800]);
  });
});

describe('the keys of a focused chart', () => {
  const win: XWindow = [1200, 1600];

  test('the arrows pan by a quarter of the window', () => {
    assert.deepEqual(keyWindow('ArrowRight', win, BOUNDS, MIN_SPAN), [1300, 1700]);
    assert.deepEqual(keyWindow('ArrowLeft', win, BOUNDS, MIN_SPAN), [1100, 1500]);
  });

  test('+ halves the window around its middle, − doubles it', () => {
    assert.deepEqual(keyWindow('+', win, BOUNDS, MIN_SPAN), [1300, 1500]);
    assert.deepEqual(keyWindow('=', win, BOUNDS, MIN_SPAN), [1300, 1500]);
    assert.deepEqual(keyWindow('-', [1300, 1500], BOUNDS, MIN_SPAN), [1200, 1600]);
  });

  test('Escape and 0 show the whole range; any other key does nothing', () => {
    assert.equal(keyWindow('Escape', win, BOUNDS, MIN_SPAN), null);
    assert.equal(keyWindow('0', win, BOUNDS, MIN_SPAN), null);
    assert.equal(keyWindow('a', win, BOUNDS, MIN_SPAN), undefined);
    assert.equal(keyWindow('Tab', win, BOUNDS, MIN_SPAN), undefined);
  });
});

describe('the gaps of a line', () => {
  test('each run of nulls, from the point before to the point after', () => {
    const ts = [0, 10, 20, 30, 40, 50, 60];
    assert.deepEqual(gapsOf(ts, [1, null, null, 4, 5, null, 7]), [
      [0, 30],
      [40, 60],
    ]);
  });

  test('a time only another line has (undefined) neither starts nor ends a gap', () => {
    assert.deepEqual(gapsOf([0, 10, 20, 30], [1, undefined, null, 4]), [[0, 30]]);
    assert.deepEqual(gapsOf([0, 10, 20, 30], [1, undefined, 3, 4]), []);
  });

  test('a run at either end reaches to the first or the last time', () => {
    assert.deepEqual(gapsOf([0, 10, 20], [null, 2, null]), [
      [0, 10],
      [10, 20],
    ]);
    assert.deepEqual(gapsOf([], []), []);
  });
});

describe('the time axis', () => {
  test('keeps its labels apart: the wider the labels the span needs, the more room between them', () => {
    // About 7 px a character at 12 px, and a gap: "14:47:30", "14:47", "12-05 14:47".
    for (const span of [5 * 60_000, 6 * 3_600_000, 7 * 86_400_000]) {
      const label = timeTicks([0], span).join('');
      assert.ok(timeTickSpace(span) >= 7 * label.length + 10, `${label}: ${timeTickSpace(span)} px`);
    }
  });
});
