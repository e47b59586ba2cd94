import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { DateOutcome } from '../analytics/daily-job.ts';
import { parseSparkRemote } from '../analytics/engines/spark/remote.ts';
import { isRemoteArchive } from '../config/archive-uri.ts';
import { ANALYTICS_ENGINES } from '../config/schema.ts';
import { describeError, GpumonError } from '../errors.ts';
import { datesBetween } from '../sinks/archive/layout.ts';
import {
  configFromCli,
  EXIT,
  exitOnSecondSignal,
  exitStatusOf,
  onStopSignal,
  parseDateArg,
  runCommand,
  withConfigOption,
} from './common.ts';

interface AnalyzeFlags {
  config?: string;
  date?: string;
  from?: string;
  to?: string;
  archive?: string;
  engine?: string;
  sparkRemote?: string;
  skipCorrupt?: boolean;
  writeInfluxdb?: boolean;
  influxdb?: string;
  hour?: string[];
}

/** Longest range of dates one command runs. */
const MAX_DATES = 366;

/** `gpumon analyze`: the daily analytics for one date or a range, now. */
export function analyzeCommand(): Command {
  return withConfigOption(new Command('analyze'))
    .description(
      'Run the daily analytics of the archive for a date or a range of dates (default: yesterday, UTC)',
    )
    .option(
      '--hour <YYYY-MM-DDTHH...>',
      "compute the hourly partials of these hours (UTC), or `last` (the last closed hour), instead of a day's " +
        'results: the night reads them instead of computing those hours again',
    )
    .option('--date <YYYY-MM-DD>', 'the date to analyse (UTC), or today, or yesterday (the default)')
    .option('--from <YYYY-MM-DD>', 'first date of a range (with --to)')
    .option('--to <YYYY-MM-DD>', 'last date of a range, included (with --from)')
    .option('--archive <path>', 'archive root (overrides archive.path)')
    .option(
      '--engine <name>',
      `the SQL engine: ${ANALYTICS_ENGINES.join(' | ')} (overrides analytics.engine, default duckdb)`,
    )
    .option(
      '--skip-corrupt',
      'move a Parquet file that cannot be read to <archive>/quarantine/ and analyse the day without it, ' +
        'marked partial (analytics.skipCorrupt, default false: the day fails naming the file)',
    )
    .option(
      '--write-influxdb',
      'also write the results to InfluxDB, replacing the points of the date (analytics.writeInfluxdb, default ' +
        'false; measurements in docs/influxdb.md)',
    )
    .option('--influxdb <url>', 'InfluxDB base URL of --write-influxdb (overrides influxdb.url)')
    .option(
      '--spark-remote <sc://host:port>',
      'the Spark Connect server of --engine spark (overrides analytics.sparkRemote, default sc://127.0.0.1:15002)',
    )
    .addHelpText(
      'after',
      '\nResults go to <archive>/gpu-analytics/date=D/<analysis>.parquet and summary.json; re-running a date\n' +
        'replaces its results. Each invocation is recorded as a manual run (see `gpumon runs`).\n' +
        "With --write-influxdb (analytics.writeInfluxdb) the results also replace the date's points in InfluxDB;\n" +
        'if InfluxDB cannot be reached the date fails (ANALYTICS_INFLUXDB_WRITE_FAILED), its Parquet results stay.\n' +
        'Engines: duckdb runs in this process; spark sends the same SQL to an Apache Spark 4 Spark Connect\n' +
        'server, which reads the archive itself (local paths, or hdfs:// / webhdfs:// for an HDFS archive), e.g.\n' +
        '  gpumon analyze --engine spark --spark-remote sc://spark-connect:15002 --date 2026-11-25\n' +
        'Both engines give the same results (percentiles within 1e-9 relative; see docs/analytics.md).\n' +
        'Hourly partials: `gpumon analyze --hour last` (an hourly schedule: `gpumon up` runs it, and the\n' +
        "CronJob gpu-hourly-analytics) keeps the closed hour's window pass under gpu-analytics/partials/; the\n" +
        "night's run reads each hour whose input files have not changed since, and computes the others.\n" +
        'What each analysis computes: docs/analytics.md. Exit status: 0 when every date succeeded, 1 when one\n' +
        'failed (the others still run), 2 for a bad flag or setting, 130 after Ctrl-C (143 after SIGTERM): the\n' +
        'run is then recorded cancelled and its scratch files removed.',
    )
    .action((flags: AnalyzeFlags) => runCommand(() => analyze(flags)));
}

