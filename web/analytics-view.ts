import type {
  AnalyticsDatesResponse,
  AnalyticsResultResponse,
  RunsResponse,
  TriggerResponse,
} from '../src/server/api-types.ts';
import { ApiCallError, api, eachLimited } from './api.ts';
import { h, setText } from './dom.ts';
import { dateTime, duration } from './format.ts';
import { ANALYTICS_TAB_LABELS, ANALYTICS_TABS, type AnalyticsTab, formatRoute, type Route } from './route.ts';
import { type Column, SortableTable } from './sortable-table.ts';

type Row = Record<string, unknown>;
type AnalyticsRoute = Extract<Route, { view: 'analytics' }>;

const GIB = 1024 ** 3;
/** Days shown when the address names none: the latest this many days with results. */
const DEFAULT_DAYS = 7;
const FETCHES_AT_ONCE = 4;
/** Spikes listed at most (a hot fleet has thousands a day). */
const SPIKES_SHOWN = 200;

const num = (row: Row, key: string): number | null => {
  const v = row[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const fixed = (v: number | null, digits: number, unit = ''): string =>
  v === null ? '—' : `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
const gpuName = (row: Row): string =>
  row.scope === 'fleet' || row.uuid === null ? 'Fleet' : `${row.host} · GPU ${row.gpu_index}`;

/** A numeric column of a result: heading with its unit, the value scaled, its decimals. */
function numeric(key: string, label: string, digits: number, scale = 1, unit = ''): Column<Row> {
  return {
    key,
    label,
    numeric: true,
    value: (r) => {
      const v = num(r, key);
      return v === null ? null : v * scale;
    },
    show: (r) => {
      const v = num(r, key);
      return fixed(v === null ? null : v * scale, digits, unit);
    },
  };
}

const DATE_COLUMN: Column<Row> = { key: 'date', label: 'Date', value: (r) => String(r.date) };
const GPU_COLUMN: Column<Row> = { key: 'gpu', label: 'GPU', value: gpuName };

/** The daily statistics table: the figures people ask first, each with its unit. */
export const DAILY_COLUMNS: Column<Row>[] = [
  DATE_COLUMN,
  GPU_COLUMN,
  numeric('load_avg_percent', 'Utilization, mean (%)', 1),
  numeric('load_p95_percent', 'Utilization, p95 (%)', 0),
  numeric('temperature_avg_celsius', 'Temperature, mean (°C)', 1),
  numeric('temperature_max_celsius', 'Temperature, max (°C)', 0),
  numeric('power_avg_watts', 'Power, mean (W)', 0),
  numeric('power_max_watts', 'Power, max (W)', 0),
  numeric('energy_kwh', 'Energy (kWh)', 2),
  numeric('memory_used_max_bytes', 'Memory used, max (GiB)', 1, 1 / GIB),
  {
    key: 'alerts',
    label: 'Alerts (samples)',
    numeric: true,
    value: (r) =>
      ['alerts_high_temperature', 'alerts_high_load', 'alerts_high_power', 'alerts_temperature_spike'].reduce(
        (sum, k) => sum + (num(r, k) ?? 0),
        0,
      ),
  },
  numeric('sample_count', 'Samples', 0),
];

const HEAT_METRICS = {
  load_avg_percent: { label: 'Utilization, mean (%)', digits: 0 },
  temperature_avg_celsius: { label: 'Temperature, mean (°C)', digits: 0 },
  power_avg_watts: { label: 'Power, mean (W)', digits: 0 },
} as const;
type HeatMetric = keyof typeof HEAT_METRICS;

/** The measures of the correlation matrix, in its order, as the result's column names spell them. */
const CORR_MEASURES = [
  ['temperature', 'Temperature'],
  ['load', 'Utilization'],
  ['power', 'Power'],
  ['memory', 'Memory used'],
  ['sm_clock', 'SM clock'],
] as const;

/** The correlation of two measures from a correlations row (either order of the pair), or null. */
export function correlation(row: Row, a: string, b: string): number | null {
  if (a === b) return 1;
  return num(row, `corr_${a}_${b}`) ?? num(row, `corr_${b}_${a}`);
}

/** The run records as the page reads them (opaque to the server: fields may be missing). */
interface RunView {
  id?: string;
  status?: string;
  trigger?: string;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  attempts?: unknown[];
  result?: { date?: string } | null;
}

const STATUS_LABELS: Record<string, string> = {
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  skipped: 'Skipped',
};

/**
 * The daily analytics as pages: daily statistics, the hour-of-day heatmap, temperature spikes, correlations,
 * idle and wasted GPU-hours, energy, throttling, and the runs (history, "Run now" where the server can run
 * them, the progress of one running). Any range of days with results (`from`, `to` in the address).
 */
export class AnalyticsView {
  readonly el: HTMLElement;
  private readonly tabs = h('nav', {
    class: 'tabs',
    'aria-label': 'Analytics pages',
    'data-testid': 'analytics-tabs',
  });
  private readonly fromInput = h('input', {
    type: 'date',
    id: 'analytics-from',
    'data-testid': 'analytics-from',
  });
  private readonly toInput = h('input', { type: 'date', id: 'analytics-to', 'data-testid': 'analytics-to' });
  private readonly rangeNote = h('span', {
    class: 'muted',
    'data-testid': 'analytics-range',
    role: 'status',
  });
  private readonly page = h('div', { class: 'analytics-page', 'data-testid': 'analytics-page' });
  private readonly rows = new Map<string, Promise<Row[]>>();
  private dates: string[] | null = null;
  private route: AnalyticsRoute = { view: 'analytics', tab: 'daily', from: null, to: null };
  private runsTimer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  /** The id of the run this page started, until the history shows it finished. */
  private awaitedRun: string | null = null;

  constructor() {
    const form = h(
      'form',
      { class: 'range-custom', 'aria-label': 'Days', 'data-testid': 'analytics-range-form' },
      h('label', { for: 'analytics-from' }, 'From'),
      this.fromInput,
      h('label', { for: 'analytics-to' }, 'to'),
      this.toInput,
      h('button', { type: 'submit', 'data-testid': 'analytics-apply' }, 'Show'),
      this.rangeNote,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const [from, to] = [this.fromInput.value || null, this.toInput.value || null];
      location.hash = formatRoute({ ...this.route, from, to });
    });
    this.el = h(
      'section',
      { class: 'analytics-view', 'data-testid': 'analytics-view', 'aria-labelledby': 'analytics-title' },
      h('h2', { id: 'analytics-title' }, 'Daily analytics'),
      this.tabs,
      form,
      this.page,
    );
  }

  show(route: AnalyticsRoute): void {
    this.route = route;
    this.tabs.replaceChildren(
      ...ANALYTICS_TABS.map((tab) =>
        h(
          'a',
          {
            class: 'range',
            href: `/${formatRoute({ ...route, tab })}`,
            'data-testid': `tab-${tab}`,
            'aria-current': tab === route.tab ? 'page' : undefined,
          },
          ANALYTICS_TAB_LABELS[tab],
        ),
      ),
    );
    void this.render();
  }

  hide(): void {
    clearTimeout(this.runsTimer);
    this.generation++;
  }

  private async render(): Promise<void> {
    const generation = ++this.generation;
    clearTimeout(this.runsTimer);
    delete this.el.dataset.loaded;
    this.page.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    const tab = this.route.tab;
    try {
      const content = tab === 'runs' ? await this.runsPage() : await this.resultsPage(tab);
      if (generation !== this.generation) return;
      this.page.replaceChildren(content);
    } catch (err) {
      if (generation !== this.generation) return;
      this.page.replaceChildren(
        h('p', { class: 'empty', 'data-testid': 'analytics-error' }, unavailable(err)),
      );
    }
    this.el.dataset.loaded = tab;
  }

  /** The days with results in the range of the address (default: the latest DEFAULT_DAYS). */
  private async days(): Promise<string[]> {
    this.dates ??= (await api<AnalyticsDatesResponse>('/api/analytics')).dates.slice().sort();
    const all = this.dates;
    const to = this.route.to ?? all.at(-1) ?? null;
    const from = this.route.from ?? all.filter((d) => !to || d <= to).slice(-DEFAULT_DAYS)[0] ?? null;
    this.fromInput.value = from ?? '';
    this.toInput.value = to ?? '';
    const days = all.filter((d) => (!from || d >= from) && (!to || d <= to));
    setText(
      this.rangeNote,
      all.length === 0
        ? 'No analytics results yet.'
        : `${days.length} day${days.length === 1 ? '' : 's'} with results (of ${all.length}: ${all[0]} to ${all.at(-1)})`,
    );
    return days;
  }

  private async results(analysis: string, days: string[]): Promise<Row[]> {
    const out: Row[][] = days.map(() => []);
    await eachLimited(
      days.map((d, i) => [d, i] as const),
      FETCHES_AT_ONCE,
      async ([date, i]) => {
        const key = `${date}/${analysis}`;
        let rows = this.rows.get(key);
        if (!rows) {
          rows = allRows(date, analysis).then(
            (all) => all.map((row) => ({ ...row, date })),
            (err: unknown) => {
              this.rows.delete(key);
              if (err instanceof ApiCallError && err.status === 404) return [];
              throw err;
            },
          );
          this.rows.set(key, rows);
        }
        out[i] = await rows;
      },
    );
    return out.flat();
  }

  private async resultsPage(tab: Exclude<AnalyticsTab, 'runs'>): Promise<HTMLElement> {
    const days = await this.days();
    if (days.length === 0) {
      return h(
        'p',
        { class: 'empty', 'data-testid': 'analytics-empty' },
        'No analytics results in this range.',
      );
    }
    switch (tab) {
      case 'daily':
        return this.dailyPage(await this.results('daily_stats', days));
      case 'heatmap':
        return heatmapPage(days, await this.results('hourly_patterns', days));
      case 'spikes':
        return spikesPage(await this.results('temperature_spikes', days));
      case 'correlations':
        return correlationsPage(days, await this.results('correlations', days));
      case 'idle':
        return idlePage(await this.results('idle_time', days));
      case 'energy':
        return energyPage(await this.results('daily_stats', days));
      case 'throttle':
        return throttlePage(await this.results('daily_stats', days));
    }
  }

  private dailyPage(rows: Row[]): HTMLElement {
    const table = new SortableTable<Row>('daily-table', 'Daily statistics', DAILY_COLUMNS, 'date');
    return scopedTable(
      'daily',
      'Daily statistics',
      'A click on a heading sorts by that column.',
      table,
      rows,
    );
  }

  private async runsPage(): Promise<HTMLElement> {
    const body = await api<RunsResponse>('/api/runs');
    const runs = body.runs as RunView[];
    const running = runs.find((r) => r.status === 'running');
    // The run this page started may not be in the history yet: ask again until it is there and finished.
    const awaited = this.awaitedRun === null ? undefined : runs.find((r) => r.id === this.awaitedRun);
    const waiting = this.awaitedRun !== null && (awaited === undefined || awaited.status === 'running');
    if (!waiting) this.awaitedRun = null;
    const message = h('span', { class: 'muted', 'data-testid': 'run-status', role: 'status' });
    const controls = h('div', { class: 'toolbar' });
    if (body.canRun) {
      const button = h(
        'button',
        { type: 'button', 'data-testid': 'run-start', disabled: Boolean(running) || waiting },
        'Run now',
      );
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          const started = await api<TriggerResponse>('/api/runs', { method: 'POST' });
          this.awaitedRun = (started.run as RunView | null)?.id ?? null;
          setText(message, 'Run started.');
        } catch (err) {
          setText(message, err instanceof Error ? err.message : String(err));
        }
        void this.render();
      });
      controls.append(button);
    } else {
      controls.append(
        h(
          'p',
          { class: 'notice', 'data-testid': 'cannot-run' },
          body.cannotRunReason ?? 'This server cannot run analytics.',
        ),
      );
    }
    controls.append(
      h(
        'span',
        { class: 'muted', 'data-testid': 'run-next' },
        body.nextRunAt === null ? 'No run scheduled.' : `Next run ${dateTime(body.nextRunAt)}.`,
      ),
      message,
    );
    if (running || waiting) {
      controls.append(
        h(
          'span',
          { class: 'progress', 'data-testid': 'run-progress' },
          h('progress', { 'aria-label': 'Analytics run in progress' }),
          running
            ? ` running for ${duration(Date.now() - (running.startedAt ?? Date.now()))}, attempt ${running.attempts?.length || 1}`
            : ' starting',
        ),
      );
      // Asked again until the run ends.
      const generation = this.generation;
      this.runsTimer = setTimeout(() => {
        if (generation === this.generation) void this.render();
      }, 1000);
    }
    const table = new SortableTable<RunView>(
      'runs-table',
      'Analytics runs, latest first',
      [
        { key: 'status', label: 'Status', value: (r) => STATUS_LABELS[r.status ?? ''] ?? r.status ?? null },
        { key: 'day', label: 'Day analysed', value: (r) => r.result?.date ?? null },
        {
          key: 'trigger',
          label: 'Started by',
          value: (r) =>
            r.trigger === 'manual' ? 'Run now' : r.trigger === 'schedule' ? 'Schedule' : (r.trigger ?? null),
        },
        {
          key: 'started',
          label: 'Started',
          value: (r) => r.startedAt ?? null,
          show: (r) => dateTime(r.startedAt),
        },
        {
          key: 'duration',
          label: 'Duration',
          numeric: true,
          value: (r) => (r.startedAt && r.finishedAt ? r.finishedAt - r.startedAt : null),
          show: (r) =>
            r.startedAt && r.finishedAt
              ? duration(r.finishedAt - r.startedAt)
              : r.status === 'running'
                ? 'running'
                : '—',
        },
        { key: 'attempts', label: 'Attempts', numeric: true, value: (r) => r.attempts?.length ?? null },
        { key: 'error', label: 'Error', value: (r) => r.error ?? null, show: (r) => r.error ?? '' },
      ],
      'started',
      true,
    );
    table.setRows(runs);
    return h(
      'section',
      { 'aria-label': 'Analytics runs' },
      controls,
      runs.length === 0 ? h('p', { class: 'empty', 'data-testid': 'runs-empty' }, 'No runs yet.') : table.el,
    );
  }
}

/**
 * The box a wide grid scrolls in sideways on a narrow screen: a named region in the Tab order, so that the
 * keyboard can scroll it too (the arrow keys once it has the focus).
 */
function scrollBox(label: string, testid: string): HTMLElement {
  return h('div', {
    class: 'table-wrap',
    role: 'region',
    'aria-label': label,
    tabindex: 0,
    'data-testid': testid,
  });
}

function heatmapPage(days: string[], rows: Row[]): HTMLElement {
  const gpus = [...new Map(rows.filter((r) => r.scope !== 'fleet').map((r) => [String(r.uuid), gpuName(r)]))];
  gpus.sort((a, b) => a[1].localeCompare(b[1]));
  const who = h(
    'select',
    { id: 'heatmap-gpu', 'data-testid': 'heatmap-gpu' },
    new Option('The fleet', ''),
    ...gpus.map(([uuid, name]) => new Option(name, uuid)),
  );
  const metric = h(
    'select',
    { id: 'heatmap-metric', 'data-testid': 'heatmap-metric' },
    ...Object.entries(HEAT_METRICS).map(([key, m]) => new Option(m.label, key)),
  );
  const box = scrollBox('Hour-of-day heatmap', 'heatmap-box');
  const draw = () => {
    const key = metric.value as HeatMetric;
    const mine = rows.filter((r) => (who.value ? r.uuid === who.value : r.scope === 'fleet'));
    const at = new Map(mine.map((r) => [`${r.date} ${r.hour_utc}`, num(r, key)]));
    const values = [...at.values()].filter((v): v is number => v !== null);
    const max = Math.max(1, ...values);
    const hoursRow = Array.from({ length: 24 }, (_, hour) => hour);
    box.replaceChildren(
      h(
        'table',
        { class: 'heatmap', 'data-testid': 'heatmap' },
        h('caption', { class: 'visually-hidden' }, `${HEAT_METRICS[key].label} by day and hour of day (UTC)`),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Day \\ hour (UTC)'),
            ...hoursRow.map((hr) => h('th', { scope: 'col' }, String(hr))),
          ),
        ),
        h(
          'tbody',
          {},
          ...days.map((day) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, day),
              ...hoursRow.map((hour) => {
                const v = at.get(`${day} ${hour}`) ?? null;
                const share = v === null ? 0 : Math.round((100 * v) / max);
                return withVar(
                  h(
                    'td',
                    {
                      'data-value': v === null ? '' : v,
                      title: `${day} ${String(hour).padStart(2, '0')}:00 UTC: ${fixed(v, 1)}`,
                      class: v === null ? 'none' : undefined,
                    },
                    fixed(v, HEAT_METRICS[key].digits),
                  ),
                  '--heat',
                  // At most 55 % of the colour under the text: the text keeps its contrast in both themes.
                  `${Math.round(share * 0.55)}%`,
                );
              }),
            ),
          ),
        ),
      ),
    );
  };
  who.addEventListener('change', draw);
  metric.addEventListener('change', draw);
  draw();
  return h(
    'section',
    { 'aria-label': 'Hour of day' },
    h(
      'div',
      { class: 'filters' },
      h('label', { for: 'heatmap-gpu' }, h('span', { class: 'muted' }, 'Of'), who),
      h('label', { for: 'heatmap-metric' }, h('span', { class: 'muted' }, 'Measure'), metric),
    ),
    h('p', { class: 'muted' }, 'Each cell is the mean of that hour of that day; the darker, the higher.'),
    box,
  );
}

/** The GPU's charts around a moment: 15 minutes either side. */
function chartAt(uuid: string, ts: number): string {
  return `/${formatRoute({ view: 'gpu', uuid, range: { from: ts - 15 * 60_000, to: ts + 15 * 60_000 } })}`;
}

function spikesPage(rows: Row[]): HTMLElement {
  const table = new SortableTable<Row>(
    'spikes-table',
    'Temperature spikes',
    [
      { key: 'ts', label: 'Time', value: (r) => num(r, 'ts'), show: (r) => dateTime(num(r, 'ts')) },
      {
        key: 'gpu',
        label: 'GPU',
        value: gpuName,
        show: (r) =>
          h(
            'a',
            { href: chartAt(String(r.uuid), num(r, 'ts') ?? 0), 'data-testid': 'spike-link' },
            gpuName(r),
          ),
      },
      numeric('from_celsius', 'From (°C)', 0),
      numeric('to_celsius', 'To (°C)', 0),
      numeric('rise_celsius', 'Rise (°C)', 1),
      numeric('interval_seconds', 'Over (s)', 0),
    ],
    'ts',
    true,
    SPIKES_SHOWN,
  );
  table.setRows(rows);
  const shown = rows.length > SPIKES_SHOWN ? `; the first ${SPIKES_SHOWN} in the table's order shown` : '';
  return h(
    'section',
    { 'aria-label': 'Temperature spikes' },
    h(
      'p',
      { class: 'muted', 'data-testid': 'spikes-count' },
      `${rows.length} spike${rows.length === 1 ? '' : 's'}${shown} (a click on a heading sorts them all); a GPU opens its charts at that moment.`,
    ),
    table.el,
  );
}

function correlationsPage(days: string[], rows: Row[]): HTMLElement {
  const dayPick = h(
    'select',
    { id: 'corr-day', 'data-testid': 'corr-day' },
    ...days
      .slice()
      .reverse()
      .map((d) => new Option(d, d)),
  );
  const who = h('select', { id: 'corr-gpu', 'data-testid': 'corr-gpu' });
  const box = scrollBox('Correlation matrix', 'corr-box');
  const fillGpus = () => {
    const gpus = rows.filter((r) => r.date === dayPick.value && r.scope !== 'fleet');
    who.replaceChildren(
      new Option('The fleet', ''),
      ...gpus.map((r) => new Option(gpuName(r), String(r.uuid))),
    );
  };
  const draw = () => {
    const row = rows.find(
      (r) => r.date === dayPick.value && (who.value ? r.uuid === who.value : r.scope === 'fleet'),
    );
    if (!row) {
      box.replaceChildren(h('p', { class: 'empty' }, 'No correlations for this day.'));
      return;
    }
    const cpu = num(row, 'corr_temperature_cpu_temperature');
    box.replaceChildren(
      h(
        'table',
        { class: 'matrix', 'data-testid': 'corr-matrix' },
        h('caption', { class: 'visually-hidden' }, 'Correlation (Pearson, -1 to 1) of each pair of measures'),
        h(
          'thead',
          {},
          h('tr', {}, h('td', {}), ...CORR_MEASURES.map(([, label]) => h('th', { scope: 'col' }, label))),
        ),
        h(
          'tbody',
          {},
          ...CORR_MEASURES.map(([a, label]) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, label),
              ...CORR_MEASURES.map(([b]) => {
                const v = correlation(row, a, b);
                return withVar(
                  h(
                    'td',
                    {
                      'data-pair': `${a} ${b}`,
                      class: v === null ? 'none' : v < 0 ? 'negative' : 'positive',
                    },
                    fixed(v, 2),
                  ),
                  '--corr',
                  `${Math.round(Math.abs(v ?? 0) * 55)}%`,
                );
              }),
            ),
          ),
        ),
      ),
      h(
        'p',
        { class: 'muted', 'data-testid': 'corr-cpu' },
        `GPU temperature with its host's CPU temperature: ${fixed(cpu, 2)} · ${fixed(num(row, 'sample_count'), 0)} samples`,
      ),
    );
  };
  dayPick.addEventListener('change', () => {
    fillGpus();
    draw();
  });
  who.addEventListener('change', draw);
  fillGpus();
  draw();
  return h(
    'section',
    { 'aria-label': 'Correlations' },
    h(
      'div',
      { class: 'filters' },
      h('label', { for: 'corr-day' }, h('span', { class: 'muted' }, 'Day'), dayPick),
      h('label', { for: 'corr-gpu' }, h('span', { class: 'muted' }, 'Of'), who),
    ),
    h(
      'p',
      { class: 'muted' },
      'Pearson correlation over the day: 1 rises together, -1 one rises as the other falls.',
    ),
    box,
  );
}

