import type { AlertFlags } from '../src/server/api-types.ts';
import { fill, h, select, setOptions, setText } from './dom.ts';
import {
  aggregate,
  type FleetFilter,
  GPU_STATES,
  type GpuRow,
  groupByHost,
  type IdleThresholds,
  isSortKey,
  SORT_KEYS,
  type SortKey,
  STATE_LABELS,
  stateOf,
} from './fleet-model.ts';
import type { FleetStore } from './fleet-store.ts';
import { fixed, gib } from './format.ts';
import { DEFAULT_RANGE, formatRoute } from './route.ts';
import { type GridMetrics, layoutGroups, moveFocus, rowTop, visibleWindow } from './virtual-grid.ts';

const BADGES: { flag: keyof AlertFlags; text: string; title: string }[] = [
  { flag: 'temperature', text: 'HOT', title: 'temperature alert' },
  { flag: 'load', text: 'LOAD', title: 'high load alert' },
  { flag: 'power', text: 'POWER', title: 'power alert' },
];

/** One GPU in the overview: a link to its detail with its state, the big numbers and alert badges. */
class GpuTile {
  readonly el: HTMLAnchorElement;
  private readonly state = h('span', { class: 'state', 'data-testid': 'gpu-state' });
  private readonly util = h('span', { class: 'value', 'data-testid': 'gpu-util' }, '—');
  private readonly bar = h('span', { class: 'bar-fill' });
  private readonly temp = h('span', { class: 'value', 'data-testid': 'gpu-temp' }, '—');
  private readonly power = h('span', { class: 'value', 'data-testid': 'gpu-power' }, '—');
  private readonly memory = h('span', { class: 'value', 'data-testid': 'gpu-memory' }, '—');
  private readonly badges = h('span', { class: 'badges', 'data-testid': 'gpu-alerts' });

  private readonly hostEl = h('span', { class: 'host', 'data-testid': 'gpu-host' });
  private readonly indexEl = h('span', { class: 'index', 'data-testid': 'gpu-index' });
  private readonly modelEl = h('span', { class: 'model' });
  /** The GPU shown: a tile is reused for another GPU when it scrolls out of the window. */
  uuid = '';

  constructor() {
    this.el = h(
      'a',
      { class: 'card', 'data-testid': 'gpu-card', tabindex: -1 },
      h('span', { class: 'card-head' }, this.hostEl, this.indexEl, this.state, this.badges),
      this.modelEl,
      h(
        'span',
        { class: 'util-line' },
        h('span', { class: 'bar', 'aria-hidden': 'true' }, this.bar),
        h('span', { class: 'util-text' }, this.util, h('span', { class: 'unit' }, '%')),
      ),
      h(
        'span',
        { class: 'stats' },
        stat('Temp', this.temp, '°C'),
        stat('Power', this.power, 'W'),
        stat('Memory', this.memory, 'GiB'),
      ),
    ) as HTMLAnchorElement;
  }

  /** Shows this GPU's identity (a tile taken from the pool gets another GPU's). */
  bind(id: GpuRow['id']): void {
    if (this.uuid === id.uuid) return;
    this.uuid = id.uuid;
    this.el.dataset.uuid = id.uuid;
    this.el.href = formatRoute({ view: 'gpu', uuid: id.uuid, range: DEFAULT_RANGE });
    this.el.title = `${id.host} GPU ${id.gpu_index}: ${id.uuid}`;
    setText(this.hostEl, id.host);
    setText(this.indexEl, `GPU ${id.gpu_index}`);
    setText(this.modelEl, id.model);
  }

  show(row: GpuRow, idle: IdleThresholds): void {
    this.bind(row.id);
    this.el.dataset.ts = String(row.ts);
    const v = row.value;
    const util = v('gpu_utilization_percent');
    const state = stateOf(row, idle);
    this.el.dataset.state = state;
    setText(this.state, STATE_LABELS[state]);
    setText(this.util, fixed(util));
    this.bar.style.width = `${Math.max(0, Math.min(100, util ?? 0))}%`;
    setText(this.temp, fixed(v('gpu_temperature_celsius')));
    setText(this.power, `${fixed(v('gpu_power_draw_watts'))} / ${fixed(v('gpu_power_limit_watts'))}`);
    setText(this.memory, `${gib(v('gpu_memory_used_bytes'))} / ${gib(v('gpu_memory_total_bytes'))}`);
    const active = BADGES.filter((b) => row.alerts[b.flag]);
    const key = active.map((b) => b.flag).join(',');
    if (this.badges.dataset.flags !== key) {
      this.badges.dataset.flags = key;
      this.badges.replaceChildren(
        ...active.map((b) =>
          h(
            'span',
            { class: `badge badge-${b.flag}`, 'data-testid': `alert-${b.flag}`, title: b.title },
            b.text,
          ),
        ),
      );
    }
  }
}

