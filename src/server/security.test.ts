import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveState } from '../pipeline/live-state.ts';
import type { ApiErrorBody, GpusResponse, SessionResponse } from './api-types.ts';
import { createApp } from './app.ts';
import type { RunsApi } from './deps.ts';
import { hostAllowed, OPEN_LOOPBACK, type SecurityOptions } from './security.ts';
import { depsOf, sampleOf } from './test-support.ts';

const TOKEN = 'b3f1c0ffee5eed0123456789abcdef01';

function countingRuns(): RunsApi & { triggered: number } {
  return {
    triggered: 0,
    list: async () => [],
    async trigger() {
      this.triggered++;
      return { started: true, run: { id: 'run-1' } };
    },
    nextRunAt: () => null,
  };
}

function appWith(security: Partial<SecurityOptions> = {}, runs: RunsApi = countingRuns()) {
  const live = new LiveState(60_000);
  live.apply([sampleOf('node-a', 0, 1000)]);
  return createApp(depsOf(live, { runs }), { security: { ...OPEN_LOOPBACK, ...security } });
}

async function errorOf(res: Response, status: number): Promise<ApiErrorBody['error']> {
  assert.equal(res.status, status, `status of ${res.url}`);
  const error = ((await res.json()) as ApiErrorBody).error;
  assert.equal(error.requestId, res.headers.get('x-request-id'));
  return error;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const cookieOf = (res: Response) => res.headers.get('set-cookie')?.split(';')[0] ?? '';

describe('a server with a token', () => {
  const app = appWith({ token: TOKEN });

  test('answers 401 UNAUTHORIZED with WWW-Authenticate to a request without the token', async () => {
    for (const path of ['/api/gpus', '/api/health', '/api/stream', '/api/runs', '/metrics']) {
      const res = await app.request(path);
      assert.equal((await errorOf(res, 401)).code, 'UNAUTHORIZED', path);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });

  test('answers 401 to a wrong token, and 200 to the right one', async () => {
    await errorOf(await app.request('/api/gpus', { headers: bearer(`${TOKEN}x`) }), 401);
    await errorOf(await app.request('/api/gpus', { headers: { Authorization: TOKEN } }), 401);
    const res = await app.request('/api/gpus', { headers: bearer(TOKEN) });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as GpusResponse).gpus.length, 1);
    assert.equal((await app.request('/metrics', { headers: bearer(TOKEN) })).status, 200);
  });

  test('serves the page files and the session state without the token, as they hold no data', async () => {
    for (const path of ['/', '/assets/app.css']) assert.equal((await app.request(path)).status, 200, path);
    const session = (await (await app.request('/api/session')).json()) as SessionResponse;
    assert.deepEqual(session, { required: true, authenticated: false });
  });

  test('trades the token for an HttpOnly, SameSite=Strict cookie that opens the API and the stream', async () => {
    const wrong = await app.request('/api/session', {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({ token: 'not-the-token-at-all' }),
    });
    await errorOf(wrong, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);

    const res = await app.request('/api/session', {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({ token: TOKEN }),
    });
    assert.equal(res.status, 204);
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.doesNotMatch(setCookie, /Secure/);
    assert.ok(!setCookie.includes(TOKEN), 'the cookie holds a hash of the token, not the token');
    const cookie = { Cookie: cookieOf(res) };
    assert.equal((await app.request('/api/gpus', { headers: cookie })).status, 200);
    const session = (await (
      await app.request('/api/session', { headers: cookie })
    ).json()) as SessionResponse;
    assert.equal(session.authenticated, true);

    const abort = new AbortController();
    const stream = await app.request('/api/stream', { headers: cookie, signal: abort.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    abort.abort();
    await stream.body?.cancel().catch(() => undefined);
  });

  test('a forged cookie opens nothing', async () => {
    const res = await app.request('/api/gpus', { headers: { Cookie: `gpumon_session=${TOKEN}` } });
    await errorOf(res, 401);
  });

  test('a link with ?token= sets the cookie and redirects to the page without it; a wrong one is 401', async () => {
    const res = await app.request(`/?token=${TOKEN}`);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    assert.match(res.headers.get('set-cookie') ?? '', /^gpumon_session=.+HttpOnly/);
    await errorOf(await app.request('/?token=guess'), 401);
  });

  test('DELETE /api/session ends the session', async () => {
    const res = await app.request('/api/session', { method: 'DELETE', headers: JSON_TYPE });
    assert.equal(res.status, 204);
    assert.match(res.headers.get('set-cookie') ?? '', /gpumon_session=;.*Max-Age=0/);
  });

  test('over HTTPS the cookie is Secure and bound to this host (__Host-)', async () => {
    const res = await appWith({ token: TOKEN, secure: true }).request(`/?token=${TOKEN}`);
    assert.match(res.headers.get('set-cookie') ?? '', /^__Host-gpumon_session=.*Secure/);
  });
});

describe('a server without a token (loopback)', () => {
  test('answers the API without one', async () => {
    const app = appWith();
    assert.equal((await app.request('/api/gpus')).status, 200);
    const session = (await (await app.request('/api/session')).json()) as SessionResponse;
    assert.deepEqual(session, { required: false, authenticated: true });
  });
});

describe('requests that change something', () => {
  test('a POST /api/runs from the page of another origin is refused, and starts no run', async () => {
    const runs = countingRuns();
    const app = appWith({}, runs);
    const res = await app.request('http://127.0.0.1:8080/api/runs', {
      method: 'POST',
      headers: { ...JSON_TYPE, Origin: 'http://evil.example' },
      body: '{}',
    });
    assert.equal((await errorOf(res, 403)).code, 'CROSS_ORIGIN_REFUSED');
    const site = await app.request('http://127.0.0.1:8080/api/runs', {
      method: 'POST',
      headers: { ...JSON_TYPE, 'Sec-Fetch-Site': 'cross-site' },
      body: '{}',
    });
    assert.equal((await errorOf(site, 403)).code, 'CROSS_ORIGIN_REFUSED');
    assert.equal(runs.triggered, 0);
  });

  test('a form or text body type is 415, and starts no run', async () => {
    const runs = countingRuns();
    const app = appWith({}, runs);
    for (const type of [
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/plain',
    ]) {
      const res = await app.request('/api/runs', {
        method: 'POST',
        headers: { 'Content-Type': type },
        body: 'a=1',
      });
      assert.equal((await errorOf(res, 415)).code, 'UNSUPPORTED_MEDIA_TYPE', type);
    }
    await errorOf(await app.request('/api/runs', { method: 'POST' }), 415);
    assert.equal(runs.triggered, 0);
  });

  test('a JSON POST from the same origin starts a run', async () => {
    const runs = countingRuns();
    const res = await appWith({}, runs).request('http://127.0.0.1:8080/api/runs', {
      method: 'POST',
      headers: { ...JSON_TYPE, Origin: 'http://127.0.0.1:8080', 'Sec-Fetch-Site': 'same-origin' },
      body: '{}',
    });
    assert.equal(res.status, 202);
    assert.equal(runs.triggered, 1);
  });
});

describe('CORS', () => {
  const origin = 'https://grafana.example.com';

  test('is off by default: no Access-Control-Allow-Origin, and a preflight is refused', async () => {
    const app = appWith();
    const res = await app.request('/api/gpus', { headers: { Origin: origin } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const preflight = await app.request('/api/runs', {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 405);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });

  test('lets the configured origins read and post, with the token', async () => {
    const runs = countingRuns();
    const app = appWith({ token: TOKEN, corsOrigins: [origin] }, runs);
    const preflight = await app.request('/api/runs', {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    const res = await app.request('/api/runs', {
      method: 'POST',
      headers: { ...JSON_TYPE, ...bearer(TOKEN), Origin: origin, 'Sec-Fetch-Site': 'cross-site' },
      body: '{}',
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('access-control-allow-origin'), origin);
    const other = await app.request('/api/gpus', {
      headers: { ...bearer(TOKEN), Origin: 'https://evil.example' },
    });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });
});

describe('the Host allowlist', () => {
  test('a forged Host is refused with 403 HOST_NOT_ALLOWED, before anything else', async () => {
    const runs = countingRuns();
    const app = appWith({}, runs);
    for (const host of ['evil.example', 'evil.example:8080', '127.0.0.1.nip.io']) {
      const res = await app.request('/api/gpus', { headers: { Host: host } });
      assert.equal((await errorOf(res, 403)).code, 'HOST_NOT_ALLOWED', host);
    }
    const post = await app.request('http://rebound.example:8080/api/runs', {
      method: 'POST',
      headers: JSON_TYPE,
      body: '{}',
    });
    await errorOf(post, 403);
    assert.equal(runs.triggered, 0);
  });

  test('answers localhost, IP addresses and the allowed names', async () => {
    const app = appWith({ allowedHosts: ['gpumon.example.com'] });
    for (const host of [
      'localhost:8080',
      '127.0.0.1:8080',
      '[::1]:8080',
      '10.42.0.7:8080',
      'gpumon.example.com',
    ]) {
      assert.equal((await app.request('/api/gpus', { headers: { Host: host } })).status, 200, host);
    }
  });

  test('hostAllowed takes exact names, .domain suffixes and *', () => {
    assert.equal(hostAllowed('app.localhost:3000', []), true);
    assert.equal(hostAllowed('gpumon.example.com', ['.example.com']), true);
    assert.equal(hostAllowed('example.com.', ['.example.com']), true);
    assert.equal(hostAllowed('badexample.com', ['.example.com']), false);
    assert.equal(hostAllowed('GPUMON.Example.com:443', ['gpumon.example.com']), true);
    assert.equal(hostAllowed('anything.example', ['*']), true);
    assert.equal(hostAllowed('', ['gpumon']), false);
  });
});

describe('every response', () => {
  const app = appWith();

  test('carries X-Request-Id and nosniff, JSON and errors included', async () => {
    for (const path of ['/api/gpus', '/api/nothing', '/']) {
      const res = await app.request(path);
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    }
  });

  test("keeps a client's well-formed X-Request-Id and replaces a malformed one", async () => {
    const kept = await app.request('/api/gpus', { headers: { 'X-Request-Id': 'lb-7f3a.42' } });
    assert.equal(kept.headers.get('x-request-id'), 'lb-7f3a.42');
    const replaced = await app.request('/api/nothing', { headers: { 'X-Request-Id': 'a b\u0007' } });
    const error = await errorOf(replaced, 404);
    assert.match(error.requestId, /^[0-9a-f-]{36}$/);
  });
});

describe('a wrong method on a known route', () => {
  const app = appWith();

  test('answers 405 METHOD_NOT_ALLOWED with the Allow header', async () => {
    const gpus = await app.request('/api/gpus', { method: 'POST', headers: JSON_TYPE, body: '{}' });
    assert.equal((await errorOf(gpus, 405)).code, 'METHOD_NOT_ALLOWED');
    assert.equal(gpus.headers.get('allow'), 'GET, HEAD');
    const runs = await app.request('/api/runs', { method: 'DELETE', headers: JSON_TYPE });
    await errorOf(runs, 405);
    assert.equal(runs.headers.get('allow'), 'GET, HEAD, POST');
    const series = await app.request('/api/gpus/GPU-1/series', { method: 'PUT', headers: JSON_TYPE });
    assert.equal(series.headers.get('allow'), 'GET, HEAD');
  });

  test('an unknown path stays 404', async () => {
    await errorOf(await app.request('/api/nothing', { method: 'POST', headers: JSON_TYPE }), 404);
  });
});

describe('a server that cannot run analytics (gpumon serve)', () => {
  test('answers POST /api/runs with 409 RUNS_NOT_AVAILABLE and its reason', async () => {
    const runs: RunsApi = {
      list: async () => [],
      trigger: async () => ({
        started: false,
        refusal: 'RUNS_NOT_AVAILABLE',
        reason: 'gpumon serve does not run analytics: use `gpumon analyze` or `gpumon up`',
      }),
      nextRunAt: () => null,
    };
    const res = await appWith({}, runs).request('/api/runs', {
      method: 'POST',
      headers: JSON_TYPE,
      body: '{}',
    });
    const error = await errorOf(res, 409);
    assert.equal(error.code, 'RUNS_NOT_AVAILABLE');
    assert.match(error.message, /gpumon analyze/);
  });
});
