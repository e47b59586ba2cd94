import { Hono } from 'hono';
import type { HealthCheck, ProbeResponse } from './api-types.ts';
import type { ServerDeps } from './deps.ts';
import { healthResponse, overallStatus } from './health.ts';

/**
 * Where the server's health is answered, all in one place:
 * - `GET /api/health`: status (ok | degraded | failing), the reasons, every check, the version and the sources;
 * - `GET /healthz`: liveness, 200 `{ status: 'alive' }` while the server answers at all;
 * - `GET /readyz`: readiness, 200 `{ status: 'ready', health }` unless a check is failing, then 503
 *   `{ status: 'not ready', health: 'failing' }`.
 * /healthz and /readyz are for probes (the kubelet) and open without the token (security.ts PROBE_PATHS), so
 * they tell the status only; the reasons are in /api/health.
 */
export function healthRoutes(deps: ServerDeps): Hono {
  const api = new Hono();
  const checks = async (): Promise<HealthCheck[]> => (deps.health ? await deps.health() : []);
  const noStore = { 'Cache-Control': 'no-store' };

  api.get('/api/health', async (c) =>
    c.json(healthResponse(await checks(), deps.version, deps.sources()), 200, noStore),
  );

  api.get('/healthz', (c) => c.json({ status: 'alive' } satisfies ProbeResponse, 200, noStore));

  api.get('/readyz', async (c) => {
    const health = overallStatus(await checks());
    const body: ProbeResponse = { status: health === 'failing' ? 'not ready' : 'ready', health };
    return c.json(body, health === 'failing' ? 503 : 200, noStore);
  });

  return api;
}
