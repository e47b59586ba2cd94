import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { isGpumonError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { FakeClock } from './clock.ts';
import { CronJob, type CronJobOptions, type JobContext } from './cron-job.ts';
import { FileRunHistory, MemoryRunHistory } from './history.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function captureLogger() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** A job whose calls the test sees and settles by hand; it gives up when its signal is aborted. */
function controlledJob() {
  const calls: Array<JobContext & { at: number; resolve(v?: unknown): void; reject(e: unknown): void }> = [];
  return {
    calls,
    job:
      (clock: FakeClock) =>
      (ctx: JobContext): Promise<unknown> =>
        new Promise((resolve, reject) => {
          calls.push({ ...ctx, at: clock.now(), resolve, reject });
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
  };
}

function cronJob(
  clock: FakeClock,
  overrides: Partial<CronJobOptions> & Pick<CronJobOptions, 'job'>,
): CronJob {
  return new CronJob({
    name: 'analytics',
    cron: '0 2 * * *',
    timezone: 'UTC',
    retries: 2,
    backoffSeconds: 10,
    deadlineSeconds: 7200,
    successfulHistory: 3,
    failedHistory: 3,
    clock,
    logger: silentLogger(),
    ...overrides,
  });
}

function tempFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'gpumon-cron-')), 'state', 'analytics-runs.json');
}

describe('CronJob schedule', () => {
  it('fires at 02:00 UTC every day', async () => {
    const clock = new FakeClock('2025-03-10T00:00:00Z');
    const fired: string[] = [];
    const job = cronJob(clock, {
      job: async (ctx) => {
        fired.push(new Date(ctx.scheduledAt).toISOString());
        assert.equal(ctx.trigger, 'schedule');
        return { ok: true };
      },
    });
    await job.start();
    assert.equal(job.nextRunAt(), Date.parse('2025-03-10T02:00:00Z'));
    await clock.advanceTo('2025-03-10T01:59:59.999Z');
    assert.deepEqual(fired, []);
    await clock.advanceTo('2025-03-10T02:00:00Z');
    assert.deepEqual(fired, ['2025-03-10T02:00:00.000Z']);
    await clock.advance(DAY);
    assert.deepEqual(fired, ['2025-03-10T02:00:00.000Z', '2025-03-11T02:00:00.000Z']);
    assert.equal(job.nextRunAt(), Date.parse('2025-03-12T02:00:00Z'));
    assert.deepEqual(
      job.history().map((run) => [run.id, run.status, run.result]),
      [
        ['analytics-20250311-020000', 'succeeded', { ok: true }],
        ['analytics-20250310-020000', 'succeeded', { ok: true }],
      ],
    );
    await job.stop();
  });

  it('fires at 02:00 in the configured time zone', async () => {
    const clock = new FakeClock('2025-01-15T00:00:00Z');
    const fired: number[] = [];
    const job = cronJob(clock, {
      timezone: 'America/New_York',
      job: async (ctx) => {
        fired.push(ctx.scheduledAt);
      },
    });
    await job.start();
    await clock.advance(DAY);
    assert.deepEqual(fired, [Date.parse('2025-01-15T07:00:00Z')]);
    await job.stop();
  });

  it('does not replay a schedule missed while the process was down', async () => {
    const clock = new FakeClock('2025-03-10T05:00:00Z');
    let calls = 0;
    const job = cronJob(clock, {
      job: async () => {
        calls++;
      },
    });
    await job.start();
    await clock.advance(HOUR);
    assert.equal(calls, 0);
    assert.equal(job.nextRunAt(), Date.parse('2025-03-11T02:00:00Z'));
    await job.stop();
  });

  it('rejects a cron expression that is not valid, naming it', () => {
    assert.throws(
      () => cronJob(new FakeClock(), { cron: '0 25 * *', job: async () => {} }),
      (err) => isGpumonError(err, 'SCHEDULE_INVALID') && err.message.includes('"0 25 * *"'),
    );
  });

  it('stops firing once stopped', async () => {
    const clock = new FakeClock('2025-03-10T00:00:00Z');
    let calls = 0;
    const job = cronJob(clock, {
      job: async () => {
        calls++;
      },
    });
    await job.start();
    await job.stop();
    await clock.advance(2 * DAY);
    assert.equal(calls, 0);
    assert.equal(job.nextRunAt(), undefined);
    assert.deepEqual(await job.trigger(), { started: false, reason: 'stopped' });
  });
});

