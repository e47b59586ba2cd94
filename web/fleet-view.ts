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

  constructor(row: GpuRow) {
    const { id } = row;
    this.el = h(
      'a',
      {
        class: 'card',
        'data-testid': 'gpu-card',
        'data-uuid': id.uuid,
        href: formatRoute({ view: 'gpu', uuid: id.uuid, range: DEFAULT_RANGE }),
        title: `${id.host} GPU ${id.gpu_index}: ${id.uuid}`,
      },
      h(
        'span',
        { class: 'card-head' },
        h('span', { class: 'host', 'data-testid': 'gpu-host' }, id.host),
        h('span', { class: 'index', 'data-testid': 'gpu-index' }, `GPU ${id.gpu_index}`),
        this.state,
        this.badges,
      ),
      h('span', { class: 'model' }, id.model),
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

  show(row: GpuRow, idle: IdleThresholds): void {
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

/**
 * The fleet overview: the fleet's aggregates, filters (host, model, state) and sort, then the GPUs grouped by
 * host. The filter and sort live in the address (route.ts); changing them calls `onFilter`.
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
  private readonly tiles = new Map<string, GpuTile>();
  private readonly groups = new Map<string, HostGroup>();
  private filter: FleetFilter = { host: null, model: null, state: null };
  private sort: SortKey = 'host';
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
  }

  /** Shows the fleet with this filter and sort (from the address). */
  setFilter(filter: FleetFilter, sort: SortKey): void {
    this.filter = filter;
    this.sort = sort;
    this.render();
  }

  render(): void {
    const rows = this.store.rows();
    this.renderSummary(rows);
    this.renderOptions(rows);
    const groups = groupByHost(rows, this.filter, this.sort, this.store.idle);
    const shownCount = groups.reduce((n, g) => n + g.rows.length, 0);
    setText(this.shown, shownCount === rows.length ? '' : `${shownCount} of ${rows.length} GPUs shown`);
    this.renderEmpty(rows.length, shownCount);

    const present = new Set(rows.map((r) => r.id.uuid));
    for (const [uuid, tile] of this.tiles) {
      if (!present.has(uuid)) {
        tile.el.remove();
        this.tiles.delete(uuid);
      }
    }
    const sections: HTMLElement[] = [];
    for (const { host, rows: groupRows } of groups) {
      const group = this.group(host);
      const agg = aggregate(groupRows, this.store.idle);
      setText(group.title, host);
      setText(
        group.summary,
        `${groupRows.length} GPU${groupRows.length === 1 ? '' : 's'} · mean ${fixed(agg.meanUtilization)} % · ${fixed(agg.powerWatts)} W`,
      );
      const els = groupRows.map((row) => {
        let tile = this.tiles.get(row.id.uuid);
        if (!tile) {
          tile = new GpuTile(row);
          this.tiles.set(row.id.uuid, tile);
        }
        tile.show(row, this.store.idle);
        return tile.el;
      });
      reorder(group.list, els);
      sections.push(group.el);
    }
    for (const [host, group] of this.groups) {
      if (!groups.some((g) => g.host === host)) {
        group.el.remove();
        this.groups.delete(host);
      }
    }
    reorder(this.groupsBox, sections);
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

  private group(host: string): HostGroup {
    let group = this.groups.get(host);
    if (!group) {
      const title = h('h2', { class: 'host-name' });
      const summary = h('span', { class: 'muted', 'data-testid': 'host-summary' });
      const list = h('div', { class: 'grid' });
      const el = h(
        'section',
        { class: 'host-group', 'data-testid': 'host-group', 'data-host': host },
        h('header', {}, title, summary),
        list,
      );
      group = { el, title, summary, list };
      this.groups.set(host, group);
    }
    return group;
  }
}

/** Puts `children` in `parent` in this order, touching the DOM only when the order changed. */
function reorder(parent: HTMLElement, children: HTMLElement[]): void {
  const same =
    parent.children.length === children.length && children.every((c, i) => parent.children[i] === c);
  if (!same) parent.replaceChildren(...children);
}
