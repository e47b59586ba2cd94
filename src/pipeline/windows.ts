import type { GpuSample } from '../metrics/sample.ts';

/** The metrics aggregated per window, by catalog name. */
export const WINDOW_METRICS = [
  'gpu_temperature_celsius',
  'gpu_utilization_percent',
  'gpu_power_draw_watts',
  'gpu_memory_used_bytes',
] as const;

export type WindowMetric = (typeof WINDOW_METRICS)[number];

/** avg/min/max of one metric over the samples of a window where it was not null. */
export interface WindowStat {
  avg: number;
  min: number;
  max: number;
  /** Samples that had a value for this metric. */
  count: number;
}

/** One closed window of one GPU. */
export interface GpuWindow {
  /** Window start, epoch ms (a multiple of the window size); the window is [start, start + size). */
  start: number;
  sizeMs: number;
  host: string;
  gpu_index: number;
  uuid: string;
  model: string;
  /** Samples in the window, whether or not their metrics were null. */
  samples: number;
  /** Per metric; absent where every sample of the window had it null. */
  stats: Partial<Record<WindowMetric, WindowStat>>;
}

interface OpenWindow {
  window: GpuWindow;
  sums: Partial<Record<WindowMetric, number>>;
}

/**
 * Per-GPU tumbling windows over event time (the sample's `ts`), keyed by GPU UUID. A GPU's window closes when
 * a sample of a later window of that GPU arrives, or on `flush`. A sample older than the GPU's open window
 * belongs to a window already closed: it is counted (`lateCount`) and dropped, never reopens a window.
 * Within the open window, order does not matter. A GPU that stops reporting keeps its window open until a
 * flush. `flushBefore(ts)` closes windows that ended before `ts` (e.g. by wall clock) if a caller wants that.
 */
export class WindowAggregator {
  readonly sizeMs: number;
  private readonly open = new Map<string, OpenWindow>();
  private late = 0;

  constructor(windowSeconds: number) {
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) {
      throw new RangeError(`window of ${windowSeconds} s: must be a whole number of seconds >= 1`);
    }
    this.sizeMs = windowSeconds * 1000;
  }

  /** Adds samples; returns the windows they closed, in the order they closed. */
  add(samples: readonly GpuSample[]): GpuWindow[] {
    const closed: GpuWindow[] = [];
    for (const s of samples) this.addOne(s, closed);
    return closed;
  }

  /**
   * Adds one sample; pushes the window it closed (if any) onto `closed`. For a caller that handles each sample
   * in one pass with other stages (the InfluxDB stream sink).
   */
  addOne(s: GpuSample, closed: GpuWindow[]): void {
    const size = this.sizeMs;
    const start = s.ts - (((s.ts % size) + size) % size);
    let current = this.open.get(s.uuid);
    if (current !== undefined) {
      if (start < current.window.start) {
        this.late++;
        return;
      }
      if (start > current.window.start) {
        closed.push(finish(current));
        current = undefined;
      }
    }
    if (current === undefined) {
      current = {
        window: {
          start,
          sizeMs: size,
          host: s.host,
          gpu_index: s.gpu_index,
          uuid: s.uuid,
          model: s.model,
          samples: 0,
          stats: {},
        },
        sums: {},
      };
      this.open.set(s.uuid, current);
    }
    current.window.samples++;
    for (const metric of WINDOW_METRICS) {
      const value = s[metric];
      if (value === null) continue;
      const stat = current.window.stats[metric];
      if (stat === undefined) {
        current.window.stats[metric] = { avg: value, min: value, max: value, count: 1 };
        current.sums[metric] = value;
      } else {
        if (value < stat.min) stat.min = value;
        if (value > stat.max) stat.max = value;
        stat.count++;
        current.sums[metric] = (current.sums[metric] ?? 0) + value;
      }
    }
  }

  /** Closes the windows that end at or before `ts`. */
  flushBefore(ts: number): GpuWindow[] {
    const closed: GpuWindow[] = [];
    for (const [uuid, current] of this.open) {
      if (current.window.start + this.sizeMs <= ts) {
        closed.push(finish(current));
        this.open.delete(uuid);
      }
    }
    return closed;
  }

  /** Closes every open window (at shutdown). */
  flush(): GpuWindow[] {
    const closed = [...this.open.values()].map(finish);
    this.open.clear();
    return closed;
  }

  /** Samples dropped because their window had already closed. */
  lateCount(): number {
    return this.late;
  }

  /** GPUs with an open window. */
  openCount(): number {
    return this.open.size;
  }
}

function finish({ window, sums }: OpenWindow): GpuWindow {
  for (const metric of WINDOW_METRICS) {
    const stat = window.stats[metric];
    if (stat) stat.avg = (sums[metric] ?? 0) / stat.count;
  }
  return window;
}
