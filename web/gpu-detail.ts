import type { MetricName } from '../src/metrics/catalog.ts';
import type { AlertEpisodesResponse, HistoryResponse, ThrottleResponse } from '../src/server/api-types.ts';
import { api } from './api.ts';
import type { XWindow } from './chart-window.ts';
import { h, setText } from './dom.ts';
import { STATE_LABELS, stateOf } from './fleet-model.ts';
import type { FleetStore } from './fleet-store.ts';
import { dateTime, duration } from './format.ts';
import { ProcessesPanel } from './processes-panel.ts';
import { formatRoute, RANGE_LABELS, RANGE_NAMES, type TimeRange } from './route.ts';
import { estimateInterval, SeriesBuffer } from './series-buffer.ts';
import { describeThrottle, ThrottleTrack } from './throttle-track.ts';
import {
  type BandPoints,
  type ChartOverlays,
  type LinePoints,
  TimeChart,
  type TimeMark,
  timeTicks,
} from './time-chart.ts';
import { displayUnit, formatValue, type UnitsByMetric } from './units.ts';
import {
  LatestLoader,
  type ShownHistory,
  spliceColumns,
  spliceLanes,
  wantsFinerHistory,
} from './zoom-detail.ts';

/** Points asked per series: about one per pixel of a wide chart; the server makes them time buckets. */
const HISTORY_POINTS = 1500;
/** Chart points kept per metric: the history, then 15 minutes of live points at 0.5 s. */
const CHART_CAPACITY = HISTORY_POINTS * 2 + 1800;
/** The energy used today is asked again this often. */
const ENERGY_REFRESH_MS = 60_000;

interface PanelDef {
  key: string;
  title: string;
  /** The lines, all in the unit of the first; the dashed ones are limits and totals. */
  lines: { metric: MetricName; label: string; dash?: boolean }[];
  range: readonly [number, number] | null;
}

/** The charts of a GPU's detail, in this order. */
export const PANELS: readonly PanelDef[] = [
  {
    key: 'utilization',
    title: 'Utilization',
    lines: [
      { metric: 'gpu_utilization_percent', label: 'GPU' },
      { metric: 'gpu_memory_utilization_percent', label: 'Memory bus' },
    ],
    range: [0, 100],
  },
  {
    key: 'memory',
    title: 'Memory',
    lines: [
      { metric: 'gpu_memory_used_bytes', label: 'Used' },
      { metric: 'gpu_memory_total_bytes', label: 'Total', dash: true },
    ],
    range: null,
  },
  {
    key: 'temperature',
    title: 'Temperature',
    lines: [
      { metric: 'gpu_temperature_celsius', label: 'GPU' },
      { metric: 'gpu_hotspot_temperature_celsius', label: 'Hot spot' },
      { metric: 'gpu_memory_temperature_celsius', label: 'Memory' },
    ],
    range: null,
  },
  {
    key: 'power',
    title: 'Power against the limit',
    lines: [
      { metric: 'gpu_power_draw_watts', label: 'Draw' },
      { metric: 'gpu_power_limit_watts', label: 'Limit', dash: true },
    ],
    range: null,
  },
  {
    key: 'clocks',
    title: 'Clocks',
    lines: [
      { metric: 'gpu_sm_clock_mhz', label: 'SM' },
      { metric: 'gpu_memory_clock_mhz', label: 'Memory' },
    ],
    range: null,
  },
  {
    key: 'fan',
    title: 'Fan',
    lines: [{ metric: 'gpu_fan_speed_percent', label: 'Speed' }],
    range: [0, 100],
  },
  {
    key: 'pcie',
    title: 'PCIe',
    lines: [
      { metric: 'gpu_pcie_tx_bytes_per_second', label: 'Sent' },
      { metric: 'gpu_pcie_rx_bytes_per_second', label: 'Received' },
    ],
    range: null,
  },
  // The host the GPU is in: the same figures in every GPU's detail of that host.
  {
    key: 'host-cpu',
    title: 'Host CPU',
    lines: [{ metric: 'host_cpu_utilization_percent', label: 'Utilization' }],
    range: [0, 100],
  },
  {
    key: 'host-temperature',
    title: 'Host CPU temperature',
    lines: [{ metric: 'host_cpu_temperature_celsius', label: 'Hottest package' }],
    range: null,
  },
  {
    key: 'host-memory',
    title: 'Host memory',
    lines: [
      { metric: 'host_memory_used_bytes', label: 'Used' },
      { metric: 'host_memory_total_bytes', label: 'Installed', dash: true },
    ],
    range: null,
  },
];

