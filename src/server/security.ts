/**
 * The access rules of the HTTP server, as hono middleware, in the order a request meets them:
 * 1. `requestIds`: every response carries `X-Request-Id` and `X-Content-Type-Options: nosniff`.
 * 2. `hostAllowlist`: a `Host` that is not localhost, an IP address or an allowed name is refused (403
 *    HOST_NOT_ALLOWED): a page of another site that rebinds its name to this server cannot read it.
 * 3. `corsHeaders` (only with allowed origins): those origins may call the API from their pages.
 * 4. `sameOriginWrites`: POST, PUT, PATCH and DELETE only from this server's own page (or an allowed origin),
 *    and only with a JSON body type (a form, which any site can post, is 415).
 * 5. `bearerAuth` (only with a token): every route but the page's files, the session and the probes needs the
 *    token, as `Authorization: Bearer` or as the session cookie that `POST /api/session` gives.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { fail, requestIdOf } from './http-error.ts';

export interface SecurityOptions {
  /** The bearer token every request needs, or null: no token (loopback only, or `server.auth: none`). */
  token: string | null;
  /**
   * Host names answered besides localhost, `*.localhost` and IP addresses: exact names, `.example.com` for a
   * domain and its subdomains, `*` for any.
   */
  allowedHosts: readonly string[];
  /** Origins (`https://grafana.example.com`) whose pages may call the API; empty: CORS off. */
  corsOrigins: readonly string[];
  /** The server speaks HTTPS: the session cookie is `Secure` (and named `__Host-...`). */
  secure: boolean;
}

/** No token, the default hosts, no CORS, plain HTTP: `gpumon up` on loopback. */
export const OPEN_LOOPBACK: SecurityOptions = {
  token: null,
  allowedHosts: [],
  corsOrigins: [],
  secure: false,
};

/** Paths any client may read without the token: the page's files (code, no data) and the probes. */
export function isPublicPath(path: string): boolean {
  return (
    path === '/' ||
    path === '/favicon.ico' ||
    path.startsWith('/assets/') ||
    path === '/api/session' ||
    PROBE_PATHS.includes(path)
  );
}

/** Liveness and readiness paths: open to the kubelet, so they must tell nothing but up or not. */
export const PROBE_PATHS: readonly string[] = ['/healthz', '/readyz'];

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SESSION_MAX_AGE_S = 7 * 24 * 3600;

/** 1. X-Request-Id and nosniff on every response, the errors included. */
export function requestIds(): MiddlewareHandler {
  return async (c, next) => {
    const id = requestIdOf(c);
    await next();
    c.res.headers.set('X-Request-Id', id);
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
  };
}

/** The Host a request was sent to (`name:port`), lower case. */
export function hostOf(c: Context): string {
  return (c.req.header('host') ?? new URL(c.req.url).host).toLowerCase();
}

/** The name or address of a Host header, without port, brackets or a trailing dot. */
export function hostName(host: string): string {
  const bracketed = /^\[([^\]]*)\](:\d*)?$/.exec(host);
  if (bracketed) return bracketed[1] as string;
  return host.replace(/:\d*$/, '').replace(/\.$/, '').toLowerCase();
}

/**
 * Whether a Host header names this server. An IP address always does: a page of another site reaches an
 * address only under its own name (DNS rebinding), and that name is what its browser sends.
 */
export function hostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const name = hostName(host);
  if (name === '') return false;
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowedHosts.some((rule) => {
    const r = rule.toLowerCase();
    if (r === '*') return true;
    if (r.startsWith('.')) return name === r.slice(1) || name.endsWith(r);
    return name === r;
  });
}

/** 2. Refuses a Host that is not this server's (403 HOST_NOT_ALLOWED). */
export function hostAllowlist(allowedHosts: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    const host = hostOf(c);
    if (!hostAllowed(host, allowedHosts)) {
      fail(
        403,
        'HOST_NOT_ALLOWED',
        `this server does not answer for host ${JSON.stringify(hostName(host))}; ` +
          'add it to server.allowedHosts if it is a name of this server',
      );
    }
    await next();
  };
}

/**
 * 3. CORS for the allowed origins: their requests get Access-Control-Allow-Origin, their preflights 204 with
 * the methods and headers the API takes. Other origins get no CORS header, so their pages cannot read answers.
 */
