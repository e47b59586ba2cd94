import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '../../config/load.ts';
import { encodePoint, sampleLine } from '../../metrics/line-protocol.ts';
import { AlertEvaluator } from '../../pipeline/alerts.ts';
import { WindowAggregator } from '../../pipeline/windows.ts';
import { Simulator } from '../../sources/sim/simulator.ts';
import { testSample } from '../../testing/samples.ts';
import { ENCODING_HEADER_VALUE, encodeSampleJson } from '../../transport/kafka/encoding.ts';
import { decodeRecordWithLines } from '../../transport/kafka/line-decoder.ts';
import { alertLine, alertPoint } from './alert-sink.ts';
import { bodyOf } from './influx-client.ts';
import { InfluxDbStreamSink } from './stream-sink.ts';
import { windowPoint } from './window-sink.ts';

/** A fake InfluxDB: the lines of every /write, and a switch to fail them with a 503. */
async function fakeInflux() {
  const writes: string[][] = [];
  let failing = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!req.url?.startsWith('/write')) return res.end('{"results":[{"statement_id":0}]}');
      if (failing) return res.writeHead(503).end('{"error":"down"}');
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      writes.push(body.toString().trimEnd().split('\n'));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes,
    fail: (on: boolean) => {
      failing = on;
    },
  };
}

const config = loadConfig();
const W = Date.UTC(2026, 10, 25, 10, 0, 0); // a multiple of 30 s
const hot = (seconds: number, gpu = 0) =>
  testSample(
    { ts: W + seconds * 1000, gpu_temperature_celsius: 85, gpu_utilization_percent: 50 + seconds },
    gpu,
  );
const stages = () => ({ windowSeconds: 30, alerts: new AlertEvaluator(config.alerts, 60_000) });

describe('InfluxDB stream sink: samples, windows and alerts in one pass', () => {
  it('writes the samples, the windows they close and their alerts in the same requests', async () => {
    const influx = await fakeInflux();
    const sink = new InfluxDbStreamSink({ ...config.influxdb, url: influx.url }, stages());
    const first = [hot(0), hot(10), hot(0, 1)];
    await sink.write(first);
    const second = [hot(30), hot(31, 1)];
    await sink.write(second);

    // The same points as the three stages side by side.
    const windows = new WindowAggregator(30);
    const alerts = new AlertEvaluator(config.alerts, 60_000);
    const expected = [first, second].map((batch) => [
      ...batch.map((s) => sampleLine(s)),
      ...windows.add(batch).map((w) => encodePoint(windowPoint(w))),
      ...alerts.evaluate(batch).map((e) => alertLine(e)),
    ]);
    assert.deepEqual(influx.writes, expected);
    assert.equal(influx.writes[1]?.filter((l) => l.startsWith('gpu_metrics_30s,')).length, 2);
    assert.equal(influx.writes[0]?.filter((l) => l.startsWith('gpu_alerts,')).length, 3);

    await sink.close(); // the windows still open: GPU 0 and GPU 1 at 30 s
    assert.equal(influx.writes.length, 3);
    assert.deepEqual(
      influx.writes[2]?.map((l) => l.split(' ')[0]?.split(',')[0]),
      ['gpu_metrics_30s', 'gpu_metrics_30s'],
    );
    assert.deepEqual(sink.stats(), { points: 5 + 2 + 5 + 2, requests: 3, rejected: 0, skippedEmpty: 0 });
  });

  it('sends a retried batch again as it was, without aggregating or evaluating it twice', async () => {
    const influx = await fakeInflux();
    const sink = new InfluxDbStreamSink({ ...config.influxdb, url: influx.url }, stages());
    await sink.write([hot(0)]);
    influx.fail(true);
    const batch = [hot(30), hot(31)];
    await assert.rejects(sink.write(batch), /503/);
    influx.fail(false);
    await sink.write(batch); // the pipeline retries the same array
    const [, retried] = influx.writes;
    assert.deepEqual(retried?.filter((l) => l.startsWith('gpu_metrics_30s,')).length, 1);
    assert.deepEqual(retried?.filter((l) => l.startsWith('gpu_alerts,')).length, 2);
    assert.equal(sink.windows.openCount(), 1);
    await sink.close();
    assert.match(influx.writes[2]?.[0] ?? '', /^gpu_metrics_30s,.* samples=2i/);
  });

  it('retries a batch as it was after a later batch was written meanwhile (writes in flight together)', async () => {
    const influx = await fakeInflux();
    const sink = new InfluxDbStreamSink({ ...config.influxdb, url: influx.url }, stages());
    influx.fail(true);
    const first = [hot(0), hot(1)];
    await assert.rejects(sink.write(first), /503/);
    influx.fail(false);
    await sink.write([hot(30)]); // the next batch, written while the first waits for its retry
    await sink.write(first);
    const [later, retried] = influx.writes;
    assert.equal(
      later?.filter((l) => l.startsWith('gpu_metrics_30s,')).length,
      1,
      'the later batch closed the window',
    );
    assert.equal(retried?.filter((l) => l.startsWith('gpu_metrics,')).length, 2);
    assert.equal(retried?.filter((l) => l.startsWith('gpu_metrics_30s,')).length, 0, 'not aggregated again');
    assert.equal(sink.windows.lateCount(), 0, 'its samples not taken for late ones');
    await sink.close();
  });

  it('sends the lines the v1 decoder encoded as they are', async () => {
    const influx = await fakeInflux();
    const sink = new InfluxDbStreamSink({ ...config.influxdb, url: influx.url }, stages());
    const samples = new Simulator({ hosts: 2, gpusPerHost: 4, seed: 1 }).sampleAll(W);
    const decoded = samples.flatMap((s) => {
      const d = decodeRecordWithLines(Buffer.from(encodeSampleJson(s)), ENCODING_HEADER_VALUE);
      assert.ok(d.ok);
      return d.samples;
    });
    await sink.write(decoded);
    const lines = influx.writes[0]?.filter((l) => l.startsWith('gpu_metrics,'));
    assert.deepEqual(
      lines,
      samples.map((s) => sampleLine(s)),
    );
  });
});