function idlePage(rows: Row[]): HTMLElement {
  const fleet = new SortableTable<Row>(
    'idle-table',
    'Idle and wasted GPU-hours per day, of the fleet',
    [
      DATE_COLUMN,
      numeric('measured_seconds', 'Measured (GPU-h)', 1, 1 / 3600),
      numeric('idle_seconds', 'Idle (GPU-h)', 1, 1 / 3600),
      numeric('idle_holding_memory_seconds', 'Idle holding memory (GPU-h)', 1, 1 / 3600),
      numeric('wasted_gpu_hours', 'Wasted (GPU-h)', 1),
      numeric('idle_share', 'Idle share (%)', 1, 100),
    ],
    'date',
  );
  fleet.setRows(rows.filter((r) => r.scope === 'fleet'));
  const perGpu = totals(
    rows.filter((r) => r.scope !== 'fleet'),
    ['measured_seconds', 'idle_seconds', 'idle_holding_memory_seconds', 'wasted_gpu_hours'],
  ).map((r) => ({
    ...r,
    idle_share: (num(r, 'idle_seconds') ?? 0) / Math.max(1, num(r, 'measured_seconds') ?? 0),
  }));
  const gpus = new SortableTable<Row>(
    'idle-gpus-table',
    'Idle and wasted GPU-hours per GPU over the days',
    [
      GPU_COLUMN,
      numeric('idle_seconds', 'Idle (h)', 1, 1 / 3600),
      numeric('idle_holding_memory_seconds', 'Idle holding memory (h)', 1, 1 / 3600),
      numeric('wasted_gpu_hours', 'Wasted (GPU-h)', 1),
      numeric('idle_share', 'Idle share (%)', 1, 100),
    ],
    'wasted_gpu_hours',
    true,
  );
  gpus.setRows(perGpu);
  return h(
    'section',
    { 'aria-label': 'Idle and wasted GPU-hours' },
    h('h3', {}, 'The fleet, per day'),
    fleet.el,
    h('h3', {}, 'Each GPU, over the days shown'),
    gpus.el,
  );
}

