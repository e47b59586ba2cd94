import type { MetricName } from '../src/metrics/catalog.ts';
import type { AlertEvent } from '../src/pipeline/alerts.ts';
import type {
  AlertFlags,
  CompactSample,
  GpuIdentity,
  SeriesResponse,
  StreamEvents,
} from '../src/server/api-types.ts';
import { api, eachLimited } from './api.ts';
import { CHART_METRICS, type ChartMetric, GpuCard } from './gpu-card.ts';

const HISTORY_MINUTES = 15;
const HISTORY_FETCHES_AT_ONCE = 6;

const FLAG_OF_RULE: Record<AlertEvent['rule'], keyof AlertFlags> = {
  high_temperature: 'temperature',
  temperature_spike: 'temperature',
  high_load: 'load',
  high_power: 'power',
};

interface GpuState {
  card: GpuCard;
  ts: number;
  values: Map<MetricName, number | null>;
  /** Time of the last alert of each family. */
  alertTs: Record<keyof AlertFlags, number>;
}

/**
 * The GPUs on the page: their latest values, alert state and cards, kept up to date from the live stream.
 * A snapshot (every connect) resynchronises everything and reloads chart history; samples and alerts then
 * update the numbers and append to the charts. DOM work is batched to one pass per animation frame.
 */
export class FleetView {
  private readonly gpus = new Map<string, GpuState>();
  private metrics: readonly MetricName[] = [];
  private intervalMs: number | null = null;
  private alertWindowMs = 10_000;
  private chartMetric: ChartMetric = CHART_METRICS[0];
  private readonly dirty = new Set<string>();
  private frame = 0;

  constructor(
    private readonly grid: HTMLElement,
    private readonly onCount: (count: number) => void,
  ) {
    window.addEventListener('resize', () => {
      for (const g of this.gpus.values()) g.card.fitChart();
    });
  }

  snapshot(data: StreamEvents['snapshot']): void {
    this.metrics = data.metrics;
    this.intervalMs = data.intervalMs;
    this.alertWindowMs = data.alertWindowMs;
    const present = new Set(data.gpus.map((g) => g.uuid));
    for (const [uuid, g] of this.gpus) {
      if (!present.has(uuid)) {
        g.card.destroy();
        this.gpus.delete(uuid);
      }
    }
    for (const gpu of data.gpus) {
      const state = this.ensure(gpu);
      state.ts = gpu.ts;
      for (const name of this.metrics) state.values.set(name, gpu[name]);
      for (const flag of Object.keys(gpu.alerts) as (keyof AlertFlags)[]) {
        if (gpu.alerts[flag]) state.alertTs[flag] = Math.max(state.alertTs[flag], gpu.ts);
      }
      state.card.buffer.intervalMs = this.intervalMs;
      this.markDirty(gpu.uuid);
    }
    this.order();
    this.onCount(this.gpus.size);
    void this.loadHistory();
  }

  samples(data: StreamEvents['samples']): void {
    for (const s of data.samples) this.apply(s);
  }

  alerts(data: StreamEvents['alerts']): void {
    for (const a of data.alerts) {
      const state = this.gpus.get(a.uuid);
      if (!state) continue;
      const flag = FLAG_OF_RULE[a.rule];
      state.alertTs[flag] = Math.max(state.alertTs[flag], a.ts);
      this.markDirty(a.uuid);
    }
  }

  /** Charts another metric on every card, from its history. */
  setChartMetric(metric: ChartMetric): void {
    this.chartMetric = metric;
    for (const g of this.gpus.values()) g.card.chart(metric);
    void this.loadHistory();
  }

  private apply(s: CompactSample): void {
    const state = this.gpus.get(s.uuid) ?? (s.id ? this.ensure(s.id) : undefined);
    if (!state) return;
    if (s.ts >= state.ts) {
      state.ts = s.ts;
      this.metrics.forEach((name, i) => {
        state.values.set(name, s.v[i] ?? null);
      });
    }
    const chartIndex = this.metrics.indexOf(this.chartMetric.name);
    if (chartIndex >= 0 && state.card.buffer.push(s.ts, s.v[chartIndex] ?? null)) state.card.refreshChart();
    this.markDirty(s.uuid);
  }

  private ensure(identity: GpuIdentity): GpuState {
    let state = this.gpus.get(identity.uuid);
    if (!state) {
      const card = new GpuCard(identity, this.intervalMs);
      this.grid.append(card.el);
      card.chart(this.chartMetric);
      state = {
        card,
        ts: 0,
        values: new Map(),
        alertTs: { temperature: -Infinity, load: -Infinity, power: -Infinity },
      };
      this.gpus.set(identity.uuid, state);
      this.order();
      this.onCount(this.gpus.size);
    }
    return state;
  }

  /** Cards in host then GPU index order, as the API lists them. */
  private order(): void {
    const cards = [...this.gpus.values()].map((g) => g.card);
    cards.sort(
      (a, b) => a.identity.host.localeCompare(b.identity.host) || a.identity.gpu_index - b.identity.gpu_index,
    );
    const inOrder = cards.every((c, i) => this.grid.children[i] === c.el);
    if (!inOrder) this.grid.append(...cards.map((c) => c.el));
  }

  private async loadHistory(): Promise<void> {
    const metric = this.chartMetric;
    const gpus = [...this.gpus.entries()];
    await eachLimited(gpus, HISTORY_FETCHES_AT_ONCE, async ([uuid, state]) => {
      const path = `/api/gpus/${encodeURIComponent(uuid)}/series?metric=${metric.name}&minutes=${HISTORY_MINUTES}`;
      try {
        const history = await api<SeriesResponse>(path);
        if (this.chartMetric !== metric || this.gpus.get(uuid) !== state) return;
        state.card.buffer.load(history);
        state.card.refreshChart();
      } catch (err) {
        console.warn(`chart history of ${uuid}:`, err);
      }
    });
  }

  private markDirty(uuid: string): void {
    this.dirty.add(uuid);
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.render());
  }

  private render(): void {
    this.frame = 0;
    for (const uuid of this.dirty) {
      const state = this.gpus.get(uuid);
      if (!state) continue;
      const window = this.alertWindowMs;
      const active = (flag: keyof AlertFlags) => state.ts - state.alertTs[flag] <= window;
      state.card.show((name) => state.values.get(name) ?? null, {
        temperature: active('temperature'),
        load: active('load'),
        power: active('power'),
      });
    }
    this.dirty.clear();
  }
}
