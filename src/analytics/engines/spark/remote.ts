import { GpumonError } from '../../../errors.ts';

/** Where a Spark Connect server listens, from an `sc://` URL. */
export interface SparkRemote {
  readonly host: string;
  readonly port: number;
  /** TLS to the server (`use_ssl=true`). */
  readonly useSsl: boolean;
  /** Bearer token sent with every call (`token=...`); needs TLS, as Spark's clients require. */
  readonly token?: string | undefined;
  /** The user the session runs as (`user_id=...`), default `gpumon`. */
  readonly userId: string;
  /** host:port, for messages. */
  readonly address: string;
}

export const DEFAULT_SPARK_CONNECT_PORT = 15002;
const PARAMS = ['use_ssl', 'token', 'user_id'] as const;

/**
 * Parses a Spark Connect URL as Spark's clients do: `sc://host[:port][/;param=value;...]`, port 15002 by
 * default, params `use_ssl`, `token`, `user_id`. Throws `code` (default CONFIG_INVALID) naming `what` (the
 * flag or key) and the value.
 */
export function parseSparkRemote(
  url: string,
  what = 'analytics.sparkRemote',
  code: 'CONFIG_INVALID' | 'USAGE' = 'CONFIG_INVALID',
): SparkRemote {
  const bad = (why: string) =>
    new GpumonError(
      code,
      `${what}: ${JSON.stringify(url)} is not a Spark Connect URL (${why}), e.g. sc://127.0.0.1:15002`,
    );
  const match = /^sc:\/\/(\[[0-9a-fA-F:.]+\]|[^/:;[\]\s]+)(?::(\d*))?(?:\/(.*))?$/.exec(url.trim());
  if (!match) throw bad(url.startsWith('sc://') ? 'expected sc://host[:port]' : 'it must start with sc://');
  const [, host = '', portText, rest = ''] = match;
  const port = portText === undefined ? DEFAULT_SPARK_CONNECT_PORT : Number(portText);
  if (portText !== undefined && (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65_535)) {
    throw bad(`port ${JSON.stringify(portText)} is not 1..65535`);
  }
  const params: Partial<Record<(typeof PARAMS)[number], string>> = {};
  for (const part of rest.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || !(PARAMS as readonly string[]).includes(key)) {
      throw bad(`unknown parameter ${JSON.stringify(part)}; known: ${PARAMS.join(', ')}`);
    }
    params[key as (typeof PARAMS)[number]] = decodeURIComponent(part.slice(eq + 1));
  }
  const ssl = params.use_ssl ?? 'false';
  if (ssl !== 'true' && ssl !== 'false')
    throw bad(`use_ssl must be true or false, got ${JSON.stringify(ssl)}`);
  if (params.token !== undefined && ssl !== 'true') throw bad('a token needs use_ssl=true');
  return {
    host: host.replace(/^\[|\]$/g, ''),
    port,
    useSsl: ssl === 'true',
    token: params.token,
    userId: params.user_id || 'gpumon',
    address: `${host}:${port}`,
  };
}