/** Rows summed per GPU over the days: the given columns added up. */
function totals(rows: Row[], keys: string[]): Row[] {
  const by = new Map<string, Row>();
  for (const r of rows) {
    const have = by.get(String(r.uuid)) ?? { ...r, ...Object.fromEntries(keys.map((k) => [k, 0])) };
    for (const k of keys) have[k] = (num(have, k) ?? 0) + (num(r, k) ?? 0);
    by.set(String(r.uuid), have);
  }
  return [...by.values()];
}

function energyPage(rows: Row[]): HTMLElement {
  const fleet = rows.filter((r) => r.scope === 'fleet');
  const max = Math.max(0.001, ...fleet.map((r) => num(r, 'energy_kwh') ?? 0));
  const total = fleet.reduce((sum, r) => sum + (num(r, 'energy_kwh') ?? 0), 0);
  const bars = h(
    'ul',
    { class: 'bars', 'data-testid': 'energy-bars', 'aria-label': 'Energy of the fleet per day' },
    ...fleet.map((r) => {
      const kwh = num(r, 'energy_kwh');
      return h(
        'li',
        { 'data-date': String(r.date), 'data-kwh': kwh ?? '' },
        h('span', { class: 'bar-label' }, String(r.date)),
        withVar(h('span', { class: 'energy-bar' }), '--share', `${(100 * (kwh ?? 0)) / max}%`),
        h('span', { class: 'bar-value' }, fixed(kwh, 1, 'kWh')),
      );
    }),
  );
  const gpus = new SortableTable<Row>(
    'energy-gpus-table',
    'Energy per GPU over the days',
    [
      GPU_COLUMN,
      numeric('energy_kwh', 'Energy (kWh)', 2),
      numeric('power_avg_watts', 'Power, mean of the daily means (W)', 0),
    ],
    'energy_kwh',
    true,
  );
  const perGpu = totals(
    rows.filter((r) => r.scope !== 'fleet'),
    ['energy_kwh', 'power_avg_watts'],
  ).map((r) => ({
    ...r,
    power_avg_watts: (num(r, 'power_avg_watts') ?? 0) / rows.filter((x) => x.uuid === r.uuid).length,
  }));
  gpus.setRows(perGpu);
  return h(
    'section',
    { 'aria-label': 'Energy' },
    h(
      'p',
      { 'data-testid': 'energy-total' },
      `The fleet used ${total.toFixed(1)} kWh over ${fleet.length} days.`,
    ),
    bars,
    h('h3', {}, 'Each GPU, over the days shown'),
    gpus.el,
  );
}