async function analyze(flags: AnalyzeFlags): Promise<number> {
  if (flags.hour !== undefined) return analyzeHours(flags);
  const dates = resolveDates(flags);
  const config = configFromCli(flags, {
    'archive.path': flags.archive,
    'analytics.engine': engineFlag(flags.engine),
    'analytics.sparkRemote': sparkRemoteFlag(flags.sparkRemote),
    'analytics.skipCorrupt': flags.skipCorrupt,
    'analytics.writeInfluxdb': flags.writeInfluxdb,
    'influxdb.url': flags.influxdb,
  });
  await requireArchive(config.archive.path, flags.archive === undefined ? 'archive.path' : '--archive');
  // Loaded here, not at the top: every command's module loads when the CLI starts.
  const { createLogger } = await import('../log.ts');
  const { analyzeDates } = await import('../analytics/daily-job.ts');
  const { analyticsCronJob } = await import('../wiring.ts');
  const logger = createLogger(config.log.level, 'gpumon-analyze');
  let outcomes: DateOutcome[] = [];
  const job = analyticsCronJob(
    config,
    logger,
    async ({ signal }) => {
      outcomes = await analyzeDates(
        config,
        dates,
        logger,
        (date, step, done, total) => process.stderr.write(`analyze ${date}: ${step} (${done}/${total})\n`),
        { signal },
      );
      const failed = outcomes.filter((o) => !o.ok);
      const [first] = failed;
      if (failed.length === 1 && first && !first.ok) throw first.error;
      if (failed.length > 0) {
        throw new GpumonError(
          'ANALYTICS_QUERY_FAILED',
          `${failed.length} of ${dates.length} date(s) failed: ${failed.map((o) => o.date).join(', ')}`,
        );
      }
      return runResult(dates, outcomes);
    },
    { retries: 0 },
  );
  // Ctrl-C or SIGTERM cancels the run: it is recorded cancelled (not left `running`), the job stops its
  // query and removes its scratch directory, and the command exits 128 + the signal's number.
  const cancellation = onStopSignal((signal) => {
    process.stderr.write(`analyze: ${signal}: cancelling the run...\n`);
    exitOnSecondSignal('gpumon analyze: stopping now; the run is recorded as interrupted by the next run');
    void job.stop({ cancel: `${signal}${signal === 'SIGINT' ? ' (Ctrl-C)' : ''} during gpumon analyze` });
  });
  try {
    const run = await job.trigger();
    const cancelledBy = cancellation.signal();
    if (!run.started && cancelledBy) {
      process.stderr.write(`gpumon: cancelled by ${cancelledBy} before the run started\n`);
      return exitStatusOf(cancelledBy);
    }
    if (!run.started) throw new GpumonError('USAGE', `cannot start a run: ${run.reason}`);
    const record = await run.done;
    await job.stop({ abort: false });
    process.stderr.write(`analyze: run ${record.id} ${record.status} (see \`gpumon runs\`)\n`);
    const stoppedBy = cancellation.signal();
    if (stoppedBy) {
      process.stderr.write(`gpumon: ${record.error ?? 'cancelled'}\n`);
      return exitStatusOf(stoppedBy);
    }
  } finally {
    cancellation.dispose();
  }
  process.stdout.write(`${TABLE_HEADER}\n`);
  for (const outcome of outcomes) {
    process.stdout.write(`${tableRow(outcome)}\n`);
    if (!outcome.ok)
      process.stderr.write(`gpumon: ${outcome.date} failed: ${describeError(outcome.error)}\n`);
    else
      for (const q of outcome.result.quarantined) {
        process.stderr.write(
          `gpumon: ${outcome.date} is partial: ${q.file} cannot be read and was moved to ${q.movedTo}\n`,
        );
      }
  }
  return outcomes.every((o) => o.ok) ? EXIT.ok : EXIT.failure;
}

