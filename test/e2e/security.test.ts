/**
 * gpumon serve as an attacker and as an operator meet it, on a real port: the token, the Host allowlist, the
 * same-origin rule for writes, error bodies without server paths, HTTPS, and the refusals at start.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiErrorBody } from '../../src/server/api-types.ts';
import { selfSignedCert } from '../../src/testing/tls.ts';
import { interrupt, type Running, runGpumon, startGpumon, tempDir, waitFor } from './helpers.ts';

const TOKEN = 'e2e0c1d2b3a4958677869a0b1c2d3e4f';
const QUIET = { GPUMON_LOG_LEVEL: 'error' };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP(S) request with any headers, Host included (fetch would not send a forged one). */
function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; ca?: Buffer } = {},
): Promise<Answer> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function errorOf(answer: Answer, status: number): ApiErrorBody['error'] {
  assert.equal(answer.status, status, answer.body);
  const error = (JSON.parse(answer.body) as ApiErrorBody).error;
  assert.equal(error.requestId, answer.headers['x-request-id']);
  return error;
}

/** Starts `gpumon serve ARGS` and resolves with the address it prints. */
async function serve(args: string[], env: NodeJS.ProcessEnv = QUIET): Promise<{ run: Running; url: string }> {
  const run = startGpumon(['serve', '--port', '0', ...args], env);
  const url = await waitFor(
    'serve to print its address',
    () => {
      if (run.child.exitCode !== null) throw new Error(`serve exited ${run.child.exitCode}: ${run.stderr()}`);
      return /dashboard at (https?:\/\/\S+?) /.exec(run.stdout())?.[1];
    },
    60_000,
  );
  return { run, url };
}

