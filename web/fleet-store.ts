import type { MetricName } from '../src/metrics/catalog.ts';
import type { AlertEvent } from '../src/pipeline/alerts.ts';
import type { AlertFlags, CompactSample, GpuIdentity, StreamEvents } from '../src/server/api-types.ts';
import { DEFAULT_IDLE, type GpuRow, type IdleThresholds } from './fleet-model.ts';

const FLAG_OF_RULE: Record<AlertEvent['rule'], keyof AlertFlags> = {
  high_temperature: 'temperature',
  temperature_spike: 'temperature',
  high_load: 'load',
  high_power: 'power',
};

interface GpuEntry {
  id: GpuIdentity;
  ts: number;
  values: Map<MetricName, number | null>;
  /** Time of the last alert of each family. */
  alertTs: Record<keyof AlertFlags, number>;
}

/** Told of each live sample of a GPU, its values by metric name. */
export type SampleListener = (uuid: string, ts: number, value: (name: MetricName) => number | null) => void;

/**
 * The fleet as the live stream tells it: every GPU's identity, latest values and alert times. A snapshot
 * (every connect) resynchronises everything; samples and alerts then update it. Views are told of changes
 * at most once per animation frame (`onChange`), and of every sample as it comes (`onSample`).
 */
export class FleetStore {
  private readonly gpus = new Map<string, GpuEntry>();
  private metricOrder: readonly MetricName[] = [];
  intervalMs: number | null = null;
  /** The server's idle thresholds (`analytics.idle*`), from the snapshot. */
  idle: IdleThresholds = DEFAULT_IDLE;
  private alertWindowMs = 10_000;
  /** Whether a snapshot came since the page started: before it, "no GPU" means "not known yet". */
  loaded = false;
  private frame = 0;
  private readonly changeListeners = new Set<() => void>();
  private readonly sampleListeners = new Set<SampleListener>();

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onSample(listener: SampleListener): () => void {
    this.sampleListeners.add(listener);
    return () => this.sampleListeners.delete(listener);
  }

  get size(): number {
    return this.gpus.size;
  }

  snapshot(data: StreamEvents['snapshot']): void {
    this.metricOrder = data.metrics;
    this.intervalMs = data.intervalMs;
    this.alertWindowMs = data.alertWindowMs;
    this.idle = data.idle ?? DEFAULT_IDLE;
    this.loaded = true;
    this.gpus.clear();
    for (const gpu of data.gpus) {
      const entry = this.ensure(gpu);
      entry.ts = gpu.ts;
      for (const name of this.metricOrder) entry.values.set(name, gpu[name]);
      for (const flag of Object.keys(gpu.alerts) as (keyof AlertFlags)[]) {
        if (gpu.alerts[flag]) entry.alertTs[flag] = gpu.ts;
      }
    }
    this.changed();
  }

  samples(data: StreamEvents['samples']): void {
    for (const s of data.samples) this.apply(s);
    this.changed();
  }

  alerts(data: StreamEvents['alerts']): void {
    for (const a of data.alerts) {
      const entry = this.gpus.get(a.uuid);
      if (!entry) continue;
      const flag = FLAG_OF_RULE[a.rule];
      entry.alertTs[flag] = Math.max(entry.alertTs[flag], a.ts);
    }
    this.changed();
  }

  /** Every GPU, in host then GPU index order. */
  rows(): GpuRow[] {
    return [...this.gpus.values()]
      .map((e) => this.rowOf(e))
      .sort((a, b) => a.id.host.localeCompare(b.id.host) || a.id.gpu_index - b.id.gpu_index);
  }

  row(uuid: string): GpuRow | null {
    const entry = this.gpus.get(uuid);
    return entry ? this.rowOf(entry) : null;
  }

  private rowOf(entry: GpuEntry): GpuRow {
    const active = (flag: keyof AlertFlags) => entry.ts - entry.alertTs[flag] <= this.alertWindowMs;
    return {
      id: entry.id,
      ts: entry.ts,
      value: (name) => entry.values.get(name) ?? null,
      alerts: { temperature: active('temperature'), load: active('load'), power: active('power') },
    };
  }

  private apply(s: CompactSample): void {
    const entry = this.gpus.get(s.uuid) ?? (s.id ? this.ensure(s.id) : undefined);
    if (!entry) return;
    const values = new Map<MetricName, number | null>();
    this.metricOrder.forEach((name, i) => {
      values.set(name, s.v[i] ?? null);
    });
    if (s.ts >= entry.ts) {
      entry.ts = s.ts;
      entry.values = values;
    }
    for (const listener of this.sampleListeners) listener(s.uuid, s.ts, (name) => values.get(name) ?? null);
  }

  private ensure(id: GpuIdentity): GpuEntry {
    let entry = this.gpus.get(id.uuid);
    if (!entry) {
      entry = {
        id,
        ts: 0,
        values: new Map(),
        alertTs: { temperature: -Infinity, load: -Infinity, power: -Infinity },
      };
      this.gpus.set(id.uuid, entry);
    }
    return entry;
  }

  private changed(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      for (const listener of this.changeListeners) listener();
    });
  }
}