describe('CronJob concurrencyPolicy Forbid', () => {
  it('skips and logs a scheduled run while the previous one is still going', async () => {
    const clock = new FakeClock('2025-03-10T00:00:00Z');
    const { logger, lines } = captureLogger();
    const { calls, job: jobFn } = controlledJob();
    const job = cronJob(clock, { logger, deadlineSeconds: 3 * 86_400, job: jobFn(clock) });
    await job.start();
    await clock.advanceTo('2025-03-11T02:00:00Z');
    assert.equal(calls.length, 1, 'the 03-11 run is skipped: the 03-10 run is still going');
    const skipped = lines.find((line) => line.msg.startsWith('scheduled run skipped'));
    assert.ok(skipped, 'the skip is logged');
    assert.equal(skipped.running, 'analytics-20250310-020000');
    assert.equal(skipped.scheduledAt, '2025-03-11T02:00:00.000Z');

    calls[0]?.resolve();
    await clock.advanceTo('2025-03-12T02:00:00Z');
    assert.equal(calls.length, 2, 'the next schedule runs again once the slot is free');
    assert.deepEqual(
      job.history().map((run) => [run.id, run.status]),
      [
        ['analytics-20250312-020000', 'running'],
        ['analytics-20250310-020000', 'succeeded'],
      ],
    );
    await job.stop();
  });

  it('skips and logs a manual run while a run is going, and a scheduled run while a manual one is', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const { logger, lines } = captureLogger();
    const { calls, job: jobFn } = controlledJob();
    const job = cronJob(clock, { logger, job: jobFn(clock) });
    await job.start();

    const first = await job.trigger();
    assert.equal(first.started, true);
    const second = await job.trigger();
    assert.equal(second.started, false);
    assert.equal(second.started === false && second.reason, 'already running');
    assert.ok(lines.some((line) => line.msg.startsWith('manual run skipped')));

    await clock.advanceTo('2025-03-10T02:00:00Z');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.trigger, 'manual');
    assert.ok(lines.some((line) => line.msg.startsWith('scheduled run skipped')));
    await job.stop();
  });
});

describe('CronJob retries (backoffLimit)', () => {
  it('retries a failing job up to 2 times after 10 s then 20 s, and records the 3 attempts of the success', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const starts: number[] = [];
    const job = cronJob(clock, {
      job: async (ctx) => {
        starts.push(clock.now());
        if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
        return { rows: 42 };
      },
    });
    const triggered = await job.trigger();
    assert.ok(triggered.started);
    const t0 = clock.now();
    await clock.advance(10 * SECOND - 1);
    assert.equal(starts.length, 1, 'no retry before the 10 s backoff');
    await clock.advance(1);
    assert.equal(starts.length, 2);
    await clock.advance(20 * SECOND - 1);
    assert.equal(starts.length, 2, 'the second backoff is doubled to 20 s');
    await clock.advance(1);
    assert.deepEqual(starts, [t0, t0 + 10 * SECOND, t0 + 30 * SECOND]);

    const run = await triggered.done;
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.result, { rows: 42 });
    assert.equal(run.attempts.length, 3);
    assert.deepEqual(
      run.attempts.map((a) => a.error),
      ['flaky 1', 'flaky 2', undefined],
    );
    assert.equal(run.finishedAt, t0 + 30 * SECOND);
  });

  it('records a job that fails 3 times as failed, with the last error', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const job = cronJob(clock, {
      job: async (ctx) => {
        throw new Error(`no data ${ctx.attempt}`);
      },
    });
    const triggered = await job.trigger();
    assert.ok(triggered.started);
    await clock.advance(MINUTE);
    const run = await triggered.done;
    assert.equal(run.status, 'failed');
    assert.equal(run.attempts.length, 3);
    assert.match(run.error ?? '', /failed 3 attempts.*no data 3/);
    assert.equal(job.running(), undefined);
  });
});