function throttlePage(rows: Row[]): HTMLElement {
  const h1 = (key: string, label: string) => numeric(key, label, 2, 1 / 3600);
  const table = new SortableTable<Row>(
    'throttle-table',
    'Throttle time per day',
    [
      DATE_COLUMN,
      GPU_COLUMN,
      h1('throttle_measured_seconds', 'Measured (h)'),
      h1('throttled_seconds', 'Throttled (h)'),
      h1('throttled_power_seconds', 'Power cap (h)'),
      h1('throttled_thermal_seconds', 'Thermal (h)'),
      h1('throttled_hw_slowdown_seconds', 'HW slowdown (h)'),
      h1('throttled_sync_boost_seconds', 'Sync boost (h)'),
      {
        key: 'share',
        label: 'Throttled share (%)',
        numeric: true,
        value: (r) => {
          const measured = num(r, 'throttle_measured_seconds');
          return measured ? (100 * (num(r, 'throttled_seconds') ?? 0)) / measured : null;
        },
        show: (r) => {
          const measured = num(r, 'throttle_measured_seconds');
          return fixed(measured ? (100 * (num(r, 'throttled_seconds') ?? 0)) / measured : null, 1);
        },
      },
    ],
    'date',
  );
  const note = 'Time with the clocks held back, by reason, from the clock event reasons.';
  return scopedTable('throttle', 'Throttling', note, table, rows);
}

