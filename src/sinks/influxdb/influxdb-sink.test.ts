/**
 * The InfluxDB sink's HTTP behaviour against a local fake server (no InfluxDB needed): compression, auth,
 * request size, and which answers reject (retried by the pipeline) or count as done. The real InfluxDB is
 * exercised in test/influxdb/.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '../../config/load.ts';
import { type GpumonError, isGpumonError } from '../../errors.ts';
import { testSample } from '../../testing/samples.ts';
import { compressesWrites, type InfluxDbOptions } from './influx-client.ts';
import { InfluxDbSink } from './influxdb-sink.ts';

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A fake InfluxDB: records each request and answers with `respond` (default 204). */
async function fakeInflux(
  respond: (req: Seen, res: ServerResponse) => void = (req, res) =>
    req.path.startsWith('/query') ? res.end('{"results":[{"statement_id":0}]}') : res.writeHead(204).end(),
) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
      const entry = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      seen.push(entry);
      respond(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url, seen, writes: () => seen.filter((s) => s.path.startsWith('/write')) };
}

const base = loadConfig().influxdb;
const options = (over: Partial<InfluxDbOptions>): InfluxDbOptions => ({
  ...base,
  database: 'gpumon',
  ...over,
});
const T0 = Date.UTC(2026, 10, 25, 10);
const samples = (n: number) =>
  Array.from({ length: n }, (_, i) => testSample({ ts: T0 + i * 1000, gpu_temperature_celsius: 40 + i }));
const json = (res: ServerResponse, status: number, error: string) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));