describe('CronJob deadline (activeDeadlineSeconds)', () => {
  it('aborts a hung job at the deadline and records the run failed with a deadline reason', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    let signal: AbortSignal | undefined;
    const job = cronJob(clock, {
      deadlineSeconds: 7200,
      job: (ctx) =>
        new Promise((_, reject) => {
          signal = ctx.signal;
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    });
    const triggered = await job.trigger();
    assert.ok(triggered.started);
    await clock.advance(2 * HOUR - 1);
    assert.equal(signal?.aborted, false);
    await clock.advance(1);
    assert.equal(signal?.aborted, true);
    assert.ok(isGpumonError(signal?.reason, 'ANALYTICS_DEADLINE_EXCEEDED'));
    const run = await triggered.done;
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /deadline exceeded.*7200 s/);
    assert.equal(run.attempts.length, 1, 'a deadline is not retried');
    assert.equal(job.running(), undefined, 'the slot is free once the aborted job settled');
  });

  it('counts retries and backoff waits against the deadline', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const job = cronJob(clock, {
      retries: 10,
      deadlineSeconds: 25,
      job: async () => {
        throw new Error('down');
      },
    });
    const triggered = await job.trigger();
    assert.ok(triggered.started);
    await clock.advance(HOUR);
    const run = await triggered.done;
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /deadline exceeded/);
    assert.equal(run.attempts.length, 2, 'attempts at 0 s and 10 s; the 30 s retry is past the deadline');
    assert.equal(run.finishedAt, clock.now() - HOUR + 25 * SECOND);
  });

  it('keeps the slot of a job that ignores its signal until the grace period ends', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const { logger, lines } = captureLogger();
    const job = cronJob(clock, {
      logger,
      deadlineSeconds: 60,
      abortGraceSeconds: 30,
      job: () => new Promise(() => {}),
    });
    const triggered = await job.trigger();
    assert.ok(triggered.started);
    await clock.advance(60 * SECOND);
    assert.equal((await triggered.done).status, 'failed');
    assert.equal((await job.trigger()).started, false, 'Forbid still holds while the aborted job may run');
    await clock.advance(30 * SECOND);
    assert.ok(lines.some((line) => line.msg.startsWith('the aborted job ignored its signal')));
    assert.equal((await job.trigger()).started, true);
  });
});

describe('CronJob stop', () => {
  it('aborts a run in progress and records it failed as stopped', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    let signal: AbortSignal | undefined;
    const job = cronJob(clock, {
      job: (ctx) =>
        new Promise((_, reject) => {
          signal = ctx.signal;
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    });
    await job.start();
    await job.trigger();
    await job.stop();
    assert.equal(signal?.aborted, true);
    const [run] = job.history();
    assert.equal(run?.status, 'failed');
    assert.match(run?.error ?? '', /^stopped/);
  });

  it('records a run cancelled on purpose as cancelled with the reason, and counts it with the failed runs', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const { calls, job: jobFn } = controlledJob();
    const job = cronJob(clock, { job: jobFn(clock), failedHistory: 1 });
    const triggered = await job.trigger();
    assert.ok(triggered.started);
    await job.stop({ cancel: 'SIGINT (Ctrl-C) during gpumon analyze' });
    assert.equal(calls[0]?.signal.aborted, true);
    const final = await triggered.done;
    assert.equal(final.status, 'cancelled');
    assert.equal(final.error, 'cancelled: SIGINT (Ctrl-C) during gpumon analyze');
    assert.equal(final.attempts[0]?.error, final.error);
    assert.equal(typeof final.finishedAt, 'number');
    assert.deepEqual(
      job.history().map((r) => r.status),
      ['cancelled'],
    );
  });

  it('waits for a run in progress to end when asked not to abort it', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const { calls, job: jobFn } = controlledJob();
    const job = cronJob(clock, { job: jobFn(clock) });
    await job.trigger();
    let stopped = false;
    const stopping = job.stop({ abort: false }).then(() => {
      stopped = true;
    });
    await clock.advance(MINUTE);
    assert.equal(stopped, false);
    calls[0]?.resolve('done');
    await stopping;
    assert.equal(job.history()[0]?.status, 'succeeded');
    assert.equal(calls[0]?.signal.aborted, false);
  });
});

