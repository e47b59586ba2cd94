/**
 * The gpumon page: the fleet overview or one GPU's detail (the view and its selection in the address's hash,
 * route.ts), the health badge and the analytics runs. History comes from the REST API, live updates from one
 * server-sent event stream that is open only while the page is visible. A server with a token shows the token
 * form first (login.ts).
 */
import type { CatalogResponse, FleetEnergyResponse, HealthResponse } from '../src/server/api-types.ts';
import { AlertsView } from './alerts-view.ts';
import { AnalyticsView } from './analytics-view.ts';
import { api, whenUnauthorized } from './api.ts';
import { must, setText } from './dom.ts';
import { aggregate } from './fleet-model.ts';
import { FleetStore } from './fleet-store.ts';
import { FleetOverview } from './fleet-view.ts';
import { GpuDetail } from './gpu-detail.ts';
import { type BadgeState, badgeOf, unreachableBadge } from './health-badge.ts';
import { LiveStream, type StreamStatus } from './live-stream.ts';
import { askForToken, hasSession } from './login.ts';
import { formatRoute, parseRoute, type Route, sameRange } from './route.ts';
import { RunsPanel } from './runs-panel.ts';
import { type UnitsByMetric, unitsOf } from './units.ts';

const viewBox = must(document, '[data-testid="view"]');
const status = must(document, '[data-testid="stream-status"]');
const count = must(document, '[data-testid="gpu-count"]');
const notice = must(document, '[data-testid="source-notice"]');
const version = must(document, '[data-testid="version"]');
const login = must<HTMLFormElement>(document, '[data-testid="login"]');
const healthBadge = must(document, '[data-testid="health"]');
const analytics = must(document, '[data-testid="analytics"]');

const store = new FleetStore();
const overview = new FleetOverview(store, (filter, sort) => {
  location.hash = formatRoute({ view: 'fleet', filter, sort });
});
let detail: GpuDetail | null = null;
const alerts = new AlertsView((filter) => {
  location.hash = formatRoute({ view: 'alerts', filter });
});
const analyticsView = new AnalyticsView();
let currentView: Route['view'] = 'fleet';
const viewLinks = [...document.querySelectorAll<HTMLAnchorElement>('[data-testid="views"] a')];
let streamStatus: StreamStatus = 'connecting';
/** null until /api/health answers; false on a server without a live source. */
let liveSource: boolean | null = null;

let units: Promise<UnitsByMetric> | null = null;
function loadUnits(): Promise<UnitsByMetric> {
  units ??= api<CatalogResponse>('/api/catalog').then(
    (c) => unitsOf(c.metrics),
    (err: unknown) => {
      units = null;
      throw err;
    },
  );
  return units;
}