/** `gpumon analyze --hour ...`: the hourly partials of the hours given, one after the other. */
async function analyzeHours(flags: AnalyzeFlags): Promise<number> {
  if (flags.date !== undefined || flags.from !== undefined || flags.to !== undefined) {
    throw new GpumonError('USAGE', '--hour cannot be combined with --date/--from/--to');
  }
  if (flags.writeInfluxdb || flags.skipCorrupt) {
    throw new GpumonError(
      'USAGE',
      `--hour computes partials, which are not written to InfluxDB nor quarantine files: drop ${flags.writeInfluxdb ? '--write-influxdb' : '--skip-corrupt'}`,
    );
  }
  const { lastClosedHour, parseHour } = await import('../analytics/hourly-job.ts');
  const hours = (flags.hour ?? []).map((text) =>
    text === 'last' ? lastClosedHour(Date.now()) : parseHour(text),
  );
  const config = configFromCli(flags, {
    'archive.path': flags.archive,
    'analytics.engine': engineFlag(flags.engine),
    'analytics.sparkRemote': sparkRemoteFlag(flags.sparkRemote),
  });
  await requireArchive(config.archive.path, flags.archive === undefined ? 'archive.path' : '--archive');
  const { createLogger } = await import('../log.ts');
  const { analyzeHourList } = await import('../analytics/hourly-job.ts');
  const logger = createLogger(config.log.level, 'gpumon-analyze');
  const controller = new AbortController();
  const cancellation = onStopSignal((signal) => {
    process.stderr.write(`analyze: ${signal}: stopping...\n`);
    exitOnSecondSignal('gpumon analyze: stopping now');
    controller.abort(
      new GpumonError('ANALYTICS_DEADLINE_EXCEEDED', `${signal} during gpumon analyze --hour`),
    );
  });
  try {
    const outcomes = await analyzeHourList(config, hours, logger, controller.signal);
    process.stdout.write(
      `${'hour'.padEnd(13)}  ${'status'.padEnd(7)}  ${'files'.padEnd(6)}  ${'rows'.padEnd(8)}  seconds\n`,
    );
    for (const o of outcomes) {
      const hour = `${o.date}T${String(o.hour).padStart(2, '0')}`;
      if (!o.ok) {
        const code = o.error instanceof GpumonError ? o.error.code : 'ERROR';
        process.stdout.write(`${hour}  ${'failed'.padEnd(7)}  ${code}\n`);
        process.stderr.write(`gpumon: ${hour} failed: ${describeError(o.error)}\n`);
        continue;
      }
      const r = o.result;
      const rows = Object.values(r.rows).reduce((n, k) => n + k, 0);
      process.stdout.write(
        `${hour}  ${'ok'.padEnd(7)}  ${String(r.inputFiles).padEnd(6)}  ${String(rows).padEnd(8)}  ${(r.durationMs / 1000).toFixed(1)}\n`,
      );
    }
    const stoppedBy = cancellation.signal();
    if (stoppedBy) return exitStatusOf(stoppedBy);
    return outcomes.every((o) => o.ok) ? EXIT.ok : EXIT.failure;
  } finally {
    cancellation.dispose();
  }
}

/** What the run record keeps of the dates: their summaries, and the dates analysed without a corrupt file. */
function runResult(dates: readonly string[], outcomes: readonly DateOutcome[]) {
  const quarantined = outcomes.flatMap((o) =>
    o.ok ? o.result.quarantined.map((q) => ({ date: o.date, ...q })) : [],
  );
  return {
    dates,
    summaries: outcomes.map((o) => (o.ok ? o.result.summary : null)),
    ...(quarantined.length > 0 ? { partial: [...new Set(quarantined.map((q) => q.date))], quarantined } : {}),
  };
}

/**
 * A local archive must exist before it is analysed (else `analyze` would create an empty one, then fail for
 * want of data): throws ARCHIVE_READ_FAILED naming the path and where it came from. HDFS is checked by reading.
 */
