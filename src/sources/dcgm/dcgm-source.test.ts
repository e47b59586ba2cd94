import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { isGpumonError } from '../../errors.ts';
import { parseSample } from '../../metrics/sample.ts';
import { DcgmSource, dcgmAvailable } from './dcgm-source.ts';

const FIXTURE = readFileSync(
  new URL('./testdata/tesla-t4-x2-scrapes-datadog-serve-metrics.prom', import.meta.url),
);
const T = 1_718_000_000_000;

/** A stand-in dcgm-exporter on 127.0.0.1: `/metrics` serves the capture; other paths fail in their own way. */
let server: Server;
let base: string;
let scrapes = 0;
let flaky = 0;

before(async () => {
  server = createServer((req, res) => {
    switch (req.url) {
      case '/metrics':
        scrapes++;
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(FIXTURE);
        return;
      case '/broken':
        res.writeHead(500).end('internal error');
        return;
      case '/garbage':
        res.writeHead(200).end('<html>not metrics</html>');
        return;
      case '/flaky': // fails the first time, then serves the capture
        if (flaky++ === 0) res.writeHead(503).end();
        else res.writeHead(200).end(FIXTURE);
        return;
      case '/hang':
        return; // never answers
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('DcgmSource', () => {
  test('each read scrapes the exporter once and returns a valid sample per GPU', async () => {
    const source = new DcgmSource({ url: `${base}/metrics`, host: 'this-host' });
    await source.open();
    const before = scrapes;
    const samples = await source.read(T);
    await source.read(T + 1000);
    assert.equal(scrapes - before, 2);
    assert.deepEqual(
      samples.map((s) => [s.host, s.uuid]),
      [
        ['424773df46e0', 'GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e'],
        ['551bdf382151', 'GPU-9ef1b6d0-3643-5dd7-b823-c0ec20dcf2d5'],
      ],
    );
    for (const s of samples) parseSample(s);
    const health = source.health();
    assert.equal(health.source, 'dcgm');
    assert.equal(health.lastSuccessMs, T + 1000);
    assert.deepEqual(health.errors, {});
    assert.equal(source.devices().length, 2);
    await source.close();
  });

  test('fields with no catalog metric are reported once each', async () => {
    const logged: string[] = [];
    const logger = { info: (o: { field: string }) => logged.push(o.field), warn: () => {} };
    const source = new DcgmSource({ url: `${base}/metrics`, logger: logger as never });
    await source.read(T);
    await source.read(T + 1000);
    assert.equal(logged.length, 7); // the fixture's 8 less DCGM_FI_DEV_FB_RESERVED, now gpu_memory_reserved_bytes
    assert.deepEqual(source.unmappedFields(), logged);
    assert.ok(logged.includes('DCGM_FI_DEV_POWER_MGMT_LIMIT'));
  });

  test('an HTTP error is counted as http-status and rejects with SOURCE_READ_FAILED', async () => {
    const source = new DcgmSource({ url: `${base}/broken` });
    await assert.rejects(source.read(T), (err) => isGpumonError(err, 'SOURCE_READ_FAILED'));
    assert.deepEqual(source.health().errors, { 'http-status': 1 });
    assert.match(source.health().notice ?? '', /HTTP 500/);
  });

  test('a page that is not a scrape counts its bad lines and the failed read', async () => {
    const source = new DcgmSource({ url: `${base}/garbage` });
    await assert.rejects(source.read(T), /gave no GPU sample/);
    assert.deepEqual(source.health().errors, { 'parse:malformed-line': 1, 'no-samples': 1 });
  });

  test('an exporter that does not answer is given up at the timeout', async () => {
    const source = new DcgmSource({ url: `${base}/hang`, timeoutMs: 200 });
    const started = performance.now();
    await assert.rejects(source.read(T), /did not answer within 200 ms/);
    assert.ok(performance.now() - started < 3000);
    assert.deepEqual(source.health().errors, { timeout: 1 });
  });

  test('an exporter that is not there is counted as fetch, naming the config key', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const source = new DcgmSource({ url: `http://127.0.0.1:${port}/metrics` });
    await assert.rejects(source.read(T), /source\.dcgm\.url/);
    assert.deepEqual(source.health().errors, { fetch: 1 });
    assert.equal(source.health().lastSuccessMs, null);
  });

  test('open fails with SOURCE_UNAVAILABLE naming the URL when the exporter is not there', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const url = `http://127.0.0.1:${port}/metrics`;
    await assert.rejects(
      new DcgmSource({ url }).open(),
      (err) =>
        isGpumonError(err, 'SOURCE_UNAVAILABLE') &&
        err.message.includes(`${url} cannot be reached`) &&
        err.message.includes('source.dcgm.url'),
    );
    await assert.rejects(
      new DcgmSource({ url: `${base}/broken` }).open(),
      (err) => isGpumonError(err, 'SOURCE_UNAVAILABLE') && /answered HTTP 5\d\d/.test(err.message),
    );
  });

  test('the read recovers: after a failure the next good scrape clears the notice', async () => {
    const source = new DcgmSource({ url: `${base}/flaky` });
    await assert.rejects(source.read(T));
    assert.equal((await source.read(T + 1000)).length, 2);
    assert.equal(source.health().notice, null);
    assert.deepEqual(source.health().errors, { 'http-status': 1 });
  });
});

describe('dcgmAvailable', () => {
  test('is true for a dcgm-exporter, false for errors, other pages and nothing listening', async () => {
    assert.equal(await dcgmAvailable(`${base}/metrics`), true);
    assert.equal(await dcgmAvailable(`${base}/broken`), false);
    assert.equal(await dcgmAvailable(`${base}/garbage`), false);
    assert.equal(await dcgmAvailable(`${base}/hang`, 200), false);
  });
});