/** Every row of one result of one day, page after page while the server says it is truncated (at most 20). */
async function allRows(date: string, analysis: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (let page = 0; page < 20; page++) {
    const r = await api<AnalyticsResultResponse>(`/api/analytics/${date}/${analysis}?offset=${rows.length}`);
    rows.push(...r.rows);
    if (!r.truncated || r.rows.length === 0) break;
  }
  return rows;
}

/** Sets a CSS variable on an element (through the CSSOM: the page's CSP refuses style attributes). */
function withVar<E extends HTMLElement>(el: E, name: string, value: string): E {
  el.style.setProperty(name, value);
  return el;
}

function unavailable(err: unknown): string {
  if (err instanceof ApiCallError && err.code === 'NOT_CONFIGURED') return 'This server serves no analytics.';
  return `Analytics unavailable: ${err instanceof Error ? err.message : String(err)}`;
}

/** A table of daily rows with a choice of the fleet's row or each GPU's (`scope`), and a note above it. */
function scopedTable(
  id: string,
  label: string,
  note: string,
  table: SortableTable<Row>,
  rows: Row[],
): HTMLElement {
  const scope = h(
    'select',
    { id: `${id}-scope`, 'data-testid': `${id}-scope` },
    new Option('The fleet', 'fleet'),
    new Option('Each GPU', 'gpu'),
  );
  const show = () => table.setRows(rows.filter((r) => r.scope === scope.value));
  scope.addEventListener('change', show);
  show();
  return h(
    'section',
    { 'aria-label': label },
    h(
      'div',
      { class: 'filters' },
      h('label', { for: `${id}-scope` }, h('span', { class: 'muted' }, 'Rows'), scope),
    ),
    h('p', { class: 'muted' }, note),
    table.el,
  );
}