const LINE_COLORS = ['--series-1', '--series-2', '--series-3'];

/** A zoomed window's finer buckets: the history and the throttle reasons asked for just that window. */
interface ZoomDetail {
  win: XWindow;
  history: HistoryResponse;
  /** Null when the throttle reasons could not be read: the range's lanes stay. */
  throttle: ThrottleTrack | null;
}

/**
 * One GPU: its identity and latest values, a range (15 minutes to 30 days, or custom) and a chart per panel over
 * it: the history from /api/gpus/:uuid/history (the live buffer, then the archive, in time buckets), then, for a
 * range up to now, the live samples of the stream. Built when opened, destroyed when left.
 */
export class GpuDetail {
  readonly el: HTMLElement;
  private readonly buffers = new Map<MetricName, SeriesBuffer>();
  private readonly charts: TimeChart[] = [];
  private readonly title = h('h2', { 'data-testid': 'detail-title' });
  private readonly meta = h('p', { class: 'muted detail-meta', 'data-testid': 'detail-meta' });
  private readonly now = h('dl', { class: 'summary', 'data-testid': 'detail-now' });
  private readonly missing = h('p', { class: 'empty', 'data-testid': 'detail-missing', hidden: true });
  private readonly off: (() => void)[] = [];
  /** Each panel's "no reading" note, shown while none of its metrics has a value in the window. */
  private readonly notes: { note: HTMLElement; metrics: MetricName[] }[] = [];
  private readonly onResize = () => {
    for (const chart of this.charts) chart.fit();
  };

  private readonly rangeNote = h('p', { class: 'muted range-note', 'data-testid': 'range-note' });
  /** Energy used since local midnight, as shown; '—' until known. */
  private energyToday = '—';
  private energyTimer: ReturnType<typeof setInterval> | undefined;
  /** This GPU's alert episodes, marked on every chart. */
  private episodes: TimeMark[] = [];
  /** When each throttle reason was active over the range, drawn as lanes along the bottom of the GPU's charts. */
  private readonly throttle = new ThrottleTrack();
  private readonly throttleLegend = h('div', {
    class: 'throttle-legend',
    'data-testid': 'throttle-legend',
    role: 'group',
    'aria-label': 'Throttle reasons',
  });
  private readonly processes: ProcessesPanel;
  /** The chart containers, which carry the bucket of the points they show (`data-bucket-ms`). */
  private readonly boxes: HTMLElement[] = [];
  /** The range's own history, kept while zoomed: "Show all" goes back to it without asking again. */
  private rangeHistory: HistoryResponse | null = null;
  /** The zoomed window's finer buckets, shown within it while zoomed. */
  private detail: ZoomDetail | null = null;
  /** Why the finer buckets are not shown: being asked, or the server's error. */
  private detailState: 'loading' | 'failed' | null = null;
  private detailError = '';
  /** Asks the zoomed window's history once the zoom and pan stop for a moment, one request at a time. */
  private readonly detailLoader = new LatestLoader<XWindow, ZoomDetail>(
    (win, signal) => this.loadDetail(win, signal),
    (_win, detail) => {
      this.detail = detail;
      this.detailState = null;
      this.showDetail();
      this.refreshCharts();
    },
    (_win, err) => {
      this.detailState = 'failed';
      this.detailError = err instanceof Error ? err.message : String(err);
      this.showDetail();
    },
  );
  /** The throttle lanes with the zoomed window's finer marks, kept until either changes. */
  private lanesCache: {
    key: string;
    detail: ZoomDetail | null;
    lanes: ReturnType<ThrottleTrack['lanes']>;
  } | null = null;
  /** How to zoom (every way as its tooltip), or the window the charts are zoomed to and a button to leave it. */
  private readonly zoomText = h('span', {
    'data-testid': 'zoom-text',
    title:
      'Zoom: drag across a chart, Ctrl+wheel or a pinch, + and − on a focused chart. Pan when zoomed: Shift+drag, ' +
      'the middle button, a sideways scroll, ← and →. Whole range: double-click, Escape.',
  });
  private readonly zoomReset = h(
    'button',
    { type: 'button', 'data-testid': 'zoom-reset', hidden: true },
    'Show all',
  );
  private readonly zoomBar = h(
    'p',
    { class: 'muted zoom-bar', 'data-testid': 'zoom-bar' },
    this.zoomText,
    this.zoomReset,
  );