describe('gpumon serve with a token, beyond loopback', () => {
  const archive = tempDir('security-archive');
  const tokenFile = join(tempDir('security-token'), 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  // A summary that cannot be parsed: reading it fails with the file's absolute path in the error.
  mkdirSync(join(archive, 'gpu-analytics', 'date=2025-01-14'), { recursive: true });
  writeFileSync(join(archive, 'gpu-analytics', 'date=2025-01-14', 'summary.json'), '{ not json');
  let served: { run: Running; url: string };
  const auth = { Authorization: `Bearer ${TOKEN}` };

  before(async () => {
    served = await serve(['--host', '0.0.0.0', '--archive', archive, '--token-file', tokenFile], {
      GPUMON_LOG_LEVEL: 'info',
    });
  });
  after(async () => {
    if (served) await interrupt(served.run);
  });

  it('says at start that the page and the API ask for the token', () => {
    assert.match(served.run.stdout(), /ask for the token of server\.tokenFile/);
  });

  it('answers 401 without the token or with a wrong one, 200 with it', async () => {
    errorOf(await call(`${served.url}/api/runs`), 401);
    errorOf(
      await call(`${served.url}/api/runs`, { headers: { Authorization: 'Bearer guessed-token-000000' } }),
      401,
    );
    errorOf(await call(`${served.url}/metrics`), 401);
    const ok = await call(`${served.url}/api/runs`, { headers: auth });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.match(String(ok.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('refuses a cross-origin POST /api/runs, a forged Host and a form body, even with the token', async () => {
    const post = { method: 'POST', body: '{}' };
    const foreign = await call(`${served.url}/api/runs`, {
      ...post,
      headers: { ...auth, 'Content-Type': 'application/json', Origin: 'http://evil.example' },
    });
    assert.equal(errorOf(foreign, 403).code, 'CROSS_ORIGIN_REFUSED');
    const forged = await call(`${served.url}/api/runs`, {
      ...post,
      headers: { ...auth, 'Content-Type': 'application/json', Host: 'evil.example:8080' },
    });
    assert.equal(errorOf(forged, 403).code, 'HOST_NOT_ALLOWED');
    const form = await call(`${served.url}/api/runs`, {
      method: 'POST',
      body: 'run=1',
      headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(errorOf(form, 415).code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a same-origin JSON POST /api/runs with RUNS_NOT_AVAILABLE: serve runs no analytics', async () => {
    const answer = await call(`${served.url}/api/runs`, {
      method: 'POST',
      body: '{}',
      headers: { ...auth, 'Content-Type': 'application/json', Origin: served.url },
    });
    const error = errorOf(answer, 409);
    assert.equal(error.code, 'RUNS_NOT_AVAILABLE');
    assert.match(error.message, /gpumon analyze/);
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const answer = await call(`${served.url}/api/health`, {
      method: 'DELETE',
      headers: { ...auth, 'Content-Type': 'application/json' },
    });
    assert.equal(errorOf(answer, 405).code, 'METHOD_NOT_ALLOWED');
    assert.equal(answer.headers.allow, 'GET, HEAD');
  });

  it('keeps server paths out of an error body and puts them in the log, under the request id', async () => {
    const answer = await call(`${served.url}/api/analytics/2025-01-14`, { headers: auth });
    const error = errorOf(answer, 500);
    assert.ok(!answer.body.includes(archive), answer.body);
    assert.doesNotMatch(answer.body, /\/tmp|summary\.json|file:/);
    await waitFor(
      'the log line of the failed request',
      () => served.run.stderr().includes(error.requestId) || null,
      10_000,
    );
    const line =
      served.run
        .stderr()
        .split('\n')
        .find((l) => l.includes(error.requestId)) ?? '';
    assert.ok(line.includes(archive), line);
  });
});

describe('gpumon serve refuses to start', () => {
  it('beyond loopback without a token: exit 2, naming server.tokenFile', async () => {
    const { code, stderr } = await runGpumon(
      ['serve', '--host', '0.0.0.0', '--port', '0', '--archive', tempDir('security-refuse')],
      QUIET,
    );
    assert.equal(code, 2, stderr);
    assert.match(stderr, /server\.tokenFile/);
    assert.match(stderr, /--no-auth/);
  });

  it('and so does gpumon up, beyond loopback without a token, before it samples anything', async () => {
    const archive = tempDir('security-up');
    const { code, stderr } = await runGpumon(
      ['up', '--host', '0.0.0.0', '--port', '0', '--source', 'sim', '--archive', archive],
      QUIET,
    );
    assert.equal(code, 2, stderr);
    assert.match(stderr, /server\.tokenFile/);
  });

  it('on an archive that does not exist: exit 1, naming the path', async () => {
    const missing = join(tempDir('security-missing'), 'nonexistent');
    const { code, stderr, stdout } = await runGpumon(['serve', '--port', '0', '--archive', missing], QUIET);
    assert.equal(code, 1, stderr);
    assert.ok(stderr.includes(missing), stderr);
    assert.doesNotMatch(stdout, /dashboard at/);
  });
});

describe('gpumon serve with --no-auth beyond loopback', () => {
  it('starts, with a warning that anyone who reaches it can read it', async () => {
    const served = await serve(['--host', '0.0.0.0', '--no-auth', '--archive', tempDir('security-open')]);
    try {
      assert.match(served.run.stderr(), /WARNING: server\.auth is none/);
      assert.equal((await call(`${served.url}/api/runs`)).status, 200);
    } finally {
      await interrupt(served.run);
    }
  });
});

describe('gpumon serve with TLS', () => {
  it('serves HTTPS with the given certificate', async () => {
    const { certFile, keyFile } = selfSignedCert(tempDir('security-tls'));
    const served = await serve([
      '--tls-cert',
      certFile,
      '--tls-key',
      keyFile,
      '--archive',
      tempDir('security-tls-archive'),
    ]);
    try {
      assert.match(served.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const answer = await call(`${served.url}/api/runs`, { ca: readFileSync(certFile) });
      assert.equal(answer.status, 200, answer.body);
      await assert.rejects(call(served.url.replace('https:', 'http:')));
    } finally {
      await interrupt(served.run);
    }
  });
});
