import { Command } from 'commander';
import type { DateOutcome } from '../analytics/daily-job.ts';
import { parseSparkRemote } from '../analytics/engines/spark/remote.ts';
import { ANALYTICS_ENGINES } from '../config/schema.ts';
import { describeError, GpumonError } from '../errors.ts';
import { datesBetween } from '../sinks/archive/layout.ts';
import { configFromCli, EXIT, parseDateArg, runCommand, withConfigOption } from './common.ts';

interface AnalyzeFlags {
  config?: string;
  date?: string;
  from?: string;
  to?: string;
  archive?: string;
  engine?: string;
  sparkRemote?: string;
}

/** Longest range of dates one command runs. */
const MAX_DATES = 366;

/** `gpumon analyze`: the daily analytics for one date or a range, now. */
export function analyzeCommand(): Command {
  return (
    withConfigOption(new Command('analyze'))
      .description(
        'Run the daily analytics of the archive for a date or a range of dates (default: yesterday, UTC)',
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
        '--spark-remote <sc://host:port>',
        'the Spark Connect server of --engine spark (overrides analytics.sparkRemote, default sc://127.0.0.1:15002)',
      )
      .addHelpText(
        'after',
        '\nResults go to <archive>/gpu-analytics/date=D/<analysis>.parquet and summary.json; re-running a date\n' +
          'replaces its results. Each invocation is recorded as a manual run (see `gpumon runs`).\n' +
          'Engines: duckdb runs in this process; spark sends the same SQL to an Apache Spark 4 Spark Connect\n' +
          'server, which reads the archive itself (local paths, or hdfs:// / webhdfs:// for an HDFS archive), e.g.\n' +
          '  gpumon analyze --engine spark --spark-remote sc://spark-connect:15002 --date 2026-11-25\n' +
          'Both engines give the same results (percentiles within 1e-9 relative; see docs/analytics.md).\n' +
          'What each analysis computes: docs/analytics.md. Exit status: 0 when every date succeeded, 1 when one\n' +
          'failed (the others still run), 2 for a bad flag or setting.',
      )
      .action((flags: AnalyzeFlags) =>
        runCommand(async () => {
          const dates = resolveDates(flags);
          const config = configFromCli(flags, {
            'archive.path': flags.archive,
            'analytics.engine': engineFlag(flags.engine),
            'analytics.sparkRemote': sparkRemoteFlag(flags.sparkRemote),
          });
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
                (date, step, done, total) =>
                  process.stderr.write(`analyze ${date}: ${step} (${done}/${total})\n`),
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
              return { dates, summaries: outcomes.map((o) => (o.ok ? o.result.summary : null)) };
            },
            { retries: 0 },
          );
          const run = await job.trigger();
          if (!run.started) {
            throw new GpumonError('USAGE', `cannot start a run: ${run.reason}`);
          }
          const record = await run.done;
          await job.stop({ abort: false });
          process.stderr.write(`analyze: run ${record.id} ${record.status} (see \`gpumon runs\`)\n`);
          process.stdout.write(`${TABLE_HEADER}\n`);
          for (const outcome of outcomes) {
            process.stdout.write(`${tableRow(outcome)}\n`);
            if (!outcome.ok)
              process.stderr.write(`gpumon: ${outcome.date} failed: ${describeError(outcome.error)}\n`);
          }
          return outcomes.every((o) => o.ok) ? EXIT.ok : EXIT.failure;
        }),
      )
  );
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
  ['status', 6],
  ['gpus', 6],
  ['samples', 12],
  ['energy_kWh', 12],
  ['load_avg_%', 10],
  ['temp_max_C', 10],
  ['spikes', 8],
  ['wasted_GPU_h', 12],
  ['seconds', 8],
] as const;

const TABLE_HEADER = COLUMNS.map(([name, width]) => name.padEnd(width))
  .join('  ')
  .trimEnd();

function tableRow(outcome: DateOutcome): string {
  if (!outcome.ok) {
    const code = outcome.error instanceof GpumonError ? outcome.error.code : 'ERROR';
    return [outcome.date.padEnd(10), 'failed'.padEnd(6), code].join('  ');
  }
  const s = outcome.result.summary;
  const cells = [
    outcome.date,
    'ok',
    fmt(s.gpus, 0),
    fmt(s.sample_count, 0),
    fmt(s.energy_kwh, 3),
    fmt(s.load_avg_percent, 1),
    fmt(s.temperature_max_celsius, 1),
    fmt(s.temperature_spikes, 0),
    fmt(s.wasted_gpu_hours, 2),
    fmt(outcome.result.durationMs / 1000, 1),
  ];
  return cells
    .map((cell, i) => cell.padEnd(COLUMNS[i]?.[1] ?? 0))
    .join('  ')
    .trimEnd();
}

function fmt(value: unknown, digits: number): string {
  return typeof value === 'number' ? value.toFixed(digits) : '-';
}