  constructor(
    readonly uuid: string,
    private readonly store: FleetStore,
    private readonly units: UnitsByMetric,
    readonly range: TimeRange,
  ) {
    const panels = h('div', { class: 'panels' });
    this.processes = new ProcessesPanel(
      uuid,
      () => this.store.row(uuid)?.value('gpu_memory_total_bytes') ?? null,
    );
    this.el = h(
      'section',
      { class: 'detail', 'data-testid': 'gpu-detail', 'data-uuid': uuid, 'aria-label': 'GPU detail' },
      h('nav', { class: 'crumbs' }, h('a', { href: '/#', 'data-testid': 'back-to-fleet' }, '← Fleet')),
      this.title,
      this.meta,
      this.missing,
      this.now,
      this.processes.el,
      this.rangeBar(),
      this.rangeNote,
      this.throttleLegend,
      panels,
    );
    this.zoomReset.addEventListener('click', () => this.setWindow(null));
    this.showWindow(null);
    for (const panel of PANELS) {
      const unit = this.unitOf(panel.lines[0]?.metric);
      const box = h('div', { class: 'chart', 'data-testid': 'detail-chart' });
      this.boxes.push(box);
      const note = h(
        'p',
        { class: 'muted no-reading', 'data-testid': 'no-reading', hidden: true },
        'No reading: this GPU or its source does not report it.',
      );
      panels.append(
        h(
          'section',
          { class: 'panel', 'data-testid': 'chart-panel', 'data-panel': panel.key },
          h('h3', {}, `${panel.title} (${unit.label})`),
          note,
          box,
        ),
      );
      this.notes.push({ note, metrics: panel.lines.map((l) => l.metric) });
      const lines = panel.lines.map((line, i) => {
        this.buffer(line.metric);
        return {
          label: line.label,
          points: () => this.pointsOf(line.metric),
          color: LINE_COLORS[i] ?? '--series-1',
          dash: line.dash,
          // The panel's first line: each bucket's min and max as a band behind it.
          band: i === 0 ? () => this.bandOf(line.metric) : undefined,
        };
      });
      // The host's panels carry the host's figures: the GPU's throttle reasons are not theirs.
      const overlays: ChartOverlays = panel.key.startsWith('host-')
        ? { marks: () => this.episodes }
        : {
            marks: () => this.episodes,
            lanes: () => this.lanes(),
            describe: (ts) => (ts === null ? '' : describeThrottle(this.throttleAt(ts))),
          };
      // Charts are created once the section is in the page, so that they take its width.
      const zoom = { request: (win: XWindow | null) => this.setWindow(win), label: panel.title };
      queueMicrotask(() => this.charts.push(new TimeChart(box, lines, unit, panel.range, overlays, zoom)));
    }
    this.off.push(
      store.onChange(() => this.showNow()),
      store.onSample((id, ts, value) => {
        // A custom range is a fixed stretch of the past: live points do not belong to it.
        if (id !== this.uuid || !('name' in this.range)) return;
        let changed = false;
        for (const [metric, buffer] of this.buffers) changed = buffer.push(ts, value(metric)) || changed;
        const mask = value('gpu_clock_throttle_reasons');
        if (this.throttle.push(ts, mask, this.store.intervalMs ?? 1000)) changed = true;
        if (mask !== null && this.throttle.loaded) this.showThrottleLegend();
        if (changed) this.refreshCharts();
      }),
    );
    window.addEventListener('resize', this.onResize);
    this.showNow();
    void this.loadHistory();
    void this.loadThrottle();
    void this.loadEnergyToday();
    void this.loadEpisodes();
    this.energyTimer = setInterval(() => {
      if (document.hidden) return;
      void this.loadEnergyToday();
      void this.loadEpisodes();
    }, ENERGY_REFRESH_MS);
  }

