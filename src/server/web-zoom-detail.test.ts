import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detailNote } from '../../web/gpu-detail.ts';
import type { ThrottleLane } from '../../web/throttle-track.ts';
import {
  expectedBucketMs,
  LatestLoader,
  type ShownHistory,
  spliceColumns,
  spliceLanes,
  type Timers,
  wantsFinerHistory,
  ZOOM_DEBOUNCE_MS,
} from '../../web/zoom-detail.ts';
import { bucketWidth, HISTORY_RANGES } from './history.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const POINTS = 1500;
const INTERVAL = 2000;

describe('whether a zoomed window is asked again', () => {
  const now = 30 * DAY;
  const range7d: ShownHistory = {
    bucketMs: expectedBucketMs(HISTORY_RANGES['7d'], POINTS, INTERVAL),
    rawFrom: now,
    detail: null,
  };

  test("the page's bucket is the server's", () => {
    for (const span of [
      HISTORY_RANGES['15m'],
      HISTORY_RANGES['24h'],
      HISTORY_RANGES['7d'],
      3 * HOUR,
      1234567,
    ]) {
      assert.equal(expectedBucketMs(span, POINTS, INTERVAL), bucketWidth(span, POINTS, INTERVAL));
    }
  });

  test('a few hours of 7 days: finer buckets, asked', () => {
    assert.equal(range7d.bucketMs, 404_000);
    assert.ok(wantsFinerHistory([now - 3 * DAY, now - 3 * DAY + 3 * HOUR], range7d, POINTS, INTERVAL));
  });

  test('a window less than half the range: buckets not twice finer, not asked', () => {
    assert.equal(wantsFinerHistory([now - 7 * DAY + HOUR, now], range7d, POINTS, INTERVAL), false);
    assert.equal(wantsFinerHistory([now - 4 * DAY, now], range7d, POINTS, INTERVAL), false);
    assert.ok(wantsFinerHistory([now - 3 * DAY, now], range7d, POINTS, INTERVAL));
  });

  test('within the live samples after the history: nothing finer, not asked', () => {
    assert.equal(wantsFinerHistory([now + 60_000, now + 600_000], range7d, POINTS, INTERVAL), false);
    // Reaching back before them: asked.
    assert.ok(wantsFinerHistory([now - 600_000, now + 600_000], range7d, POINTS, INTERVAL));
  });

  test('a range already in one-sample buckets (15 minutes): never asked', () => {
    const short: ShownHistory = { bucketMs: 2000, rawFrom: now, detail: null };
    assert.equal(wantsFinerHistory([now - 600_000, now - 300_000], short, POINTS, INTERVAL), false);
  });

  test('within a window already shown at about that bucket: not asked; zoomed further in or panned out of it: asked', () => {
    const from = now - 3 * DAY;
    const shown: ShownHistory = {
      ...range7d,
      detail: { from, to: from + 3 * HOUR, bucketMs: expectedBucketMs(3 * HOUR, POINTS, INTERVAL) },
    };
    assert.equal(wantsFinerHistory([from + HOUR, from + 3 * HOUR], shown, POINTS, INTERVAL), false);
    assert.ok(
      wantsFinerHistory([from + HOUR, from + HOUR + 600_000], shown, POINTS, INTERVAL),
      'finer still',
    );
    assert.ok(wantsFinerHistory([from + 2 * HOUR, from + 5 * HOUR], shown, POINTS, INTERVAL), 'panned');
  });

  test('a custom range in the past has no live samples', () => {
    const past: ShownHistory = { ...range7d, rawFrom: Number.POSITIVE_INFINITY };
    assert.ok(wantsFinerHistory([now + HOUR, now + 2 * HOUR], past, POINTS, INTERVAL));
  });
});

describe("a window's finer points among the range's", () => {
  // The range: a point every 100 ms from 0 to 1,000; the window 300-600 asked again: a point every 10.
  const base = { ts: [0, 100, 200, 300, 400, 500, 600, 700, 800], cols: [[0, 1, 2, 3, 4, 5, 6, 7, 8]] };
  const fine = { ts: [300, 310, 320, 590], cols: [[30, 31, 32, 59]] };

  test("the range's outside the window, the finer within it", () => {
    const { ts, cols } = spliceColumns(base, fine, 300, 600, 150);
    assert.deepEqual(ts, [0, 100, 200, 300, 310, 320, 590, 600, 700, 800]);
    assert.deepEqual(cols, [[0, 1, 2, 30, 31, 32, 59, 6, 7, 8]]);
  });

  test('a first finer bucket starting before the window replaces the points it covers', () => {
    const early = { ts: [250, 300], cols: [[25, 30]] };
    const { ts } = spliceColumns(base, early, 260, 400, 150);
    assert.deepEqual(ts, [0, 100, 200, 250, 300, 400, 500, 600, 700, 800]);
  });

  test('where the two meet further apart than a gap, a null point breaks the line', () => {
    // No samples in the window's first half: no line from 200 to 480.
    const late = { ts: [480, 490], cols: [[48, 49]] };
    const { ts, cols } = spliceColumns(base, late, 300, 600, 150);
    assert.deepEqual(ts, [0, 100, 200, 340, 480, 490, 600, 700, 800]);
    assert.deepEqual(cols[0], [0, 1, 2, null, 48, 49, 6, 7, 8]);
  });

  test("the server's own gaps and several columns are kept", () => {
    const band = {
      ts: [0, 100, 200, 300],
      cols: [
        [0, 1, 2, 3],
        [10, 11, 12, 13],
      ],
    };
    const hole = {
      ts: [100, 110, 120],
      cols: [
        [1, null, 1.2],
        [11, null, 11.2],
      ],
    };
    const { ts, cols } = spliceColumns(band, hole, 100, 200, 150);
    assert.deepEqual(ts, [0, 100, 110, 120, 200, 300]);
    assert.deepEqual(cols, [
      [0, 1, null, 1.2, 2, 3],
      [10, 11, null, 11.2, 12, 13],
    ]);
  });

  test('no samples in the window: the range outside it, the window empty', () => {
    const { ts } = spliceColumns(base, { ts: [], cols: [[]] }, 300, 600, 150);
    assert.deepEqual(ts, [0, 100, 200, 400, 600, 700, 800]);
  });
});

