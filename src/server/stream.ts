import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { METRIC_NAMES } from '../metrics/catalog.ts';
import { type GpuSample, identityOf } from '../metrics/sample.ts';
import type { AlertEvent } from '../pipeline/alerts.ts';
import type { CompactSample, StreamEventName, StreamEvents } from './api-types.ts';
import type { ServerDeps } from './deps.ts';
import { gpuViews } from './gpu-view.ts';
import { fail } from './http-error.ts';

export interface StreamOptions {
  intervalMs: number | null;
  alertWindowMs: number;
  /** Told to the page in the snapshot: below these a GPU is idle (the daily analytics' thresholds). */
  idle: { loadPercent: number; memoryBytes: number };
  heartbeatMs: number;
  /** Streams open at a time on this server; beyond, 503 SERVER_BUSY. */
  maxStreams: number;
  /** A client that leaves more than this many bytes unsent is disconnected. */
  maxBufferedBytes: number;
}

/** Tells the browser how long to wait before it reconnects. */
const RETRY_MS = 3000;

/** Seconds a client refused for too many streams should wait before it tries again. */
export const STREAM_BUSY_RETRY_AFTER_S = 5;

interface Update {
  samples: readonly GpuSample[];
  alerts: readonly AlertEvent[];
}

/**
 * The event text of the samples of an update, for the clients that have seen every GPU in it already: the same
 * for all of them, so it is built once per update, not once per client.
 */
const sharedSamples = new WeakMap<readonly GpuSample[], string>();
const sharedAlerts = new WeakMap<readonly AlertEvent[], string>();

/**
 * GET /api/stream: `snapshot` on connect, then `samples` and `alerts` as the live state changes, and a comment
 * when idle for `heartbeatMs`. Subscribed to the live state only while the client is connected.
 *
 * Bounds: at most `maxStreams` clients at a time (the next one gets 503 SERVER_BUSY with Retry-After), and
 * each client's events wait, serialised, in a queue of its own; when what waits for a client (its queue, the
 * write in progress and the socket's buffer) goes past `maxBufferedBytes`, the client reads too slowly: it is
 * disconnected and its memory freed (a warning names it). The page reconnects and starts from a snapshot.
 */
export function liveStreamHandler(deps: ServerDeps, options: StreamOptions): (c: Context) => Response {
  let open = 0;
  const log = deps.logger.child({ stream: 'live' });
  return (c) => {
    if (open >= options.maxStreams) {
      log.debug({ open }, 'live stream refused: too many open');
      fail(503, 'SERVER_BUSY', `${open} live streams are open, the most this server keeps`, {
        'Retry-After': String(STREAM_BUSY_RETRY_AFTER_S),
      });
    }
    open++;
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    return streamSSE(c, async (stream) => {
      const queue: string[] = [];
      const seen = new Set<string>();
      let queuedBytes = 0;
      let writingBytes = 0;
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
      const unsent = () => queuedBytes + writingBytes + (outgoing?.writableLength ?? 0);
      const enqueue = (text: string) => {
        if (closed) return;
        queue.push(text);
        queuedBytes += Buffer.byteLength(text);
        if (unsent() > options.maxBufferedBytes) {
          log.warn(
            { unsentBytes: unsent(), maxBufferedBytes: options.maxBufferedBytes, remote: remoteOf(outgoing) },
            'live stream client reads too slowly: disconnected',
          );
          close();
          stream.abort();
          outgoing?.destroy();
          return;
        }
        notify();
      };
      stream.onAbort(close);
      c.req.raw.signal.addEventListener('abort', close, { once: true });

      const unsubscribe = deps.live.subscribe((update) => {
        if (update.samples.length > 0) enqueue(samplesEvent(update, seen));
        if (update.alerts.length > 0) enqueue(alertsEvent(update));
      });
      log.debug({ open }, 'live stream opened');
      try {
        const gpus = gpuViews(deps.live, options.alertWindowMs);
        for (const g of gpus) seen.add(g.uuid);
        const snapshot = sseEvent(
          'snapshot',
          {
            metrics: METRIC_NAMES,
            intervalMs: options.intervalMs,
            alertWindowMs: options.alertWindowMs,
            idle: options.idle,
            gpus,
          },
          RETRY_MS,
        );
        await write(snapshot);
        while (!closed) {
          if (queue.length === 0) {
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
            if (!woken) enqueue(': heartbeat\n\n');
            if (closed) break;
          }
          const text = queue.join('');
          queue.length = 0;
          queuedBytes = 0;
          await write(text);
        }
      } finally {
        unsubscribe();
        wake = null;
        open--;
        log.debug({ open }, 'live stream closed');
      }

      async function write(text: string): Promise<void> {
        writingBytes = Buffer.byteLength(text);
        await stream.write(text);
        writingBytes = 0;
      }
    });
  };
}

/** One server-sent event; the data is JSON, which holds no line break. */
function sseEvent<K extends StreamEventName>(event: K, data: StreamEvents[K], retry?: number): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n${retry === undefined ? '' : `retry: ${retry}\n`}\n`;
}

function samplesEvent(update: Update, seen: Set<string>): string {
  if (update.samples.every((s) => seen.has(s.uuid))) {
    let text = sharedSamples.get(update.samples);
    if (text === undefined) {
      text = sseEvent('samples', { samples: update.samples.map((s) => compact(s, seen)) });
      sharedSamples.set(update.samples, text);
    }
    return text;
  }
  return sseEvent('samples', { samples: update.samples.map((s) => compact(s, seen)) });
}

function alertsEvent(update: Update): string {
  let text = sharedAlerts.get(update.alerts);
  if (text === undefined) {
    text = sseEvent('alerts', { alerts: [...update.alerts] });
    sharedAlerts.set(update.alerts, text);
  }
  return text;
}

function compact(s: GpuSample, seen: Set<string>): CompactSample {
  const out: CompactSample = { uuid: s.uuid, ts: s.ts, v: METRIC_NAMES.map((name) => s[name]) };
  if (!seen.has(s.uuid)) {
    seen.add(s.uuid);
    out.id = identityOf(s);
  }
  return out;
}

function remoteOf(outgoing: ServerResponse | undefined): string | undefined {
  const socket = outgoing?.socket;
  return socket ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
}