describe('alert lines and request bodies', () => {
  it('writes an alert line as encodePoint(alertPoint(event)) does, odd tags included', () => {
    const events = [
      {
        ts: W + 0.5,
        host: 'node-1',
        gpu_index: 0,
        uuid: 'GPU-a',
        model: 'NVIDIA H100 80GB HBM3',
        rule: 'high_load' as const,
        value: 97,
        threshold: 90,
      },
      {
        ts: W,
        host: 'rack 1,node=2',
        gpu_index: 3,
        uuid: 'GPU-b',
        model: 'Model, with=odd "tags"',
        rule: 'high_power' as const,
        value: 95.123456789,
        threshold: 95,
      },
      {
        ts: W,
        host: 'n',
        gpu_index: 1,
        uuid: 'GPU-c',
        model: 'm',
        rule: 'temperature_spike' as const,
        value: 1e-7,
        threshold: 5,
      },
      {
        ts: W,
        host: 'n',
        gpu_index: 1,
        uuid: 'GPU-c',
        model: 'm',
        rule: 'high_temperature' as const,
        value: Number.NaN,
        threshold: 80,
      },
    ];
    for (const event of events) {
      assert.equal(alertLine(event), encodePoint(alertPoint(event)));
      assert.equal(alertLine(event), encodePoint(alertPoint(event)), 'from the cache too');
    }
  });

  it('joins text and encoded lines into one body, a newline after each', () => {
    assert.equal(bodyOf(['a b 1', 'c d 2']), 'a b 1\nc d 2\n');
    assert.equal(
      (
        bodyOf([Buffer.from('x y 1'), 'h\u00f6st=\u00e9 2', new Uint8Array(Buffer.from('z w 3'))]) as Buffer
      ).toString(),
      'x y 1\nh\u00f6st=\u00e9 2\nz w 3\n',
    );
  });
});