describe('CronJob history', () => {
  it('keeps only the last 3 successful and the last 3 failed runs', async () => {
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const job = cronJob(clock, {
      retries: 0,
      job: async (ctx) => {
        if (ctx.scheduledAt % (2 * MINUTE) !== 0) throw new Error('odd minute');
      },
    });
    for (let i = 0; i < 10; i++) {
      const triggered = await job.trigger();
      assert.ok(triggered.started);
      await triggered.done;
      await clock.advance(MINUTE);
    }
    const runs = job.history();
    assert.deepEqual(
      runs.map((run) => [run.id.slice(-6), run.status]),
      [
        ['010900', 'failed'],
        ['010800', 'succeeded'],
        ['010700', 'failed'],
        ['010600', 'succeeded'],
        ['010500', 'failed'],
        ['010400', 'succeeded'],
      ],
    );
  });

  it('survives a restart: a new instance reads the runs from the file', async () => {
    const file = tempFile();
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const first = cronJob(clock, { history: new FileRunHistory(file), job: async () => ({ gpus: 8 }) });
    const triggered = await first.trigger();
    assert.ok(triggered.started);
    await triggered.done;
    await first.stop();

    const second = cronJob(clock, { history: new FileRunHistory(file), job: async () => {} });
    await second.open();
    assert.deepEqual(second.history(), first.history());
    assert.equal(second.history()[0]?.id, 'analytics-manual-20250310-010000');
    assert.deepEqual(second.history()[0]?.result, { gpus: 8 });
  });

  it('records a run left running by a previous process as interrupted', async () => {
    const clock = new FakeClock('2025-03-10T03:00:00Z');
    const store = new MemoryRunHistory([
      {
        id: 'analytics-20250310-020000',
        trigger: 'schedule',
        scheduledAt: Date.parse('2025-03-10T02:00:00Z'),
        startedAt: Date.parse('2025-03-10T02:00:00Z'),
        status: 'running',
        attempts: [{ startedAt: Date.parse('2025-03-10T02:00:00Z') }],
      },
    ]);
    const job = cronJob(clock, { history: store, job: async () => {} });
    await job.open();
    const [run] = await store.load();
    assert.equal(run?.status, 'failed');
    assert.match(run?.error ?? '', /^interrupted/);
    assert.equal(run?.attempts[0]?.error, run?.error);
  });

  it('reports a corrupt history file, keeps a .corrupt copy and carries on with an empty history', async () => {
    const file = tempFile();
    const clock = new FakeClock('2025-03-10T01:00:00Z');
    const { logger, lines } = captureLogger();
    const first = cronJob(clock, { history: new FileRunHistory(file), job: async () => {} });
    const earlier = await first.trigger();
    assert.ok(earlier.started);
    await earlier.done;
    await first.stop();
    writeFileSync(file, '{ this is not json');

    const job = cronJob(clock, { logger, history: new FileRunHistory(file), job: async () => 'ok' });
    await job.start();
    assert.deepEqual(job.history(), []);
    const warning = lines.find((line) => line.msg.startsWith('cannot read the run history'));
    assert.ok(warning, 'the corrupt file is reported');
    assert.match(String(warning.err), /ARCHIVE_FILE_CORRUPT/);
    assert.ok(String(warning.err).includes(file), 'the report names the file');
    assert.equal(warning.keptAs, `${file}.corrupt`);
    assert.equal(readFileSync(`${file}.corrupt`, 'utf8'), '{ this is not json');

    const triggered = await job.trigger();
    assert.ok(triggered.started);
    await triggered.done;
    assert.ok(existsSync(file));
    assert.equal((await new FileRunHistory(file).load()).length, 1, 'a fresh history is written');
    await job.stop();
  });
});
