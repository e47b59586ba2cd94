import { type FleetFilter, GPU_STATES, type GpuState, isSortKey, type SortKey } from './fleet-model.ts';

/**
 * What the page shows, kept in the address's hash so that it can be shared and survives a reload:
 * `#host=node-a&state=busy&sort=utilization` (the fleet) or `#gpu=<uuid>&range=7d` (one GPU's detail, with
 * `from=<ISO>&to=<ISO>` for a custom range).
 */
export type Route =
  | { view: 'fleet'; filter: FleetFilter; sort: SortKey }
  | { view: 'gpu'; uuid: string; range: TimeRange }
  | { view: 'alerts'; filter: EpisodeFilter }
  | { view: 'analytics'; tab: AnalyticsTab; from: string | null; to: string | null };

/** The pages of the daily analytics. */
export const ANALYTICS_TABS = [
  'daily',
  'heatmap',
  'spikes',
  'correlations',
  'idle',
  'energy',
  'throttle',
  'runs',
] as const;
export type AnalyticsTab = (typeof ANALYTICS_TABS)[number];
export const ANALYTICS_TAB_LABELS: Record<AnalyticsTab, string> = {
  daily: 'Daily statistics',
  heatmap: 'Hour of day',
  spikes: 'Temperature spikes',
  correlations: 'Correlations',
  idle: 'Idle and wasted',
  energy: 'Energy',
  throttle: 'Throttling',
  runs: 'Runs',
};
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The alert episodes shown: of one rule, host, state (ongoing or ended), or all (null). */
export interface EpisodeFilter {
  rule: string | null;
  host: string | null;
  state: 'ongoing' | 'ended' | null;
}

/** The named ranges of a GPU's charts, up to now (the server's `range` of /api/gpus/:uuid/history). */
export const RANGE_NAMES = ['15m', '1h', '6h', '24h', '7d', '30d'] as const;
export type RangeName = (typeof RANGE_NAMES)[number];
export const RANGE_LABELS: Record<RangeName, string> = {
  '15m': '15 min',
  '1h': '1 h',
  '6h': '6 h',
  '24h': '24 h',
  '7d': '7 d',
  '30d': '30 d',
};

/** A named range up to now, or a custom one (epoch ms, `to` excluded). */
export type TimeRange = { name: RangeName } | { from: number; to: number };

export const DEFAULT_RANGE: { name: RangeName } = { name: '15m' };

/** `range=1h`, or `from=<ISO>&to=<ISO>` (to after from); anything else is the default, the last 15 minutes. */
export function parseRange(params: URLSearchParams): TimeRange {
  const name = params.get('range');
  if (name && (RANGE_NAMES as readonly string[]).includes(name)) return { name: name as RangeName };
  const from = Date.parse(params.get('from') ?? '');
  const to = Date.parse(params.get('to') ?? '');
  if (Number.isFinite(from) && Number.isFinite(to) && to > from) return { from, to };
  return DEFAULT_RANGE;
}

export function sameRange(a: TimeRange, b: TimeRange): boolean {
  if ('name' in a || 'name' in b) return 'name' in a && 'name' in b && a.name === b.name;
  return a.from === b.from && a.to === b.to;
}

export const FLEET_HOME: Route = {
  view: 'fleet',
  filter: { host: null, model: null, state: null },
  sort: 'host',
};

export function parseRoute(hash: string): Route {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const uuid = params.get('gpu');
  if (uuid) return { view: 'gpu', uuid, range: parseRange(params) };
  if (params.get('view') === 'analytics') {
    const tab = params.get('tab') ?? 'daily';
    const day = (name: string) => {
      const value = params.get(name);
      return value && DAY.test(value) ? value : null;
    };
    return {
      view: 'analytics',
      tab: (ANALYTICS_TABS as readonly string[]).includes(tab) ? (tab as AnalyticsTab) : 'daily',
      from: day('from'),
      to: day('to'),
    };
  }
  if (params.get('view') === 'alerts') {
    const episodeState = params.get('state');
    return {
      view: 'alerts',
      filter: {
        rule: params.get('rule') || null,
        host: params.get('host') || null,
        state: episodeState === 'ongoing' || episodeState === 'ended' ? episodeState : null,
      },
    };
  }
  const state = params.get('state');
  const sort = params.get('sort') ?? 'host';
  return {
    view: 'fleet',
    filter: {
      host: params.get('host') || null,
      model: params.get('model') || null,
      state: state && (GPU_STATES as readonly string[]).includes(state) ? (state as GpuState) : null,
    },
    sort: isSortKey(sort) ? sort : 'host',
  };
}

/** The hash of a route, without the defaults (the fleet unfiltered in host order is `#`). */
export function formatRoute(route: Route): string {
  const params = new URLSearchParams();
  if (route.view === 'gpu') {
    params.set('gpu', route.uuid);
    const range = route.range;
    if ('name' in range) {
      if (range.name !== DEFAULT_RANGE.name) params.set('range', range.name);
    } else {
      params.set('from', new Date(range.from).toISOString());
      params.set('to', new Date(range.to).toISOString());
    }
  } else if (route.view === 'analytics') {
    params.set('view', 'analytics');
    if (route.tab !== 'daily') params.set('tab', route.tab);
    if (route.from) params.set('from', route.from);
    if (route.to) params.set('to', route.to);
  } else if (route.view === 'alerts') {
    params.set('view', 'alerts');
    if (route.filter.rule) params.set('rule', route.filter.rule);
    if (route.filter.host) params.set('host', route.filter.host);
    if (route.filter.state) params.set('state', route.filter.state);
  } else {
    if (route.filter.host) params.set('host', route.filter.host);
    if (route.filter.model) params.set('model', route.filter.model);
    if (route.filter.state) params.set('state', route.filter.state);
    if (route.sort !== 'host') params.set('sort', route.sort);
  }
  const text = params.toString();
  return text ? `#${text}` : '#';
}
