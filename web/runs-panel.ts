import type {
  AnalyticsDatesResponse,
  AnalyticsSummaryResponse,
  RunsResponse,
  TriggerResponse,
} from '../src/server/api-types.ts';
import { ApiCallError, api } from './api.ts';
import { h, setText } from './dom.ts';
import { dateTime, duration } from './format.ts';

type Summary = Record<string, unknown>;

const num = (s: Summary, key: string): number | null => {
  const v = s[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const fixed = (v: number | null, digits: number, unit: string) =>
  v === null ? null : `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
const gpuOf = (s: Summary, prefix: string) =>
  s[`${prefix}_host`] === undefined || s[`${prefix}_host`] === null
    ? null
    : `${s[`${prefix}_host`]} · GPU ${s[`${prefix}_gpu_index`]}`;

/** The figures of a day's summary as people read them: label and value with its unit; absent ones left out. */
export function summaryItems(s: Summary): [string, string][] {
  const busiest = gpuOf(s, 'busiest');
  const hottest = gpuOf(s, 'hottest');
  const items: [string, string | null][] = [
    ['GPUs', fixed(num(s, 'gpus'), 0, '')],
    ['Energy', fixed(num(s, 'energy_kwh'), 1, 'kWh')],
    ['Mean utilization', fixed(num(s, 'load_avg_percent'), 1, '%')],
    ['Max temperature', fixed(num(s, 'temperature_max_celsius'), 0, '°C')],
    ['Temperature spikes', fixed(num(s, 'temperature_spikes'), 0, '')],
    ['Wasted GPU-hours', fixed(num(s, 'wasted_gpu_hours'), 1, 'GPU-h')],
    ['Busiest GPU', busiest && `${busiest}, ${fixed(num(s, 'busiest_load_avg_percent'), 0, '%')}`],
    ['Hottest GPU', hottest && `${hottest}, ${fixed(num(s, 'hottest_temperature_max_celsius'), 0, '°C')}`],
  ];
  return items.filter((i): i is [string, string] => i[1] !== null);
}

const STATUS_LABELS: Record<string, string> = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

/**
 * Below the fleet: the latest day's summary in words and units, the latest run, "Run now" where the server
 * can run analytics (else why not), and links to the analytics pages.
 */
export class RunsPanel {
  private readonly latestRun = h('p', { class: 'muted', 'data-testid': 'latest-run' });
  private readonly nextRun = h('span', { class: 'muted', 'data-testid': 'next-run' });
  private readonly message = h('span', { class: 'muted', 'data-testid': 'run-message', role: 'status' });
  private readonly button = h('button', { type: 'button', 'data-testid': 'run-now' }, 'Run now');
  private readonly cannot = h('span', { class: 'notice', 'data-testid': 'cannot-run-panel', hidden: true });
  private readonly summaryBox = h('div', { 'data-testid': 'analytics-summary' });

  constructor(root: HTMLElement) {
    root.replaceChildren(
      h('h2', {}, 'Analytics'),
      h(
        'div',
        { class: 'toolbar' },
        this.button,
        this.cannot,
        this.nextRun,
        this.message,
        h('a', { href: '/#view=analytics', 'data-testid': 'to-analytics' }, 'Daily analytics'),
        h('a', { href: '/#view=analytics&tab=runs' }, 'All runs'),
      ),
      this.latestRun,
      this.summaryBox,
    );
    this.button.addEventListener('click', () => void this.trigger());
  }

  async refresh(): Promise<void> {
    await Promise.all([this.loadRuns(), this.loadSummary()]);
  }

  private async loadRuns(): Promise<void> {
    try {
      const body = await api<RunsResponse>('/api/runs');
      this.button.hidden = !body.canRun;
      this.button.disabled = false;
      this.cannot.hidden = body.canRun;
      setText(this.cannot, body.cannotRunReason ?? '');
      setText(
        this.nextRun,
        body.nextRunAt === null ? 'no run scheduled' : `next run ${dateTime(body.nextRunAt)}`,
      );
      const run = body.runs[0] as
        | {
            status?: string;
            startedAt?: number;
            finishedAt?: number;
            error?: string;
            result?: { date?: string };
          }
        | undefined;
      setText(
        this.latestRun,
        run
          ? `Latest run: ${STATUS_LABELS[run.status ?? ''] ?? run.status}` +
              (run.result?.date ? ` for ${run.result.date}` : '') +
              `, started ${dateTime(run.startedAt)}` +
              (run.startedAt && run.finishedAt ? ` (${duration(run.finishedAt - run.startedAt)})` : '') +
              (run.error ? `: ${run.error}` : '.')
          : 'No runs yet.',
      );
    } catch (err) {
      this.button.hidden = true;
      this.cannot.hidden = true;
      setText(this.latestRun, unavailable(err, 'Analytics runs'));
    }
  }

  private async loadSummary(): Promise<void> {
    try {
      const { dates } = await api<AnalyticsDatesResponse>('/api/analytics');
      const latest = dates[0];
      if (!latest) {
        this.summaryBox.replaceChildren(h('p', { class: 'muted' }, 'No analytics results yet.'));
        return;
      }
      const { date, summary } = await api<AnalyticsSummaryResponse>(`/api/analytics/${latest}`);
      const items = summaryItems(summary && typeof summary === 'object' ? (summary as Summary) : {});
      this.summaryBox.replaceChildren(
        h('h3', {}, `Latest day: ${date}`),
        h(
          'dl',
          { class: 'summary' },
          ...items.map(([label, value]) =>
            h('div', { class: 'summary-item' }, h('dt', {}, label), h('dd', {}, value)),
          ),
        ),
      );
    } catch (err) {
      this.summaryBox.replaceChildren(h('p', { class: 'muted' }, unavailable(err, 'Analytics results')));
    }
  }

  private async trigger(): Promise<void> {
    this.button.disabled = true;
    try {
      await api<TriggerResponse>('/api/runs', { method: 'POST' });
      setText(this.message, 'Run started.');
    } catch (err) {
      setText(this.message, err instanceof ApiCallError ? err.message : String(err));
    } finally {
      await this.loadRuns();
    }
  }
}

function unavailable(err: unknown, what: string): string {
  if (err instanceof ApiCallError && err.code === 'NOT_CONFIGURED')
    return `${what} are not enabled on this server.`;
  return `${what} could not be loaded: ${err instanceof Error ? err.message : String(err)}`;
}
