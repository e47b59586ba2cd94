import type { GpuSample } from '../metrics/sample.ts';
import type { AlertEvent, AlertRule } from '../pipeline/alerts.ts';
import type { LiveView } from '../pipeline/live-state.ts';
import type { AlertFlags, GpuView } from './api-types.ts';

/** How many recent alerts are scanned for flags: the live state keeps at most this many anyway. */
const ALERT_SCAN_LIMIT = 1000;

const FLAG_OF_RULE: Record<AlertRule, keyof AlertFlags> = {
  high_temperature: 'temperature',
  temperature_spike: 'temperature',
  high_load: 'load',
  high_power: 'power',
};

export function noAlertFlags(): AlertFlags {
  return { temperature: false, load: false, power: false };
}

/**
 * The latest sample of every GPU with its alert flags: a flag is up when the GPU raised an alert of that family
 * within `windowMs` before its latest sample (the sample's clock, not the server's, so a replay reads the same).
 */
export function gpuViews(live: LiveView, windowMs: number): GpuView[] {
  const latest = live.latest();
  const byUuid = new Map<string, GpuSample>(latest.map((s) => [s.uuid, s]));
  const flags = new Map<string, AlertFlags>();
  for (const alert of live.recentAlerts(ALERT_SCAN_LIMIT)) raise(flags, byUuid, alert, windowMs);
  return latest.map((s) => ({ ...s, alerts: flags.get(s.uuid) ?? noAlertFlags() }));
}

function raise(
  flags: Map<string, AlertFlags>,
  latest: Map<string, GpuSample>,
  a: AlertEvent,
  windowMs: number,
) {
  const sample = latest.get(a.uuid);
  if (!sample || a.ts < sample.ts - windowMs) return;
  let f = flags.get(a.uuid);
  if (!f) {
    f = noAlertFlags();
    flags.set(a.uuid, f);
  }
  f[FLAG_OF_RULE[a.rule]] = true;
}
