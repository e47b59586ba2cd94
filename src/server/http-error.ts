import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiErrorBody, ApiErrorCode } from './api-types.ts';

/** The JSON error response of the API: `{ error: { code, message } }`. */
export function errorResponse(status: ContentfulStatusCode, code: ApiErrorCode, message: string): Response {
  const body: ApiErrorBody = { error: { code, message } };
  return Response.json(body, { status });
}

/** Ends the request with a JSON error; hono's error handler sends it. */
export function fail(status: ContentfulStatusCode, code: ApiErrorCode, message: string): never {
  throw new HTTPException(status, { res: errorResponse(status, code, message), message });
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
