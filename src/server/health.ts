/**
 * The health of `gpumon up` and `gpumon serve`, as checks of their parts, each ok, degraded or failing, with
 * what was seen. The server's status is the worst of them: /api/health shows every check, /readyz answers 503
 * while one is failing. Like the agent's and consume's /readyz (health/health-server.ts), a part that is away
 * but retried is not a reason to restart the process: /healthz stays 200 while the server answers.
 */
import type { LiveFeedHealth } from '../live/live-feed.ts';
import type { BatcherStats } from '../pipeline/batcher.ts';
import { type SourceHealth, staleAfterMs } from '../sources/source.ts';
import type { HealthCheck, HealthResponse, HealthStatus } from './api-types.ts';

/** Every archive write failing for this long makes the archive check failing (as consume's /readyz). */
export const ARCHIVE_FAILING_AFTER_MS = 30_000;

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, failing: 2 };

/** The worst status of the checks; ok when there are none. */
export function overallStatus(checks: readonly HealthCheck[]): HealthStatus {
  return checks.reduce<HealthStatus>((worst, c) => (RANK[c.status] > RANK[worst] ? c.status : worst), 'ok');
}

/** The body of /api/health: the status, the reasons (checks not ok, worst first) and every check. */
export function healthResponse(
  checks: readonly HealthCheck[],
  version: string,
  sources: SourceHealth[],
): HealthResponse {
  const reasons = checks
    .filter((c) => c.status !== 'ok')
    .sort((a, b) => RANK[b.status] - RANK[a.status])
    .map((c) => `${c.name}: ${c.detail}`);
  return { status: overallStatus(checks), reasons, checks: [...checks], version, sources };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * The source: ok while a read succeeded within three sampling intervals (at least 10 s, as the agent's
 * readiness); before the first read, degraded for that long after the start, then failing; failing when the
 * last good read is older. A notice (simulated GPUs) is told, and does not change the status.
 */
export function sourceCheck(
  health: SourceHealth,
  intervalMs: number,
  startedAtMs: number,
  now: number,
): HealthCheck {
  const staleMs = staleAfterMs(intervalMs);
  const notice = health.notice ? ` (${health.notice})` : '';
  const errors = Object.entries(health.errors)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  const failed = errors ? `; failed reads: ${errors}` : '';
  const last = health.lastSuccessMs;
  if (last === null) {
    const waited = now - startedAtMs;
    return {
      name: 'source',
      status: waited > staleMs ? 'failing' : 'degraded',
      detail: `${health.source}: no successful read in ${seconds(waited)} since the start${failed}${notice}`,
    };
  }
  if (now - last > staleMs) {
    return {
      name: 'source',
      status: 'failing',
      detail: `${health.source}: last successful read ${seconds(now - last)} ago${failed}${notice}`,
    };
  }
  return {
    name: 'source',
    status: 'ok',
    detail: `${health.source}: last read ${seconds(now - last)} ago${notice}`,
  };
}

/**
 * Archive writes of `gpumon up`: ok while they succeed; degraded as soon as every write fails (the batch is
 * kept and retried), failing once that has lasted ARCHIVE_FAILING_AFTER_MS.
 */
export function archiveWriteCheck(stats: BatcherStats | undefined, now: number): HealthCheck {
  if (!stats) return { name: 'archive', status: 'ok', detail: 'no archive writer' };
  if (stats.failingSinceMs === null) {
    return {
      name: 'archive',
      status: 'ok',
      detail: `${stats.written} samples written, ${stats.buffered} waiting for the next write`,
    };
  }
  const failingMs = now - stats.failingSinceMs;
  return {
    name: 'archive',
    status: failingMs >= ARCHIVE_FAILING_AFTER_MS ? 'failing' : 'degraded',
    detail: `every write failing for ${seconds(failingMs)} (${stats.failures} failures; ${stats.buffered} samples held, retried)`,
  };
}

/** A run record as the health reads it (schedule/history.ts RunRecord). */
interface RunLike {
  status?: unknown;
  scheduledAt?: unknown;
  error?: unknown;
  result?: unknown;
}

/**
 * The daily analytics: degraded when the latest finished run failed (the results of its day are missing),
 * with its error; ok otherwise, also before the first run.
 */
export function analyticsCheck(runs: readonly unknown[]): HealthCheck {
  const finished = (runs as RunLike[]).find((r) => r.status !== 'running');
  if (!finished) return { name: 'analytics', status: 'ok', detail: 'no finished run yet' };
  const date = (finished.result as { date?: unknown } | undefined)?.date;
  const when =
    typeof date === 'string'
      ? ` for ${date}`
      : typeof finished.scheduledAt === 'number'
        ? ` scheduled at ${new Date(finished.scheduledAt).toISOString()}`
        : '';
  if (finished.status === 'failed') {
    const error = typeof finished.error === 'string' ? finished.error : 'no reason recorded';
    return { name: 'analytics', status: 'degraded', detail: `the latest run${when} failed: ${error}` };
  }
  return { name: 'analytics', status: 'ok', detail: `the latest run${when} ${String(finished.status)}` };
}

/** A check that could not be made is itself a finding (`status`, failing by default), named by its error code. */
export async function checked(
  name: string,
  check: () => Promise<HealthCheck>,
  status: HealthStatus = 'failing',
): Promise<HealthCheck> {
  try {
    return await check();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { name, status, detail: `cannot be checked${typeof code === 'string' ? ` (${code})` : ''}` };
  }
}

/** Resolves with `promise`, or rejects once `ms` have passed (a check must not hang a probe). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what}: no answer in ${ms} ms`), { code: 'TIMEOUT' })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The live fleet of `gpumon serve` (a live feed, src/live/): ok while its polls succeed and the newest sample
 * is recent; degraded before the first poll answers, while polls fail (InfluxDB away, refused), and while
 * the store answers with nothing recent (no `gpumon consume` writing, no agent sending). Never failing: serve
 * still serves the analytics results, and a 503 from /readyz would take the page that tells why off its
 * Service. `staleMs`: a newest sample older than this (by this machine's clock) is not live.
 */
export function liveFeedCheck(health: LiveFeedHealth, staleMs: number, now: number): HealthCheck {
  const where = `${health.feed} ${health.target}`;
  const invalid = health.invalid > 0 ? `; ${health.invalid} rows skipped as invalid samples` : '';
  if (health.failingSinceMs !== null) {
    return {
      name: 'live',
      status: 'degraded',
      detail:
        `${where}: every poll failing for ${seconds(now - health.failingSinceMs)} (${health.failures} ` +
        `failures; live data is stale, retried): ${health.lastError ?? 'no reason recorded'}`,
    };
  }
  if (health.lastPollMs === null) {
    return {
      name: 'live',
      status: 'degraded',
      detail: `${where}: no poll answered yet, ${seconds(now - health.startedAtMs)} since the start`,
    };
  }
  if (health.newestSampleMs === null) {
    return {
      name: 'live',
      status: 'degraded',
      detail: `${where}: answers, but holds no sample of the live window (is gpumon consume writing?)${invalid}`,
    };
  }
  const age = now - health.newestSampleMs;
  if (age > staleMs) {
    return {
      name: 'live',
      status: 'degraded',
      detail: `${where}: the newest sample is ${seconds(age)} old (${health.gpus} GPUs; are the agents and gpumon consume running?)${invalid}`,
    };
  }
  return {
    name: 'live',
    status: 'ok',
    detail: `${where}: ${health.gpus} GPUs, newest sample ${seconds(Math.max(0, age))} old, polled ${seconds(now - health.lastPollMs)} ago${invalid}`,
  };
}
