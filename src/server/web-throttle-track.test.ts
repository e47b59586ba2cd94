import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeThrottle, findMark, ThrottleTrack } from '../../web/throttle-track.ts';
import { THROTTLE_REASONS } from './throttle-history.ts';

const MIN = 60_000;

/** The server's answer: the power cap in all of the 10:00 bucket and a quarter of 10:10, thermal at 10:10. */
function answer() {
  const zero = Object.fromEntries(THROTTLE_REASONS.map((r) => [r.key, [0, 0]]));
  return {
    reasons: THROTTLE_REASONS,
    bucketMs: 10 * MIN,
    ts: [Date.parse('2026-12-07T10:00:00Z'), Date.parse('2026-12-07T10:10:00Z')],
    measured: [10, 8],
    active: { ...zero, power_cap: [10, 2], thermal_sw: [0, 8] },
    totals: {
      measured: 100,
      active: {
        ...Object.fromEntries(THROTTLE_REASONS.map((r) => [r.key, 0])),
        power_cap: 12,
        thermal_sw: 8,
      },
    },
  };
}

describe("the detail's throttle track (web/throttle-track.ts)", () => {
  test("a bucket with a reason active is a mark as wide as the bucket, as strong as the reason's share", () => {
    const track = new ThrottleTrack();
    track.load(answer());
    assert.deepEqual(
      track.lanes().map((l) => [l.reason.key, l.marks.map((m) => m.share)]),
      [
        ['power_cap', [1, 0.25]],
        ['thermal_sw', [1]],
      ],
      'only the reasons active somewhere get a lane, in the order of the server',
    );
    const at = Date.parse('2026-12-07T10:15:00Z');
    assert.equal(describeThrottle(track.at(at)), 'Throttled: Power cap (25 % of the bucket), Thermal (SW)');
    assert.equal(describeThrottle(track.at(Date.parse('2026-12-07T10:20:00Z'))), '', 'the end is excluded');
    assert.equal(track.shareOf('power_cap'), 0.12);
    assert.equal(track.shareOf('sync_boost'), 0);
  });

  test('live samples extend the last mark while they follow each other, and start one after a gap', () => {
    const track = new ThrottleTrack();
    track.load({ ...answer(), ts: [], measured: [], active: {}, totals: { measured: 0, active: {} } });
    const t0 = Date.parse('2026-12-07T11:00:00Z');
    assert.equal(track.push(t0, 0x4, 1000), true);
    track.push(t0 + 1000, 0x4 | 0x1, 1000);
    track.push(t0 + 2000, 0x1, 1000);
    track.push(t0 + 5000, 0x4, 1000);
    assert.equal(track.push(t0 + 6000, null, 1000), false, 'no reading changes nothing');
    assert.deepEqual(track.lanes()[0]?.marks, [
      { from: t0, to: t0 + 2000, share: 1 },
      { from: t0 + 5000, to: t0 + 6000, share: 1 },
    ]);
    assert.equal(track.measured, 4);
    assert.equal(track.shareOf('power_cap'), 0.75);
  });

  test('a sample before the answer is not counted twice: the answer holds it', () => {
    const track = new ThrottleTrack();
    assert.equal(track.push(1000, 0x4, 1000), false);
    assert.equal(track.measured, 0);
  });

  test('findMark finds the mark holding a time among thousands', () => {
    const marks = Array.from({ length: 5000 }, (_, i) => ({ from: i * 10, to: i * 10 + 5, share: 1 }));
    assert.equal(findMark(marks, 12_343)?.from, 12_340);
    assert.equal(findMark(marks, 12_346), null);
    assert.equal(findMark([], 1), null);
  });
});
