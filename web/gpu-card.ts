import type { MetricName } from '../src/metrics/catalog.ts';
import type { AlertFlags, GpuIdentity } from '../src/server/api-types.ts';
import { h, setText } from './dom.ts';
import { fixed, gib } from './format.ts';
import { SeriesBuffer } from './series-buffer.ts';
import { Sparkline } from './sparkline.ts';

/** The metrics a card can chart, with how to draw them. */
export const CHART_METRICS = [
  { name: 'gpu_utilization_percent', label: 'Utilization %', range: [0, 100], scale: 1 },
  { name: 'gpu_temperature_celsius', label: 'Temperature °C', range: null, scale: 1 },
  { name: 'gpu_power_draw_watts', label: 'Power W', range: null, scale: 1 },
  { name: 'gpu_memory_used_bytes', label: 'Memory used GiB', range: null, scale: 1 / 1024 ** 3 },
] as const satisfies readonly {
  name: MetricName;
  label: string;
  range: readonly [number, number] | null;
  scale: number;
}[];

export type ChartMetric = (typeof CHART_METRICS)[number];

export type MetricReader = (name: MetricName) => number | null;

const BADGES: { flag: keyof AlertFlags; text: string }[] = [
  { flag: 'temperature', text: 'HOT' },
  { flag: 'load', text: 'LOAD' },
  { flag: 'power', text: 'POWER' },
];

/** Chart points kept per GPU: 15 minutes at 0.5 s. */
const CHART_CAPACITY = 1800;

/** One GPU: identity, the big numbers, alert badges and a sparkline of the chosen metric. */
export class GpuCard {
  readonly el: HTMLElement;
  readonly buffer: SeriesBuffer;
  private readonly util = h('span', { class: 'value', 'data-testid': 'gpu-util' }, '—');
  private readonly temp = h('span', { class: 'value', 'data-testid': 'gpu-temp' }, '—');
  private readonly power = h('span', { class: 'value', 'data-testid': 'gpu-power' }, '—');
  private readonly memory = h('span', { class: 'value', 'data-testid': 'gpu-memory' }, '—');
  private readonly badges = h('span', { class: 'badges', 'data-testid': 'gpu-alerts' });
  private readonly chartBox = h('div', { class: 'chart', 'data-testid': 'gpu-chart' });
  private readonly chartLabel = h('span', { class: 'chart-label' });
  private sparkline: Sparkline | null = null;

  constructor(
    readonly identity: GpuIdentity,
    intervalMs: number | null,
  ) {
    this.buffer = new SeriesBuffer(CHART_CAPACITY, intervalMs);
    this.el = h(
      'article',
      { class: 'card', 'data-testid': 'gpu-card', 'data-uuid': identity.uuid },
      h(
        'header',
        {},
        h('span', { class: 'host', 'data-testid': 'gpu-host' }, identity.host),
        h('span', { class: 'index', 'data-testid': 'gpu-index' }, `GPU ${identity.gpu_index}`),
        this.badges,
      ),
      h('div', { class: 'model', title: identity.uuid }, identity.model),
      h(
        'dl',
        { class: 'stats' },
        stat('Utilization', this.util, '%'),
        stat('Temperature', this.temp, '°C'),
        stat('Power', this.power, 'W'),
        stat('Memory', this.memory, 'GiB'),
      ),
      h('div', { class: 'chart-head' }, this.chartLabel),
      this.chartBox,
    );
  }

  /** Shows the latest values. */
  show(read: MetricReader, alerts: AlertFlags): void {
    setText(this.util, fixed(read('gpu_utilization_percent')));
    setText(this.temp, fixed(read('gpu_temperature_celsius')));
    setText(this.power, `${fixed(read('gpu_power_draw_watts'))} / ${fixed(read('gpu_power_limit_watts'))}`);
    setText(this.memory, `${gib(read('gpu_memory_used_bytes'))} / ${gib(read('gpu_memory_total_bytes'))}`);
    this.showAlerts(alerts);
  }

  /** Starts charting `metric`: the buffer is emptied and the caller loads its history. */
  chart(metric: ChartMetric): void {
    this.sparkline?.destroy();
    this.buffer.clear();
    setText(this.chartLabel, `${metric.label}, last 15 min`);
    this.sparkline = new Sparkline(this.chartBox, this.buffer, {
      label: metric.label,
      range: metric.range ? [metric.range[0], metric.range[1]] : null,
      scale: metric.scale,
    });
  }

  /** Redraws the chart after the buffer changed (at most once a frame). */
  refreshChart(): void {
    this.sparkline?.refresh();
  }

  fitChart(): void {
    this.sparkline?.resize(this.chartBox.clientWidth);
  }

  destroy(): void {
    this.sparkline?.destroy();
    this.el.remove();
  }

  private showAlerts(alerts: AlertFlags): void {
    const active = BADGES.filter((b) => alerts[b.flag]);
    const key = active.map((b) => b.flag).join(',');
    if (this.badges.dataset.flags === key) return;
    this.badges.dataset.flags = key;
    this.badges.replaceChildren(
      ...active.map((b) =>
        h('span', { class: `badge badge-${b.flag}`, 'data-testid': `alert-${b.flag}` }, b.text),
      ),
    );
    this.el.classList.toggle('alerting', active.length > 0);
  }
}

function stat(label: string, value: HTMLElement, unit: string): HTMLElement {
  return h(
    'div',
    { class: 'stat' },
    h('dt', {}, label),
    h('dd', {}, value, h('span', { class: 'unit' }, unit)),
  );
}
