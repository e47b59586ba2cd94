import type { MetricName } from '../src/metrics/catalog.ts';
import type { AlertFlags, GpuIdentity } from '../src/server/api-types.ts';

/**
 * What a GPU is doing now, as the fleet overview shows it. The thresholds are the server's
 * `analytics.idleLoadPercent` and `analytics.idleMemoryBytes` (told in the stream's snapshot; their defaults
 * until then), so the page and the daily analytics agree.
 */
export type GpuState = 'alerting' | 'busy' | 'holding' | 'idle' | 'unknown';

export const GPU_STATES: readonly GpuState[] = ['alerting', 'busy', 'holding', 'idle', 'unknown'];

export const STATE_LABELS: Record<GpuState, string> = {
  alerting: 'alerting',
  busy: 'busy',
  holding: 'idle, holding memory',
  idle: 'idle',
  unknown: 'no reading',
};

export const IDLE_LOAD_PERCENT = 5;
export const IDLE_MEMORY_BYTES = 1024 ** 3;

/** Below `loadPercent` a GPU is idle; idle with more than `memoryBytes` in use, it holds memory. */
export interface IdleThresholds {
  loadPercent: number;
  memoryBytes: number;
}

export const DEFAULT_IDLE: IdleThresholds = {
  loadPercent: IDLE_LOAD_PERCENT,
  memoryBytes: IDLE_MEMORY_BYTES,
};

/** One GPU's latest values, as the overview reads them. */
export interface GpuRow {
  id: GpuIdentity;
  ts: number;
  value: (name: MetricName) => number | null;
  alerts: AlertFlags;
}

export function stateOf(row: GpuRow, idle: IdleThresholds = DEFAULT_IDLE): GpuState {
  if (row.alerts.temperature || row.alerts.load || row.alerts.power) return 'alerting';
  const util = row.value('gpu_utilization_percent');
  if (util === null) return 'unknown';
  if (util >= idle.loadPercent) return 'busy';
  const used = row.value('gpu_memory_used_bytes');
  return used !== null && used > idle.memoryBytes ? 'holding' : 'idle';
}

/** The fleet's numbers: GPUs and hosts counted, utilization averaged over the GPUs that report it. */
export interface FleetAggregates {
  gpus: number;
  hosts: number;
  meanUtilization: number | null;
  states: Record<GpuState, number>;
  /** Sum of the power draw of the GPUs that report it, in watts. */
  powerWatts: number | null;
  /** Alert families firing, summed over the GPUs (a GPU hot and over its power counts 2). */
  alertsFiring: number;
}

export function aggregate(rows: readonly GpuRow[], idle: IdleThresholds = DEFAULT_IDLE): FleetAggregates {
  const states: Record<GpuState, number> = { alerting: 0, busy: 0, holding: 0, idle: 0, unknown: 0 };
  const hosts = new Set<string>();
  let utilSum = 0;
  let utilCount = 0;
  let power = 0;
  let powerCount = 0;
  let alertsFiring = 0;
  for (const row of rows) {
    hosts.add(row.id.host);
    states[stateOf(row, idle)]++;
    const util = row.value('gpu_utilization_percent');
    if (util !== null) {
      utilSum += util;
      utilCount++;
    }
    const watts = row.value('gpu_power_draw_watts');
    if (watts !== null) {
      power += watts;
      powerCount++;
    }
    alertsFiring += Number(row.alerts.temperature) + Number(row.alerts.load) + Number(row.alerts.power);
  }
  return {
    gpus: rows.length,
    hosts: hosts.size,
    meanUtilization: utilCount ? utilSum / utilCount : null,
    states,
    powerWatts: powerCount ? power : null,
    alertsFiring,
  };
}

export const SORT_KEYS = {
  host: { label: 'Host, GPU index', metric: null },
  utilization: { label: 'Utilization (high first)', metric: 'gpu_utilization_percent' },
  temperature: { label: 'Temperature (hot first)', metric: 'gpu_temperature_celsius' },
  power: { label: 'Power (high first)', metric: 'gpu_power_draw_watts' },
  memory: { label: 'Memory used (most first)', metric: 'gpu_memory_used_bytes' },
} as const satisfies Record<string, { label: string; metric: MetricName | null }>;

export type SortKey = keyof typeof SORT_KEYS;

export function isSortKey(value: string): value is SortKey {
  return Object.hasOwn(SORT_KEYS, value);
}

export interface FleetFilter {
  host: string | null;
  model: string | null;
  state: GpuState | null;
}

export function matches(row: GpuRow, filter: FleetFilter, idle: IdleThresholds = DEFAULT_IDLE): boolean {
  return (
    (filter.host === null || row.id.host === filter.host) &&
    (filter.model === null || row.id.model === filter.model) &&
    (filter.state === null || stateOf(row, idle) === filter.state)
  );
}

const byIdentity = (a: GpuRow, b: GpuRow) =>
  a.id.host.localeCompare(b.id.host) || a.id.gpu_index - b.id.gpu_index;

/**
 * The rows that pass the filter, grouped by host (hosts in name order), each group sorted by `sort`: a
 * metric highest first, GPUs without a reading last, ties in GPU index order.
 */
export function groupByHost(
  rows: readonly GpuRow[],
  filter: FleetFilter,
  sort: SortKey,
  idle: IdleThresholds = DEFAULT_IDLE,
): { host: string; rows: GpuRow[] }[] {
  const metric = SORT_KEYS[sort].metric;
  const compare = (a: GpuRow, b: GpuRow): number => {
    if (metric !== null) {
      const va = a.value(metric);
      const vb = b.value(metric);
      if (va !== vb) {
        if (va === null) return 1;
        if (vb === null) return -1;
        return vb - va;
      }
    }
    return byIdentity(a, b);
  };
  const groups = new Map<string, GpuRow[]>();
  for (const row of rows) {
    if (!matches(row, filter, idle)) continue;
    const group = groups.get(row.id.host);
    if (group) group.push(row);
    else groups.set(row.id.host, [row]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([host, group]) => ({ host, rows: group.sort(compare) }));
}
