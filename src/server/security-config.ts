import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Config } from '../config/schema.ts';
import { GpumonError } from '../errors.ts';
import type { SecurityOptions } from './security.ts';

/** The shortest token the server takes: a guessable token is no lock. */
export const MIN_TOKEN_LENGTH = 16;

/** Printed after the address when the server has a token. */
export const TOKEN_HINT =
  'the page and the API ask for the token of server.tokenFile: enter it on the page, or send ' +
  '`Authorization: Bearer <token>` (docs/security.md)';

/** A certificate chain and its key, PEM. */
export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** How the HTTP server of `serve` and `up` guards itself, from the `server.*` keys. */
export interface ServerSecurity {
  security: SecurityOptions;
  /** null: plain HTTP. */
  tls: TlsPair | null;
  /** Said loudly at start: the server is open to anyone who reaches it. */
  warning: string | null;
}

/** Whether a listen address takes connections from this machine only. */
export function isLoopbackAddress(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
}

/**
 * Reads the token and TLS files the configuration names and checks that they fit together. It refuses
 * (CONFIG_INVALID, naming the key) a server that would listen beyond loopback without a token unless
 * `server.auth` is `none`, an unreadable or short token, half a TLS pair, or a key that does not fit its
 * certificate.
 */
export async function serverSecurity(config: Config): Promise<ServerSecurity> {
  const { host, auth, tokenFile, tlsCertFile, tlsKeyFile } = config.server;
  const tls = await tlsPair(tlsCertFile, tlsKeyFile);
  let token: string | null = null;
  let warning: string | null = null;
  if (auth === 'none') {
    if (tokenFile) {
      throw invalid('server.auth', 'is none, but server.tokenFile is set: choose one of them');
    }
    if (!isLoopbackAddress(host)) {
      warning =
        `server.auth is none: anyone who reaches ${host}:${config.server.port} can read every GPU's data ` +
        'and start analytics runs. Use it only behind a proxy that authenticates (docs/security.md).';
    }
  } else if (tokenFile) {
    token = await readToken(tokenFile);
  } else if (!isLoopbackAddress(host)) {
    throw invalid(
      'server.tokenFile',
      `is required when the server listens beyond loopback (server.host ${host}): set it (--token-file, ` +
        'GPUMON_SERVER_TOKEN_FILE) to a file holding a token, e.g. made by `openssl rand -hex 32`; or set ' +
        'server.auth to none (--no-auth) to serve without one (docs/security.md)',
    );
  }
  const allowedHosts = splitList(config.server.allowedHosts);
  const listensOnName = isIP(host) === 0 && !isLoopbackAddress(host);
  return {
    security: {
      token,
      allowedHosts: listensOnName ? [...allowedHosts, host] : allowedHosts,
      corsOrigins: splitList(config.server.corsOrigins).map((o) => new URL(o).origin),
      secure: tls !== null,
    },
    tls,
    warning,
  };
}

async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw invalid('server.tokenFile', `names ${file}, which cannot be read`, cause);
  }
  const token = text.trim();
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw invalid(
      'server.tokenFile',
      `names ${file}, which must hold one token of printable ASCII characters without spaces`,
    );
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw invalid(
      'server.tokenFile',
      `names ${file}, whose token has ${token.length} characters; it needs at least ${MIN_TOKEN_LENGTH} ` +
        '(`openssl rand -hex 32` makes one)',
    );
  }
  return token;
}

async function tlsPair(certFile: string, keyFile: string): Promise<TlsPair | null> {
  if (!certFile && !keyFile) return null;
  if (!certFile)
    throw invalid('server.tlsCertFile', '(--tls-cert) is required with server.tlsKeyFile (--tls-key)');
  if (!keyFile)
    throw invalid('server.tlsKeyFile', '(--tls-key) is required with server.tlsCertFile (--tls-cert)');
  const cert = await readFile(certFile).catch((cause) => {
    throw invalid('server.tlsCertFile', `names ${certFile}, which cannot be read`, cause);
  });
  const key = await readFile(keyFile).catch((cause) => {
    throw invalid('server.tlsKeyFile', `names ${keyFile}, which cannot be read`, cause);
  });
  try {
    createSecureContext({ cert, key });
  } catch (cause) {
    throw invalid(
      'server.tlsCertFile',
      `(${certFile}) and server.tlsKeyFile (${keyFile}) are not a PEM certificate and its private key`,
      cause,
    );
  }
  return { cert, key };
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function invalid(key: string, what: string, cause?: unknown): GpumonError {
  return new GpumonError('CONFIG_INVALID', `config key ${key} ${what}`, { cause });
}