/** Shows the view the address names. */
async function route(): Promise<void> {
  const to: Route = parseRoute(location.hash);
  if (to.view !== 'gpu') {
    detail?.destroy();
    detail = null;
  }
  if (to.view !== 'alerts') alerts.hide();
  if (to.view !== 'analytics') analyticsView.hide();
  if (to.view === 'fleet') {
    overview.setFilter(to.filter, to.sort);
    if (viewBox.firstChild !== overview.el) viewBox.replaceChildren(overview.el);
    analytics.hidden = false;
  } else if (to.view === 'analytics') {
    if (viewBox.firstChild !== analyticsView.el) viewBox.replaceChildren(analyticsView.el);
    analyticsView.show(to);
    analytics.hidden = true;
  } else if (to.view === 'alerts') {
    if (viewBox.firstChild !== alerts.el) viewBox.replaceChildren(alerts.el);
    alerts.show(to.filter);
    analytics.hidden = true;
  } else if (detail?.uuid !== to.uuid || !sameRange(detail.range, to.range)) {
    const sameGpu = detail?.uuid === to.uuid;
    detail?.destroy();
    const next = new GpuDetail(to.uuid, store, await loadUnits().catch(() => new Map()), to.range);
    detail = next;
    viewBox.replaceChildren(next.el);
    analytics.hidden = true;
    if (!sameGpu) window.scrollTo(0, 0);
  }
  currentView = to.view;
  for (const link of viewLinks) {
    if (link.dataset.view === to.view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  showState();
}

/** The stream badge, the GPU count and the page title: what the page shows and whether it is live. */
function showState(): void {
  const state = liveSource === false ? 'no live source' : streamStatus;
  status.dataset.status = liveSource === false ? 'none' : streamStatus;
  setText(status, state);
  const n = store.size;
  setText(count, liveSource === false && n === 0 ? '' : `${n} GPU${n === 1 ? '' : 's'}`);
  overview.liveSource = liveSource;
  const parts = [state];
  if (detail) parts.push(detail.name);
  else if (currentView === 'alerts') parts.push('alerts');
  else if (currentView === 'analytics') parts.push('analytics');
  else if (n > 0) {
    const alerting = aggregate(store.rows(), store.idle).states.alerting;
    parts.push(`${n} GPU${n === 1 ? '' : 's'}${alerting ? `, ${alerting} alerting` : ''}`);
  }
  const title = `${parts.join(' · ')} · gpumon`;
  if (document.title !== title) document.title = title;
}

store.onChange(() => {
  if (currentView === 'fleet') overview.render();
  showState();
});

const stream = new LiveStream(
  '/api/stream',
  {
    snapshot: (data) => store.snapshot(data),
    samples: (data) => store.samples(data),
    alerts: (data) => store.alerts(data),
  },
  (s) => {
    streamStatus = s;
    showState();
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
    liveSource = health.sources.length > 0;
    overview.liveSource = liveSource;
    const notices = health.sources.map((s) => s.notice).filter((n): n is string => Boolean(n));
    notice.hidden = notices.length === 0;
    setText(notice, notices.join(' · '));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    showHealth(unreachableBadge(message));
    notice.hidden = false;
    setText(notice, `server unreachable: ${message}`);
  }
  if (currentView === 'fleet') overview.render();
  showState();
}

/** Until the server knows the day's energy (no GPU sampled yet, or no answer), it is asked again this soon. */
const ENERGY_RETRY_MS = 5_000;
let energyRetry: ReturnType<typeof setTimeout> | undefined;

/** The fleet's energy since local midnight, for the fleet's aggregates. */
async function loadEnergy(): Promise<void> {
  clearTimeout(energyRetry);
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  let known = false;
  try {
    const body = await api<FleetEnergyResponse>(`/api/fleet/energy?from=${midnight.getTime()}`);
    known = body.gpus > 0;
    overview.energyToday = known ? `${body.kwh.toFixed(1)} kWh` : '—';
  } catch {
    overview.energyToday = '—';
  }
  // A page opened before the first sample would otherwise show '—' until the next minute's refresh.
  if (!known) {
    energyRetry = setTimeout(() => {
      if (running && !document.hidden) void loadEnergy();
    }, ENERGY_RETRY_MS);
  }
  if (currentView === 'fleet') overview.render();
}

/** The energy is asked again this often while the page is visible. */
const ENERGY_REFRESH_MS = 60_000;
setInterval(() => {
  if (running && !document.hidden) void loadEnergy();
}, ENERGY_REFRESH_MS);

/** The health is asked again this often while the page is visible. */
const HEALTH_REFRESH_MS = 15_000;
setInterval(() => {
  if (running && !document.hidden) void loadHealth();
}, HEALTH_REFRESH_MS);

const runs = new RunsPanel(analytics);

function refreshSlowParts(): void {
  void loadHealth();
  void loadEnergy();
  void runs.refresh();
}
let running = false;

function start(): void {
  running = true;
  stream.start();
  refreshSlowParts();
  void route();
}

/** The server asks for the token (none given yet, or a new one since): stop, and show the form. */
function signedOut(): void {
  if (!running && !login.hidden) return;
  running = false;
  stream.stop();
  askForToken(login, start);
}

whenUnauthorized(signedOut);
window.addEventListener('hashchange', () => void route());
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
