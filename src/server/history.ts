import type { Context } from 'hono';
import { Hono } from 'hono';
import { METRIC_NAMES, type MetricName } from '../metrics/catalog.ts';
import type { LiveView } from '../pipeline/live-state.ts';
import { limitedRead } from './api-analytics.ts';
import type { FleetEnergyResponse, HistoryResponse, HistorySeries } from './api-types.ts';
import type { ArchiveHistoryApi, BucketStats, HistoryBuckets } from './deps.ts';
import { badRequest, intQuery, notFound } from './http-error.ts';

/** GET /api/fleet/energy?from=<epoch ms or ISO>: the fleet's energy since then (the page: since local midnight). */
export function fleetEnergyRoutes(
  live: LiveView,
  archive: ArchiveHistoryApi | undefined,
  options: { now: () => number; reads: ReadLimit },
): Hono {
  const api = new Hono();
  api.get('/energy', async (c) => {
    const raw = c.req.query('from');
    const fromMs = raw === undefined ? null : parseTime(raw);
    const toMs = options.now();
    if (fromMs === null || fromMs >= toMs || toMs - fromMs > MAX_HISTORY_SPAN_MS) {
      badRequest(
        `query parameter from must be epoch ms or an ISO 8601 time in the last 400 days, got ${JSON.stringify(raw ?? null)}`,
      );
    }
    const body = await limitedRead(options.reads, c.req.raw.signal, () =>
      fleetEnergy(live, archive, fromMs, toMs),
    );
    return c.json(body);
  });
  return api;
}

import type { ReadLimit } from './read-limit.ts';

/**
 * A GPU's history over any range: the live buffer where it reaches, the Parquet archive before it, downsampled
 * into time buckets (count, sum, min and max of each metric per bucket) so that a month moves a few thousand
 * points per series at most. A stretch without samples stays a gap (a `null` point).
 */

/** The named ranges the page offers, in ms. */
export const HISTORY_RANGES = {
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
} as const;
export type HistoryRange = keyof typeof HISTORY_RANGES;

export const DEFAULT_HISTORY_POINTS = 1500;
export const MAX_HISTORY_POINTS = 5000;
/** The longest custom range (`from` to `to`). */
export const MAX_HISTORY_SPAN_MS = 400 * 86_400_000;
/** Metrics of one request at most. */
export const MAX_HISTORY_METRICS = 20;

export interface HistoryQuery {
  metrics: MetricName[];
  fromMs: number;
  toMs: number;
  bucketMs: number;
}