  destroy(): void {
    clearInterval(this.energyTimer);
    this.detailLoader.cancel();
    this.processes.destroy();
    for (const off of this.off) off();
    window.removeEventListener('resize', this.onResize);
    for (const chart of this.charts) chart.destroy();
    this.el.remove();
  }

  /** The page title's subject: "node-a GPU 0", or the uuid before the GPU is known. */
  get name(): string {
    const row = this.store.row(this.uuid);
    return row ? `${row.id.host} GPU ${row.id.gpu_index}` : this.uuid;
  }

  private unitOf(metric: MetricName | undefined) {
    return (metric && this.units.get(metric)) || displayUnit('');
  }

  private buffer(metric: MetricName): SeriesBuffer {
    let buffer = this.buffers.get(metric);
    if (!buffer) {
      buffer = new SeriesBuffer(CHART_CAPACITY, this.store.intervalMs);
      this.buffers.set(metric, buffer);
    }
    return buffer;
  }

  private showNow(): void {
    const row = this.store.row(this.uuid);
    this.missing.hidden = row !== null || !this.store.loaded;
    setText(
      this.missing,
      this.el.dataset.sources?.includes('archive')
        ? `GPU ${this.uuid} is not in the live fleet: its charts come from the archive.`
        : `No GPU ${this.uuid} in the live fleet.`,
    );
    if (!row) {
      setText(this.title, this.uuid);
      return;
    }
    setText(this.title, `${row.id.host} · GPU ${row.id.gpu_index}`);
    setText(
      this.meta,
      `${row.id.model} · ${row.id.uuid} · PCI ${row.id.pci_bus_id} · driver ${row.id.driver_version}`,
    );
    const value = (metric: MetricName) => formatValue(row.value(metric), this.unitOf(metric));
    const items: [string, string, string][] = [
      ['state', 'State', STATE_LABELS[stateOf(row, this.store.idle)]],
      ['util', 'Utilization', value('gpu_utilization_percent')],
      ['temp', 'Temperature', value('gpu_temperature_celsius')],
      ['power', 'Power', `${value('gpu_power_draw_watts')} of ${value('gpu_power_limit_watts')}`],
      ['memory', 'Memory', `${value('gpu_memory_used_bytes')} of ${value('gpu_memory_total_bytes')}`],
      ['clock', 'SM clock', value('gpu_sm_clock_mhz')],
      ['energy', 'Energy today', this.energyToday],
    ];
    const key = items.map((i) => i[2]).join('|');
    if (this.now.dataset.key === key) return;
    this.now.dataset.key = key;
    this.now.replaceChildren(
      ...items.map(([id, label, text]) =>
        h(
          'div',
          { class: 'summary-item', 'data-testid': `now-${id}` },
          h('dt', {}, label),
          h('dd', {}, text),
        ),
      ),
    );
  }

