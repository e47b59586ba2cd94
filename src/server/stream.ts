import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { METRIC_NAMES } from '../metrics/catalog.ts';
import { type GpuSample, identityOf } from '../metrics/sample.ts';
import type { AlertEvent } from '../pipeline/alerts.ts';
import type { CompactSample, StreamEventName, StreamEvents } from './api-types.ts';
import type { ServerDeps } from './deps.ts';
import { gpuViews } from './gpu-view.ts';

export interface StreamOptions {
  intervalMs: number | null;
  alertWindowMs: number;
  heartbeatMs: number;
}

/**
 * Updates waiting for a slow client beyond this are dropped, oldest first: the page sees a gap, the server
 * keeps bounded memory.
 */
const MAX_PENDING_UPDATES = 256;

/** Tells the browser how long to wait before it reconnects. */
const RETRY_MS = 3000;

interface Update {
  samples: readonly GpuSample[];
  alerts: readonly AlertEvent[];
}

/**
 * GET /api/stream: `snapshot` on connect, then `samples` and `alerts` as the live state changes, and a comment
 * when idle for `heartbeatMs`. Subscribed to the live state only while the client is connected.
 */
export function liveStream(c: Context, deps: ServerDeps, options: StreamOptions): Response {
  return streamSSE(c, async (stream) => {
    const log = deps.logger.child({ stream: 'live' });
    const pending: Update[] = [];
    const seen = new Set<string>();
    let dropped = 0;
    let closed = false;
    let wake: (() => void) | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const close = () => {
      closed = true;
      notify();
    };
    stream.onAbort(close);
    c.req.raw.signal.addEventListener('abort', close, { once: true });

    const unsubscribe = deps.live.subscribe((update) => {
      pending.push(update);
      if (pending.length > MAX_PENDING_UPDATES) {
        pending.shift();
        dropped++;
      }
      notify();
    });
    log.debug('live stream opened');
    try {
      const gpus = gpuViews(deps.live, options.alertWindowMs);
      for (const g of gpus) seen.add(g.uuid);
      await send(
        stream,
        'snapshot',
        { metrics: METRIC_NAMES, intervalMs: options.intervalMs, alertWindowMs: options.alertWindowMs, gpus },
        RETRY_MS,
      );
      while (!closed) {
        if (pending.length === 0) {
          const woken = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => {
              wake = null;
              resolve(false);
            }, options.heartbeatMs);
            wake = () => {
              clearTimeout(timer);
              resolve(true);
            };
          });
          if (closed) break;
          if (!woken) {
            await stream.write(': heartbeat\n\n');
            continue;
          }
        }
        const batch = pending.splice(0);
        const samples = batch.flatMap((u) => u.samples.map((s) => compact(s, seen)));
        const alerts = batch.flatMap((u) => u.alerts);
        if (samples.length > 0) await send(stream, 'samples', { samples });
        if (alerts.length > 0) await send(stream, 'alerts', { alerts });
      }
    } finally {
      unsubscribe();
      wake = null;
      log.debug({ dropped }, 'live stream closed');
    }
  });
}

function send<K extends StreamEventName>(
  stream: SSEStreamingApi,
  event: K,
  data: StreamEvents[K],
  retry?: number,
): Promise<void> {
  return stream.writeSSE({ event, data: JSON.stringify(data), ...(retry === undefined ? {} : { retry }) });
}

function compact(s: GpuSample, seen: Set<string>): CompactSample {
  const out: CompactSample = { uuid: s.uuid, ts: s.ts, v: METRIC_NAMES.map((name) => s[name]) };
  if (!seen.has(s.uuid)) {
    seen.add(s.uuid);
    out.id = identityOf(s);
  }
  return out;
}
