import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { escapeLabelValue } from '../metrics/exposition.ts';

/** One condition a process needs to do its work, as /readyz reports it. */
export interface ReadinessCheck {
  name: string;
  ok: boolean;
  /** What was seen, for people: "last read 0.8 s ago", "Kafka unreachable: 120 samples spooled". */
  detail: string;
}

/** What a process reports through its health server. */
export interface HealthReporter {
  /** The checks of /readyz: the process is ready when every one is ok. */
  readiness(): ReadinessCheck[];
  /** The Prometheus text exposition of /metrics. */
  metrics(): string;
}

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Named in the responses: `gpumon-agent`, `gpumon-consume`. */
  service: string;
  reporter: HealthReporter;
  logger?: Logger;
}

export interface RunningHealthServer {
  /** The port it listens on (the one picked when asked for 0). */
  readonly port: number;
  close(): Promise<void>;
}

const HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };

/**
 * The small HTTP server of the processes that have no other (`gpumon agent`, `gpumon consume`), for
 * Kubernetes probes and Prometheus:
 * - `GET /healthz`: 200 while the process answers at all (liveness: a dependency that is down is not a
 *   reason to restart a process that spools or retries);
 * - `GET /readyz`: 200 when every readiness check is ok, else 503, with the checks as JSON either way;
 * - `GET /metrics`: the reporter's counters in the Prometheus text format.
 * Anything else is 404, a method other than GET or HEAD 405. Node's own http module: no framework in the
 * agent's memory.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<RunningHealthServer> {
  const { service, reporter, logger } = options;
  const server = createServer((req, res) => {
    try {
      respond(req, res, service, reporter);
    } catch (err) {
      logger?.error({ err: describeError(err), path: req.url }, 'health request failed');
      send(res, 500, 'application/json', JSON.stringify({ error: describeError(err) }));
    }
  });
  await listen(server, options.host, options.port);
  const port = (server.address() as AddressInfo).port;
  logger?.info({ host: options.host, port }, 'health server listening (/healthz, /readyz, /metrics)');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function respond(req: IncomingMessage, res: ServerResponse, service: string, reporter: HealthReporter): void {
  const path = (req.url ?? '/').split('?')[0];
  const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
  if (!known) {
    send(res, 404, 'application/json', JSON.stringify({ error: `no route for ${path}` }));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'application/json', JSON.stringify({ error: `${req.method} is not allowed` }));
    return;
  }
  if (path === '/healthz') {
    send(res, 200, 'application/json', JSON.stringify({ service, status: 'alive' }));
  } else if (path === '/readyz') {
    const checks = reporter.readiness();
    const ready = checks.every((c) => c.ok);
    const body = { service, status: ready ? 'ready' : 'not ready', checks };
    send(res, ready ? 200 : 503, 'application/json', JSON.stringify(body));
  } else {
    send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', reporter.metrics());
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new GpumonError(
          'USAGE',
          `the health server cannot listen on ${host}:${port} (${err.code ?? err.message}); choose another health.host or health.port`,
          { cause: err },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** One Prometheus metric family: its samples as label sets with values. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels?: Record<string, string>; value: number }[];
}

/** Renders metric families in the Prometheus text format (0.0.4); a family without samples is left out. */
export function renderFamilies(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {})
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      out.push(`${f.name}${labels ? `{${labels}}` : ''} ${s.value}`);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Starts the health server when `health.port` is set (not 0); returns what to close at the end, if any. */
export async function startConfiguredHealthServer(
  health: { host: string; port: number },
  service: string,
  reporter: HealthReporter,
  logger?: Logger,
): Promise<RunningHealthServer | undefined> {
  if (health.port === 0) return undefined;
  return startHealthServer({ ...health, service, reporter, ...(logger ? { logger } : {}) });
}