function stat(label: string, value: HTMLElement, unit: string): HTMLElement {
  return h(
    'span',
    { class: 'stat' },
    h('span', { class: 'stat-label' }, label),
    h('span', { class: 'stat-value' }, value, h('span', { class: 'unit' }, unit)),
  );
}

interface HostGroup {
  el: HTMLElement;
  title: HTMLElement;
  summary: HTMLElement;
  list: HTMLElement;
}

/** Fleets up to this many GPUs are rendered whole; larger ones only near the viewport. */
const RENDER_ALL_UP_TO = 96;
/** Tiles kept aside for reuse when they scroll out of the window (more than a window holds). */
const POOL_SIZE = 256;
const ARROW_KEYS: Record<string, Parameters<typeof moveFocus>[3]> = {
  ArrowLeft: 'left',
  ArrowRight: 'right',
  ArrowUp: 'up',
  ArrowDown: 'down',
  Home: 'home',
  End: 'end',
};

/**
 * The fleet overview: the fleet's aggregates, filters (host, model, state) and sort, then the GPUs grouped by
 * host. The filter and sort live in the address (route.ts); changing them calls `onFilter`.
 *
 * The groups are virtualized (virtual-grid.ts): only the host groups and rows of tiles within a screen and a
 * half of the viewport are in the page, the rest is padding of the measured height, so 1,000 GPUs cost as
 * little to update as a screenful. Tiles are reused as they scroll out. One tile is in the Tab order (the last
 * focused); the arrow keys, Home and End move between tiles.
 */
export class FleetOverview {
  readonly el: HTMLElement;
  private readonly summary = h('dl', { class: 'summary', 'data-testid': 'fleet-summary' });
  private readonly hostSelect = select('filter-host', 'Host');
  private readonly modelSelect = select('filter-model', 'Model');
  private readonly stateSelect = select('filter-state', 'State');
  private readonly sortSelect = select('sort', 'Sort');
  private readonly shown = h('span', { class: 'muted', 'data-testid': 'fleet-shown' });
  private readonly groupsBox = h('div', { class: 'groups', 'data-testid': 'fleet-groups' });
  private readonly empty = h('p', { class: 'empty', 'data-testid': 'fleet-empty', hidden: true });
  /** The tiles in the page, by GPU. */
  private tiles = new Map<string, GpuTile>();
  private readonly pool: GpuTile[] = [];
  /** The host groups in the page, by host. */
  private groups = new Map<string, HostGroup>();
  private filter: FleetFilter = { host: null, model: null, state: null };
  private sort: SortKey = 'host';
  /** The filtered, sorted groups of the latest render, and where they lie. */
  private shownGroups: { host: string; rows: GpuRow[] }[] = [];
  private layout: ReturnType<typeof layoutGroups> = { groups: [], height: 0 };
  private metrics: GridMetrics = { columns: 1, headerHeight: 32, rowPitch: 120, rowGap: 10, groupGap: 18 };
  /** The GPU whose tile is in the Tab order. */
  private focusUuid: string | null = null;
  private frame = 0;
  /** The fleet's energy since local midnight, as shown (`/api/fleet/energy`, asked by the app every minute). */
  energyToday = '—';
  /** null: not known yet; false: the server reads no live GPUs (`gpumon serve` without a live source). */
  liveSource: boolean | null = null;

