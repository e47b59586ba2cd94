import { describeError, GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SourceHealth } from './source.ts';

/**
 * The bookkeeping every source does for its `health()`: when it last read, how long that took, its failures
 * counted by kind, and the last failure as a notice for people. A source keeps one and reports
 * `{ source, ...tracker.readings(), notice }`.
 */
export class HealthTracker {
  /** Epoch ms of the last read that returned samples. */
  lastSuccessMs: number | null = null;
  /** Wall time of the last read, successful or not. */
  lastReadDurationMs: number | null = null;
  /** The last failure since the last success, for people; null after a success. */
  notice: string | null = null;
  private readonly errors: Record<string, number> = {};
  private readonly warned = new Set<string>();

  /** `label` starts every failure message (e.g. `dcgm source`); warnings go to `logger`, once per key. */
  constructor(
    private readonly label = 'source',
    private readonly logger?: Logger,
  ) {}

  /** Counts `n` failures of `kind` (e.g. `timeout`, `parse:bad_value`). */
  count(kind: string, n = 1): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + n;
  }

  /** Failures of `kind` so far. */
  countOf(kind: string): number {
    return this.errors[kind] ?? 0;
  }

  /** A read returned samples at `now`: clears the notice. */
  succeeded(now: number): void {
    this.lastSuccessMs = now;
    this.notice = null;
  }

  /**
   * A failed read: counts it under `kind`, keeps it as the notice, and returns the SOURCE_READ_FAILED error to
   * throw. It logs nothing: the sampling loop logs failed reads (once, then as a count: ReadFailureLog).
   */
  fail(kind: string, message: string, cause?: unknown): GpumonError {
    this.count(kind);
    const error = new GpumonError('SOURCE_READ_FAILED', `${this.label}: ${message}`, { cause });
    this.notice = describeError(error);
    return error;
  }

  /** Logs a warning the first time `key` is seen. */
  warnOnce(key: string, details: object, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger?.warn(details, message);
  }

  readings(): Pick<SourceHealth, 'lastSuccessMs' | 'lastReadDurationMs' | 'errors'> {
    return {
      lastSuccessMs: this.lastSuccessMs,
      lastReadDurationMs: this.lastReadDurationMs,
      errors: { ...this.errors },
    };
  }
}