describe('InfluxDB sink over HTTP', () => {
  it('posts gzip-compressed line protocol to /write with db, rp and ms precision, and basic auth', async () => {
    const influx = await fakeInflux();
    const sink = new InfluxDbSink(
      options({
        url: influx.url,
        retentionPolicy: 'week',
        username: 'gpu',
        password: 'p:w',
        compression: 'gzip',
      }),
    );
    await sink.write(samples(3));
    const [create, write] = influx.seen;
    assert.equal(create?.path.startsWith('/query'), true);
    assert.match(create?.body ?? '', /q=CREATE\+DATABASE\+%22gpumon%22/);
    assert.equal(write?.method, 'POST');
    assert.equal(write?.path, '/write?db=gpumon&precision=ms&rp=week');
    assert.equal(write?.headers['content-encoding'], 'gzip');
    assert.equal(write?.headers.authorization, `Basic ${Buffer.from('gpu:p:w').toString('base64')}`);
    assert.equal(write?.body.trim().split('\n').length, 3);
    assert.deepEqual(sink.stats(), { points: 3, requests: 1, rejected: 0, skippedEmpty: 0 });
  });

  it('sends plain line protocol to an InfluxDB on this machine unless told to compress', async () => {
    const influx = await fakeInflux();
    await new InfluxDbSink(options({ url: influx.url })).write(samples(2));
    const write = influx.seen.find((r) => r.path.startsWith('/write'));
    assert.equal(write?.headers['content-encoding'], undefined);
    assert.equal(write?.body.trim().split('\n').length, 2);
  });

  it('compresses for any host but this machine under compression auto, and as told otherwise', () => {
    for (const url of [
      'http://127.0.0.1:8086',
      'http://localhost:8086',
      'http://[::1]:8086',
      'http://127.1.2.3',
    ])
      assert.equal(compressesWrites(url, 'auto'), false, url);
    for (const url of ['http://influxdb:8086', 'https://10.0.0.5:8086', 'http://127.0.0.1.example.com'])
      assert.equal(compressesWrites(url, 'auto'), true, url);
    assert.equal(compressesWrites('http://127.0.0.1:8086', 'gzip'), true);
    assert.equal(compressesWrites('http://influxdb:8086', 'none'), false);
  });

  it('sends a token as Authorization: Token and never creates the database with one', async () => {
    const influx = await fakeInflux();
    await new InfluxDbSink(options({ url: influx.url, token: 's3cret' })).write(samples(1));
    assert.deepEqual(
      influx.seen.map((s) => [s.path.split('?')[0], s.headers.authorization]),
      [['/write', 'Token s3cret']],
    );
  });

  it('splits a batch into requests of at most batchLines lines, in order', async () => {
    const influx = await fakeInflux();
    await new InfluxDbSink(options({ url: influx.url, batchLines: 4 })).write(samples(10));
    const bodies = influx.writes().map((w) => w.body.trim().split('\n'));
    assert.deepEqual(
      bodies.map((b) => b.length),
      [4, 4, 2],
    );
    assert.match(bodies[2]?.[1] ?? '', /temperature_gpu=49 /);
  });

  it('skips samples with no value and counts them', async () => {
    const influx = await fakeInflux();
    const sink = new InfluxDbSink(options({ url: influx.url }));
    await sink.write([testSample({ ts: T0 }), ...samples(1)]);
    assert.equal(influx.writes()[0]?.body.trim().split('\n').length, 1);
    assert.equal(sink.stats().skippedEmpty, 1);
  });

  it('rejects a 5xx with a SINK_WRITE_FAILED naming the status and InfluxDB text, so the pipeline retries', async () => {
    const influx = await fakeInflux((req, res) =>
      req.path.startsWith('/write')
        ? json(res, 503, 'engine: cache-max-memory-size exceeded')
        : res.end('{}'),
    );
    await assert.rejects(new InfluxDbSink(options({ url: influx.url })).write(samples(2)), (err) => {
      assert.ok(isGpumonError(err, 'SINK_WRITE_FAILED'));
      assert.match(
        err.message,
        /refused a write of 2 lines to http.*\/write\?db=gpumon.*: 503 engine: cache-max-memory-size exceeded/,
      );
      return true;
    });
  });

  it('counts a 400 field type conflict as done (never retried) and reports it as a clear error', async () => {
    const influx = await fakeInflux((req, res) =>
      req.path.startsWith('/write')
        ? json(
            res,
            400,
            'partial write: field type conflict: input field "temperature_gpu" on measurement "gpu_metrics" is type integer, already exists as type float dropped=1',
          )
        : res.end('{}'),
    );
    const refused: GpumonError[] = [];
    const sink = new InfluxDbSink(options({ url: influx.url }), { onRejected: (e) => refused.push(e) });
    await sink.write(samples(3));
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.code, 'SINK_WRITE_FAILED');
    assert.match(
      refused[0]?.message ?? '',
      /: 400 partial write: field type conflict: input field "temperature_gpu"/,
    );
    assert.deepEqual(sink.stats(), { points: 2, requests: 1, rejected: 1, skippedEmpty: 0 });
  });

  it('rejects a 400 an operator can fix (retention policy not found) and a 401 with a hint', async () => {
    let status = 400;
    const influx = await fakeInflux((req, res) =>
      req.path.startsWith('/write')
        ? json(res, status, status === 400 ? 'retention policy not found: week' : 'authorization failed')
        : res.end('{}'),
    );
    const sink = new InfluxDbSink(options({ url: influx.url, retentionPolicy: 'week' }));
    await assert.rejects(sink.write(samples(1)), /: 400 retention policy not found: week$/);
    status = 401;
    await assert.rejects(
      sink.write(samples(1)),
      /: 401 authorization failed \(check influxdb.username\/password or influxdb.token\)/,
    );
  });

  it('creates a database that went missing, then writes the request again', async () => {
    let exists = false;
    const influx = await fakeInflux((req, res) => {
      if (req.path.startsWith('/query')) {
        exists = true;
        return void res.end('{"results":[{"statement_id":0}]}');
      }
      if (!exists) return json(res, 404, 'database not found: "gpumon"');
      res.writeHead(204).end();
    });
    const sink = new InfluxDbSink(options({ url: influx.url }));
    await sink.write(samples(1));
    exists = false; // dropped behind our back
    await sink.write(samples(1));
    assert.deepEqual(
      influx.seen.map((s) => s.path.split('?')[0]),
      ['/query', '/write', '/write', '/query', '/write'],
    );
  });

  it('rejects when InfluxDB does not answer within timeoutMs', async () => {
    const influx = await fakeInflux((req, res) => {
      if (req.path.startsWith('/query')) res.end('{}');
      // a /write is never answered
    });
    const started = Date.now();
    await assert.rejects(
      new InfluxDbSink(options({ url: influx.url, timeoutMs: 200 })).write(samples(1)),
      /no answer within 200 ms \(influxdb.timeoutMs\)/,
    );
    assert.ok(Date.now() - started < 2000);
  });

  it('rejects when nothing listens at the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const sink = new InfluxDbSink(options({ url: `http://127.0.0.1:${port}` }));
    await assert.rejects(sink.write(samples(1)), (err) => {
      assert.ok(isGpumonError(err, 'SINK_WRITE_FAILED'));
      assert.match(err.message, /cannot reach InfluxDB at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
      return true;
    });
  });
});
