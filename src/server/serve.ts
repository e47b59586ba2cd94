import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { GpumonError } from '../errors.ts';
import type { TlsPair } from './security-config.ts';

export interface ListenOptions {
  host: string;
  /** 0: any free port; the returned url names the one chosen. */
  port: number;
  /** Serve HTTPS with this certificate and key; absent or null: plain HTTP. */
  tls?: TlsPair | null;
}

export interface RunningServer {
  /** Where a client reaches the server, e.g. http://127.0.0.1:8080 (a wildcard host reads as localhost). */
  url: string;
  /** Stops listening and ends open connections, live streams included. */
  close(): Promise<void>;
}

/** Serves `app` over HTTP (HTTPS with `tls`); resolves once listening, rejects when the address cannot be bound. */
export function startServer(app: Hono, { host, port, tls }: ListenOptions): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const https = tls
      ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } }
      : {};
    const server = serve({ fetch: app.fetch, hostname: host, port, ...https }, (info: AddressInfo) => {
      server.off('error', onError);
      const scheme = tls ? 'https' : 'http';
      resolve({ url: `${scheme}://${urlHost(host)}:${info.port}`, close: () => close(server) });
    });
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new GpumonError(
          'USAGE',
          `cannot listen on ${host}:${port} (${err.code ?? err.message}); choose another host or port`,
          {
            cause: err,
          },
        ),
      );
    };
    server.once('error', onError);
  });
}

function urlHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function close(server: ReturnType<typeof serve>): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
