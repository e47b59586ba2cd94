import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { GpumonError } from '../errors.ts';

export type RunTrigger = 'schedule' | 'manual';
/** `cancelled`: stopped on purpose while going (Ctrl-C, SIGTERM), with the reason in `error`. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One try of a run. Times are epoch milliseconds. */
export interface AttemptRecord {
  startedAt: number;
  /** Absent while the attempt is in flight. */
  finishedAt?: number;
  /** Why the attempt failed; absent when it succeeded (or is in flight). */
  error?: string;
}

/** One run of a scheduled job (a Kubernetes Job of a CronJob), with its attempts (pods). */
export interface RunRecord {
  id: string;
  trigger: RunTrigger;
  /** The schedule instant the run is for; for a manual run, when it was triggered. */
  scheduledAt: number;
  startedAt: number;
  /** Absent while the run is going. */
  finishedAt?: number;
  status: RunStatus;
  attempts: AttemptRecord[];
  /** Why the run failed or was cancelled. */
  error?: string;
  /** The JSON summary the job returned, when it succeeded. */
  result?: unknown;
}

/** How many finished runs of each outcome to keep (successfulJobsHistoryLimit, failedJobsHistoryLimit). */
export interface HistoryLimits {
  successful: number;
  failed: number;
}

/**
 * Where a job's run history is kept. `load` returns the runs newest first; `save` replaces them all. The
 * scheduler calls `save` one call at a time. A store is single-writer: one scheduler per store.
 */
export interface RunHistoryStore {
  /** Names the store in messages (a file path, `memory`). */
  readonly location: string;
  /** An empty history when nothing was saved yet; throws ARCHIVE_FILE_CORRUPT when the saved history is unreadable. */
  load(): Promise<RunRecord[]>;
  save(runs: readonly RunRecord[]): Promise<void>;
  /** Moves an unreadable history aside so a fresh one can be written; returns where it went. */
  quarantine?(): Promise<string | undefined>;
}

/** `<state dir>/<job>-runs.json`: where the run history of a job lives (see `archive.statePath`). */
export function runHistoryPath(stateDir: string, jobName: string): string {
  return join(resolve(stateDir), `${jobName}-runs.json`);
}

/**
 * The runs to keep: every run still going, the newest `successful` succeeded runs and the newest `failed`
 * failed or cancelled runs; newest first (by start time).
 */
export function pruneRuns(runs: readonly RunRecord[], limits: HistoryLimits): RunRecord[] {
  let succeeded = 0;
  let failed = 0;
  return [...runs]
    .sort((a, b) => b.startedAt - a.startedAt)
    .filter((run) => {
      if (run.status === 'succeeded') return ++succeeded <= limits.successful;
      if (run.status === 'failed' || run.status === 'cancelled') return ++failed <= limits.failed;
      return true;
    });
}

/** A history that lives as long as the process, for tests and for runs that need no record. */
export class MemoryRunHistory implements RunHistoryStore {
  readonly location = 'memory';
  #runs: RunRecord[];

  constructor(runs: readonly RunRecord[] = []) {
    this.#runs = structuredClone([...runs]);
  }

  async load(): Promise<RunRecord[]> {
    return structuredClone(this.#runs);
  }

  async save(runs: readonly RunRecord[]): Promise<void> {
    this.#runs = structuredClone([...runs]);
  }
}

const attemptSchema = z.object({
  startedAt: z.number(),
  finishedAt: z.number().optional(),
  error: z.string().optional(),
});

const runSchema = z.object({
  id: z.string().min(1),
  trigger: z.enum(['schedule', 'manual']),
  scheduledAt: z.number(),
  startedAt: z.number(),
  finishedAt: z.number().optional(),
  status: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  attempts: z.array(attemptSchema),
  error: z.string().optional(),
  result: z.unknown().optional(),
});

const FILE_VERSION = 1;

const fileSchema = z.object({
  version: z.literal(FILE_VERSION),
  runs: z.array(runSchema),
});

/**
 * The run history as one JSON file (`{ "version": 1, "runs": [...] }`, newest first, times in epoch ms).
 * Each save writes a temporary file beside it and renames it over the old one, so a reader (or a crash)
 * never sees half a file.
 */
export class FileRunHistory implements RunHistoryStore {
  readonly location: string;
  /** Ids of the runs this instance has saved: the others in the file belong to another process. */
  readonly #mine = new Set<string>();

  /**
   * `limits`: prune the merged history to them on save (the CronJob prunes its own runs; this also bounds runs
   * written by other processes).
   */
  constructor(
    file: string,
    private readonly limits?: HistoryLimits,
  ) {
    this.location = resolve(file);
  }

  async load(): Promise<RunRecord[]> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read the run history ${this.location}`, {
        cause: err,
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw this.#corrupt('is not JSON', cause);
    }
    const parsed = fileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
      throw this.#corrupt(
        `is not a version ${FILE_VERSION} run history (${issue?.message ?? 'invalid'}${where})`,
        parsed.error,
      );
    }
    return parsed.data.runs.sort((a, b) => b.startedAt - a.startedAt) as RunRecord[];
  }

  /**
   * Writes `runs`, keeping the runs another process (say `gpumon analyze` beside `gpumon up`) wrote to the file
   * meanwhile: a run this instance never saved is merged in, one it saved and no longer lists is dropped.
   */
  async save(runs: readonly RunRecord[]): Promise<void> {
    for (const run of runs) this.#mine.add(run.id);
    const ours = new Set(runs.map((r) => r.id));
    const theirs = (await this.load().catch(() => [] as RunRecord[])).filter(
      (r) => !ours.has(r.id) && !this.#mine.has(r.id),
    );
    let merged = [...runs, ...theirs].sort((a, b) => b.startedAt - a.startedAt);
    if (this.limits) merged = pruneRuns(merged, this.limits);
    const text = `${JSON.stringify({ version: FILE_VERSION, runs: merged }, null, 2)}\n`;
    const dir = dirname(this.location);
    const tmp = join(dir, `.${randomBytes(4).toString('hex')}-${process.pid}.runs.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.location);
    } catch (cause) {
      await rm(tmp, { force: true });
      throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot write the run history ${this.location}`, {
        cause,
      });
    }
  }

  /** Renames the file to `<file>.corrupt` (replacing an older one); returns that path, or undefined if none. */
  async quarantine(): Promise<string | undefined> {
    const target = `${this.location}.corrupt`;
    try {
      await rename(this.location, target);
      return target;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot move the run history ${this.location} aside`, {
        cause: err,
      });
    }
  }

  #corrupt(what: string, cause: unknown): GpumonError {
    return new GpumonError(
      'ARCHIVE_FILE_CORRUPT',
      `the run history ${this.location} ${what}; move it aside or delete it to start a new history`,
      { cause },
    );
  }
}
