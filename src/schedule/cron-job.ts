import { Cron } from 'croner';
import type { Config } from '../config/schema.ts';
import { describeError, GpumonError, isGpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type Clock, realClock, type Timer } from './clock.ts';
import {
  type AttemptRecord,
  MemoryRunHistory,
  pruneRuns,
  type RunHistoryStore,
  type RunRecord,
  type RunTrigger,
} from './history.ts';

/** What a job is told about the attempt it is running. */
export interface JobContext {
  /** Aborted when the run passes its deadline or the scheduler stops; the job should give up promptly. */
  signal: AbortSignal;
  /** 1 for the first try, 2 for the first retry, ... */
  attempt: number;
  /** The schedule instant the run is for (epoch ms); for a manual run, when it was triggered. */
  scheduledAt: number;
  trigger: RunTrigger;
  runId: string;
}

/** The work of a job; resolves to a JSON-safe summary kept in the history, rejects to fail the attempt. */
export type JobFunction = (context: JobContext) => Promise<unknown>;

export interface CronJobOptions {
  /** Names the job in logs and run ids (`analytics` -> `analytics-20250101-020000`). */
  name: string;
  /** A cron expression (5 fields; croner also takes a leading seconds field). */
  cron: string;
  /** IANA time zone of the expression. Default UTC. */
  timezone?: string;
  /** Retries of a failed run (backoffLimit). Default 0. */
  retries?: number;
  /** Wait before the first retry, doubled for each further one. Default 10. */
  backoffSeconds?: number;
  /** Limit on a whole run, retries and waits included (activeDeadlineSeconds). Default: none. */
  deadlineSeconds?: number;
  /** Only Forbid: a run that would overlap the one going is skipped (and logged), not queued. */
  concurrencyPolicy?: 'Forbid';
  /** Succeeded runs kept in the history. Default 3. */
  successfulHistory?: number;
  /** Failed runs kept in the history. Default 3. */
  failedHistory?: number;
  /**
   * How long an aborted job may take to settle before its slot is freed anyway (terminationGracePeriodSeconds).
   * Default 30.
   */
  abortGraceSeconds?: number;
  clock?: Clock;
  logger: Logger;
  /** Default: a MemoryRunHistory (nothing survives the process). */
  history?: RunHistoryStore;
  job: JobFunction;
}

export type TriggerResult =
  | { started: true; run: RunRecord; done: Promise<RunRecord> }
  | { started: false; reason: 'already running'; running: RunRecord }
  | { started: false; reason: 'stopped' };

/** The CronJobOptions that come from the `schedule.*` configuration keys. */
export function scheduleOptions(
  schedule: Config['schedule'],
): Pick<
  CronJobOptions,
  | 'cron'
  | 'timezone'
  | 'retries'
  | 'backoffSeconds'
  | 'deadlineSeconds'
  | 'successfulHistory'
  | 'failedHistory'
> {
  return {
    cron: schedule.cron,
    timezone: schedule.timezone,
    retries: schedule.retries,
    backoffSeconds: schedule.backoffSeconds,
    deadlineSeconds: schedule.deadlineSeconds,
    successfulHistory: schedule.successfulHistory,
    failedHistory: schedule.failedHistory,
  };
}

interface ActiveRun {
  readonly record: RunRecord;
  readonly controller: AbortController;
  /** The record is final (succeeded or failed); no further attempt starts. */
  ended: boolean;
  /** An attempt's promise has not settled yet. */
  inFlight: boolean;
  deadlineTimer?: Timer | undefined;
  backoffTimer?: Timer | undefined;
  graceTimer?: Timer | undefined;
  readonly done: Promise<RunRecord>;
  resolveDone(value: Promise<RunRecord>): void;
  readonly released: Promise<void>;
  resolveReleased(): void;
}