export async function requireArchive(path: string, from: string): Promise<void> {
  if (isRemoteArchive(path)) return;
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (info instanceof Error) {
    const why = info.code === 'ENOENT' ? 'does not exist' : `cannot be read (${info.code ?? info.message})`;
    throw new GpumonError(
      'ARCHIVE_READ_FAILED',
      `the archive ${resolve(path)} (${from}) ${why}: write one with \`gpumon up\` or \`gpumon simulate --out\``,
    );
  }
  if (!info.isDirectory()) {
    throw new GpumonError('ARCHIVE_READ_FAILED', `the archive ${resolve(path)} (${from}) is not a directory`);
  }
}

/** The --engine flag, checked; throws USAGE naming it. */
export function engineFlag(value: string | undefined): string | undefined {
  if (value === undefined || (ANALYTICS_ENGINES as readonly string[]).includes(value)) return value;
  throw new GpumonError(
    'USAGE',
    `--engine ${JSON.stringify(value)} is not an engine; use one of ${ANALYTICS_ENGINES.join(', ')}`,
  );
}

/** The --spark-remote flag, checked; throws USAGE naming it. */
export function sparkRemoteFlag(value: string | undefined): string | undefined {
  if (value !== undefined) parseSparkRemote(value, '--spark-remote', 'USAGE');
  return value;
}

/** The dates the flags ask for, oldest first; throws USAGE naming the flag at fault. */
export function resolveDates(flags: AnalyzeFlags, now = new Date()): string[] {
  if (flags.date !== undefined) {
    if (flags.from !== undefined || flags.to !== undefined) {
      throw new GpumonError('USAGE', '--date cannot be combined with --from/--to');
    }
    if (flags.date === 'today') return [now.toISOString().slice(0, 10)];
    if (flags.date === 'yesterday') return [new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10)];
    return [parseDateArg(flags.date, '--date')];
  }
  if (flags.from === undefined && flags.to === undefined) {
    return [new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10)];
  }
  if (flags.from === undefined || flags.to === undefined) {
    throw new GpumonError(
      'USAGE',
      `${flags.from === undefined ? '--to' : '--from'} needs ${flags.from === undefined ? '--from' : '--to'} too`,
    );
  }
  const from = parseDateArg(flags.from, '--from');
  const to = parseDateArg(flags.to, '--to');
  if (from > to) throw new GpumonError('USAGE', `--from ${from} is after --to ${to}`);
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  if (days > MAX_DATES)
    throw new GpumonError('USAGE', `--from ${from} --to ${to} spans ${days} dates, more than ${MAX_DATES}`);
  return datesBetween(from, to);
}

const COLUMNS = [
  ['date', 10],
  ['status', 7],
  ['gpus', 6],
  ['samples', 12],
  ['energy_kWh', 12],
  ['load_avg_%', 10],
  ['temp_max_C', 10],
  ['spikes', 8],
  ['wasted_GPU_h', 12],
  ['seconds', 8],
  ['hours_kept', 10],
] as const;

const TABLE_HEADER = COLUMNS.map(([name, width]) => name.padEnd(width))
  .join('  ')
  .trimEnd();

function tableRow(outcome: DateOutcome): string {
  if (!outcome.ok) {
    const code = outcome.error instanceof GpumonError ? outcome.error.code : 'ERROR';
    return [outcome.date.padEnd(10), 'failed'.padEnd(7), code].join('  ');
  }
  const s = outcome.result.summary;
  const cells = [
    outcome.date,
    outcome.result.quarantined.length > 0 ? 'partial' : 'ok',
    fmt(s.gpus, 0),
    fmt(s.sample_count, 0),
    fmt(s.energy_kwh, 3),
    fmt(s.load_avg_percent, 1),
    fmt(s.temperature_max_celsius, 1),
    fmt(s.temperature_spikes, 0),
    fmt(s.wasted_gpu_hours, 2),
    fmt(outcome.result.durationMs / 1000, 1),
    fmt(outcome.result.keptHours, 0),
  ];
  return cells
    .map((cell, i) => cell.padEnd(COLUMNS[i]?.[1] ?? 0))
    .join('  ')
    .trimEnd();
}

function fmt(value: unknown, digits: number): string {
  return typeof value === 'number' ? value.toFixed(digits) : '-';
}
