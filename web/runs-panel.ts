import type {
  AnalyticsDatesResponse,
  AnalyticsSummaryResponse,
  RunsResponse,
  TriggerResponse,
} from '../src/server/api-types.ts';
import { ApiCallError, api } from './api.ts';
import { h } from './dom.ts';
import { cell, dateTime } from './format.ts';

const RUNS_SHOWN = 10;
/** Fields of a run record shown first, when present; the others follow. */
const RUN_FIELDS = ['id', 'status', 'state', 'trigger', 'startedAt', 'finishedAt', 'durationMs', 'error'];

/** The analytics section: recent runs, a "run now" button, and the summary of the latest day. */
export class RunsPanel {
  private readonly runsBox = h('div', { 'data-testid': 'runs' });
  private readonly nextRun = h('span', { class: 'muted', 'data-testid': 'next-run' });
  private readonly message = h('span', { class: 'muted', 'data-testid': 'run-message' });
  private readonly button = h('button', { type: 'button', 'data-testid': 'run-now' }, 'Run now');
  private readonly summaryBox = h('div', { 'data-testid': 'analytics-summary' });

  constructor(root: HTMLElement) {
    root.replaceChildren(
      h('h2', {}, 'Analytics'),
      h('div', { class: 'toolbar' }, this.button, this.nextRun, this.message),
      h(
        'div',
        { class: 'columns' },
        h('section', {}, h('h3', {}, 'Runs'), this.runsBox),
        h('section', {}, h('h3', {}, 'Latest summary'), this.summaryBox),
      ),
    );
    this.button.addEventListener('click', () => void this.trigger());
  }

  async refresh(): Promise<void> {
    await Promise.all([this.loadRuns(), this.loadSummary()]);
  }

  private async loadRuns(): Promise<void> {
    try {
      const { runs, nextRunAt } = await api<RunsResponse>('/api/runs');
      this.button.disabled = false;
      this.button.hidden = false;
      this.nextRun.textContent = nextRunAt === null ? 'no run scheduled' : `next run ${dateTime(nextRunAt)}`;
      this.runsBox.replaceChildren(
        runs.length === 0 ? h('p', { class: 'muted' }, 'No runs yet.') : runsTable(runs.slice(0, RUNS_SHOWN)),
      );
    } catch (err) {
      this.button.disabled = true;
      this.button.hidden = err instanceof ApiCallError && err.code === 'NOT_CONFIGURED';
      this.runsBox.replaceChildren(h('p', { class: 'muted' }, unavailable(err, 'Analytics runs')));
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
      this.summaryBox.replaceChildren(h('p', {}, date), recordTable(summary));
    } catch (err) {
      this.summaryBox.replaceChildren(h('p', { class: 'muted' }, unavailable(err, 'Analytics results')));
    }
  }

  private async trigger(): Promise<void> {
    this.button.disabled = true;
    try {
      await api<TriggerResponse>('/api/runs', { method: 'POST' });
      this.message.textContent = 'Run started.';
    } catch (err) {
      this.message.textContent = err instanceof ApiCallError ? err.message : String(err);
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

function runsTable(runs: unknown[]): HTMLElement {
  const records = runs.map((r) =>
    r && typeof r === 'object' ? (r as Record<string, unknown>) : { value: r },
  );
  const keys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) keys.add(k);
  const columns = [
    ...RUN_FIELDS.filter((k) => keys.has(k)),
    ...[...keys].filter((k) => !RUN_FIELDS.includes(k)),
  ].slice(0, 7);
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...records.map((r) =>
        h('tr', { 'data-testid': 'run' }, ...columns.map((c) => h('td', {}, runCell(c, r[c])))),
      ),
    ),
  );
}

function runCell(column: string, value: unknown): string {
  return /At$/.test(column) && typeof value === 'number' ? dateTime(value) : cell(value);
}

function recordTable(value: unknown): HTMLElement {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return h('pre', {}, JSON.stringify(value, null, 2));
  return h(
    'table',
    { class: 'record' },
    h(
      'tbody',
      {},
      ...Object.entries(value).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, cell(v)))),
    ),
  );
}
