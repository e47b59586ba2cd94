import { type FleetFilter, GPU_STATES, type GpuState, isSortKey, type SortKey } from './fleet-model.ts';

/**
 * What the page shows, kept in the address's hash so that it can be shared and survives a reload:
 * `#host=node-a&state=busy&sort=utilization` (the fleet) or `#gpu=<uuid>` (one GPU's detail).
 */
export type Route = { view: 'fleet'; filter: FleetFilter; sort: SortKey } | { view: 'gpu'; uuid: string };

export const FLEET_HOME: Route = {
  view: 'fleet',
  filter: { host: null, model: null, state: null },
  sort: 'host',
};

export function parseRoute(hash: string): Route {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const uuid = params.get('gpu');
  if (uuid) return { view: 'gpu', uuid };
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
  if (route.view === 'gpu') params.set('gpu', route.uuid);
  else {
    if (route.filter.host) params.set('host', route.filter.host);
    if (route.filter.model) params.set('model', route.filter.model);
    if (route.filter.state) params.set('state', route.filter.state);
    if (route.sort !== 'host') params.set('sort', route.sort);
  }
  const text = params.toString();
  return text ? `#${text}` : '#';
}
