import { METRICS, type MetricName } from '../metrics/catalog.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { AlertEvent } from './alerts.ts';

/** A window of one metric of one GPU: parallel arrays, oldest first. */
export interface Series {
  ts: number[];
  values: (number | null)[];
}

export type LiveListener = (update: { samples: readonly GpuSample[]; alerts: readonly AlertEvent[] }) => void;

/** Read side of the live state, what the HTTP server needs. */
export interface LiveView {
  /** The latest sample of every GPU, ordered by host then GPU index. */
  latest(): GpuSample[];
  /** Recent values of one metric of one GPU since `sinceMs` (epoch ms); null if the GPU is unknown. */
  series(uuid: string, metric: MetricName, sinceMs: number): Series | null;
  /** Most recent alerts first, at most `limit`. */
  recentAlerts(limit: number): AlertEvent[];
  /** Called with every applied update; returns the unsubscribe function. */
  subscribe(listener: LiveListener): () => void;
}

interface GpuHistory {
  ts: number[];
  columns: Map<MetricName, (number | null)[]>;
  latest: GpuSample;
}

const MAX_ALERTS = 1000;

/**
 * In-memory live state: the latest sample and a sliding window of history per GPU, plus recent alerts.
 * Fed by the pipeline (`apply`), read by the HTTP server. Bounded: history older than the window is dropped.
 */
export class LiveState implements LiveView {
  private readonly gpus = new Map<string, GpuHistory>();
  private readonly alerts: AlertEvent[] = [];
  private readonly listeners = new Set<LiveListener>();

  constructor(private readonly windowMs: number) {}

  apply(samples: readonly GpuSample[], alerts: readonly AlertEvent[] = []): void {
    for (const s of samples) {
      let h = this.gpus.get(s.uuid);
      if (!h) {
        h = { ts: [], columns: new Map(METRICS.map((m) => [m.name, []])), latest: s };
        this.gpus.set(s.uuid, h);
      }
      if (s.ts >= h.latest.ts) h.latest = s;
      h.ts.push(s.ts);
      for (const m of METRICS) h.columns.get(m.name)?.push(s[m.name]);
      this.trim(h, h.latest.ts - this.windowMs);
    }
    for (const a of alerts) this.alerts.push(a);
    if (this.alerts.length > MAX_ALERTS) this.alerts.splice(0, this.alerts.length - MAX_ALERTS);
    for (const listener of this.listeners) listener({ samples, alerts });
  }

  latest(): GpuSample[] {
    return [...this.gpus.values()]
      .map((h) => h.latest)
      .sort((a, b) => a.host.localeCompare(b.host) || a.gpu_index - b.gpu_index);
  }

  series(uuid: string, metric: MetricName, sinceMs: number): Series | null {
    const h = this.gpus.get(uuid);
    if (!h) return null;
    const values = h.columns.get(metric);
    if (!values) return null;
    let start = 0;
    while (start < h.ts.length && (h.ts[start] as number) < sinceMs) start++;
    return { ts: h.ts.slice(start), values: values.slice(start) };
  }

  recentAlerts(limit: number): AlertEvent[] {
    return this.alerts.slice(-limit).reverse();
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private trim(h: GpuHistory, cutoff: number): void {
    let drop = 0;
    while (drop < h.ts.length && (h.ts[drop] as number) < cutoff) drop++;
    if (drop === 0) return;
    h.ts.splice(0, drop);
    for (const column of h.columns.values()) column.splice(0, drop);
  }
}
