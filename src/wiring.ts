import { runDailyAnalytics } from './analytics/daily-job.ts';
import { listResultDates, readResult, readSummary } from './analytics/results.ts';
import { ANALYTICS_JOB_NAME } from './cli/runs.ts';
import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import { CronJob, type CronJobOptions, type JobFunction, scheduleOptions } from './schedule/cron-job.ts';
import { FileRunHistory, runHistoryPath } from './schedule/history.ts';
import type { ResultsApi, RunsApi } from './server/deps.ts';
import { dateOfTs } from './sinks/archive/layout.ts';
import { statePath } from './sinks/archive/open-storage.ts';
import type { ArchiveStorage } from './sinks/archive/storage.ts';

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
  if (result && typeof result === 'object' && 'summary' in result) {
    return { summary: (result as { summary: unknown }).summary };
  }
  return {};
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

/** The analytics results in the archive, as the HTTP server sees them. */
export function resultsApi(storage: ArchiveStorage): ResultsApi {
  return {
    dates: () => listResultDates(storage),
    summary: (date) => readSummary(storage, date),
    result: (date, analysis, filter) => readResult(storage, date, analysis, filter),
  };
}
