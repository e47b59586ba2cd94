import type { SourceHealth } from './source.ts';

/**
 * The bookkeeping every source does for its `health()`: when it last read, how long that took, and its
 * failures counted by kind. A source keeps one and reports `{ source, ...tracker.readings(), notice }`.
 */
export class HealthTracker {
  /** Epoch ms of the last read that returned samples. */
  lastSuccessMs: number | null = null;
  /** Wall time of the last read, successful or not. */
  lastReadDurationMs: number | null = null;
  private readonly errors: Record<string, number> = {};

  /** Counts `n` failures of `kind` (e.g. `timeout`, `parse:bad_value`). */
  count(kind: string, n = 1): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + n;
  }

  /** Failures of `kind` so far. */
  countOf(kind: string): number {
    return this.errors[kind] ?? 0;
  }

  readings(): Pick<SourceHealth, 'lastSuccessMs' | 'lastReadDurationMs' | 'errors'> {
    return {
      lastSuccessMs: this.lastSuccessMs,
      lastReadDurationMs: this.lastReadDurationMs,
      errors: { ...this.errors },
    };
  }
}
