import { Hono } from 'hono';
import type { MetricName } from '../metrics/catalog.ts';
import type { LiveView } from '../pipeline/live-state.ts';
import { limitedRead } from './api-analytics.ts';
import type { ThrottleReason, ThrottleResponse } from './api-types.ts';
import type { ArchiveHistoryApi, FlagBuckets } from './deps.ts';
import { DEFAULT_HISTORY_POINTS, type HistoryQuery, historyQuery, MAX_HISTORY_POINTS } from './history.ts';
import { intQuery, notFound } from './http-error.ts';
import type { ReadLimit } from './read-limit.ts';

const METRIC: MetricName = 'gpu_clock_throttle_reasons';

/**
 * The reasons that slow the clocks (the catalog's `gpu_clock_throttle_reasons`, NVML's clock event reasons), in
 * the order the page draws them. 0x1 GPU idle, 0x2 application clocks and 0x100 display clock are settings, not
 * throttling (as in the daily analytics' throttle time, src/analytics/queries/shared/gpu_intervals.sql).
 */
export const THROTTLE_REASONS: readonly ThrottleReason[] = [
  {
    bit: 0x4,
    key: 'power_cap',
    label: 'Power cap',
    help: 'SW power cap (0x4): the power draw reached the limit',
  },
  {
    bit: 0x80,
    key: 'power_brake',
    label: 'Power brake',
    help: 'HW power brake slowdown (0x80): an external signal (the power supply) slows the GPU',
  },
  {
    bit: 0x20,
    key: 'thermal_sw',
    label: 'Thermal (SW)',
    help: 'SW thermal slowdown (0x20): the GPU or its memory is too hot, the driver slows the clocks',
  },
  {
    bit: 0x40,
    key: 'thermal_hw',
    label: 'Thermal (HW)',
    help: 'HW thermal slowdown (0x40): the GPU is too hot, the hardware halves its clocks or more',
  },
  {
    bit: 0x8,
    key: 'hw_slowdown',
    label: 'HW slowdown',
    help: 'HW slowdown (0x8): thermal or power brake in hardware (an older driver does not say which)',
  },
  {
    bit: 0x10,
    key: 'sync_boost',
    label: 'Sync boost',
    help: 'Sync boost (0x10): held to the clock of the slowest GPU of its sync boost group',
  },
];

const BITS = THROTTLE_REASONS.map((r) => r.bit);

/** The live buffer's throttle bitmasks of `uuid` from `fromMs` up to the query's end, counted per bucket. */
export function liveFlagBuckets(live: LiveView, uuid: string, q: HistoryQuery, fromMs: number): FlagBuckets {
  const buckets: FlagBuckets = new Map();
  const series = live.series(uuid, METRIC, fromMs);
  series?.ts.forEach((ts, k) => {
    const value = series.values[k];
    if (ts >= q.toMs || value === null || value === undefined) return;
    const index = Math.floor(ts / q.bucketMs);
    let bucket = buckets.get(index);
    if (!bucket) {
      bucket = { measured: 0, set: BITS.map(() => 0) };
      buckets.set(index, bucket);
    }
    bucket.measured++;
    BITS.forEach((bit, i) => {
      if (value & bit) (bucket.set[i] as number)++;
    });
  });
  return buckets;
}

/** The response's columns: the buckets with a reason active, in time order, and the totals of the range. */
export function throttleColumns(
  buckets: FlagBuckets,
  bucketMs: number,
): Pick<ThrottleResponse, 'ts' | 'measured' | 'active' | 'totals' | 'reasons'> {
  const active: Record<string, number[]> = {};
  const totals: ThrottleResponse['totals'] = { measured: 0, active: {} };
  for (const r of THROTTLE_REASONS) {
    active[r.key] = [];
    totals.active[r.key] = 0;
  }
  const ts: number[] = [];
  const measured: number[] = [];
  for (const index of [...buckets.keys()].sort((a, b) => a - b)) {
    const bucket = buckets.get(index) as { measured: number; set: number[] };
    totals.measured += bucket.measured;
    THROTTLE_REASONS.forEach((r, i) => {
      totals.active[r.key] = (totals.active[r.key] as number) + (bucket.set[i] as number);
    });
    if (!bucket.set.some((n) => n > 0)) continue;
    ts.push(index * bucketMs);
    measured.push(bucket.measured);
    THROTTLE_REASONS.forEach((r, i) => {
      active[r.key]?.push(bucket.set[i] as number);
    });
  }
  return { reasons: THROTTLE_REASONS, ts, measured, active, totals };
}

/**
 * GET /api/gpus/:uuid/throttle?range=1h (or &from=&to=), &points=1500: when each throttle reason was active, in
 * the time buckets of /history (the same query gives the same buckets). A bucket's mean of the bitmask says
 * nothing, so each reason's samples are counted: the live buffer where it reaches, the archive before it.
 */
export function throttleRoutes(
  live: LiveView,
  archive: ArchiveHistoryApi | undefined,
  options: { now: () => number; intervalMs: number | null; reads: ReadLimit },
): Hono {
  const api = new Hono();
  api.get('/:uuid/throttle', async (c) => {
    const uuid = c.req.param('uuid');
    const q = historyQuery(
      {
        metrics: METRIC,
        range: c.req.query('range'),
        from: c.req.query('from'),
        to: c.req.query('to'),
        points: intQuery(c, 'points', DEFAULT_HISTORY_POINTS, 10, MAX_HISTORY_POINTS),
      },
      options.now(),
      options.intervalMs ?? 1000,
    );
    const first = live.series(uuid, METRIC, q.fromMs);
    if (!first && !archive) notFound(`no GPU with uuid ${JSON.stringify(uuid)} in the live fleet`);
    const liveFrom = first ? Math.min(q.toMs, Math.max(q.fromMs, first.ts[0] ?? q.toMs)) : q.toMs;
    const buckets = first ? liveFlagBuckets(live, uuid, q, liveFrom) : new Map();
    const sources: ThrottleResponse['sources'] = buckets.size > 0 ? ['live'] : [];
    if (archive && liveFrom > q.fromMs) {
      const archived = await limitedRead(options.reads, c.req.raw.signal, () =>
        archive.flagBuckets(uuid, METRIC, BITS, { ...q, toMs: liveFrom }),
      );
      if (archived.size > 0) sources.unshift('archive');
      for (const [index, bucket] of archived) {
        const have = buckets.get(index);
        if (!have) buckets.set(index, bucket);
        else {
          have.measured += bucket.measured;
          bucket.set.forEach((n, i) => {
            have.set[i] = (have.set[i] as number) + n;
          });
        }
      }
    }
    const body: ThrottleResponse = {
      uuid,
      from: q.fromMs,
      to: q.toMs,
      bucketMs: q.bucketMs,
      sources,
      ...throttleColumns(buckets, q.bucketMs),
    };
    return c.json(body);
  });
  return api;
}
