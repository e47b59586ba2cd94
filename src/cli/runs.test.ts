import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { FileRunHistory, type RunRecord, runHistoryPath } from '../schedule/history.ts';
import { formatDuration, runsCommand } from './runs.ts';

const T = Date.parse('2025-03-10T02:00:00Z');

const RUNS: RunRecord[] = [
  {
    id: 'analytics-manual-20250311-093000',
    trigger: 'manual',
    scheduledAt: T + 86_400_000 + 27_000_000,
    startedAt: T + 86_400_000 + 27_000_000,
    status: 'running',
    attempts: [{ startedAt: T + 86_400_000 + 27_000_000 }],
  },
  {
    id: 'analytics-20250311-020000',
    trigger: 'schedule',
    scheduledAt: T + 86_400_000,
    startedAt: T + 86_400_000,
    finishedAt: T + 86_400_000 + 30_000,
    status: 'failed',
    attempts: [
      { startedAt: T + 86_400_000, finishedAt: T + 86_400_000 + 1000, error: 'no data' },
      { startedAt: T + 86_400_000 + 11_000, finishedAt: T + 86_400_000 + 12_000, error: 'no data' },
      { startedAt: T + 86_400_000 + 29_000, finishedAt: T + 86_400_000 + 30_000, error: 'no data' },
    ],
    error: 'failed 3 attempts (2 retries, the backoff limit); last error: no data',
  },
  {
    id: 'analytics-20250310-020000',
    trigger: 'schedule',
    scheduledAt: T,
    startedAt: T,
    finishedAt: T + 185_000,
    status: 'succeeded',
    attempts: [{ startedAt: T, finishedAt: T + 185_000 }],
    result: { gpus: 8 },
  },
];

async function archiveWithRuns(runs: RunRecord[]): Promise<string> {
  const archive = mkdtempSync(join(tmpdir(), 'gpumon-runs-'));
  await new FileRunHistory(runHistoryPath(join(archive, 'state'), 'analytics')).save(runs);
  return archive;
}

async function runs(args: string[]): Promise<string> {
  let out = '';
  await runsCommand({
    write: (text) => {
      out += text;
    },
    now: () => T + 86_400_000 + 27_065_000,
  }).parseAsync(args, { from: 'user' });
  return out;
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('gpumon runs', () => {
  it('prints the kept runs as a table, newest first', async () => {
    const archive = await archiveWithRuns(RUNS);
    const out = await runs(['--archive', archive]);
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID\s+TRIGGER\s+STATUS\s+STARTED \(UTC\)\s+DURATION\s+ATTEMPTS\s+ERROR$/);
    assert.match(
      lines[1] ?? '',
      /^analytics-manual-20250311-093000\s+manual\s+running\s+2025-03-11 09:30:00\s+1m 05s so far\s+1$/,
    );
    assert.match(
      lines[2] ?? '',
      /^analytics-20250311-020000\s+schedule\s+failed\s+2025-03-11 02:00:00\s+30s\s+3\s+failed 3 attempts/,
    );
    assert.match(
      lines[3] ?? '',
      /^analytics-20250310-020000\s+schedule\s+succeeded\s+2025-03-10 02:00:00\s+3m 05s\s+1$/,
    );
    assert.equal(process.exitCode, 0);
  });

  it('shows a cancelled run with its reason, and the partial dates of a run that set files aside', async () => {
    const cancelled: RunRecord = {
      id: 'analytics-manual-20250312-100000',
      trigger: 'manual',
      scheduledAt: T + 2 * 86_400_000,
      startedAt: T + 2 * 86_400_000,
      finishedAt: T + 2 * 86_400_000 + 4000,
      status: 'cancelled',
      attempts: [{ startedAt: T + 2 * 86_400_000, finishedAt: T + 2 * 86_400_000 + 4000 }],
      error: 'cancelled: SIGINT (Ctrl-C) during gpumon analyze',
    };
    const { error: _none, ...finished } = cancelled;
    const partial: RunRecord = {
      ...finished,
      id: 'analytics-manual-20250312-090000',
      startedAt: T + 2 * 86_400_000 - 3_600_000,
      status: 'succeeded',
      result: {
        dates: ['2025-03-11'],
        partial: ['2025-03-11'],
        quarantined: [{ date: '2025-03-11', file: 'file:///a/part-1.parquet', movedTo: 'x', reason: 'y' }],
      },
    };
    const archive = await archiveWithRuns([cancelled, partial]);
    const lines = (await runs(['--archive', archive])).trimEnd().split('\n');
    assert.match(lines[1] ?? '', /\scancelled\s.*cancelled: SIGINT \(Ctrl-C\) during gpumon analyze$/);
    assert.match(lines[2] ?? '', /\ssucceeded\s.*partial: 2025-03-11 \(1 file\(s\) moved to quarantine\/\)$/);
  });

  it('prints the run records as JSON with --json', async () => {
    const archive = await archiveWithRuns(RUNS);
    assert.deepEqual(JSON.parse(await runs(['--archive', archive, '--json'])), RUNS);
  });

  it('says so when no run was recorded yet', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'gpumon-runs-'));
    assert.match(await runs(['--archive', archive]), /^no runs recorded yet in .*analytics-runs\.json\n$/);
    assert.deepEqual(JSON.parse(await runs(['--archive', archive, '--json'])), []);
  });

  it('fails with a message naming a corrupt history file', async () => {
    const archive = await archiveWithRuns([]);
    const file = runHistoryPath(join(archive, 'state'), 'analytics');
    writeFileSync(file, 'not json');
    const stderr = process.stderr.write;
    let err = '';
    process.stderr.write = ((text: string) => {
      err += text;
      return true;
    }) as typeof process.stderr.write;
    try {
      await runs(['--archive', archive]);
    } finally {
      process.stderr.write = stderr;
    }
    assert.equal(process.exitCode, 1);
    assert.match(err, /ARCHIVE_FILE_CORRUPT/);
    assert.ok(err.includes(file));
  });

  it('explains in --help what the history keeps and how to change it', () => {
    let help = '';
    const command = runsCommand().configureOutput({
      writeOut: (text) => {
        help += text;
      },
    });
    command.outputHelp();
    assert.match(help, /last 3 successful and the last 3 failed runs/);
    assert.match(help, /GPUMON_SCHEDULE_SUCCESSFUL_HISTORY/);
    assert.match(help, /--json/);
    assert.match(help, /--archive <path>/);
  });

  it('shows durations the way people read them', () => {
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(42_000), '42s');
    assert.equal(formatDuration(185_000), '3m 05s');
    assert.equal(formatDuration(7_200_000), '2h 00m');
    assert.equal(formatDuration(97_200_000), '1d 3h');
  });
});
