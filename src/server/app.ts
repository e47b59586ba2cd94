import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describeError, isGpumonError } from '../errors.ts';
import { renderPrometheus } from '../metrics/prometheus.ts';
import { analyticsRoutes, runsRoutes } from './api-analytics.ts';
import { liveRoutes } from './api-live.ts';
import type { AppOptions, ServerDeps } from './deps.ts';
import { errorResponse } from './http-error.ts';
import { ASSET_TYPES, type AssetName, WebAssets } from './web-assets.ts';

const DEFAULT_HEARTBEAT_MS = 15_000;

const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The HTTP server of gpumon: the JSON API under /api, the live stream at /api/stream, Prometheus metrics at
 * /metrics, and the page at /.
 * It only reads the live state; it does live work (the stream) only while a client is connected.
 */
export function createApp(deps: ServerDeps, options: AppOptions = {}): Hono {
  const intervalMs = options.sampleIntervalMs ?? null;
  const live = {
    intervalMs,
    alertWindowMs: options.alertWindowMs ?? (intervalMs ? 3 * intervalMs : 10_000),
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    now: options.now ?? Date.now,
  };
  const assets = options.assets ?? new WebAssets();
  const app = new Hono();

  app.route('/api', liveRoutes(deps, live));
  app.route('/api/runs', runsRoutes(deps.runs));
  app.route('/api/analytics', analyticsRoutes(deps.results));

  const serve = (name: AssetName) => async () => {
    const text = await assets.get(name);
    return new Response(text, {
      headers: { 'Content-Type': ASSET_TYPES[name], 'Cache-Control': 'no-cache', ...PAGE_HEADERS },
    });
  };
  app.get('/metrics', (c) =>
    c.text(renderPrometheus(deps.live.latest(), deps.sources()), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
    }),
  );
  app.get('/', serve('index.html'));
  app.get('/assets/app.js', async (c) => {
    try {
      return await serve('app.js')();
    } catch (err) {
      deps.logger.error({ err: describeError(err) }, 'building the page script failed');
      return c.json({ error: { code: 'ASSET_BUILD_FAILED', message: describeError(err) } }, 500);
    }
  });
  app.get('/assets/app.css', serve('app.css'));
  app.get('/assets/uplot.css', serve('uplot.css'));

  app.notFound((c) => errorResponse(404, 'NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`));

  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    deps.logger.error({ err: describeError(err), path: c.req.path }, 'request failed');
    const code = isGpumonError(err) ? err.code : 'INTERNAL';
    return c.json({ error: { code, message: describeError(err) } }, 500);
  });

  return app;
}