/**
 * Runs a job on a cron schedule with the semantics of a Kubernetes CronJob:
 *
 * - concurrencyPolicy Forbid: while a run is going, a scheduled fire or a manual `trigger()` is skipped and
 *   logged, never queued.
 * - backoffLimit: a failed attempt is retried up to `retries` times, after `backoffSeconds`, then twice that,
 *   and so on. The run fails when the last attempt fails.
 * - activeDeadlineSeconds: the whole run (attempts and waits) has `deadlineSeconds`; then the job's signal is
 *   aborted and the run is recorded failed with a deadline reason. The slot stays taken until the aborted job
 *   settles, or `abortGraceSeconds` pass, so an aborted job does not overlap the next run unless it ignores
 *   its signal for that long.
 * - successful/failedJobsHistoryLimit: the history keeps the newest N succeeded and N failed runs.
 * - Missed schedules are not replayed: `start()` arms the next fire after now, whatever was missed while the
 *   process was down (like startingDeadlineSeconds unset, minus the catch-up run). A fire the process reaches
 *   late (a suspended machine) runs once, then the schedule continues from now.
 * - A run found `running` in the history at `open()` was cut off by the end of the previous process: it is
 *   recorded failed (interrupted) and not retried.
 *
 * Lifecycle: `open()` loads the history (`start()` and `trigger()` call it); `start()` arms the schedule;
 * `stop()` disarms it, aborts a run in progress (or, with `{ abort: false }`, waits for it) and waits for the
 * history to be written. The history is written after every change of a run; a write failure is logged and
 * the scheduler carries on. One CronJob per history store: the store is not shared between processes.
 */
export class CronJob {
  readonly name: string;
  readonly #cron: Cron;
  readonly #cronText: string;
  readonly #timezone: string;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #deadlineMs: number | undefined;
  readonly #limits: { successful: number; failed: number };
  readonly #graceMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store: RunHistoryStore;
  readonly #job: JobFunction;

  #runs: RunRecord[] = [];
  #opening: Promise<void> | undefined;
  #started = false;
  #stopped = false;
  #timer: Timer | undefined;
  #nextAt: number | undefined;
  #active: ActiveRun | undefined;
  #writes: Promise<void> = Promise.resolve();

