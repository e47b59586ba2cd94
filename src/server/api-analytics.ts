import { Hono } from 'hono';
import { ANALYSES, hasGpuRows } from '../analytics/analyses.ts';
import type {
  AnalyticsDatesResponse,
  AnalyticsResultResponse,
  AnalyticsSummaryResponse,
  RunsResponse,
  TriggerResponse,
} from './api-types.ts';
import type { ResultsApi, RunsApi } from './deps.ts';
import { badRequest, fail, intQuery, notFound } from './http-error.ts';
import { type ReadLimit, ReadLimitFull } from './read-limit.ts';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ANALYSIS = /^[a-z_]+$/;

/** An analysis of the daily job whose rows are not GPUs' (the summary, the hosts'): no `?uuid=` filter. */
function withoutGpuRows(analysis: string): boolean {
  return (ANALYSES as readonly string[]).includes(analysis) && !hasGpuRows(analysis);
}

/** A calendar day as YYYY-MM-DD (2024-02-30 is not one). */
export function isIsoDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

function dateParam(date: string): string {
  if (!isIsoDate(date))
    badRequest(`path parameter date must be a day as YYYY-MM-DD, got ${JSON.stringify(date)}`);
  return date;
}

function notConfigured(what: string): never {
  return fail(404, 'NOT_CONFIGURED', `${what} are not enabled on this server`);
}

/** GET /api/runs, POST /api/runs: the analytics runs. */
export function runsRoutes(runs: RunsApi | undefined): Hono {
  const api = new Hono();

  api.get('/', async (c) => {
    if (!runs) notConfigured('analytics runs');
    const body: RunsResponse = {
      runs: await runs.list(),
      nextRunAt: runs.nextRunAt(),
      canRun: runs.cannotRun === undefined,
      cannotRunReason: runs.cannotRun ?? null,
    };
    return c.json(body);
  });

  api.post('/', async (c) => {
    if (!runs) notConfigured('analytics runs');
    const outcome = await runs.trigger();
    if (!outcome.started) {
      fail(409, outcome.refusal ?? 'RUN_IN_PROGRESS', outcome.reason ?? 'a run is already in progress');
    }
    const body: TriggerResponse = { started: true, run: outcome.run ?? null };
    return c.json(body, 202);
  });

  return api;
}

/**
 * Rows of one analysis answered by default; `?limit=` asks for more, up to the server's cap
 * (`server.maxResultRows`); `?offset=` skips rows, to page through a long result; `?uuid=` keeps one GPU's rows.
 */
export const DEFAULT_RESULT_ROWS = 1000;
/** The largest `?limit=` and `?offset=` parsed; a limit above the cap is lowered to it. */
export const MAX_RESULT_ROWS = 1_000_000;
const MAX_RESULT_OFFSET = 1_000_000_000;

/** Seconds a client told SERVER_BUSY should wait before it asks again. */
export const BUSY_RETRY_AFTER_S = 1;

export interface AnalyticsLimits {
  /** Result reads at a time and waiting (beyond both: 503 SERVER_BUSY with Retry-After). */
  reads: ReadLimit;
  /** Rows of one response at most. */
  maxResultRows: number;
}

/** GET /api/analytics[/:date[/:analysis]]: the results of the daily analytics. */
export function analyticsRoutes(results: ResultsApi | undefined, limits: AnalyticsLimits): Hono {
  const api = new Hono();

  api.get('/', async (c) => {
    if (!results) notConfigured('analytics results');
    const dates = (await results.dates()).filter(isIsoDate).sort().reverse();
    const body: AnalyticsDatesResponse = { dates };
    return c.json(body);
  });

  api.get('/:date', async (c) => {
    if (!results) notConfigured('analytics results');
    const date = dateParam(c.req.param('date'));
    const summary = await results.summary(date);
    if (summary === null) notFound(`no analytics summary for ${date}`);
    const body: AnalyticsSummaryResponse = { date, summary };
    return c.json(body);
  });

  api.get('/:date/:analysis', async (c) => {
    if (!results) notConfigured('analytics results');
    const date = dateParam(c.req.param('date'));
    const analysis = c.req.param('analysis');
    if (!ANALYSIS.test(analysis)) {
      badRequest(`path parameter analysis must match [a-z_]+, got ${JSON.stringify(analysis)}`);
    }
    const cap = limits.maxResultRows;
    const limit = Math.min(intQuery(c, 'limit', Math.min(DEFAULT_RESULT_ROWS, cap), 1, MAX_RESULT_ROWS), cap);
    const offset = intQuery(c, 'offset', 0, 0, MAX_RESULT_OFFSET);
    const uuid = c.req.query('uuid');
    if (uuid !== undefined && (uuid === '' || withoutGpuRows(analysis))) {
      badRequest(
        'query parameter uuid must name a GPU, and the summary (of the fleet) and the host analyses take none',
      );
    }
    // One row more than answered tells whether the result goes on.
    const filter = { limit: limit + 1, ...(offset > 0 ? { offset } : {}), ...(uuid ? { uuid } : {}) };
    const read = await limitedRead(limits.reads, c.req.raw.signal, () =>
      results.result(date, analysis, filter),
    );
    if (read === null) notFound(`no result of analysis ${analysis} for ${date}`);
    const truncated = read.length > limit;
    const body: AnalyticsResultResponse = {
      date,
      analysis,
      offset,
      rows: truncated ? read.slice(0, limit) : read,
      truncated,
    };
    return c.json(body);
  });

  return api;
}

/** A read within the limit; a full queue is 503 SERVER_BUSY with Retry-After. */
export async function limitedRead<T>(
  reads: ReadLimit,
  signal: AbortSignal,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await reads.run(read, signal);
  } catch (err) {
    if (err instanceof ReadLimitFull) {
      fail(503, 'SERVER_BUSY', `the server is busy reading the archive (${err.message}); try again shortly`, {
        'Retry-After': String(BUSY_RETRY_AFTER_S),
      });
    }
    throw err;
  }
}