export function corsHeaders(origins: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header('origin');
    const allowed = origin !== undefined && origins.includes(origin);
    if (allowed && c.req.method === 'OPTIONS' && c.req.header('access-control-request-method')) {
      return new Response(null, {
        status: 204,
        headers: {
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Allow-Methods': 'GET, HEAD, POST, DELETE',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type, X-Request-Id',
          'Access-Control-Max-Age': '600',
          Vary: 'Origin',
        },
      });
    }
    await next();
    c.res.headers.append('Vary', 'Origin');
    if (allowed) {
      c.res.headers.set('Access-Control-Allow-Origin', origin);
      c.res.headers.set('Access-Control-Expose-Headers', 'X-Request-Id');
    }
  };
}

/** Whether an Origin header names the same host (and port) as the Host header. */
function sameOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    const defaultPort = url.protocol === 'https:' ? ':443' : ':80';
    return url.host === (host.endsWith(defaultPort) ? host.slice(0, -defaultPort.length) : host);
  } catch {
    return false;
  }
}

/** Whether a Content-Type is JSON: application/json or application/*+json, any parameters. */
export function isJsonType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/**
 * 4. A request that changes something comes from this server's own page or an allowed origin (Origin, when
 * sent, names this host; Sec-Fetch-Site, when sent, says same-origin), with a JSON body type: the types a form
 * of another site can send without asking (a CORS preflight) are refused.
 */
export function sameOriginWrites(corsOrigins: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    if (!UNSAFE_METHODS.has(c.req.method)) return next();
    const origin = c.req.header('origin');
    const trusted = origin !== undefined && corsOrigins.includes(origin);
    if (origin !== undefined && !trusted && !sameOrigin(origin, hostOf(c))) {
      fail(
        403,
        'CROSS_ORIGIN_REFUSED',
        `${c.req.method} from the page of another origin (${origin.slice(0, 100)}) is refused; ` +
          'allow it in server.corsOrigins',
      );
    }
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none' && !trusted) {
      fail(403, 'CROSS_ORIGIN_REFUSED', `${c.req.method} from a ${site.slice(0, 20)} page is refused`);
    }
    if (!isJsonType(c.req.header('content-type'))) {
      fail(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `${c.req.method} needs a JSON body: send Content-Type: application/json`,
      );
    }
    await next();
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compares two secrets in a time that does not depend on where they differ. */
function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The session of a browser that has given the token: the cookie holds a keyed hash of the token, not the
 * token, and a new token (a restart with another Secret) ends every session.
 */
export class Sessions {
  readonly cookieName: string;
  private readonly cookieValue: string | null;

  constructor(private readonly options: SecurityOptions) {
    this.cookieName = options.secure ? '__Host-gpumon_session' : 'gpumon_session';
    this.cookieValue = options.token
      ? createHmac('sha256', options.token).update('gpumon session v1').digest('base64url')
      : null;
  }

  get required(): boolean {
    return this.options.token !== null;
  }

  /** Whether `token` is this server's token. */
  tokenMatches(token: string): boolean {
    return this.options.token !== null && secretsEqual(token, this.options.token);
  }

  /** Whether the request carries the token (bearer) or a session cookie; always true without a token. */
  authenticated(c: Context): boolean {
    if (!this.required) return true;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (bearer !== undefined && this.tokenMatches(bearer)) return true;
    const cookie = getCookie(c, this.cookieName);
    return cookie !== undefined && this.cookieValue !== null && secretsEqual(cookie, this.cookieValue);
  }

  /** Sets the session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends it). */
  open(c: Context): void {
    if (this.cookieValue === null) return;
    setCookie(c, this.cookieName, this.cookieValue, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: this.options.secure,
      path: '/',
      maxAge: SESSION_MAX_AGE_S,
    });
  }

  close(c: Context): void {
    deleteCookie(c, this.cookieName, { path: '/', secure: this.options.secure });
  }
}

/** 5. Every path but the public ones needs the token (401 UNAUTHORIZED, with WWW-Authenticate). */
export function bearerAuth(sessions: Sessions): MiddlewareHandler {
  return async (c, next) => {
    if (!sessions.required || isPublicPath(c.req.path) || sessions.authenticated(c)) return next();
    fail(
      401,
      'UNAUTHORIZED',
      'this server needs its token: send Authorization: Bearer <token>, or open the page and enter it',
      { 'WWW-Authenticate': 'Bearer realm="gpumon"' },
    );
  };
}