  constructor(options: CronJobOptions) {
    this.name = options.name;
    this.#cronText = options.cron;
    this.#timezone = options.timezone ?? 'UTC';
    this.#retries = checkNumber(options, 'retries', options.retries ?? 0, { integer: true, min: 0 });
    this.#backoffMs = 1000 * checkNumber(options, 'backoffSeconds', options.backoffSeconds ?? 10, { min: 0 });
    this.#deadlineMs =
      options.deadlineSeconds === undefined
        ? undefined
        : 1000 * checkNumber(options, 'deadlineSeconds', options.deadlineSeconds, { min: 0.001 });
    this.#limits = {
      successful: checkNumber(options, 'successfulHistory', options.successfulHistory ?? 3, {
        integer: true,
        min: 0,
      }),
      failed: checkNumber(options, 'failedHistory', options.failedHistory ?? 3, { integer: true, min: 0 }),
    };
    this.#graceMs =
      1000 * checkNumber(options, 'abortGraceSeconds', options.abortGraceSeconds ?? 30, { min: 0 });
    if ((options.concurrencyPolicy ?? 'Forbid') !== 'Forbid') {
      throw new GpumonError(
        'SCHEDULE_INVALID',
        `job ${options.name}: concurrencyPolicy must be Forbid, got ${JSON.stringify(options.concurrencyPolicy)}`,
      );
    }
    try {
      this.#cron = new Cron(options.cron, { timezone: this.#timezone, paused: true });
      this.#cron.nextRun();
    } catch (cause) {
      throw new GpumonError(
        'SCHEDULE_INVALID',
        `job ${options.name}: cron ${JSON.stringify(options.cron)} in time zone ${JSON.stringify(this.#timezone)} ` +
          `is not a valid schedule (${cause instanceof Error ? cause.message : String(cause)})`,
        { cause },
      );
    }
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger.child({ job: options.name });
    this.#store = options.history ?? new MemoryRunHistory();
    this.#job = options.job;
  }

  /**
   * Loads the history once. A missing history is empty; an unreadable one is logged, moved aside (`.corrupt`)
   * and replaced by an empty one: the scheduler runs without its past rather than not at all.
   */
  open(): Promise<void> {
    this.#opening ??= this.#load();
    return this.#opening;
  }

  /** Arms the schedule: the first fire is the next schedule instant after now. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    await this.open();
    if (!this.#started) return;
    this.#arm(this.#clock.now());
    this.#log.info(
      { cron: this.#cronText, timezone: this.#timezone, nextRunAt: iso(this.#nextAt) },
      'schedule started',
    );
  }

  /**
   * Disarms the schedule and refuses further triggers. By default a run in progress is aborted (its signal
   * fires, it is recorded failed as stopped) and `stop` waits for the job to settle, at most
   * `abortGraceSeconds`; with `{ cancel: reason }` it is aborted the same way and recorded `cancelled` with
   * that reason (someone stopped it on purpose: Ctrl-C); with `{ abort: false }` it waits for the run to end by
   * itself (its deadline still applies). Resolves once the history is written.
   */
  async stop(options: { abort?: boolean; cancel?: string } = {}): Promise<void> {
    const wasStarted = this.#started;
    this.#started = false;
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAt = undefined;
    const active = this.#active;
    if (active) {
      if (options.cancel !== undefined && !active.ended) {
        const message = `cancelled: ${options.cancel}`;
        this.#log.warn({ run: active.record.id, reason: options.cancel }, 'cancelling the run in progress');
        this.#abort(active, new DOMException(message, 'AbortError'), message, 'cancelled');
      } else if ((options.abort ?? true) && !active.ended) {
        const message = 'stopped: the scheduler stopped while the run was going';
        this.#log.warn({ run: active.record.id }, 'aborting the run in progress: the scheduler is stopping');
        this.#abort(active, new DOMException(message, 'AbortError'), message);
      }
      await active.released;
    }
    await this.#writes;
    if (wasStarted) this.#log.info('schedule stopped');
  }

  /**
   * Starts a run now, by hand, unless one is going (Forbid) or the job was stopped. `done` resolves with the
   * final record once it is written to the history; it never rejects (a failed run is a record too).
   */
  async trigger(): Promise<TriggerResult> {
    await this.open();
    if (this.#stopped) return { started: false, reason: 'stopped' };
    const active = this.#active;
    if (active) {
      this.#log.warn(
        { running: active.record.id, trigger: 'manual' },
        'manual run skipped: a run is still going (concurrencyPolicy Forbid)',
      );
      return { started: false, reason: 'already running', running: structuredClone(active.record) };
    }
    const run = this.#begin('manual', this.#clock.now());
    return { started: true, run: structuredClone(run.record), done: run.done };
  }

  /**
   * The run holding the slot, if any. Usually `running`; after a deadline or stop it is already recorded
   * `failed` but holds the slot until the aborted job settles (or the grace period ends).
   */
  running(): RunRecord | undefined {
    return this.#active ? structuredClone(this.#active.record) : undefined;
  }

  /** The kept runs, newest first. */
  history(): RunRecord[] {
    return structuredClone(this.#runs);
  }

  /** When the schedule fires next (epoch ms); undefined when not started or the expression has no next time. */
  nextRunAt(): number | undefined {
    return this.#nextAt;
  }

  async #load(): Promise<void> {
    let runs: RunRecord[] = [];
    try {
      runs = await this.#store.load();
    } catch (err) {
      let keptAs: string | undefined;
      if (isGpumonError(err, 'ARCHIVE_FILE_CORRUPT')) {
        try {
          keptAs = await this.#store.quarantine?.();
        } catch (moveErr) {
          this.#log.error({ err: describeError(moveErr) }, 'cannot move the corrupt run history aside');
        }
      }
      this.#log.warn(
        { history: this.#store.location, keptAs, err: describeError(err) },
        'cannot read the run history; starting with an empty history',
      );
    }
    let interrupted = false;
    for (const run of runs) {
      if (run.status !== 'running') continue;
      interrupted = true;
      const times = run.attempts.flatMap((a) => [a.startedAt, a.finishedAt ?? a.startedAt]);
      const lastSeen = Math.max(run.startedAt, ...times);
      const message = 'interrupted: gpumon stopped while the run was going';
      for (const attempt of run.attempts) {
        if (attempt.finishedAt !== undefined) continue;
        attempt.finishedAt = lastSeen;
        attempt.error = message;
      }
      run.status = 'failed';
      run.finishedAt = lastSeen;
      run.error = message;
      this.#log.warn(
        { run: run.id },
        'a run was interrupted by the end of the previous process; recorded failed',
      );
    }
    this.#runs = pruneRuns(runs, this.#limits);
    if (interrupted) await this.#persist();
  }

  #arm(from: number): void {
    const next = this.#cron.nextRun(new Date(from));
    this.#nextAt = next ? next.getTime() : undefined;
    if (this.#nextAt === undefined) {
      this.#log.warn(
        { cron: this.#cronText },
        'the cron expression has no further run time; nothing is scheduled',
      );
      return;
    }
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), this.#nextAt - this.#clock.now());
  }

  #onTimer(): void {
    this.#timer = undefined;
    const due = this.#nextAt;
    if (!this.#started || due === undefined) return;
    const now = this.#clock.now();
    if (now < due) {
      // Woken early (the wall clock was set back): wait for the instant itself.
      this.#timer = this.#clock.setTimeout(() => this.#onTimer(), due - now);
      return;
    }
    this.#fire(due);
    this.#arm(Math.max(now, due));
  }

  #fire(scheduledAt: number): void {
    const active = this.#active;
    if (active) {
      this.#log.warn(
        { running: active.record.id, scheduledAt: iso(scheduledAt), trigger: 'schedule' },
        'scheduled run skipped: the previous run is still going (concurrencyPolicy Forbid)',
      );
      return;
    }
    this.#begin('schedule', scheduledAt);
  }

  #begin(trigger: RunTrigger, scheduledAt: number): ActiveRun {
    const record: RunRecord = {
      id: this.#newId(trigger, scheduledAt),
      trigger,
      scheduledAt,
      startedAt: this.#clock.now(),
      status: 'running',
      attempts: [],
    };
    let resolveDone!: (value: Promise<RunRecord>) => void;
    let resolveReleased!: () => void;
    const active: ActiveRun = {
      record,
      controller: new AbortController(),
      ended: false,
      inFlight: false,
      done: new Promise<RunRecord>((resolve) => {
        resolveDone = resolve;
      }),
      resolveDone: (value) => resolveDone(value),
      released: new Promise<void>((resolve) => {
        resolveReleased = resolve;
      }),
      resolveReleased: () => resolveReleased(),
    };
    this.#active = active;
    this.#runs.unshift(record);
    this.#log.info({ run: record.id, trigger, scheduledAt: iso(scheduledAt) }, 'run started');
    if (this.#deadlineMs !== undefined) {
      active.deadlineTimer = this.#clock.setTimeout(() => this.#expire(active), this.#deadlineMs);
    }
    this.#attempt(active);
    return active;
  }

  #attempt(active: ActiveRun): void {
    const { record } = active;
    const number = record.attempts.length + 1;
    const attempt: AttemptRecord = { startedAt: this.#clock.now() };
    record.attempts.push(attempt);
    void this.#persist();
    active.inFlight = true;
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(
        this.#job({
          signal: active.controller.signal,
          attempt: number,
          scheduledAt: record.scheduledAt,
          trigger: record.trigger,
          runId: record.id,
        }),
      );
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (result) => this.#attemptSucceeded(active, attempt, result),
      (err: unknown) => this.#attemptFailed(active, attempt, number, err),
    );
  }

  #attemptSucceeded(active: ActiveRun, attempt: AttemptRecord, result: unknown): void {
    active.inFlight = false;
    if (active.ended) {
      this.#log.info({ run: active.record.id }, 'the aborted job has settled');
      this.#release(active);
      return;
    }
    attempt.finishedAt = this.#clock.now();
    const summary = this.#jsonSafe(active, result);
    this.#finish(active, 'succeeded', summary === undefined ? {} : { result: summary });
  }

  #attemptFailed(active: ActiveRun, attempt: AttemptRecord, number: number, err: unknown): void {
    active.inFlight = false;
    if (active.ended) {
      this.#log.info({ run: active.record.id }, 'the aborted job has settled');
      this.#release(active);
      return;
    }
    const message = describeError(err);
    attempt.finishedAt = this.#clock.now();
    attempt.error = message;
    if (number <= this.#retries) {
      const delayMs = this.#backoffMs * 2 ** (number - 1);
      this.#log.warn(
        { run: active.record.id, attempt: number, err: message, retryInSeconds: delayMs / 1000 },
        'attempt failed; retrying after the backoff',
      );
      void this.#persist();
      active.backoffTimer = this.#clock.setTimeout(() => {
        active.backoffTimer = undefined;
        this.#attempt(active);
      }, delayMs);
      return;
    }
    const error =
      number === 1
        ? message
        : `failed ${number} attempts (${this.#retries} retries, the backoff limit); last error: ${message}`;
    this.#finish(active, 'failed', { error });
  }

  #expire(active: ActiveRun): void {
    active.deadlineTimer = undefined;
    if (active.ended) return;
    const seconds = (this.#deadlineMs ?? 0) / 1000;
    const message = `deadline exceeded: the run was still going after ${seconds} s (activeDeadlineSeconds)`;
    const reason = new GpumonError('ANALYTICS_DEADLINE_EXCEEDED', `run ${active.record.id}: ${message}`);
    this.#abort(active, reason, message);
  }

  /** Ends the run as failed (or cancelled) now, then aborts the job's signal; the slot is freed once the job settles. */
  #abort(
    active: ActiveRun,
    reason: unknown,
    message: string,
    status: 'failed' | 'cancelled' = 'failed',
  ): void {
    const attempt = active.record.attempts.at(-1);
    if (active.inFlight && attempt && attempt.finishedAt === undefined) {
      attempt.finishedAt = this.#clock.now();
      attempt.error = message;
    }
    this.#finish(active, status, { error: message });
    active.controller.abort(reason);
    if (active.inFlight) {
      active.graceTimer = this.#clock.setTimeout(() => {
        active.graceTimer = undefined;
        this.#log.error(
          { run: active.record.id, graceSeconds: this.#graceMs / 1000 },
          'the aborted job ignored its signal; freeing the slot while it may still be going',
        );
        this.#release(active);
      }, this.#graceMs);
    }
  }

  #finish(
    active: ActiveRun,
    status: 'succeeded' | 'failed' | 'cancelled',
    outcome: { result?: unknown; error?: string },
  ): void {
    const { record } = active;
    active.ended = true;
    this.#clock.clearTimeout(active.deadlineTimer);
    this.#clock.clearTimeout(active.backoffTimer);
    active.deadlineTimer = undefined;
    active.backoffTimer = undefined;
    record.status = status;
    record.finishedAt = this.#clock.now();
    if (outcome.error !== undefined) record.error = outcome.error;
    if (outcome.result !== undefined) record.result = outcome.result;
    this.#runs = pruneRuns(this.#runs, this.#limits);
    const fields = {
      run: record.id,
      attempts: record.attempts.length,
      durationMs: record.finishedAt - record.startedAt,
    };
    if (status === 'succeeded') this.#log.info(fields, 'run succeeded');
    else if (status === 'cancelled') this.#log.warn({ ...fields, reason: record.error }, 'run cancelled');
    else this.#log.error({ ...fields, err: record.error }, 'run failed');
    const final = structuredClone(record);
    active.resolveDone(this.#persist().then(() => final));
    if (!active.inFlight) this.#release(active);
  }

  #release(active: ActiveRun): void {
    this.#clock.clearTimeout(active.graceTimer);
    active.graceTimer = undefined;
    if (this.#active === active) this.#active = undefined;
    active.resolveReleased();
  }

  /** Queues a write of the whole history; never rejects (a failed write is logged). */
  #persist(): Promise<void> {
    const snapshot = structuredClone(this.#runs);
    this.#writes = this.#writes
      .then(() => this.#store.save(snapshot))
      .catch((err: unknown) => {
        this.#log.error(
          { history: this.#store.location, err: describeError(err) },
          'cannot write the run history',
        );
      });
    return this.#writes;
  }

  #jsonSafe(active: ActiveRun, result: unknown): unknown {
    if (result === undefined) return undefined;
    try {
      return JSON.parse(JSON.stringify(result)) as unknown;
    } catch (err) {
      this.#log.warn(
        { run: active.record.id, err: describeError(err) },
        'the job result is not JSON; it is left out of the history',
      );
      return undefined;
    }
  }

  #newId(trigger: RunTrigger, at: number): string {
    const stamp = new Date(at).toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
    const base = trigger === 'manual' ? `${this.name}-manual-${stamp}` : `${this.name}-${stamp}`;
    let id = base;
    for (let n = 2; this.#runs.some((run) => run.id === id); n++) id = `${base}-${n}`;
    return id;
  }
}

function checkNumber(
  options: CronJobOptions,
  key: string,
  value: number,
  rule: { integer?: boolean; min: number },
): number {
  if (!Number.isFinite(value) || value < rule.min || (rule.integer && !Number.isInteger(value))) {
    throw new GpumonError(
      'SCHEDULE_INVALID',
      `job ${options.name}: ${key} must be ${rule.integer ? 'an integer' : 'a number'} >= ${rule.min}, got ${value}`,
    );
  }
  return value;
}

function iso(time: number | undefined): string | undefined {
  return time === undefined ? undefined : new Date(time).toISOString();
}