/** A time as epoch ms or ISO 8601 (`2026-12-01T10:00:00Z`); null when it is neither. */
export function parseTime(text: string): number | null {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The bucket width for `points` buckets across `spanMs`: at least the sampling interval (one sample a bucket),
 * in whole seconds.
 */
export function bucketWidth(spanMs: number, points: number, intervalMs: number): number {
  const raw = Math.max(intervalMs, Math.ceil(spanMs / points));
  return Math.ceil(raw / 1000) * 1000;
}

/** Reads and checks the query parameters; every bad one is a 400 that names it. */
export function historyQuery(
  params: { metrics?: string; range?: string; from?: string; to?: string; points: number },
  now: number,
  intervalMs: number,
): HistoryQuery {
  if (!params.metrics) {
    badRequest('query parameter metrics is required: metric names from /api/catalog, comma-separated');
  }
  const metrics = [...new Set(params.metrics.split(','))];
  for (const m of metrics) {
    if (!(METRIC_NAMES as readonly string[]).includes(m)) {
      badRequest(`query parameter metrics: unknown metric ${JSON.stringify(m)}; see /api/catalog`);
    }
  }
  if (metrics.length > MAX_HISTORY_METRICS) {
    badRequest(`query parameter metrics: at most ${MAX_HISTORY_METRICS} metrics, got ${metrics.length}`);
  }
  let fromMs: number;
  let toMs: number;
  if (params.from !== undefined || params.to !== undefined) {
    if (params.range !== undefined) {
      badRequest('query parameter range cannot go with from and to: give a range or a from and a to');
    }
    for (const name of ['from', 'to'] as const) {
      const raw = params[name];
      if (raw === undefined) badRequest(`query parameter ${name} is required with the other of from and to`);
      if (parseTime(raw) === null) {
        badRequest(
          `query parameter ${name} must be epoch ms or an ISO 8601 time, got ${JSON.stringify(raw)}`,
        );
      }
    }
    fromMs = parseTime(params.from as string) as number;
    toMs = parseTime(params.to as string) as number;
    if (toMs <= fromMs) badRequest('query parameter to must be after from');
    if (toMs - fromMs > MAX_HISTORY_SPAN_MS) {
      badRequest(`query parameters from and to: at most ${MAX_HISTORY_SPAN_MS / 86_400_000} days apart`);
    }
  } else {
    const range = params.range ?? '15m';
    if (!Object.hasOwn(HISTORY_RANGES, range)) {
      badRequest(
        `query parameter range must be one of ${Object.keys(HISTORY_RANGES).join(', ')}, got ${JSON.stringify(range)}`,
      );
    }
    toMs = now;
    fromMs = now - HISTORY_RANGES[range as HistoryRange];
  }
  return {
    metrics: metrics as MetricName[],
    fromMs,
    toMs,
    bucketMs: bucketWidth(toMs - fromMs, params.points, intervalMs),
  };
}

function emptyStats(n: number): BucketStats[] {
  return Array.from({ length: n }, () => ({
    count: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: -Infinity,
  }));
}

/** The live buffer's points of `uuid` from `fromMs` up to `toMs`, in buckets; null when the GPU is not live. */
export function liveBuckets(
  live: LiveView,
  uuid: string,
  q: HistoryQuery,
  fromMs: number,
): HistoryBuckets | null {
  const buckets: HistoryBuckets = new Map();
  let known = false;
  q.metrics.forEach((metric, i) => {
    const series = live.series(uuid, metric, fromMs);
    if (!series) return;
    known = true;
    series.ts.forEach((ts, k) => {
      const value = series.values[k];
      if (ts >= q.toMs) return;
      const index = Math.floor(ts / q.bucketMs);
      let stats = buckets.get(index);
      if (!stats) {
        stats = emptyStats(q.metrics.length);
        buckets.set(index, stats);
      }
      const s = stats[i] as BucketStats;
      if (value === null || value === undefined) return;
      s.count++;
      s.sum += value;
      s.min = Math.min(s.min, value);
      s.max = Math.max(s.max, value);
    });
  });
  return known ? buckets : null;
}

/** Adds the buckets of `more` into `into` (counts and sums add up, min of mins, max of maxes). */
export function mergeBuckets(into: HistoryBuckets, more: HistoryBuckets): HistoryBuckets {
  for (const [index, stats] of more) {
    const have = into.get(index);
    if (!have) {
      into.set(index, stats);
      continue;
    }
    stats.forEach((s, i) => {
      const h = have[i] as BucketStats;
      h.count += s.count;
      h.sum += s.sum;
      h.min = Math.min(h.min, s.min);
      h.max = Math.max(h.max, s.max);
    });
  }
  return into;
}

/**
 * The response's columns: one point per bucket that has samples (at its start), mean, min and max of each
 * metric (null where the metric had no value in it), and a `null` point after a bucket followed by more than
 * 1.5 sampling intervals (or 1.5 times the usual step between points, if longer) without samples: a gap.
 */
export function historyColumns(
  buckets: HistoryBuckets,
  q: HistoryQuery,
  intervalMs: number,
): Pick<HistoryResponse, 'ts' | 'series'> {
  const ts: number[] = [];
  const series: Record<string, HistorySeries> = {};
  const columns = q.metrics.map((m) => {
    const column: HistorySeries = { mean: [], min: [], max: [] };
    series[m] = column;
    return column;
  });
  const push = (t: number, stats: BucketStats[] | null) => {
    ts.push(t);
    columns.forEach((column, i) => {
      const s = stats?.[i];
      const has = s !== undefined && s.count > 0;
      column.mean.push(has ? s.sum / s.count : null);
      column.min.push(has ? s.min : null);
      column.max.push(has ? s.max : null);
    });
  };
  const indexes = [...buckets.keys()].sort((a, b) => a - b);
  // Samples further apart than the buckets (an archive sampled less often than the live source) are not gaps:
  // the usual step between points counts too.
  const steps = indexes.slice(1).map((index, i) => (index - (indexes[i] as number)) * q.bucketMs);
  steps.sort((a, b) => a - b);
  const usual = steps[Math.floor(steps.length / 2)] ?? 0;
  const gapAfter = Math.max(q.bucketMs + 1.5 * intervalMs, 1.5 * usual);
  let previous: number | null = null;
  for (const index of indexes) {
    const start = index * q.bucketMs;
    if (previous !== null && start - previous > gapAfter) {
      push(previous + q.bucketMs, null);
    }
    push(start, buckets.get(index) ?? null);
    previous = start;
  }
  return { ts, series };
}

const ENERGY: MetricName = 'gpu_energy_joules_total';

/**
 * The energy the fleet used from `fromMs` to now: per GPU, its energy counter's latest reading (live, else the
 * archive's last) less its first since `fromMs` (the archive's, else the live buffer's); a GPU whose counter
 * went back (a driver reload) is left out.
 */
export async function fleetEnergy(
  live: LiveView,
  archive: ArchiveHistoryApi | undefined,
  fromMs: number,
  toMs: number,
): Promise<FleetEnergyResponse> {
  const archived = archive ? await archive.counterSpans(ENERGY, fromMs, toMs) : new Map();
  const spans = new Map<string, { first: number | null; last: number | null }>();
  for (const [uuid, span] of archived) spans.set(uuid, { ...span });
  for (const sample of live.latest()) {
    const series = live.series(sample.uuid, ENERGY, fromMs);
    const readings = series?.values.filter((v): v is number => v !== null) ?? [];
    const span = spans.get(sample.uuid) ?? { first: readings[0] ?? null, last: null };
    span.last = readings.at(-1) ?? span.last;
    spans.set(sample.uuid, span);
  }
  let joules = 0;
  let gpus = 0;
  for (const { first, last } of spans.values()) {
    if (first === null || last === null || last < first) continue;
    joules += last - first;
    gpus++;
  }
  return { from: fromMs, to: toMs, kwh: joules / 3_600_000, gpus };
}

/** GET /api/gpus/:uuid/history?metrics=a,b&range=1h (or &from=&to=), &points=1500. */
export function historyRoutes(
  live: LiveView,
  archive: ArchiveHistoryApi | undefined,
  options: { now: () => number; intervalMs: number | null; reads: ReadLimit },
): Hono {
  const api = new Hono();
  api.get('/:uuid/history', async (c: Context) => {
    const uuid = c.req.param('uuid') as string;
    const intervalMs = options.intervalMs ?? 1000;
    const q = historyQuery(
      {
        metrics: c.req.query('metrics'),
        range: c.req.query('range'),
        from: c.req.query('from'),
        to: c.req.query('to'),
        points: intQuery(c, 'points', DEFAULT_HISTORY_POINTS, 10, MAX_HISTORY_POINTS),
      },
      options.now(),
      intervalMs,
    );
    // The live buffer from its oldest point on; the archive before it (or all of the range without one).
    const first = live.series(uuid, q.metrics[0] as MetricName, q.fromMs);
    const liveFrom = first ? Math.min(q.toMs, Math.max(q.fromMs, first.ts[0] ?? q.toMs)) : q.toMs;
    const buckets = (first && liveBuckets(live, uuid, q, liveFrom)) || new Map();
    const sources: HistoryResponse['sources'] = buckets.size > 0 ? ['live'] : [];
    if (!first && !archive) notFound(`no GPU with uuid ${JSON.stringify(uuid)} in the live fleet`);
    if (archive && liveFrom > q.fromMs) {
      const archived = await limitedRead(options.reads, c.req.raw.signal, () =>
        archive.buckets(uuid, { ...q, toMs: liveFrom }),
      );
      if (archived.size > 0) sources.unshift('archive');
      mergeBuckets(buckets, archived);
    }
    const body: HistoryResponse = {
      uuid,
      from: q.fromMs,
      to: q.toMs,
      bucketMs: q.bucketMs,
      sources,
      ...historyColumns(buckets, q, intervalMs),
    };
    return c.json(body);
  });
  return api;
}
