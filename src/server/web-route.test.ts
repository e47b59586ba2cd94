import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { duration } from '../../web/format.ts';
import { energySince, historyNote } from '../../web/gpu-detail.ts';
import { formatRoute, parseRoute } from '../../web/route.ts';

describe("the address of a GPU's detail carries its range", () => {
  test('a named range is range=<name>; the last 15 minutes, the default, is left out', () => {
    assert.equal(formatRoute({ view: 'gpu', uuid: 'GPU-1', range: { name: '7d' } }), '#gpu=GPU-1&range=7d');
    assert.deepEqual(parseRoute('#gpu=GPU-1&range=7d'), {
      view: 'gpu',
      uuid: 'GPU-1',
      range: { name: '7d' },
    });
    assert.equal(formatRoute({ view: 'gpu', uuid: 'GPU-1', range: { name: '15m' } }), '#gpu=GPU-1');
  });

  test('a custom range is from and to as ISO times, and reads back to the same instants', () => {
    const range = { from: Date.parse('2026-01-02T03:04:00Z'), to: Date.parse('2026-01-05T00:00:00Z') };
    const hash = formatRoute({ view: 'gpu', uuid: 'GPU-1', range });
    assert.equal(
      decodeURIComponent(hash),
      '#gpu=GPU-1&from=2026-01-02T03:04:00.000Z&to=2026-01-05T00:00:00.000Z',
    );
    assert.deepEqual(parseRoute(hash), { view: 'gpu', uuid: 'GPU-1', range });
  });

  test('an unknown range name, or a custom range that ends before it starts, is the last 15 minutes', () => {
    assert.deepEqual(parseRoute('#gpu=G&range=2h'), { view: 'gpu', uuid: 'G', range: { name: '15m' } });
    assert.deepEqual(parseRoute('#gpu=G&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z'), {
      view: 'gpu',
      uuid: 'G',
      range: { name: '15m' },
    });
  });
});

describe('what the charts say they show', () => {
  test('durations for people', () => {
    assert.deepEqual([2000, 90_000, 3_600_000 * 3.6, 2 * 86_400_000].map(duration), [
      '2 s',
      '1.5 min',
      '3.6 h',
      '2 d',
    ]);
  });

  test('the bucket width and where the points come from, or that there are none', () => {
    const base = { from: 0, to: 1, bucketMs: 12_960_000, ts: [0] };
    assert.match(
      historyNote({ ...base, sources: ['archive', 'live'] }),
      /each point the mean of 3\.6 h · from the archive and the live buffer$/,
    );
    assert.match(historyNote({ ...base, sources: ['archive'] }), /from the archive$/);
    assert.match(historyNote({ ...base, ts: [], sources: [] }), /no samples in this range\.$/);
  });
});

describe('the energy used today, from the energy counter in buckets', () => {
  const series = (min: (number | null)[], max: (number | null)[]) => ({ mean: min, min, max });
  test("the last bucket's maximum less the first one's minimum, in kWh, skipping buckets without a reading", () => {
    assert.equal(energySince(series([null, 1_000_000, 4_000_000], [null, 2_000_000, 7_840_000])), '1.90 kWh');
  });
  test('nothing without readings, or when the counter went back (a driver reload)', () => {
    assert.equal(energySince(series([null], [null])), '—');
    assert.equal(energySince(undefined), '—');
    assert.equal(energySince(series([9_000_000, 10], [9_500_000, 20])), '—');
  });
});
