/**
 * A capped time series for a live chart: history from the REST API, then live points from the stream.
 * When a point arrives later than 1.5 intervals after the previous one, a `null` point is put between them,
 * so the chart shows the outage instead of drawing a line across it.
 */
export class SeriesBuffer {
  readonly ts: number[] = [];
  readonly values: (number | null)[] = [];

  /**
   * @param capacity the most points kept; the oldest go first
   * @param intervalMs the sampling interval; null: estimated from the points themselves
   */
  constructor(
    private readonly capacity: number,
    public intervalMs: number | null = null,
  ) {}

  get length(): number {
    return this.ts.length;
  }

  /** Appends one point; a point not newer than the last one is ignored (returns false). */
  push(ts: number, value: number | null): boolean {
    const last = this.ts.at(-1);
    if (last !== undefined) {
      if (ts <= last) return false;
      const interval = this.interval();
      if (interval !== null && ts - last > 1.5 * interval) {
        this.ts.push(last + interval);
        this.values.push(null);
      }
    }
    this.ts.push(ts);
    this.values.push(value);
    this.trim();
    return true;
  }

  /** Replaces the points up to the end of `history` with it, keeping the live points that are newer. */
  load(history: { ts: readonly number[]; values: readonly (number | null)[] }): void {
    const end = history.ts.at(-1) ?? Number.NEGATIVE_INFINITY;
    const newer: [number, number | null][] = [];
    for (let i = 0; i < this.ts.length; i++) {
      const t = this.ts[i] as number;
      if (t > end) newer.push([t, this.values[i] ?? null]);
    }
    this.clear();
    if (this.intervalMs === null) this.estimated = estimateInterval(history.ts);
    history.ts.forEach((t, i) => {
      this.push(t, history.values[i] ?? null);
    });
    for (const [t, v] of newer) this.push(t, v);
  }

  clear(): void {
    this.ts.length = 0;
    this.values.length = 0;
  }

  private estimated: number | null = null;

  private interval(): number | null {
    if (this.intervalMs !== null) return this.intervalMs;
    if (this.estimated === null && this.ts.length >= 4) this.estimated = estimateInterval(this.ts);
    return this.estimated;
  }

  private trim(): void {
    const excess = this.ts.length - this.capacity;
    if (excess > 0) {
      this.ts.splice(0, excess);
      this.values.splice(0, excess);
    }
  }
}

/** The median step between consecutive timestamps, or null with fewer than two. */
export function estimateInterval(ts: readonly number[]): number | null {
  const steps: number[] = [];
  for (let i = 1; i < ts.length; i++) {
    const step = (ts[i] as number) - (ts[i - 1] as number);
    if (step > 0) steps.push(step);
  }
  if (steps.length === 0) return null;
  steps.sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)] ?? null;
}
