import { METRICS, type MetricName } from '../metrics/catalog.ts';
import type { GpuSample } from '../metrics/sample.ts';

/** A window of one metric of one GPU: parallel arrays, oldest first. */
export interface Series {
  ts: number[];
  values: (number | null)[];
}

/** The smallest ring a GPU's window starts with, and never shrinks below. */
const MIN_CAPACITY = 16;

const METRIC_INDEX = new Map<MetricName, number>(METRICS.map((m, i) => [m.name, i]));

/**
 * One GPU's recent samples, in the order they came: a ring of columns, one `Float64Array` per metric the GPU
 * has ever reported (NaN where a sample lacks the value), beside one of timestamps.
 *
 * Why not arrays of numbers: a JS array of `number | null` holds each fractional value as a heap object of its
 * own (8 bytes of reference plus 16 of number), and dropping the oldest sample moved every later one, for
 * every metric. Here a value is 8 bytes off the JS heap, nothing is allocated per sample, and the oldest is
 * dropped by moving the ring's start. A metric the GPU never reports costs nothing (a source without fans,
 * MIG instances without power). The ring doubles when full and halves when three quarters stand empty, so a
 * burst does not hold memory for the rest of the process.
 */
export class GpuWindow {
  private ts: Float64Array;
  private readonly columns: (Float64Array | undefined)[] = new Array(METRICS.length).fill(undefined);
  private start = 0;
  private size = 0;

  constructor(capacity = MIN_CAPACITY) {
    this.ts = new Float64Array(Math.max(MIN_CAPACITY, capacity));
  }

  /** Samples held. */
  get length(): number {
    return this.size;
  }

  /** Appends a sample's values (after the newest, whatever its time: the order samples came in). */
  push(sample: GpuSample): void {
    if (this.size === this.ts.length) this.resize(this.ts.length * 2);
    const at = (this.start + this.size) % this.ts.length;
    this.ts[at] = sample.ts;
    for (let m = 0; m < METRICS.length; m++) {
      const value = sample[(METRICS[m] as (typeof METRICS)[number]).name];
      let column = this.columns[m];
      if (column === undefined) {
        if (value === null || value === undefined) continue;
        column = new Float64Array(this.ts.length).fill(Number.NaN);
        this.columns[m] = column;
      }
      column[at] = value ?? Number.NaN;
    }
    this.size += 1;
  }

  /** Drops the oldest samples while they are older than `cutoffMs` (stops at the first that is not). */
  dropBefore(cutoffMs: number): void {
    while (this.size > 0 && (this.ts[this.start] as number) < cutoffMs) {
      this.start = (this.start + 1) % this.ts.length;
      this.size -= 1;
    }
    let capacity = this.ts.length;
    while (capacity > MIN_CAPACITY && this.size < capacity / 4) capacity /= 2;
    if (capacity < this.ts.length) this.resize(capacity);
  }

  /** One metric's values from the first sample at or after `sinceMs` on; null values where not read. */
  series(metric: MetricName, sinceMs: number): Series | null {
    const m = METRIC_INDEX.get(metric);
    if (m === undefined) return null;
    const column = this.columns[m];
    const capacity = this.ts.length;
    let first = 0;
    while (first < this.size && (this.ts[(this.start + first) % capacity] as number) < sinceMs) first++;
    const ts: number[] = new Array(this.size - first);
    const values: (number | null)[] = new Array(this.size - first);
    for (let i = first; i < this.size; i++) {
      const at = (this.start + i) % capacity;
      ts[i - first] = this.ts[at] as number;
      const value = column === undefined ? Number.NaN : (column[at] as number);
      values[i - first] = Number.isNaN(value) ? null : value;
    }
    return { ts, values };
  }

  /** Bytes of the ring's arrays (timestamps and the columns in use). */
  bytes(): number {
    let bytes = this.ts.byteLength;
    for (const column of this.columns) bytes += column?.byteLength ?? 0;
    return bytes;
  }

  private resize(capacity: number): void {
    const moved = (from: Float64Array): Float64Array => {
      const to = new Float64Array(capacity).fill(Number.NaN);
      for (let i = 0; i < this.size; i++) to[i] = from[(this.start + i) % from.length] as number;
      return to;
    };
    for (let m = 0; m < this.columns.length; m++) {
      const column = this.columns[m];
      if (column !== undefined) this.columns[m] = moved(column);
    }
    this.ts = moved(this.ts);
    this.start = 0;
  }
}