  /** The range buttons (each a link: the range is in the address) and the custom range's form. */
  private rangeBar(): HTMLElement {
    const link = (range: TimeRange) => formatRoute({ view: 'gpu', uuid: this.uuid, range });
    const current = 'name' in this.range ? this.range.name : 'custom';
    const buttons = RANGE_NAMES.map((name) =>
      h(
        'a',
        {
          class: 'range',
          href: `/${link({ name })}`,
          'data-testid': `range-${name}`,
          'aria-current': current === name ? 'true' : undefined,
        },
        RANGE_LABELS[name],
      ),
    );
    const custom = 'name' in this.range ? null : this.range;
    const localInput = (ms: number) => {
      const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
      return d.toISOString().slice(0, 16);
    };
    const from = h('input', {
      type: 'datetime-local',
      id: 'range-from',
      'data-testid': 'range-from',
      required: true,
      value: localInput(custom?.from ?? Date.now() - 86_400_000),
    });
    const to = h('input', {
      type: 'datetime-local',
      id: 'range-to',
      'data-testid': 'range-to',
      required: true,
      value: localInput(custom?.to ?? Date.now()),
    });
    const message = h('span', { class: 'muted', 'data-testid': 'range-message', role: 'status' });
    const form = h(
      'form',
      { class: 'range-custom', 'data-testid': 'range-custom', 'aria-label': 'Custom range' },
      h('label', { for: 'range-from' }, 'From'),
      from,
      h('label', { for: 'range-to' }, 'to'),
      to,
      h(
        'button',
        { type: 'submit', 'data-testid': 'range-apply', 'aria-current': custom ? 'true' : undefined },
        'Show',
      ),
      message,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      // datetime-local is the browser's local time, as the charts' axes.
      const range = { from: new Date(from.value).getTime(), to: new Date(to.value).getTime() };
      if (!(Number.isFinite(range.from) && Number.isFinite(range.to) && range.to > range.from)) {
        setText(message, 'The end must be after the start.');
        return;
      }
      location.hash = link(range);
    });
    return h(
      'div',
      { class: 'range-bar', 'data-testid': 'range-bar' },
      h('nav', { class: 'ranges', 'aria-label': 'Time range' }, ...buttons),
      form,
      this.zoomBar,
    );
  }

  /**
   * The energy counter's rise since local midnight: the last reading's maximum less the first one's minimum
   * (from the live buffer and the archive); nothing when the counter went back (a driver reload).
   */
  private async loadEnergyToday(): Promise<void> {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const path = `/api/gpus/${encodeURIComponent(this.uuid)}/history?metrics=gpu_energy_joules_total&from=${midnight.getTime()}&to=${Date.now() + 1}&points=10`;
    try {
      const history = await api<HistoryResponse>(path);
      this.energyToday = energySince(history.series.gpu_energy_joules_total);
    } catch {
      this.energyToday = '—';
    }
    delete this.now.dataset.key;
    this.showNow();
  }

  /** The GPU's alert episodes (a server without a live source has none), marked on the charts. */
  private async loadEpisodes(): Promise<void> {
    try {
      const body = await api<AlertEpisodesResponse>(
        `/api/alerts/episodes?uuid=${encodeURIComponent(this.uuid)}&limit=1000`,
      );
      this.episodes = body.episodes.map((e) => ({ from: e.start, to: e.end }));
    } catch {
      this.episodes = [];
    }
    this.el.dataset.episodes = String(this.episodes.length);
    this.refreshCharts();
  }

  /** The range's query, or a zoomed window's (from, to). */
  private rangeQuery(win: XWindow | null = null): string {
    const range = win
      ? `from=${Math.floor(win[0])}&to=${Math.ceil(win[1])}`
      : 'name' in this.range
        ? `range=${this.range.name}`
        : `from=${this.range.from}&to=${this.range.to}`;
    return `${range}&points=${HISTORY_POINTS}`;
  }

  private historyPath(win: XWindow | null = null): string {
    const metrics = [...this.buffers.keys()].join(',');
    return `/api/gpus/${encodeURIComponent(this.uuid)}/history?metrics=${metrics}&${this.rangeQuery(win)}`;
  }

  private throttlePath(win: XWindow | null = null): string {
    return `/api/gpus/${encodeURIComponent(this.uuid)}/throttle?${this.rangeQuery(win)}`;
  }

  /** The throttle reasons over the range, in the history's buckets (the same range and points). */
  private async loadThrottle(): Promise<void> {
    setText(this.throttleLegend, 'Throttle reasons: loading…');
    try {
      this.throttle.load(await api<ThrottleResponse>(this.throttlePath()));
      this.showThrottleLegend();
    } catch (err) {
      setText(
        this.throttleLegend,
        `Throttle reasons unavailable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    this.refreshCharts();
  }

  /**
   * The legend of the charts' lanes: each reason active in the range with its colour and the share of the
   * measured samples it was active in (its meaning as the tooltip); or why there is no lane.
   */
  private showThrottleLegend(): void {
    const t = this.throttle;
    const lanes = t.lanes();
    const key = `${t.measured}|${lanes.map((l) => `${l.reason.key}:${t.active.get(l.reason.key)}`).join(',')}`;
    if (this.throttleLegend.dataset.key === key) return;
    this.throttleLegend.dataset.key = key;
    this.throttleLegend.dataset.reasons = lanes.map((l) => l.reason.key).join(',');
    if (t.measured === 0) {
      this.throttleLegend.replaceChildren('Throttle reasons: no reading in this range.');
      return;
    }
    if (lanes.length === 0) {
      this.throttleLegend.replaceChildren(
        'Throttle reasons: none active in this range, the clocks were not held back.',
      );
      return;
    }
    this.throttleLegend.replaceChildren(
      h('span', { class: 'throttle-title' }, 'Throttled (lanes under the GPU charts):'),
      h(
        'ul',
        {},
        ...lanes.map(({ reason }) => {
          const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
          swatch.style.backgroundColor = `var(--throttle-${reason.key})`;
          return h(
            'li',
            { 'data-reason': reason.key, title: reason.help },
            swatch,
            `${reason.label} ${shareText(t.shareOf(reason.key))} of the time`,
            h('span', { class: 'visually-hidden' }, `: ${reason.help}`),
          );
        }),
      ),
    );
  }

  private async loadHistory(): Promise<void> {
    setText(this.rangeNote, 'Loading…');
    try {
      const history = await api<HistoryResponse>(this.historyPath());
      // A bucket wider than the sampling interval is one point, and an archive sampled less often than the
      // buckets has a point every few of them: gaps are told by the server's null points, not by these steps.
      const interval = Math.max(
        this.store.intervalMs ?? 0,
        history.bucketMs,
        estimateInterval(history.ts) ?? 0,
      );
      for (const [metric, buffer] of this.buffers) {
        buffer.intervalMs = interval;
        buffer.load({ ts: history.ts, values: history.series[metric]?.mean ?? [] });
      }
      this.rangeHistory = history;
      this.el.dataset.bucketMs = String(history.bucketMs);
      this.el.dataset.points = String(history.ts.length);
      this.el.dataset.sources = history.sources.join(',');
      this.showDetail();
      this.showNow();
    } catch (err) {
      setText(this.rangeNote, `History unavailable: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.refreshCharts();
  }

  /**
   * Zooms and pans every chart together: `win` of the range, or the whole range (null). A window the server
   * would cut in finer buckets than those shown is asked again (once the zoom and pan stop); the whole range
   * shows the range's own buckets again, kept from the first answer.
   */
  private setWindow(win: XWindow | null): void {
    for (const chart of this.charts) chart.setWindow(win);
    this.showWindow(win);
    const range = this.rangeHistory;
    if (win === null || range === null) {
      this.detailLoader.cancel();
      this.detailState = null;
      if (this.detail) {
        this.detail = null;
        this.refreshCharts();
      }
    } else if (wantsFinerHistory(win, this.shownHistory(range), HISTORY_POINTS, this.intervalMs())) {
      this.detailLoader.want(win);
      this.detailState = 'loading';
    } else {
      this.detailLoader.cancel();
      this.detailState = null;
    }
    this.showDetail();
  }

  /** The sampling interval the server buckets by. */
  private intervalMs(): number {
    return this.store.intervalMs ?? 1000;
  }

  /** What the charts show: the range's buckets, the live samples after them, a window's finer buckets. */
  private shownHistory(range: HistoryResponse): ShownHistory {
    const d = this.detail;
    return {
      bucketMs: range.bucketMs,
      // A range up to now goes on with the live samples, unbucketed, from the time it was asked.
      rawFrom: 'name' in this.range ? range.to : Number.POSITIVE_INFINITY,
      detail: d ? { from: d.win[0], to: d.win[1], bucketMs: d.history.bucketMs } : null,
    };
  }

  /** The zoomed window's history and throttle reasons, asked together (the throttle's failure is no failure). */
  private async loadDetail(win: XWindow, signal: AbortSignal): Promise<ZoomDetail> {
    const [history, throttle] = await Promise.all([
      api<HistoryResponse>(this.historyPath(win), { signal }),
      api<ThrottleResponse>(this.throttlePath(win), { signal }).catch((err: unknown) => {
        if (signal.aborted) throw err;
        return null;
      }),
    ]);
    let track: ThrottleTrack | null = null;
    if (throttle) {
      track = new ThrottleTrack();
      track.load(throttle);
    }
    return { win, history, throttle: track };
  }

  /** The bucket of the points shown, on each chart and the detail; the note of what the charts show. */
  private showDetail(): void {
    const range = this.rangeHistory;
    if (!range) return;
    const d = this.detail;
    const data = this.el.dataset;
    for (const box of this.boxes) box.dataset.bucketMs = String(d ? d.history.bucketMs : range.bucketMs);
    if (d) {
      data.zoomDetail = `${Math.round(d.win[0])}-${Math.round(d.win[1])}`;
      data.zoomBucketMs = String(d.history.bucketMs);
    } else {
      delete data.zoomDetail;
      delete data.zoomBucketMs;
    }
    data.zoomRequests = String(this.detailLoader.started);
    if (this.detailState) data.zoomState = this.detailState;
    else delete data.zoomState;
    let note = d ? detailNote(range, d.history) : historyNote(range);
    if (this.detailState === 'loading') note += ' · asking finer points for the zoomed window…';
    if (this.detailState === 'failed') note += ` · finer points unavailable: ${this.detailError}`;
    setText(this.rangeNote, note);
  }

  /** A line's points: the range's (then live ones), the zoomed window's finer buckets within it. */
  private pointsOf(metric: MetricName): LinePoints {
    const buffer = this.buffer(metric);
    const d = this.detail;
    if (!d) return buffer;
    const { ts, cols } = spliceColumns(
      { ts: buffer.ts, cols: [buffer.values] },
      { ts: d.history.ts, cols: [d.history.series[metric]?.mean ?? []] },
      d.win[0],
      d.win[1],
      1.5 * (buffer.intervalMs ?? d.history.bucketMs),
    );
    return { ts, values: cols[0] ?? [] };
  }

  /**
   * A line's band, each bucket's min and max: the range's buckets, the zoomed window's finer ones within it;
   * none where a bucket is one sample (live samples, short ranges).
   */
  private bandOf(metric: MetricName): BandPoints | null {
    const range = this.rangeHistory;
    if (!range) return null;
    const d = this.detail;
    const interval = this.intervalMs();
    const columns = (h: HistoryResponse) => {
      const s = h.series[metric];
      const none = h.ts.map(() => null);
      return h.bucketMs > interval && s ? [s.min, s.max] : [none, none];
    };
    if (range.bucketMs <= interval && !(d && d.history.bucketMs > interval)) return null;
    const base = { ts: range.ts, cols: columns(range) };
    if (!d) return { ts: range.ts, min: base.cols[0] ?? [], max: base.cols[1] ?? [] };
    const gapMs = 1.5 * (this.buffer(metric).intervalMs ?? range.bucketMs);
    const { ts, cols } = spliceColumns(
      base,
      { ts: d.history.ts, cols: columns(d.history) },
      d.win[0],
      d.win[1],
      gapMs,
    );
    return { ts, min: cols[0] ?? [], max: cols[1] ?? [] };
  }

  /** The throttle lanes: the range's, the zoomed window's finer marks within it. */
  private lanes(): ReturnType<ThrottleTrack['lanes']> {
    const d = this.detail;
    if (!d?.throttle) return this.throttle.lanes();
    const key = `${this.throttle.measured}`;
    if (this.lanesCache?.detail !== d || this.lanesCache.key !== key) {
      this.lanesCache = {
        key,
        detail: d,
        lanes: spliceLanes(this.throttle.lanes(), d.throttle.lanes(), d.win[0], d.win[1]),
      };
    }
    return this.lanesCache.lanes;
  }

  /** The throttle reasons at `ts`: the zoomed window's finer buckets within it. */
  private throttleAt(ts: number): ReturnType<ThrottleTrack['at']> {
    const d = this.detail;
    if (d?.throttle && ts >= d.win[0] && ts < d.win[1]) return d.throttle.at(ts);
    return this.throttle.at(ts);
  }

  private showWindow(win: XWindow | null): void {
    this.zoomReset.hidden = win === null;
    if (win) this.el.dataset.window = `${Math.round(win[0])}-${Math.round(win[1])}`;
    else delete this.el.dataset.window;
    const [from, to] = win ? timeTicks(win, win[1] - win[0]) : [];
    setText(
      this.zoomText,
      win
        ? `Zoomed to ${from} – ${to}; Shift+drag pans`
        : 'Drag across a chart to zoom in, double-click to zoom out',
    );
  }

  private refreshCharts(): void {
    for (const chart of this.charts) chart.refresh();
    for (const { note, metrics } of this.notes) {
      const hasReading = metrics.some((m) => this.buffers.get(m)?.values.some((v) => v !== null));
      note.hidden = hasReading || (this.buffers.get(metrics[0] as MetricName)?.length ?? 0) === 0;
    }
  }
}

/** A share as a percentage for people: "12 %", "0.4 %", "< 0.1 %". */
export function shareText(share: number | null): string {
  if (share === null) return '—';
  const pct = share * 100;
  if (pct > 0 && pct < 0.1) return '< 0.1 %';
  return `${pct < 10 ? Number(pct.toFixed(1)) : Math.round(pct)} %`;
}

/** The rise of an energy counter over a history's buckets, in kWh; an em dash without two readings or after a reset. */
export function energySince(series: HistoryResponse['series'][string] | undefined): string {
  const first = series?.min.find((v) => v !== null);
  const last = series?.max.findLast((v) => v !== null);
  if (first === undefined || first === null || last === undefined || last === null || last < first)
    return '—';
  return `${((last - first) / 3_600_000).toFixed(2)} kWh`;
}

/**
 * What the charts show zoomed into a window asked again: the window, its finer bucket and sources, then the
 * whole range's bucket.
 */
export function detailNote(
  range: Pick<HistoryResponse, 'bucketMs'>,
  d: Pick<HistoryResponse, 'from' | 'to' | 'bucketMs' | 'sources' | 'ts'>,
): string {
  const zoomed = historyNote(d);
  return `Zoomed in: ${zoomed} (finer than the whole range's ${duration(range.bucketMs)})`;
}

/** What the charts show: the range, the bucket width, where the points come from. */
export function historyNote(h: Pick<HistoryResponse, 'from' | 'to' | 'bucketMs' | 'sources' | 'ts'>): string {
  const range = `${dateTime(h.from)} to ${dateTime(h.to)}`;
  if (h.ts.length === 0) return `${range}: no samples in this range.`;
  const from =
    h.sources.length === 0
      ? ''
      : ` · from the ${h.sources.join(' and the ')}${h.sources.includes('live') ? ' buffer' : ''}`;
  return `${range} · each point the mean of ${duration(h.bucketMs)}${from}`;
}
