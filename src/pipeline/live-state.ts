import type { MetricName } from '../metrics/catalog.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { AlertEvent } from './alerts.ts';
import { GpuWindow, type Series } from './live-window.ts';

export type { Series } from './live-window.ts';

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
  window: GpuWindow;
  latest: GpuSample;
}

const MAX_ALERTS = 1000;

/**
 * In-memory live state: the latest sample and a sliding window of history per GPU (`GpuWindow`: 8 bytes a
 * value, off the JS heap), plus recent alerts. Fed by the pipeline (`apply`), read by the HTTP server.
 * Bounded: history older than the window is dropped.
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
        h = { window: new GpuWindow(), latest: s };
        this.gpus.set(s.uuid, h);
      }
      if (s.ts >= h.latest.ts) h.latest = s;
      h.window.push(s);
      h.window.dropBefore(h.latest.ts - this.windowMs);
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
    return this.gpus.get(uuid)?.window.series(metric, sinceMs) ?? null;
  }

  recentAlerts(limit: number): AlertEvent[] {
    return this.alerts.slice(-limit).reverse();
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
