import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../config/load.ts';
import type { ConfigKey } from '../config/schema.ts';
import { isGpumonError } from '../errors.ts';
import { LiveState } from '../pipeline/live-state.ts';
import { selfSignedCert } from '../testing/tls.ts';
import { createApp } from './app.ts';
import { isLoopbackAddress, serverSecurity } from './security-config.ts';
import { startServer } from './serve.ts';
import { depsOf } from './test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'gpumon-security-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = '6d1c3e0f9a8b7c6d5e4f3a2b1c0d9e8f';
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, `${TOKEN}\n`);

const configOf = (flags: Partial<Record<ConfigKey, unknown>>) => loadConfig({ flags });

async function refusal(flags: Partial<Record<ConfigKey, unknown>>, key: string): Promise<string> {
  let message = '';
  await assert.rejects(serverSecurity(configOf(flags)), (err) => {
    assert.ok(isGpumonError(err, 'CONFIG_INVALID'), String(err));
    message = err.message;
    return true;
  });
  assert.match(message, new RegExp(`config key ${key.replace('.', '\\.')}`));
  return message;
}

describe('serverSecurity', () => {
  test('on loopback without a token: no token, no warning', async () => {
    const access = await serverSecurity(configOf({}));
    assert.equal(access.security.token, null);
    assert.equal(access.warning, null);
    assert.equal(access.tls, null);
  });

  test('refuses to listen beyond loopback without a token, naming server.tokenFile and the way out', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'gpumon.example.com']) {
      const message = await refusal({ 'server.host': host }, 'server.tokenFile');
      assert.match(message, /--token-file/);
      assert.match(message, /server\.auth to none/);
    }
  });

  test('reads the token from its file, without the trailing newline', async () => {
    const access = await serverSecurity(
      configOf({ 'server.host': '0.0.0.0', 'server.tokenFile': tokenFile }),
    );
    assert.equal(access.security.token, TOKEN);
  });

  test('server.auth none serves without a token beyond loopback, with a warning', async () => {
    const access = await serverSecurity(configOf({ 'server.host': '0.0.0.0', 'server.auth': 'none' }));
    assert.equal(access.security.token, null);
    assert.match(access.warning ?? '', /anyone who reaches 0\.0\.0\.0:8080/);
  });

  test('refuses server.auth none with a token file, a missing file and a short token', async () => {
    await refusal({ 'server.auth': 'none', 'server.tokenFile': tokenFile }, 'server.auth');
    const missing = await refusal({ 'server.tokenFile': join(dir, 'nothing') }, 'server.tokenFile');
    assert.ok(missing.includes(join(dir, 'nothing')));
    const short = join(dir, 'short');
    writeFileSync(short, 'secret\n');
    assert.match(await refusal({ 'server.tokenFile': short }, 'server.tokenFile'), /at least 16/);
    const spaced = join(dir, 'spaced');
    writeFileSync(spaced, 'two words that are long enough');
    await refusal({ 'server.tokenFile': spaced }, 'server.tokenFile');
  });

  test('answers the name it listens on, and the configured hosts and origins', async () => {
    const access = await serverSecurity(
      configOf({
        'server.host': 'gpumon.lab',
        'server.tokenFile': tokenFile,
        'server.allowedHosts': 'gpumon.example.com, .corp.example',
        'server.corsOrigins': 'https://grafana.example.com',
      }),
    );
    assert.deepEqual(access.security.allowedHosts, ['gpumon.example.com', '.corp.example', 'gpumon.lab']);
    assert.deepEqual(access.security.corsOrigins, ['https://grafana.example.com']);
  });

  test('refuses half a TLS pair, and a key that is not PEM', async () => {
    const { certFile, keyFile } = selfSignedCert(dir);
    await refusal({ 'server.tlsCertFile': certFile }, 'server.tlsKeyFile');
    await refusal({ 'server.tlsKeyFile': keyFile }, 'server.tlsCertFile');
    const notKey = join(dir, 'not-a-key.pem');
    writeFileSync(notKey, 'hello\n');
    await refusal({ 'server.tlsCertFile': certFile, 'server.tlsKeyFile': notKey }, 'server.tlsCertFile');
  });

  test('loopback addresses are 127.0.0.0/8, ::1 and localhost', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])
      assert.equal(isLoopbackAddress(host), true, host);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'localhost.example', '128.0.0.1'])
      assert.equal(isLoopbackAddress(host), false, host);
  });
});

describe('a server with TLS', () => {
  test('serves HTTPS with the certificate, and sets a Secure cookie', async () => {
    const tlsDir = mkdtempSync(join(dir, 'tls-'));
    const { certFile, keyFile } = selfSignedCert(tlsDir);
    const access = await serverSecurity(
      configOf({
        'server.tlsCertFile': certFile,
        'server.tlsKeyFile': keyFile,
        'server.tokenFile': tokenFile,
      }),
    );
    assert.equal(access.security.secure, true);
    const app = createApp(depsOf(new LiveState(60_000)), { security: access.security });
    const server = await startServer(app, { host: '127.0.0.1', port: 0, tls: access.tls });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(certFile);
      const get = (path: string, headers: Record<string, string> = {}) =>
        new Promise<{ status: number; headers: NodeJS.Dict<string | string[]>; body: string }>(
          (resolve, reject) => {
            const req = request(`${server.url}${path}`, { ca, headers }, (res) => {
              let body = '';
              res.on('data', (d) => {
                body += d;
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            });
            req.on('error', reject);
            req.end();
          },
        );
      const health = await get('/api/health', { Authorization: `Bearer ${TOKEN}` });
      assert.equal(health.status, 200, health.body);
      assert.equal((await get('/api/health')).status, 401);
      const link = await get(`/?token=${TOKEN}`);
      assert.equal(link.status, 303);
      assert.match(String(link.headers['set-cookie']), /__Host-gpumon_session=.*Secure/);
    } finally {
      await server.close();
    }
  });
});
