import { Command } from 'commander';
import { CONFIG_FIELDS, envName } from '../config/schema.ts';
import { FileRunHistory, type RunRecord, runHistoryPath } from '../schedule/history.ts';
import { statePath } from '../sinks/archive/open-storage.ts';
import { configFromCli, runCommand, withConfigOption } from './common.ts';

/** The scheduled job whose runs `gpumon runs` lists. */
export const ANALYTICS_JOB_NAME = 'analytics';

export interface RunsCommandIo {
  /** Where the table or JSON goes (default: stdout). */
  write?: (text: string) => void;
  /** The current time, for the duration of a run still going (default: Date.now). */
  now?: () => number;
}

/** `gpumon runs [--json] [--archive PATH]`: the kept runs of the daily analytics job, newest first. */
export function runsCommand(io: RunsCommandIo = {}): Command {
  const write = io.write ?? ((text: string) => void process.stdout.write(text));
  const now = io.now ?? Date.now;
  const successful = CONFIG_FIELDS['schedule.successfulHistory'];
  const failed = CONFIG_FIELDS['schedule.failedHistory'];
  const command = new Command('runs')
    .description('List the recent runs of the scheduled daily analytics job, newest first.')
    .option('--json', 'print the run records as JSON')
    .option('--archive <path>', 'archive root (default: archive.path of the configuration)')
    .addHelpText(
      'after',
      [
        '',
        `The history lives in <archive>/state/${ANALYTICS_JOB_NAME}-runs.json (archive.statePath). It keeps every run still going, the`,
        `last ${successful.default} successful and the last ${failed.default} failed runs (like a Kubernetes CronJob's`,
        'successfulJobsHistoryLimit and failedJobsHistoryLimit); change them with schedule.successfulHistory',
        `(${envName('schedule.successfulHistory')}) and schedule.failedHistory (${envName('schedule.failedHistory')}).`,
        'A run that failed and was retried is one run with several attempts. A run stopped by Ctrl-C or SIGTERM is',
        'cancelled, with the signal in ERROR; a run that set unreadable files aside (analytics.skipCorrupt) says',
        'which dates are partial.',
      ].join('\n'),
    );
  return withConfigOption(command).action((opts: { json?: boolean; archive?: string; config?: string }) =>
    runCommand(async () => {
      const config = configFromCli(opts, { 'archive.path': opts.archive });
      const store = new FileRunHistory(runHistoryPath(statePath(config), ANALYTICS_JOB_NAME));
      const runs = await store.load();
      if (opts.json) write(`${JSON.stringify(runs, null, 2)}\n`);
      else if (runs.length === 0) write(`no runs recorded yet in ${store.location}\n`);
      else write(formatRunsTable(runs, now()));
    }),
  );
}

/** The runs as an aligned text table: id, trigger, status, started (UTC), duration, attempts, error. */
export function formatRunsTable(runs: readonly RunRecord[], now: number): string {
  const header = ['ID', 'TRIGGER', 'STATUS', 'STARTED (UTC)', 'DURATION', 'ATTEMPTS', 'ERROR'];
  const rows = runs.map((run) => [
    run.id,
    run.trigger,
    run.status,
    new Date(run.startedAt).toISOString().slice(0, 19).replace('T', ' '),
    formatDuration((run.finishedAt ?? now) - run.startedAt) + (run.finishedAt === undefined ? ' so far' : ''),
    String(run.attempts.length),
    oneLine(run.error ?? partialNote(run.result)),
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** For a run that analysed days without their unreadable files (analytics.skipCorrupt): which, and how many. */
function partialNote(result: unknown): string {
  if (!result || typeof result !== 'object' || !('quarantined' in result)) return '';
  const { quarantined } = result as { quarantined: unknown };
  if (!Array.isArray(quarantined) || quarantined.length === 0) return '';
  const dates = [...new Set(quarantined.map((q) => String((q as { date?: unknown }).date ?? '?')))];
  return `partial: ${dates.join(', ')} (${quarantined.length} file(s) moved to quarantine/)`;
}

/** `850ms`, `42s`, `3m 05s`, `2h 00m`, `1d 3h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}
