import { Hono } from 'hono';
import type { SessionResponse } from './api-types.ts';
import { badRequest, fail } from './http-error.ts';
import type { Sessions } from './security.ts';

/**
 * /api/session: how the page gets in. GET says whether the token is needed and sent; POST `{ token }` trades
 * the token for an HttpOnly, SameSite=Strict session cookie (the page's requests and its live stream then
 * carry it); DELETE ends the session.
 */
export function sessionRoutes(sessions: Sessions): Hono {
  const api = new Hono();

  api.get('/', (c) => {
    const body: SessionResponse = { required: sessions.required, authenticated: sessions.authenticated(c) };
    return c.json(body);
  });

  api.post('/', async (c) => {
    const body = (await c.req.json().catch(() => null)) as { token?: unknown } | null;
    const token = body?.token;
    if (typeof token !== 'string' || token === '') badRequest('the body must be {"token": "<token>"}');
    if (sessions.required && !sessions.tokenMatches(token)) {
      fail(401, 'UNAUTHORIZED', 'this is not the token of this server');
    }
    sessions.open(c);
    return c.body(null, 204);
  });

  api.delete('/', (c) => {
    sessions.close(c);
    return c.body(null, 204);
  });

  return api;
}