describe("the throttle lanes with a window's finer marks", () => {
  const power = { key: 'power_cap', bit: 4, label: 'Power cap', help: '' };
  const thermal = { key: 'sw_thermal', bit: 32, label: 'Thermal (SW)', help: '' };
  const range: ThrottleLane[] = [
    {
      reason: power,
      marks: [
        { from: 0, to: 100, share: 0.5 },
        { from: 200, to: 400, share: 0.2 },
        { from: 500, to: 600, share: 1 },
      ],
    },
    { reason: thermal, marks: [{ from: 250, to: 350, share: 0.1 }] },
  ];

  test('cut away within the window, the finer marks there', () => {
    const detail: ThrottleLane[] = [{ reason: power, marks: [{ from: 290, to: 300, share: 1 }] }];
    const lanes = spliceLanes(range, detail, 250, 450);
    assert.deepEqual(lanes, [
      {
        reason: power,
        marks: [
          { from: 0, to: 100, share: 0.5 },
          { from: 200, to: 250, share: 0.2 },
          { from: 290, to: 300, share: 1 },
          { from: 500, to: 600, share: 1 },
        ],
      },
    ]);
  });
});

/** Timers run by hand: `tick(ms)` fires those due. */
function manualTimers(): Timers & { tick(ms: number): void; pending(): number } {
  let now = 0;
  let next = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    set: (fn, ms) => {
      due.set(++next, { at: now + ms, fn });
      return next;
    },
    clear: (handle) => {
      due.delete(handle as number);
    },
    tick(ms) {
      now += ms;
      for (const [id, t] of [...due]) {
        if (t.at <= now) {
          due.delete(id);
          t.fn();
        }
      }
    },
    pending: () => due.size,
  };
}

describe('asking the latest window only', () => {
  function setup() {
    const timers = manualTimers();
    const calls: { key: string; signal: AbortSignal; resolve: (v: string) => void }[] = [];
    const loaded: string[] = [];
    const loader = new LatestLoader<string, string>(
      (key, signal) =>
        new Promise((resolve) => {
          calls.push({ key, signal, resolve });
        }),
      (key, value) => loaded.push(`${key}=${value}`),
      () => {},
      ZOOM_DEBOUNCE_MS,
      timers,
    );
    return { timers, calls, loaded, loader };
  }

  test('waits until the wishes stop for the delay, then asks the last one', () => {
    const { timers, calls, loader } = setup();
    loader.want('a');
    timers.tick(200);
    loader.want('b');
    timers.tick(200);
    loader.want('c');
    timers.tick(ZOOM_DEBOUNCE_MS - 1);
    assert.equal(calls.length, 0, 'nothing asked while zooming');
    timers.tick(1);
    assert.deepEqual(
      calls.map((c) => c.key),
      ['c'],
    );
  });

  test('a new wish aborts the stale request at once: never two in flight, its late answer dropped', async () => {
    const { timers, calls, loaded, loader } = setup();
    loader.want('a');
    timers.tick(ZOOM_DEBOUNCE_MS);
    loader.want('b');
    assert.equal(calls[0]?.signal.aborted, true, 'the stale request is aborted');
    assert.equal(loader.aborted, 1);
    calls[0]?.resolve('late');
    timers.tick(ZOOM_DEBOUNCE_MS);
    assert.equal(calls.length, 2);
    assert.equal(calls[1]?.signal.aborted, false);
    calls[1]?.resolve('fresh');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(loaded, ['b=fresh']);
    assert.equal(loader.busy, false);
  });

  test('cancel drops the wish waiting and the request in flight', async () => {
    const { timers, calls, loaded, loader } = setup();
    loader.want('a');
    timers.tick(ZOOM_DEBOUNCE_MS);
    loader.cancel();
    assert.equal(calls[0]?.signal.aborted, true);
    loader.want('b');
    loader.cancel();
    timers.tick(ZOOM_DEBOUNCE_MS);
    assert.equal(calls.length, 1, 'the cancelled wish is never asked');
    assert.equal(timers.pending(), 0);
    calls[0]?.resolve('x');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(loaded, []);
  });

  test('the same wish as the one in flight does not ask again', () => {
    const { timers, calls, loader } = setup();
    loader.want('a');
    timers.tick(ZOOM_DEBOUNCE_MS);
    loader.want('a');
    timers.tick(ZOOM_DEBOUNCE_MS);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.signal.aborted, false);
  });
});

test("the note of a zoomed window says its finer bucket and its sources, and the whole range's", () => {
  const note = detailNote(
    { bucketMs: 404_000 },
    { from: 0, to: 3 * HOUR, bucketMs: 8000, sources: ['archive'], ts: [0, 8000] },
  );
  assert.match(
    note,
    /^Zoomed in: .* · each point the mean of 8 s · from the archive \(finer than the whole range's 6\.7 min\)$/,
  );
});
