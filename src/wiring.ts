import { runDailyAnalytics } from './analytics/daily-job.ts';
import { lastClosedHour, runHourlyPartial } from './analytics/hourly-job.ts';
import { listResultDates, ResultReader, readSummary } from './analytics/results.ts';
import { ANALYTICS_JOB_NAME } from './cli/runs.ts';
import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import type { BatcherStats } from './pipeline/batcher.ts';
import { CronJob, type CronJobOptions, type JobFunction, scheduleOptions } from './schedule/cron-job.ts';
import { FileRunHistory, type RunHistoryStore, runHistoryPath } from './schedule/history.ts';
import type { HealthCheck } from './server/api-types.ts';
import type { ResultsApi, RunsApi } from './server/deps.ts';
import { analyticsCheck, archiveWriteCheck, checked, sourceCheck, within } from './server/health.ts';
import { dateOfTs } from './sinks/archive/layout.ts';
import { statePath } from './sinks/archive/open-storage.ts';
import type { ArchiveStorage } from './sinks/archive/storage.ts';
import type { Source } from './sources/source.ts';

const DAY_MS = 86_400_000;

/** The day a run scheduled at `scheduledAt` analyses: the UTC day before. */
export function dayBefore(scheduledAt: number): string {
  return dateOfTs(scheduledAt - DAY_MS);
}

/**
 * The daily analytics as a CronJob: each run analyses the UTC day before its scheduled time, with the
 * `schedule.*` semantics, and keeps its history in `<archive>/state/analytics-runs.json`.
 */
export function analyticsJob(config: Config, storage: ArchiveStorage, logger: Logger): CronJob {
  return analyticsCronJob(config, logger, async ({ signal, scheduledAt, attempt }) => {
    const date = dayBefore(scheduledAt);
    logger.info({ date, attempt }, 'daily analytics: starting');
    const result = await runDailyAnalytics({ config, date, storage, logger, signal });
    logger.info({ date }, 'daily analytics: done');
    return { date, ...summaryOf(result) };
  });
}

/** The name of the hourly partials' job in logs and run ids. */
export const HOURLY_JOB_NAME = 'analytics-hourly';

/**
 * The hourly partials as a CronJob (`schedule.hourlyCron`, UTC): each run computes the partial of the last
 * UTC hour closed at its scheduled time (hourly-job.ts). No retries and no history file: an hour that fails is
 * computed by the night, which logs it; a run never overlaps the one before (a slow hour skips the next).
 */
export function hourlyAnalyticsJob(config: Config, storage: ArchiveStorage, logger: Logger): CronJob {
  return new CronJob({
    name: HOURLY_JOB_NAME,
    cron: config.schedule.hourlyCron,
    timezone: 'UTC',
    retries: 0,
    deadlineSeconds: 3000,
    logger,
    job: async ({ signal, scheduledAt }) => {
      const { date, hour } = lastClosedHour(scheduledAt);
      const result = await runHourlyPartial({ config, date, hour, storage, logger, signal });
      return { date, hour, rows: result.rows, inputFiles: result.inputFiles };
    },
  });
}

/**
 * The CronJob of the analytics, with its history in `<archive>/state/analytics-runs.json`, running `job`.
 * `gpumon up` runs it on the schedule; `gpumon analyze` triggers it once by hand (without retries: a person
 * is watching), so both kinds of run appear in `gpumon runs`.
 */
export function analyticsCronJob(
  config: Config,
  logger: Logger,
  job: JobFunction,
  overrides: Partial<CronJobOptions> = {},
): CronJob {
  return new CronJob({
    name: ANALYTICS_JOB_NAME,
    ...scheduleOptions(config.schedule),
    logger,
    history: analyticsHistory(config),
    job,
    ...overrides,
  });
}

function summaryOf(result: unknown): Record<string, unknown> {
  if (!result || typeof result !== 'object' || !('summary' in result)) return {};
  const { summary, quarantined } = result as { summary: unknown; quarantined?: unknown[] };
  // A day analysed without its unreadable files (analytics.skipCorrupt) is partial; the record names them.
  return quarantined && quarantined.length > 0 ? { summary, partial: true, quarantined } : { summary };
}

/** Where the analytics runs are recorded: `<archive>/state/analytics-runs.json`, shared by up and analyze. */
export function analyticsHistory(config: Config): FileRunHistory {
  return new FileRunHistory(runHistoryPath(statePath(config), ANALYTICS_JOB_NAME), {
    successful: config.schedule.successfulHistory,
    failed: config.schedule.failedHistory,
  });
}

/** The scheduler, as the HTTP server sees it; the list is read from the file, with runs of other processes. */
export function runsApi(job: CronJob, history: FileRunHistory): RunsApi {
  return {
    list: () => history.load(),
    trigger: async () => {
      const outcome = await job.trigger();
      if (outcome.started) return { started: true, run: outcome.run };
      return { started: false, reason: outcome.reason };
    },
    nextRunAt: () => job.nextRunAt() ?? null,
  };
}

/**
 * The analytics results in the archive, as the HTTP server sees them: rows through `reader`, the server's one
 * ResultReader (one DuckDB instance; the server closes it when it stops).
 */
export function resultsApi(storage: ArchiveStorage, reader: ResultReader): ResultsApi {
  return {
    dates: () => listResultDates(storage),
    summary: (date) => readSummary(storage, date),
    result: (date, analysis, filter) => reader.read(date, analysis, filter),
  };
}

/** The server's one reader of results, with as many connections as reads may run at once. */
export function resultReader(config: Config, storage: ArchiveStorage): ResultReader {
  return new ResultReader(storage, { connections: config.server.maxConcurrentReads });
}

/** A health check may take this long (a slow HDFS), then it counts as failed. */
const HEALTH_CHECK_TIMEOUT_MS = 5000;

/** The health of `gpumon up`: the source, the archive writes, the latest analytics run. */
export function embeddedHealth(parts: {
  source: Source;
  intervalMs: number;
  startedAtMs: number;
  archive: () => BatcherStats | undefined;
  history: RunHistoryStore;
  now?: () => number;
}): () => Promise<HealthCheck[]> {
  const now = parts.now ?? Date.now;
  return async () => [
    sourceCheck(parts.source.health(), parts.intervalMs, parts.startedAtMs, now()),
    archiveWriteCheck(parts.archive(), now()),
    await lastRunCheck(parts.history),
  ];
}

/** The health of `gpumon serve`: the archive readable, the latest analytics run. */
export function serveHealth(storage: ArchiveStorage, history: RunHistoryStore): () => Promise<HealthCheck[]> {
  return async () => [
    await checked('archive', async () => {
      const dates = await within(listResultDates(storage), HEALTH_CHECK_TIMEOUT_MS, 'listing the results');
      return { name: 'archive', status: 'ok', detail: `readable; results of ${dates.length} days` };
    }),
    await lastRunCheck(history),
  ];
}

/** An unreadable run history makes the analytics degraded, not the server failing: results are still served. */
function lastRunCheck(history: RunHistoryStore): Promise<HealthCheck> {
  return checked(
    'analytics',
    async () =>
      analyticsCheck(await within(history.load(), HEALTH_CHECK_TIMEOUT_MS, 'reading the run history')),
    'degraded',
  );
}
