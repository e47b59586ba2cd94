/**
 * The gpumon page. History comes from the REST API, live updates from one server-sent event stream that is
 * open only while the page is visible. A server with a token shows the token form first (login.ts).
 */
import type { HealthResponse } from '../src/server/api-types.ts';
import { api, whenUnauthorized } from './api.ts';
import { must, setText } from './dom.ts';
import { FleetView } from './fleet.ts';
import { CHART_METRICS } from './gpu-card.ts';
import { type BadgeState, badgeOf, unreachableBadge } from './health-badge.ts';
import { LiveStream } from './live-stream.ts';
import { askForToken, hasSession } from './login.ts';
import { RunsPanel } from './runs-panel.ts';

const grid = must(document, '[data-testid="gpu-grid"]');
const status = must(document, '[data-testid="stream-status"]');
const count = must(document, '[data-testid="gpu-count"]');
const notice = must(document, '[data-testid="source-notice"]');
const version = must(document, '[data-testid="version"]');
const metricSelect = must<HTMLSelectElement>(document, '[data-testid="chart-metric"]');
const login = must<HTMLFormElement>(document, '[data-testid="login"]');
const healthBadge = must(document, '[data-testid="health"]');

const fleet = new FleetView(grid, (n) => setText(count, `${n} GPU${n === 1 ? '' : 's'}`));

for (const m of CHART_METRICS) metricSelect.append(new Option(m.label, m.name));
metricSelect.addEventListener('change', () => {
  const metric = CHART_METRICS.find((m) => m.name === metricSelect.value);
  if (metric) fleet.setChartMetric(metric);
});

const stream = new LiveStream(
  '/api/stream',
  {
    snapshot: (data) => fleet.snapshot(data),
    samples: (data) => fleet.samples(data),
    alerts: (data) => fleet.alerts(data),
  },
  (s) => {
    status.dataset.status = s;
    setText(status, s);
  },
  () => void hasSession().then((ok) => ok || signedOut()),
);

function showHealth(badge: BadgeState): void {
  healthBadge.dataset.health = badge.state;
  setText(healthBadge, badge.text);
  healthBadge.title = badge.title;
}

async function loadHealth(): Promise<void> {
  try {
    const health = await api<HealthResponse>('/api/health');
    setText(version, `v${health.version}`);
    showHealth(badgeOf(health));
    const notices = health.sources.map((s) => s.notice).filter((n): n is string => Boolean(n));
    notice.hidden = notices.length === 0;
    setText(notice, notices.join(' · '));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    showHealth(unreachableBadge(message));
    notice.hidden = false;
    setText(notice, `server unreachable: ${message}`);
  }
}

/** The health is asked again this often while the page is visible. */
const HEALTH_REFRESH_MS = 15_000;
setInterval(() => {
  if (running && !document.hidden) void loadHealth();
}, HEALTH_REFRESH_MS);

const runs = new RunsPanel(must(document, '[data-testid="analytics"]'));

function refreshSlowParts(): void {
  void loadHealth();
  void runs.refresh();
}
let running = false;

function start(): void {
  running = true;
  stream.start();
  refreshSlowParts();
}

/** The server asks for the token (none given yet, or a new one since): stop, and show the form. */
function signedOut(): void {
  if (!running && !login.hidden) return;
  running = false;
  stream.stop();
  askForToken(login, start);
}

whenUnauthorized(signedOut);
document.addEventListener('visibilitychange', () => {
  if (running && !document.hidden) refreshSlowParts();
});
hasSession().then(
  (ok) => (ok ? start() : signedOut()),
  (err: unknown) => {
    notice.hidden = false;
    setText(notice, `server unreachable: ${err instanceof Error ? err.message : String(err)}`);
  },
);
