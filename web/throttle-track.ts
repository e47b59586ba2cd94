import type { ThrottleReason, ThrottleResponse } from '../src/server/api-types.ts';

/** A stretch of time in which a reason was active in `share` of the samples (1: all of them). */
export interface ThrottleMark {
  from: number;
  to: number;
  share: number;
}

/** One reason's marks, as a chart draws them in its lane. */
export interface ThrottleLane {
  reason: ThrottleReason;
  marks: readonly ThrottleMark[];
}

/** Marks kept per reason at most: the history's buckets, then live samples (oldest dropped first). */
const MAX_MARKS = 6000;

/**
 * When each throttle reason was active over the detail's range: the server's buckets
 * (/api/gpus/:uuid/throttle), then each live sample's bitmask. Pure; the charts draw its lanes.
 */
export class ThrottleTrack {
  reasons: readonly ThrottleReason[] = [];
  private readonly marks = new Map<string, ThrottleMark[]>();
  /** Samples with a known bitmask, and per reason key those with it active, over the range. */
  measured = 0;
  readonly active = new Map<string, number>();
  loaded = false;

  /** Takes the server's answer: one mark per bucket a reason was active in, `bucketMs` wide. */
  load(body: Pick<ThrottleResponse, 'reasons' | 'ts' | 'measured' | 'active' | 'totals' | 'bucketMs'>): void {
    this.reasons = body.reasons;
    this.marks.clear();
    this.active.clear();
    this.measured = body.totals.measured;
    for (const reason of body.reasons) {
      const counts = body.active[reason.key] ?? [];
      const marks: ThrottleMark[] = [];
      body.ts.forEach((ts, i) => {
        const n = counts[i] ?? 0;
        if (n > 0) marks.push({ from: ts, to: ts + body.bucketMs, share: n / (body.measured[i] || n) });
      });
      this.marks.set(reason.key, marks);
      this.active.set(reason.key, body.totals.active[reason.key] ?? 0);
    }
    this.loaded = true;
  }

  /**
   * A live sample's bitmask at `ts` (null: not read). A reason active in it extends its last mark when that
   * ended within 1.5 intervals, else starts one `intervalMs` wide. Returns whether a mark changed.
   */
  push(ts: number, mask: number | null, intervalMs: number): boolean {
    if (mask === null || !this.loaded) return false;
    this.measured++;
    let changed = false;
    for (const reason of this.reasons) {
      if ((mask & reason.bit) === 0) continue;
      this.active.set(reason.key, (this.active.get(reason.key) ?? 0) + 1);
      const marks = this.marks.get(reason.key) ?? [];
      this.marks.set(reason.key, marks);
      const last = marks.at(-1);
      if (last && last.share === 1 && ts >= last.from && ts - last.to <= 0.5 * intervalMs) {
        last.to = Math.max(last.to, ts + intervalMs);
      } else {
        marks.push({ from: ts, to: ts + intervalMs, share: 1 });
        if (marks.length > MAX_MARKS) marks.splice(0, marks.length - MAX_MARKS);
      }
      changed = true;
    }
    return changed;
  }

  /** The reasons active at some time of the range, each with its marks, in the server's order. */
  lanes(): ThrottleLane[] {
    return this.reasons
      .map((reason) => ({ reason, marks: this.marks.get(reason.key) ?? [] }))
      .filter((lane) => lane.marks.length > 0);
  }

  /** The reasons active at `ts`, with the share of their bucket's samples. */
  at(ts: number): { reason: ThrottleReason; share: number }[] {
    const found: { reason: ThrottleReason; share: number }[] = [];
    for (const { reason, marks } of this.lanes()) {
      const mark = findMark(marks, ts);
      if (mark) found.push({ reason, share: mark.share });
    }
    return found;
  }

  /** The share of the measured samples each reason was active in, for the legend (null: none measured). */
  shareOf(key: string): number | null {
    return this.measured > 0 ? (this.active.get(key) ?? 0) / this.measured : null;
  }
}

/** The mark that holds `ts` (from included, to excluded), by binary search of marks in time order. */
export function findMark(marks: readonly ThrottleMark[], ts: number): ThrottleMark | null {
  let lo = 0;
  let hi = marks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const mark = marks[mid] as ThrottleMark;
    if (ts < mark.from) hi = mid - 1;
    else if (ts >= mark.to) lo = mid + 1;
    else return mark;
  }
  return null;
}

/** "Power cap (40 % of the bucket)", "Power cap, Thermal (SW)": what the cursor's time was throttled by. */
export function describeThrottle(active: { reason: ThrottleReason; share: number }[]): string {
  if (active.length === 0) return '';
  const parts = active.map(({ reason, share }) =>
    share >= 0.995 ? reason.label : `${reason.label} (${Math.round(share * 100)} % of the bucket)`,
  );
  return `Throttled: ${parts.join(', ')}`;
}
