import type { XWindow } from './chart-window.ts';
import type { ThrottleLane, ThrottleMark } from './throttle-track.ts';

/**
 * Finer history for a zoomed window (pure: no DOM). The detail's range comes in the server's time buckets; zoomed
 * into part of it, the page asks the history again for just the window (after the user stops zooming for a
 * moment), and shows those finer buckets within the window, the range's own outside it.
 */

/** How long after the last zoom or pan the window's history is asked. */
export const ZOOM_DEBOUNCE_MS = 300;

/** The bucket the server makes for `points` across `spanMs` (src/server/history.ts `bucketWidth`). */
export function expectedBucketMs(spanMs: number, points: number, intervalMs: number): number {
  const raw = Math.max(intervalMs, Math.ceil(spanMs / points));
  return Math.ceil(raw / 1000) * 1000;
}

/** What the charts show now: the range's buckets, raw samples from `rawFrom` on (live points), a window's finer ones. */
export interface ShownHistory {
  /** The range's bucket width. */
  bucketMs: number;
  /** From this time on the data is raw samples (the live points after the history); Infinity: nowhere. */
  rawFrom: number;
  /** The finer buckets already shown for a window, if any. */
  detail: { from: number; to: number; bucketMs: number } | null;
}

/** How much finer than those shown the server's buckets must be for a window to be asked again. */
export const FINER_FACTOR = 2;

/**
 * Whether the zoomed window `win` is worth asking again: the server would cut it in buckets at least twice
 * finer than those shown there. Not within the raw live samples (nothing finer exists), nor within a window
 * already shown at about that bucket.
 */
export function wantsFinerHistory(
  win: XWindow,
  shown: ShownHistory,
  points: number,
  intervalMs: number,
): boolean {
  if (win[0] >= shown.rawFrom) return false;
  const want = expectedBucketMs(win[1] - win[0], points, intervalMs);
  if (want * FINER_FACTOR > shown.bucketMs) return false;
  const d = shown.detail;
  return !(d && d.from <= win[0] && win[1] <= d.to && want * FINER_FACTOR > d.bucketMs);
}

/** Columns over one time column: a line's values, or a band's min and max. */
export interface Columns {
  ts: readonly number[];
  cols: readonly (readonly (number | null)[])[];
}

/**
 * The base's points outside the window `from`-`to` (before the first fine point, from `to` on) with the fine
 * points between them. Where the base and the fine points meet more than `gapMs` apart, a `null` point keeps the
 * line from bridging the stretch without samples (as the server's own gaps do).
 */
export function spliceColumns(
  base: Columns,
  fine: Columns,
  from: number,
  to: number,
  gapMs: number,
): { ts: number[]; cols: (number | null)[][] } {
  const n = base.cols.length;
  const ts: number[] = [];
  const cols: (number | null)[][] = Array.from({ length: n }, () => []);
  const start = Math.min(from, fine.ts[0] ?? from);
  const push = (t: number, at: (c: number) => number | null, seam = false) => {
    const last = ts.at(-1);
    if (seam && last !== undefined && t - last > gapMs && cols.some((c) => c.at(-1) !== null)) {
      ts.push(Math.round((last + t) / 2));
      for (const c of cols) c.push(null);
    }
    ts.push(t);
    cols.forEach((c, k) => {
      c.push(at(k));
    });
  };
  let i = 0;
  for (; i < base.ts.length && (base.ts[i] as number) < start; i++) {
    const row = i;
    push(base.ts[i] as number, (k) => base.cols[k]?.[row] ?? null);
  }
  let seam = true;
  fine.ts.forEach((t, row) => {
    if (ts.length > 0 && t <= (ts.at(-1) as number)) return;
    push(t, (k) => fine.cols[k]?.[row] ?? null, seam);
    seam = false;
  });
  seam = true;
  for (; i < base.ts.length; i++) {
    const t = base.ts[i] as number;
    if (t < to || (ts.length > 0 && t <= (ts.at(-1) as number))) continue;
    const row = i;
    push(t, (k) => base.cols[k]?.[row] ?? null, seam);
    seam = false;
  }
  return { ts, cols };
}

/**
 * The throttle lanes with the window's finer marks: each of the range's lanes cut away within `from`-`to`, the
 * window's marks of the same reason put there.
 */
export function spliceLanes(
  range: readonly ThrottleLane[],
  detail: readonly ThrottleLane[],
  from: number,
  to: number,
): ThrottleLane[] {
  const lanes: ThrottleLane[] = [];
  for (const lane of range) {
    const before: ThrottleMark[] = [];
    const after: ThrottleMark[] = [];
    for (const m of lane.marks) {
      if (m.from < from) before.push(m.to > from ? { ...m, to: from } : m);
      if (m.to > to) after.push(m.from < to ? { ...m, from: to } : m);
    }
    const inside = (detail.find((d) => d.reason.key === lane.reason.key)?.marks ?? [])
      .filter((m) => m.to > from && m.from < to)
      .map((m) => ({ ...m, from: Math.max(m.from, from), to: Math.min(m.to, to) }));
    const marks = [...before, ...inside, ...after];
    if (marks.length > 0) lanes.push({ reason: lane.reason, marks });
  }
  return lanes;
}

/** Timers, given so that tests can drive them. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Asks for the latest thing wanted only, once the wishes stop for `delayMs`: a new wish (or `cancel`) drops the
 * one waiting and aborts the one in flight, which is stale; so at most one request is in flight, and an answer
 * is taken only when it is for the latest wish.
 */
export class LatestLoader<K, T> {
  private timer: unknown = null;
  private inFlight: { key: K; controller: AbortController } | null = null;
  /** Requests started, and those aborted as stale (for tests and the page's data). */
  started = 0;
  aborted = 0;

  constructor(
    private readonly load: (key: K, signal: AbortSignal) => Promise<T>,
    private readonly onLoad: (key: K, value: T) => void,
    private readonly onError: (key: K, err: unknown) => void = () => {},
    private readonly delayMs = ZOOM_DEBOUNCE_MS,
    private readonly timers: Timers = realTimers,
    private readonly same: (a: K, b: K) => boolean = Object.is,
  ) {}

  /** Whether a request is waiting for its delay or in flight. */
  get busy(): boolean {
    return this.timer !== null || this.inFlight !== null;
  }

  want(key: K): void {
    if (this.inFlight && this.same(this.inFlight.key, key) && this.timer === null) return;
    this.stop();
    this.timer = this.timers.set(() => {
      this.timer = null;
      this.start(key);
    }, this.delayMs);
  }

  /** Drops the wish waiting and the request in flight. */
  cancel(): void {
    this.stop();
  }

  private stop(): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    if (this.inFlight) {
      this.inFlight.controller.abort();
      this.aborted++;
      this.inFlight = null;
    }
  }

  private start(key: K): void {
    const controller = new AbortController();
    const current = { key, controller };
    this.inFlight = current;
    this.started++;
    this.load(key, controller.signal).then(
      (value) => {
        if (this.inFlight !== current) return;
        this.inFlight = null;
        this.onLoad(key, value);
      },
      (err: unknown) => {
        if (this.inFlight !== current) return;
        this.inFlight = null;
        this.onError(key, err);
      },
    );
  }
}
