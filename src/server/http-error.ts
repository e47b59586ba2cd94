import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiErrorBody, ApiErrorCode } from './api-types.ts';

/** A request id a client or proxy may send: short, and safe to log and echo. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

const requestIds = new WeakMap<Request, string>();

/**
 * The id of a request: the client's `X-Request-Id` when it is a short token, else a new UUID. Every response
 * carries it in `X-Request-Id`, every error body in `error.requestId`, and the server log names it.
 */
export function requestIdOf(c: Context): string {
  let id = requestIds.get(c.req.raw);
  if (!id) {
    const sent = c.req.header('x-request-id');
    id = sent && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
    requestIds.set(c.req.raw, id);
  }
  return id;
}

/** A request the API refuses: its status, code and message become the JSON error body. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message });
    this.name = 'ApiError';
  }
}

/**
 * The JSON error response of the API: `{ error: { code, message, requestId } }`. The message is meant for the
 * client: never a server path, a query or a stack (those go to the server log, under the request id).
 */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: ApiErrorCode,
  message: string,
  headers: Record<string, string> = {},
): Response {
  const body: ApiErrorBody = { error: { code, message, requestId: requestIdOf(c) } };
  return Response.json(body, { status, headers });
}

/** Ends the request with a JSON error; the app's error handler sends it. */
export function fail(
  status: ContentfulStatusCode,
  code: ApiErrorCode,
  message: string,
  headers: Record<string, string> = {},
): never {
  throw new ApiError(status, code, message, headers);
}

export function badRequest(message: string): never {
  return fail(400, 'BAD_REQUEST', message);
}

export function notFound(message: string): never {
  return fail(404, 'NOT_FOUND', message);
}

/** An integer query parameter in [min, max], or `fallback` when absent. A bad value is a 400 naming it. */
export function intQuery(c: Context, name: string, fallback: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    badRequest(`query parameter ${name} must be an integer ${min}..${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A number query parameter in (0, max], or `fallback` when absent. */
export function positiveQuery(c: Context, name: string, fallback: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    badRequest(
      `query parameter ${name} must be a number above 0 and at most ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
