import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** How often a source that keeps failing is reported again, as a count (default: every 5 minutes). */
export const FAILURE_REPORT_INTERVAL_MS = 5 * 60_000;

export interface ReadFailureLogOptions {
  /** Names the source in the lines (`rocm-smi`). */
  source: string;
  logger?: Logger | undefined;
  /** Default FAILURE_REPORT_INTERVAL_MS. */
  intervalMs?: number;
  /** Default Date.now. */
  now?: () => number;
}

/**
 * How a sampling loop logs the reads of a source that fail: the first failure of a run of failures as one
 * warning with its message (no stack: the same failure every second would fill the log), then, while the
 * failures go on, one line every `intervalMs` with how many there were since and the last message, and one
 * line when a read succeeds again. A source that fails every second logs about 12 lines an hour.
 */
export class ReadFailureLog {
  readonly #source: string;
  readonly #logger: Logger | undefined;
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** When the current run of failures began; undefined while reads succeed. */
  #since: number | undefined;
  #lastReportAt = 0;
  #sinceReport = 0;
  #total = 0;

  constructor(options: ReadFailureLogOptions) {
    this.#source = options.source;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? FAILURE_REPORT_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** A read failed with `err`. */
  failed(err: unknown): void {
    const now = this.#now();
    this.#total += 1;
    const error = describeError(err);
    if (this.#since === undefined) {
      this.#since = now;
      this.#lastReportAt = now;
      this.#sinceReport = 0;
      this.#logger?.warn(
        { source: this.#source, err: error },
        `source ${this.#source}: read failed; further failures are counted and reported every ` +
          `${Math.round(this.#intervalMs / 1000)} s`,
      );
      return;
    }
    this.#sinceReport += 1;
    if (now - this.#lastReportAt < this.#intervalMs) return;
    this.#logger?.warn(
      {
        source: this.#source,
        failures: this.#sinceReport,
        failingForSeconds: Math.round((now - this.#since) / 1000),
        lastErr: error,
      },
      `source ${this.#source}: still failing, ${this.#sinceReport} more failed reads in the last ` +
        `${Math.round((now - this.#lastReportAt) / 1000)} s`,
    );
    this.#lastReportAt = now;
    this.#sinceReport = 0;
  }

  /** A read succeeded: ends a run of failures (logged once, with how long it lasted). */
  succeeded(): void {
    if (this.#since === undefined) return;
    const now = this.#now();
    this.#logger?.info(
      {
        source: this.#source,
        failures: this.#total,
        failedForSeconds: Math.round((now - this.#since) / 1000),
      },
      `source ${this.#source}: reads again after ${this.#total} failed reads`,
    );
    this.#since = undefined;
    this.#total = 0;
  }

  /** Failed reads of the current run of failures (0 while reads succeed). */
  failing(): number {
    return this.#total;
  }
}