  constructor(
    private readonly store: FleetStore,
    private readonly onFilter: (filter: FleetFilter, sort: SortKey) => void,
  ) {
    this.el = h(
      'section',
      { class: 'fleet', 'data-testid': 'fleet', 'aria-label': 'Fleet' },
      this.summary,
      h(
        'div',
        { class: 'filters', role: 'search' },
        this.hostSelect.label,
        this.modelSelect.label,
        this.stateSelect.label,
        this.sortSelect.label,
        this.shown,
      ),
      this.empty,
      this.groupsBox,
    );
    fill(this.stateSelect.el, [
      ['', 'All states'],
      ...GPU_STATES.map((s): [string, string] => [s, STATE_LABELS[s]]),
    ]);
    fill(
      this.sortSelect.el,
      Object.entries(SORT_KEYS).map(([key, s]): [string, string] => [key, s.label]),
    );
    const changed = () => {
      const state = this.stateSelect.el.value;
      const sort = this.sortSelect.el.value;
      this.onFilter(
        {
          host: this.hostSelect.el.value || null,
          model: this.modelSelect.el.value || null,
          state: (GPU_STATES as readonly string[]).includes(state) ? (state as FleetFilter['state']) : null,
        },
        isSortKey(sort) ? sort : 'host',
      );
    };
    for (const s of [this.hostSelect, this.modelSelect, this.stateSelect, this.sortSelect]) {
      s.el.addEventListener('change', changed);
    }
    const later = () => this.placeLater();
    window.addEventListener('scroll', later, { passive: true });
    window.addEventListener('resize', later);
    this.groupsBox.addEventListener('focusin', (e) => {
      const card = (e.target as Element).closest<HTMLElement>('[data-testid="gpu-card"]');
      if (card?.dataset.uuid) this.focusUuid = card.dataset.uuid;
    });
    this.groupsBox.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Shows the fleet with this filter and sort (from the address). */
  setFilter(filter: FleetFilter, sort: SortKey): void {
    this.filter = filter;
    this.sort = sort;
    this.render();
  }

  /** Reads the store again: aggregates, options, the groups, then the tiles in the window. */
  render(): void {
    const rows = this.store.rows();
    this.renderSummary(rows);
    this.renderOptions(rows);
    this.shownGroups = groupByHost(rows, this.filter, this.sort, this.store.idle);
    const shownCount = this.shownGroups.reduce((n, g) => n + g.rows.length, 0);
    setText(this.shown, shownCount === rows.length ? '' : `${shownCount} of ${rows.length} GPUs shown`);
    this.renderEmpty(rows.length, shownCount);
    this.place();
  }

  /**
   * Puts in the page the groups and tiles that meet the window (the viewport and a screen and a half either
   * side), then measures them: when the columns or sizes differ from those assumed, places them again.
   */
  private place(): void {
    for (let attempt = 0; attempt < 3; attempt++) {
      this.metrics.columns = this.columnsFor(this.groupsBox.clientWidth);
      this.layout = layoutGroups(
        this.shownGroups.map((g) => g.rows.length),
        this.metrics,
      );
      this.placeWindow();
      if (!this.measure()) break;
    }
  }

  private placeWindow(): void {
    const total = this.shownGroups.reduce((n, g) => n + g.rows.length, 0);
    let from = 0;
    let to = Number.POSITIVE_INFINITY;
    if (total > RENDER_ALL_UP_TO) {
      const over = 1.5 * window.innerHeight;
      if (this.el.isConnected) {
        const top = this.groupsBox.getBoundingClientRect().top;
        from = -top - over;
        to = -top + window.innerHeight + over;
      } else {
        // Not in the page yet (the app shows the view after this): the top, placed again once shown.
        to = window.innerHeight + over;
        this.placeLater();
      }
    }
    const win = visibleWindow(this.layout, this.metrics, from, to);
    const cols = this.metrics.columns;
    const tiles = new Map<string, GpuTile>();
    const groups = new Map<string, HostGroup>();
    const sections: HTMLElement[] = [];
    const idle = this.store.idle;
    // Tiles that leave the page go to the pool first, so that those that enter reuse them.
    const needed = new Set<string>();
    for (const { group: gi, firstRow, endRow } of win.groups) {
      for (const row of this.shownGroups[gi]?.rows.slice(firstRow * cols, endRow * cols) ?? []) {
        needed.add(row.id.uuid);
      }
    }
    for (const [uuid, tile] of this.tiles) {
      if (needed.has(uuid)) continue;
      tile.el.remove();
      this.tiles.delete(uuid);
      if (this.pool.length < POOL_SIZE) this.pool.push(tile);
    }
    for (const { group: gi, firstRow, endRow } of win.groups) {
      const { host, rows } = this.shownGroups[gi] as { host: string; rows: GpuRow[] };
      const group = this.groups.get(host) ?? this.newGroup(host);
      groups.set(host, group);
      const agg = aggregate(rows, idle);
      setText(group.title, host);
      setText(
        group.summary,
        `${rows.length} GPU${rows.length === 1 ? '' : 's'} · mean ${fixed(agg.meanUtilization)} % · ${fixed(agg.powerWatts)} W`,
      );
      const els: HTMLElement[] = [];
      for (const row of rows.slice(firstRow * cols, endRow * cols)) {
        const uuid = row.id.uuid;
        const tile = this.tiles.get(uuid) ?? this.pool.pop() ?? new GpuTile();
        tile.show(row, idle);
        tiles.set(uuid, tile);
        els.push(tile.el);
      }
      const totalRows = Math.ceil(rows.length / cols);
      const { rowPitch, rowGap } = this.metrics;
      group.list.style.paddingTop = firstRow > 0 ? `${firstRow * rowPitch}px` : '';
      const below = els.length ? (totalRows - endRow) * rowPitch : Math.max(0, totalRows * rowPitch - rowGap);
      group.list.style.paddingBottom = below > 0 ? `${below}px` : '';
      reorder(group.list, els);
      sections.push(group.el);
    }
    this.tiles = tiles;
    this.groups = groups;
    this.groupsBox.style.paddingTop = win.padTop > 0 ? `${win.padTop}px` : '';
    this.groupsBox.style.paddingBottom = win.padBottom > 0 ? `${win.padBottom}px` : '';
    reorder(this.groupsBox, sections);
    // One tile in the Tab order: the last focused one when it is in the page, else the first in the page.
    const current =
      this.focusUuid !== null && tiles.has(this.focusUuid) ? this.focusUuid : tiles.keys().next().value;
    for (const [uuid, tile] of tiles) tile.el.tabIndex = uuid === current ? 0 : -1;
  }

  /** Places the tiles again at the next frame, once the view is in the page (scroll, resize, shown). */
  private placeLater(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.el.isConnected) this.place();
    });
  }

  /** Measures the placed groups; true when the sizes assumed were off (then they are corrected). */
  private measure(): boolean {
    const first = this.groups.values().next().value;
    if (!first || !this.el.isConnected) return false;
    const m = this.metrics;
    const next = { ...m };
    const gridStyle = getComputedStyle(first.list);
    next.columns = gridStyle.gridTemplateColumns.split(' ').filter(Boolean).length || m.columns;
    next.rowGap = Number.parseFloat(gridStyle.rowGap) || 0;
    next.groupGap = Number.parseFloat(getComputedStyle(this.groupsBox).rowGap) || 0;
    next.headerHeight = first.list.getBoundingClientRect().top - first.el.getBoundingClientRect().top;
    const rendered = Math.ceil(first.list.children.length / next.columns);
    if (rendered > 0) {
      const pad = Number.parseFloat(gridStyle.paddingTop) + Number.parseFloat(gridStyle.paddingBottom);
      next.rowPitch = (first.list.getBoundingClientRect().height - pad + next.rowGap) / rendered;
    }
    const off =
      next.columns !== m.columns ||
      Math.abs(next.rowPitch - m.rowPitch) > 0.5 ||
      Math.abs(next.headerHeight - m.headerHeight) > 0.5 ||
      next.rowGap !== m.rowGap ||
      next.groupGap !== m.groupGap;
    this.metrics = next;
    return off;
  }

  /** Columns of tiles at this width, as the grid's CSS (`auto-fill`) lays them; measured once in the page. */
  private columnsFor(width: number): number {
    if (width <= 0) return this.metrics.columns;
    if (this.groups.size > 0) {
      const first = this.groups.values().next().value as HostGroup;
      const n = getComputedStyle(first.list).gridTemplateColumns.split(' ').filter(Boolean).length;
      if (n > 0 && first.list.clientWidth === width) return n;
    }
    return Math.max(1, Math.floor((width + 10) / (Math.min(290, width) + 10)));
  }

  /** The arrow keys, Home and End on a tile: focus the tile they name, scrolled into the window. */
  private onKey(e: KeyboardEvent): void {
    const key = ARROW_KEYS[e.key];
    const card = (e.target as Element).closest<HTMLElement>('[data-testid="gpu-card"]');
    if (!key || !card || e.altKey || e.ctrlKey || e.metaKey) return;
    const uuid = card.dataset.uuid;
    const gi = this.shownGroups.findIndex((g) => g.rows.some((r) => r.id.uuid === uuid));
    if (gi < 0) return;
    const index = (this.shownGroups[gi] as { rows: GpuRow[] }).rows.findIndex((r) => r.id.uuid === uuid);
    const sizes = this.shownGroups.map((g) => g.rows.length);
    const to = moveFocus(sizes, this.metrics.columns, { group: gi, index }, key);
    if (!to) return;
    e.preventDefault();
    const target = this.shownGroups[to.group]?.rows[to.index]?.id.uuid;
    if (!target) return;
    const y = rowTop(this.layout, this.metrics, to.group, Math.floor(to.index / this.metrics.columns));
    const listTop = this.groupsBox.getBoundingClientRect().top + window.scrollY;
    const top = listTop + y;
    if (top < window.scrollY || top + this.metrics.rowPitch > window.scrollY + window.innerHeight) {
      window.scrollTo({ top: top - (window.innerHeight - this.metrics.rowPitch) / 2 });
    }
    this.focusUuid = target;
    this.place();
    this.tiles.get(target)?.el.focus();
  }

  private renderSummary(rows: GpuRow[]): void {
    const idle = this.store.idle;
    const agg = aggregate(rows, idle);
    const item = (key: string, label: string, value: string, title?: string) =>
      h(
        'div',
        { class: 'summary-item', 'data-testid': `agg-${key}`, title },
        h('dt', {}, label),
        h('dd', {}, value),
      );
    const items = [
      item('gpus', 'GPUs', `${agg.gpus}`, `${agg.gpus} GPUs on ${agg.hosts} hosts`),
      item('hosts', 'Hosts', `${agg.hosts}`),
      item('mean-util', 'Mean utilization', `${fixed(agg.meanUtilization, 1)} %`),
      item('busy', 'Busy', `${agg.states.busy}`, `utilization at least ${idle.loadPercent} %`),
      item('idle', 'Idle', `${agg.states.idle}`, `utilization under ${idle.loadPercent} %, memory free`),
      item(
        'holding',
        'Idle, holding memory',
        `${agg.states.holding}`,
        `idle with more than ${Number((idle.memoryBytes / 1024 ** 3).toFixed(2))} GiB in use`,
      ),
      item('alerting', 'Alerting', `${agg.states.alerting}`, 'GPUs with an alert firing'),
      item('power', 'Total power', `${fixed(agg.powerWatts)} W`),
      item(
        'energy',
        'Energy today',
        this.energyToday,
        "since local midnight, from the GPUs' energy counters",
      ),
      item('alerts', 'Alerts firing', `${agg.alertsFiring}`),
    ];
    const key = items.map((i) => i.textContent).join('|');
    if (this.summary.dataset.key !== key) {
      this.summary.dataset.key = key;
      this.summary.replaceChildren(...items);
    }
  }

  private renderOptions(rows: GpuRow[]): void {
    const hosts = new Set(rows.map((r) => r.id.host));
    const models = new Set(rows.map((r) => r.id.model));
    if (this.filter.host) hosts.add(this.filter.host);
    if (this.filter.model) models.add(this.filter.model);
    setOptions(this.hostSelect.el, 'All hosts', [...hosts].sort());
    setOptions(this.modelSelect.el, 'All models', [...models].sort());
    this.hostSelect.el.value = this.filter.host ?? '';
    this.modelSelect.el.value = this.filter.model ?? '';
    this.stateSelect.el.value = this.filter.state ?? '';
    this.sortSelect.el.value = this.sort;
  }

  private renderEmpty(total: number, shown: number): void {
    let text = '';
    if (this.liveSource === false && total === 0) {
      text =
        'No live source: this server reads no live GPUs (gpumon serve without serve.live). The archive and the daily analytics are below.';
    } else if (!this.store.loaded) text = 'Waiting for the live stream…';
    else if (total === 0) text = 'No GPU has reported yet.';
    else if (shown === 0) text = 'No GPU matches these filters.';
    this.empty.hidden = text === '';
    this.empty.dataset.reason = this.liveSource === false && total === 0 ? 'no-live-source' : '';
    setText(this.empty, text);
  }

  private newGroup(host: string): HostGroup {
    const title = h('h2', { class: 'host-name' });
    const summary = h('span', { class: 'muted', 'data-testid': 'host-summary' });
    const list = h('div', { class: 'grid' });
    const el = h(
      'section',
      { class: 'host-group', 'data-testid': 'host-group', 'data-host': host },
      h('header', {}, title, summary),
      list,
    );
    return { el, title, summary, list };
  }
}

/** Puts `children` in `parent` in this order, touching the DOM only when the order changed. */
function reorder(parent: HTMLElement, children: HTMLElement[]): void {
  const same =
    parent.children.length === children.length && children.every((c, i) => parent.children[i] === c);
  if (!same) parent.replaceChildren(...children);
}
