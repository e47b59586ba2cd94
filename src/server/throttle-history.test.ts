import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ResultReader } from '../analytics/results.ts';
import { createTestArchive, GPU_A, sample, type TestArchive } from '../analytics/testing.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { LiveState } from '../pipeline/live-state.ts';
import type { ApiErrorBody, ThrottleResponse } from './api-types.ts';
import { createApp } from './app.ts';
import { archiveHistory } from './archive-history.ts';
import { depsOf } from './test-support.ts';
import { THROTTLE_REASONS } from './throttle-history.ts';

const MIN = 60_000;
const NOW = Date.parse('2026-01-10T12:00:00Z');
const HOUR = 60 * MIN;

/**
 * GPU A in the archive: a sample a minute from 2026-01-10 00:00 to 10:00. From 02:00 to 02:30 the power cap
 * (0x4); from 02:15 to 02:45 also the SW thermal slowdown (0x20); 03:00 the GPU idle bit (0x1) and the display
 * clock (0x100), which are settings, not throttling; from 05:00 to 06:00 no reading of the reasons (null).
 */
function archived(): GpuSample[] {
  const out: GpuSample[] = [];
  const start = Date.parse('2026-01-10T00:00:00Z');
  for (let ts = start; ts < start + 10 * HOUR; ts += MIN) {
    const m = (ts - start) / MIN;
    let reasons: number | null = 0;
    if (m >= 120 && m < 150) reasons |= 0x4;
    if (m >= 135 && m < 165) reasons |= 0x20;
    if (m === 180) reasons = 0x1 | 0x100;
    if (m >= 300 && m < 360) reasons = null;
    out.push(sample(GPU_A, ts, { gpu_clock_throttle_reasons: reasons }));
  }
  return out;
}

describe('GET /api/gpus/:uuid/throttle: when each throttle reason was active, per time bucket', () => {
  let archive: TestArchive;
  let reader: ResultReader;
  /** The live buffer: the last 10 minutes, every minute; the power brake (0x80) in the last 3. */
  const live = new LiveState(15 * MIN);
  live.apply(
    Array.from({ length: 10 }, (_, i) =>
      sample(GPU_A, NOW - (10 - i) * MIN, { gpu_clock_throttle_reasons: i >= 7 ? 0x80 : 0 }),
    ),
  );

  before(async () => {
    archive = await createTestArchive();
    await archive.addFile('2026-01-10', archived());
    reader = new ResultReader(archive.storage, { connections: 1 });
  });

  after(async () => {
    await reader.close();
    await archive.cleanup();
  });

  const app = () =>
    createApp(depsOf(live, { archive: archiveHistory(archive.storage, reader) }), {
      now: () => NOW,
      sampleIntervalMs: MIN,
    });

  async function throttle(query: string): Promise<ThrottleResponse> {
    const res = await app().request(`/api/gpus/${GPU_A.uuid}/throttle?${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as ThrottleResponse;
  }

  test('names each reason with its bit, a label and what it means', async () => {
    const body = await throttle('range=15m');
    assert.deepEqual(
      body.reasons.map((r) => [r.bit, r.label]),
      [
        [0x4, 'Power cap'],
        [0x80, 'Power brake'],
        [0x20, 'Thermal (SW)'],
        [0x40, 'Thermal (HW)'],
        [0x8, 'HW slowdown'],
        [0x10, 'Sync boost'],
      ],
    );
    assert.ok(body.reasons.every((r) => r.help.includes(`0x${r.bit.toString(16)}`)));
  });

  test('from the live buffer: one bucket per sample, the power brake in the last three', async () => {
    const body = await throttle('range=15m');
    assert.deepEqual(body.sources, ['live']);
    assert.equal(body.bucketMs, MIN);
    assert.deepEqual(body.ts, [NOW - 3 * MIN, NOW - 2 * MIN, NOW - MIN]);
    assert.deepEqual(body.active.power_brake, [1, 1, 1]);
    assert.deepEqual(body.active.power_cap, [0, 0, 0]);
    assert.deepEqual(body.totals, {
      measured: 10,
      active: { power_cap: 0, power_brake: 3, thermal_sw: 0, thermal_hw: 0, hw_slowdown: 0, sync_boost: 0 },
    });
  });

  test('from the archive, in 10-minute buckets: each reason counted on its own, settings bits left out', async () => {
    const from = Date.parse('2026-01-10T00:00:00Z');
    const body = await throttle(`from=${from}&to=${from + 10 * HOUR}&points=60`);
    assert.deepEqual(body.sources, ['archive']);
    assert.equal(body.bucketMs, 10 * MIN);
    const at = (hhmm: string) => Date.parse(`2026-01-10T${hhmm}:00Z`);
    assert.deepEqual(
      body.ts,
      ['02:00', '02:10', '02:20', '02:30', '02:40'].map(at),
      '03:00 had settings only',
    );
    assert.deepEqual(body.active.power_cap, [10, 10, 10, 0, 0]);
    assert.deepEqual(body.active.thermal_sw, [0, 5, 10, 10, 5]);
    assert.deepEqual(body.active.thermal_hw, [0, 0, 0, 0, 0]);
    assert.deepEqual(body.measured, [10, 10, 10, 10, 10]);
    assert.equal(body.totals.measured, 600 - 60, 'the hour without a reading is not measured');
    assert.equal(body.totals.active.power_cap, 30);
    assert.equal(body.totals.active.thermal_sw, 30);
  });

  test('a range across the archive and the live buffer counts each sample once', async () => {
    const body = await throttle('range=24h&points=24');
    assert.deepEqual(body.sources, ['archive', 'live']);
    assert.equal(body.totals.measured, 540 + 10);
    assert.equal(body.totals.active.power_brake, 3);
    assert.equal(body.totals.active.power_cap, 30);
  });

  test('bad queries are 400 with the parameter named; an unknown GPU without an archive 404', async () => {
    const res = await app().request(`/api/gpus/${GPU_A.uuid}/throttle?range=2w`);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as ApiErrorBody).error.message, /query parameter range/);
    const none = createApp(depsOf(live), { now: () => NOW });
    const missing = await none.request('/api/gpus/GPU-nowhere/throttle?range=1h');
    assert.equal(missing.status, 404);
  });

  test('the reasons are those the daily analytics count as throttling (0xFC)', () => {
    assert.equal(
      THROTTLE_REASONS.reduce((mask, r) => mask | r.bit, 0),
      0xfc,
    );
  });
});
