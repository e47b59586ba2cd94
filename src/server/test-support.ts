import { silentLogger } from '../log.ts';
import { type GpuSample, nullIdentity, nullMetrics } from '../metrics/sample.ts';
import type { LiveListener, LiveState, LiveView } from '../pipeline/live-state.ts';
import type { SourceHealth } from '../sources/source.ts';
import type { ServerDeps } from './deps.ts';

/** A sample of GPU `index` on `host`, every metric null unless given. */
export function sampleOf(
  host: string,
  index: number,
  ts: number,
  values: Partial<GpuSample> = {},
): GpuSample {
  return {
    ...nullMetrics(),
    ...nullIdentity(),
    ts,
    host,
    gpu_index: index,
    uuid: `GPU-${host}-${index}`,
    model: 'NVIDIA H100 80GB HBM3',
    pci_bus_id: `00000000:${String(index + 1).padStart(2, '0')}:00.0`,
    driver_version: '550.54.15',
    ...values,
  };
}

export const SIM_HEALTH: SourceHealth = {
  source: 'sim',
  lastSuccessMs: 1,
  lastReadDurationMs: 1,
  errors: {},
  notice: 'no GPU found: simulated GPUs',
};

export function depsOf(live: LiveView, extra: Partial<ServerDeps> = {}): ServerDeps {
  return { live, sources: () => [SIM_HEALTH], logger: silentLogger(), version: '0.1.0-test', ...extra };
}

/** A live view over a `LiveState` that counts its subscribers, to see streams unsubscribe. */
export class CountingLive implements LiveView {
  subscribers = 0;
  constructor(readonly state: LiveState) {}
  latest = () => this.state.latest();
  series: LiveView['series'] = (...args) => this.state.series(...args);
  recentAlerts = (limit: number) => this.state.recentAlerts(limit);
  subscribe(listener: LiveListener): () => void {
    this.subscribers++;
    const off = this.state.subscribe(listener);
    return () => {
      this.subscribers--;
      off();
    };
  }
}
