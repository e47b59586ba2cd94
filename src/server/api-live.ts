import { Hono } from 'hono';
import { METRIC_NAMES, METRICS, type MetricName } from '../metrics/catalog.ts';
import type { AlertsResponse, CatalogResponse, GpusResponse, SeriesResponse } from './api-types.ts';
import type { ServerDeps } from './deps.ts';
import { gpuViews } from './gpu-view.ts';
import { badRequest, intQuery, notFound, positiveQuery } from './http-error.ts';
import { liveStreamHandler, type StreamOptions } from './stream.ts';

/** The longest history one series request may ask for, in minutes. */
export const MAX_SERIES_MINUTES = 24 * 60;
export const DEFAULT_SERIES_MINUTES = 15;
export const MAX_ALERTS_LIMIT = 1000;

const CATALOG: CatalogResponse = {
  metrics: METRICS.map((m) => ({ name: m.name, unit: m.unit, kind: m.kind, help: m.help })),
};

function isMetricName(name: string): name is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(name);
}

/** Catalog, the GPUs' latest state, series, alerts and the live stream (health: api-health.ts). */
export function liveRoutes(deps: ServerDeps, options: StreamOptions & { now: () => number }): Hono {
  const api = new Hono();

  api.get('/catalog', (c) => c.json(CATALOG));

  api.get('/gpus', (c) => {
    const body: GpusResponse = { gpus: gpuViews(deps.live, options.alertWindowMs) };
    return c.json(body);
  });

  api.get('/gpus/:uuid/series', (c) => {
    const metric = c.req.query('metric');
    if (!metric) badRequest('query parameter metric is required: a metric name from /api/catalog');
    if (!isMetricName(metric)) {
      badRequest(`query parameter metric: unknown metric ${JSON.stringify(metric)}; see /api/catalog`);
    }
    const minutes = positiveQuery(c, 'minutes', DEFAULT_SERIES_MINUTES, MAX_SERIES_MINUTES);
    const uuid = c.req.param('uuid');
    const series = deps.live.series(uuid, metric, options.now() - minutes * 60_000);
    if (!series) notFound(`no GPU with uuid ${JSON.stringify(uuid)}`);
    const body: SeriesResponse = series;
    return c.json(body);
  });

  api.get('/alerts', (c) => {
    const limit = intQuery(c, 'limit', 100, 1, MAX_ALERTS_LIMIT);
    const body: AlertsResponse = { alerts: deps.live.recentAlerts(limit) };
    return c.json(body);
  });

  api.get('/stream', liveStreamHandler(deps, options));

  return api;
}
