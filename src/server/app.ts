import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { describeError } from '../errors.ts';
import { renderCpuPackages, renderPrometheus } from '../metrics/prometheus.ts';
import { episodeRoutes } from './alert-episodes.ts';
import { analyticsRoutes, runsRoutes } from './api-analytics.ts';
import { healthRoutes } from './api-health.ts';
import { liveRoutes } from './api-live.ts';
import { sessionRoutes } from './api-session.ts';
import type { ApiErrorCode } from './api-types.ts';
import { type AppOptions, DEFAULT_LIMITS, type ServerDeps } from './deps.ts';
import { fleetEnergyRoutes, historyRoutes } from './history.ts';
import { ApiError, errorResponse, fail, requestIdOf } from './http-error.ts';
import { processRoutes } from './processes.ts';
import { ReadLimit } from './read-limit.ts';
import {
  bearerAuth,
  corsHeaders,
  hostAllowlist,
  OPEN_LOOPBACK,
  requestIds,
  Sessions,
  sameOriginWrites,
} from './security.ts';
import { throttleRoutes } from './throttle-history.ts';
import { ASSET_TYPES, type AssetName, WebAssets } from './web-assets.ts';

const DEFAULT_HEARTBEAT_MS = 15_000;

const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
};

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * The HTTP server of gpumon: the JSON API under /api, the live stream at /api/stream, Prometheus metrics at
 * /metrics, and the page at /. Every request passes the access rules of security.ts first (docs/security.md).
 * It only reads the live state; it does live work (the stream) only while a client is connected.
 */
export function createApp(deps: ServerDeps, options: AppOptions = {}): Hono {
  const intervalMs = options.sampleIntervalMs ?? null;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const live = {
    intervalMs,
    alertWindowMs: options.alertWindowMs ?? (intervalMs ? 3 * intervalMs : 10_000),
    idle: options.idle ?? { loadPercent: 5, memoryBytes: 1024 ** 3 },
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    now: options.now ?? Date.now,
    maxStreams: limits.maxStreams,
    maxBufferedBytes: limits.streamMaxBufferedBytes,
  };
  const security = options.security ?? OPEN_LOOPBACK;
  const sessions = new Sessions(security);
  const assets = options.assets ?? new WebAssets();
  const app = new Hono();

  app.use('*', requestIds());
  app.use('*', hostAllowlist(security.allowedHosts));
  if (security.corsOrigins.length > 0) app.use('*', corsHeaders(security.corsOrigins));
  app.use('*', sameOriginWrites(security.corsOrigins));
  app.use('*', bearerAuth(sessions));

  app.route('/api/session', sessionRoutes(sessions));
  app.route('/', healthRoutes(deps));
  // Reads of the results and of the samples archive share the limit (and the one DuckDB instance).
  const reads = new ReadLimit(limits.maxConcurrentReads, limits.maxQueuedReads);
  app.route('/api', liveRoutes(deps, live));
  app.route('/api/alerts', episodeRoutes(deps.episodes));
  app.route('/api/gpus', historyRoutes(deps.live, deps.archive, { now: live.now, intervalMs, reads }));
  app.route('/api/gpus', processRoutes(deps, live.now));
  app.route('/api/gpus', throttleRoutes(deps.live, deps.archive, { now: live.now, intervalMs, reads }));
  app.route('/api/fleet', fleetEnergyRoutes(deps.live, deps.archive, { now: live.now, reads }));
  app.route('/api/runs', runsRoutes(deps.runs));
  app.route('/api/analytics', analyticsRoutes(deps.results, { reads, maxResultRows: limits.maxResultRows }));

  const serve = (name: AssetName) => async () => {
    const text = await assets.get(name);
    return new Response(text, {
      headers: { 'Content-Type': ASSET_TYPES[name], 'Cache-Control': 'no-cache', ...PAGE_HEADERS },
    });
  };
  app.get('/metrics', (c) => {
    const cpu = deps.cpuPackages?.();
    const text =
      renderPrometheus(deps.live.latest(), deps.sources(), options.prometheusNames ?? 'both') +
      (cpu ? renderCpuPackages(cpu.host, cpu.packages) : '');
    return c.text(text, 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  app.get('/', async (c) => {
    // A link with ?token= (printed by the operator) opens a session, then drops the token from the address.
    const token = c.req.query('token');
    if (token === undefined) return serve('index.html')();
    if (sessions.required && !sessions.tokenMatches(token)) {
      fail(401, 'UNAUTHORIZED', 'the token in the link is not the token of this server');
    }
    sessions.open(c);
    return c.redirect('/', 303);
  });
  app.get('/assets/app.js', async (c) => {
    try {
      return await serve('app.js')();
    } catch (err) {
      deps.logger.error(
        { err: describeError(err), requestId: requestIdOf(c) },
        'building the page script failed',
      );
      return fail(
        500,
        'ASSET_BUILD_FAILED',
        `the page script could not be built (request ${requestIdOf(c)})`,
      );
    }
  });
  app.get('/assets/app.css', serve('app.css'));
  app.get('/assets/uplot.css', serve('uplot.css'));
  // An SVG icon: browsers take it at /favicon.ico too, where they look without a <link>.
  app.get('/favicon.ico', serve('favicon.svg'));

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0) {
      return errorResponse(c, 405, 'METHOD_NOT_ALLOWED', `${c.req.path} takes ${allowed.join(', ')}`, {
        Allow: allowed.join(', '),
      });
    }
    return errorResponse(c, 404, 'NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`);
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(c, err.status, err.code, err.message, err.headers);
    if (err instanceof HTTPException) {
      return errorResponse(c, err.status as ContentfulStatusCode, codeOfStatus(err.status), err.message);
    }
    // The details (paths, queries, causes) go to the log only; the client gets the id to find them there.
    const requestId = requestIdOf(c);
    deps.logger.error(
      { err: describeError(err), requestId, method: c.req.method, path: c.req.path },
      'request failed',
    );
    return errorResponse(
      c,
      500,
      'INTERNAL',
      `the server failed to answer; the server log has the details under request ${requestId}`,
    );
  });

  return app;
}

/** The methods the routes of `path` take (HEAD with GET), or [] when no route has the path. */
function allowedMethods(app: Hono, path: string): string[] {
  const allowed = METHODS.filter((method) =>
    app.router.match(method, path)[0].some(([[, route]]) => route.method === method),
  );
  return allowed.includes('GET') ? ['GET', 'HEAD', ...allowed.filter((m) => m !== 'GET')] : allowed;
}

function codeOfStatus(status: number): ApiErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  return status < 500 ? 'BAD_REQUEST' : 'INTERNAL';
}
