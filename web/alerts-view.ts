import type { AlertEpisode, AlertRule } from '../src/pipeline/alerts.ts';
import type { AlertEpisodesResponse } from '../src/server/api-types.ts';
import { ApiCallError, api } from './api.ts';
import { fill, h, select, setOptions, setText } from './dom.ts';
import { dateTime, duration } from './format.ts';
import { type EpisodeFilter, formatRoute } from './route.ts';

/** The rules as people read them, and how each one's peak is told. */
export const RULE_LABELS: Record<AlertRule, string> = {
  high_temperature: 'High temperature',
  high_load: 'High load',
  high_power: 'High power',
  temperature_spike: 'Temperature spike',
};

/** A rule's value with its unit: °C, % of the time busy, % of the power limit, °C of rise in one sample. */
export function ruleValue(rule: AlertRule, value: number): string {
  switch (rule) {
    case 'high_temperature':
      return `${value.toFixed(0)} °C`;
    case 'high_load':
      return `${value.toFixed(0)} %`;
    case 'high_power':
      return `${value.toFixed(0)} % of the power limit`;
    case 'temperature_spike':
      return `+${value.toFixed(1)} °C in one sample`;
  }
}

/** The GPU's charts around an episode: five minutes either side (for one still firing, up to now). */
export function episodeLink(
  e: Pick<AlertEpisode, 'uuid' | 'start' | 'end' | 'ended'>,
  now = Date.now(),
): string {
  const margin = 5 * 60_000;
  const to = e.ended ? e.end + margin : Math.max(now, e.end + margin);
  return `/${formatRoute({ view: 'gpu', uuid: e.uuid, range: { from: e.start - margin, to } })}`;
}

const REFRESH_MS = 5000;
const LIMIT = 200;

/**
 * The alert episodes of the live fleet (one row per stretch of a rule firing on a GPU: rule, GPU, start, end,
 * peak), filterable by rule, host and state; each links to the GPU's charts at that moment. Asked again every
 * few seconds while shown.
 */
export class AlertsView {
  readonly el: HTMLElement;
  private readonly ruleSelect = select('filter-rule', 'Rule');
  private readonly hostSelect = select('filter-episode-host', 'Host');
  private readonly stateSelect = select('filter-episode-state', 'State');
  private readonly shown = h('span', { class: 'muted', 'data-testid': 'episodes-shown', role: 'status' });
  private readonly body = h('tbody', { 'data-testid': 'episodes' });
  private readonly empty = h('p', { class: 'empty', 'data-testid': 'episodes-empty', hidden: true });
  private readonly tableWrap = h('div', { class: 'table-wrap' });
  private timer: ReturnType<typeof setInterval> | undefined;
  private filter: EpisodeFilter = { rule: null, host: null, state: null };

  constructor(private readonly onFilter: (filter: EpisodeFilter) => void) {
    fill(this.ruleSelect.el, [
      ['', 'All rules'],
      ...Object.entries(RULE_LABELS).map(([rule, label]): [string, string] => [rule, label]),
    ]);
    fill(this.stateSelect.el, [
      ['', 'Ongoing and ended'],
      ['ongoing', 'Ongoing'],
      ['ended', 'Ended'],
    ]);
    setOptions(this.hostSelect.el, 'All hosts', []);
    const table = h(
      'table',
      { class: 'table stack episodes' },
      h('caption', { class: 'visually-hidden' }, 'Alert episodes, latest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Rule', 'GPU', 'Start', 'End', 'Duration', 'Peak'].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      this.body,
    );
    this.el = h(
      'section',
      { class: 'alerts-view', 'data-testid': 'alerts-view', 'aria-labelledby': 'alerts-title' },
      h('h2', { id: 'alerts-title' }, 'Alert episodes'),
      h(
        'div',
        { class: 'filters', role: 'search' },
        this.ruleSelect.label,
        this.hostSelect.label,
        this.stateSelect.label,
        this.shown,
      ),
      this.empty,
      this.tableWrap,
    );
    this.tableWrap.append(table);
    for (const s of [this.ruleSelect.el, this.hostSelect.el, this.stateSelect.el]) {
      s.addEventListener('change', () =>
        this.onFilter({
          rule: this.ruleSelect.el.value || null,
          host: this.hostSelect.el.value || null,
          state: (this.stateSelect.el.value || null) as EpisodeFilter['state'],
        }),
      );
    }
  }

  /** Shows the episodes of `filter`, and keeps asking while shown. */
  show(filter: EpisodeFilter): void {
    this.filter = filter;
    this.ruleSelect.el.value = filter.rule ?? '';
    this.stateSelect.el.value = filter.state ?? '';
    void this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (!document.hidden) void this.refresh();
    }, REFRESH_MS);
  }

  hide(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async refresh(): Promise<void> {
    const params = new URLSearchParams({ limit: String(LIMIT) });
    for (const key of ['rule', 'host', 'state'] as const) {
      const value = this.filter[key];
      if (value) params.set(key, value);
    }
    try {
      const body = await api<AlertEpisodesResponse>(`/api/alerts/episodes?${params}`);
      this.render(body);
    } catch (err) {
      this.body.replaceChildren();
      this.tableWrap.hidden = true;
      this.empty.hidden = false;
      this.empty.dataset.reason =
        err instanceof ApiCallError && err.status === 404 ? 'no-live-source' : 'error';
      setText(
        this.empty,
        err instanceof ApiCallError && err.status === 404
          ? 'No live source: this server keeps no alert episodes.'
          : `Alert episodes unavailable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private render(body: AlertEpisodesResponse): void {
    setOptions(this.hostSelect.el, 'All hosts', body.hosts);
    this.hostSelect.el.value = this.filter.host ?? '';
    const n = body.total;
    setText(
      this.shown,
      n > body.episodes.length
        ? `latest ${body.episodes.length} of ${n} episodes`
        : `${n} episode${n === 1 ? '' : 's'}`,
    );
    this.empty.hidden = n > 0;
    this.tableWrap.hidden = n === 0;
    delete this.empty.dataset.reason;
    setText(this.empty, 'No alert episodes match.');
    this.el.dataset.loaded = 'true';
    this.body.replaceChildren(...body.episodes.map((e) => this.row(e)));
  }

  private row(e: AlertEpisode): HTMLTableRowElement {
    const gpu = `${e.host} · GPU ${e.gpu_index}`;
    return h(
      'tr',
      {
        'data-testid': 'episode',
        'data-rule': e.rule,
        'data-uuid': e.uuid,
        'data-start': e.start,
        'data-ended': String(e.ended),
      },
      h('td', { 'data-label': 'Rule' }, RULE_LABELS[e.rule] ?? e.rule),
      h(
        'td',
        { 'data-label': 'GPU' },
        h(
          'a',
          {
            href: episodeLink(e),
            'data-testid': 'episode-link',
            title: `${e.uuid}: the charts at that moment`,
          },
          gpu,
        ),
      ),
      h('td', {}, dateTime(e.start)),
      h('td', {}, e.ended ? dateTime(e.end) : h('span', { class: 'badge-ongoing' }, 'ongoing')),
      h('td', { class: 'num' }, duration(Math.max(0, e.end - e.start))),
      h(
        'td',
        { class: 'num', title: `threshold ${ruleValue(e.rule, e.threshold)}` },
        ruleValue(e.rule, e.peak),
      ),
    );
  }
}
