/**
 * gpumon serve shows the live fleet, on the real pipeline: simulated agents -> Kafka -> gpumon consume ->
 * InfluxDB -> gpumon serve (serve.live influxdb), all real processes and services
 * (`scripts/services/all.sh start`).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { GpusResponse, HealthResponse } from '../../src/server/api-types.ts';
import { influxQuery, influxUrl, kafkaBootstrap } from '../../src/testing/services.ts';
import { interrupt, type Running, startGpumon, tempDir, waitFor } from './helpers.ts';

const GPUS_PER_AGENT = 2;
const INTERVAL_MS = 500;

/** Starts `gpumon serve ARGS` on a free port and resolves with the address it prints. */
async function serve(args: string[], env: NodeJS.ProcessEnv): Promise<{ run: Running; url: string }> {
  const run = startGpumon(['serve', '--port', '0', '--archive', tempDir('serve-fleet-archive'), ...args], {
    GPUMON_LOG_LEVEL: 'warn',
    ...env,
  });
  const url = await waitFor(
    'serve to print its address',
    () => {
      if (run.child.exitCode !== null) throw new Error(`serve exited ${run.child.exitCode}: ${run.stderr()}`);
      return /dashboard at (https?:\/\/\S+?) /.exec(run.stdout())?.[1];
    },
    90_000,
  );
  return { run, url };
}

async function gpus(url: string): Promise<GpusResponse['gpus']> {
  return ((await (await fetch(`${url}/api/gpus`)).json()) as GpusResponse).gpus;
}

async function health(url: string): Promise<HealthResponse> {
  return (await (await fetch(`${url}/api/health`)).json()) as HealthResponse;
}

/** Waits until `probe` resolves to a value, polling every 300 ms. */
async function eventually<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      const value = await probe();
      if (value !== null) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('gpumon serve: the live fleet from InfluxDB (real Kafka, consume, InfluxDB)', () => {
  const running: Running[] = [];
  let cleanup: (() => Promise<void>) | null = null;
  after(async () => {
    for (const run of running.reverse()) await interrupt(run).catch(() => undefined);
    await cleanup?.();
  });

  it('shows every GPU of every agent, updating, on /api/gpus, the series, /api/stream and /metrics', async () => {
    const brokers = await kafkaBootstrap();
    const influx = await influxUrl();
    const id = randomBytes(4).toString('hex');
    const topic = `gpumon-e2e-fleet-${id}`;
    const db = `gpumon_e2e_fleet_${id}`;
    cleanup = async () => {
      await influxQuery(influx, `DROP DATABASE "${db}"`).catch(() => undefined);
    };
    const common = {
      GPUMON_KAFKA_TOPIC: topic,
      GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
      GPUMON_KAFKA_PARTITIONS: '3',
      GPUMON_INFLUXDB_DATABASE: db,
      GPUMON_SOURCE_INTERVAL_MS: String(INTERVAL_MS),
      GPUMON_LOG_LEVEL: 'warn',
    };
    const agent = (seed: number) =>
      startGpumon(
        ['agent', '--source', 'sim', '--brokers', brokers, '--spool', tempDir(`fleet-spool-${seed}`)],
        {
          ...common,
          GPUMON_SOURCE_SIM_HOSTS: '1',
          GPUMON_SOURCE_SIM_GPUS_PER_HOST: String(GPUS_PER_AGENT),
          GPUMON_SOURCE_SIM_SEED: String(seed),
        },
      );
    running.push(
      startGpumon(['consume', '--brokers', brokers, '--sinks', 'influxdb', '--influxdb', influx], {
        ...common,
        GPUMON_KAFKA_GROUP_PREFIX: `e2e-fleet-${id}`,
      }),
    );
    running.push(agent(101), agent(202));

    const { run: served, url } = await serve(['--live', 'influxdb', '--influxdb', influx], {
      ...common,
      GPUMON_SERVE_POLL_MS: '500',
    });
    running.push(served);
    assert.match(
      served.stdout(),
      new RegExp(`live fleet from InfluxDB ${influx.replace(/[.]/g, '\\.')} database ${db}`),
      'the start says where the live data comes from',
    );

    // Two agents: 2 x 2 GPUs.
    const first = await eventually(
      '4 GPUs on /api/gpus',
      async () => {
        const list = await gpus(url);
        return list.length === 2 * GPUS_PER_AGENT ? list : null;
      },
      120_000,
    );
    assert.equal(new Set(first.map((g) => g.uuid)).size, 4);

    // A third agent joins: the count grows.
    running.push(agent(303));
    const grown = await eventually(
      '6 GPUs on /api/gpus',
      async () => {
        const list = await gpus(url);
        return list.length === 3 * GPUS_PER_AGENT ? list : null;
      },
      120_000,
    );
    // ...and every GPU's latest sample moves on.
    const before = new Map(grown.map((g) => [g.uuid, g.ts]));
    await eventually(
      'every GPU to have a newer sample',
      async () => {
        const list = await gpus(url);
        return list.length === 6 && list.every((g) => g.ts > (before.get(g.uuid) ?? Number.POSITIVE_INFINITY))
          ? list
          : null;
      },
      60_000,
    );
    const latest = await gpus(url);
    const sample = latest[0] as GpusResponse['gpus'][number];
    assert.equal(typeof sample.gpu_temperature_celsius, 'number', 'metrics decoded from InfluxDB');
    assert.match(sample.driver_version ?? '', /^\d+\.\d+/, 'the identity fields without a tag come back too');

    // The live series of one GPU: several points, in time order.
    const series = (await (
      await fetch(
        `${url}/api/gpus/${encodeURIComponent(sample.uuid)}/series?metric=gpu_temperature_celsius&minutes=5`,
      )
    ).json()) as { ts: number[]; values: (number | null)[] };
    assert.ok(series.ts.length >= 3, `${series.ts.length} points`);
    assert.deepEqual(
      [...series.ts].sort((a, b) => a - b),
      series.ts,
    );

    // /metrics covers the fleet: every GPU's UUID is there.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const g of latest) assert.ok(metrics.includes(g.uuid), `${g.uuid} on /metrics`);
    assert.match(metrics, /gpumon_source_last_success_timestamp_seconds\{source="influxdb"\}/);

    // The live stream: a snapshot of the 6 GPUs, then samples as they come.
    const controller = new AbortController();
    const res = await fetch(`${url}/api/stream`, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const decoder = new TextDecoder();
    const deadline = Date.now() + 30_000;
    while (!/event: samples/.test(text)) {
      assert.ok(Date.now() < deadline, `no samples event in 30 s: ${text.slice(0, 300)}`);
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    const snapshot = /event: snapshot\ndata: (.*)\n/.exec(text)?.[1];
    assert.equal((JSON.parse(snapshot ?? '{}') as { gpus: unknown[] }).gpus.length, 6);
    assert.match(text, /event: samples/);

    // Its health says where the live data comes from, and that it is fine.
    const h = await health(url);
    const live = h.checks.find((c) => c.name === 'live');
    assert.equal(live?.status, 'ok', JSON.stringify(h));
    assert.match(live?.detail ?? '', /6 GPUs/);
  });

  it('says degraded, naming InfluxDB, while InfluxDB cannot be reached, and stays ready', async () => {
    const { run, url } = await serve(['--live', 'influxdb', '--influxdb', 'http://127.0.0.1:1'], {
      GPUMON_SERVE_POLL_MS: '500',
      GPUMON_INFLUXDB_TIMEOUT_MS: '1000',
    });
    running.push(run);
    const h = await eventually(
      'a failed poll',
      async () => {
        const body = await health(url);
        return /every poll failing/.test(body.reasons.join('\n')) ? body : null;
      },
      30_000,
    );
    assert.equal(h.status, 'degraded');
    assert.match(
      h.reasons.join('\n'),
      /^live: influxdb http:\/\/127\.0\.0\.1:1 database gpumon: every poll failing/m,
    );
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.deepEqual(await gpus(url), []);
  });

  it('with serve.live auto and no InfluxDB, serves without a live fleet and says why at start', async () => {
    const { run } = await serve(['--influxdb', 'http://127.0.0.1:1'], {});
    running.push(run);
    assert.match(
      run.stdout(),
      /no live fleet: serve\.live auto found no InfluxDB at http:\/\/127\.0\.0\.1:1/,
    );
  });

  it('with serve.live auto and an InfluxDB that answers, reads the live fleet from it', async () => {
    const influx = await influxUrl();
    const { run } = await serve(['--influxdb', influx], { GPUMON_INFLUXDB_DATABASE: '_internal' });
    running.push(run);
    assert.match(run.stdout(), /live fleet from InfluxDB .* database _internal .*serve\.live auto/);
  });
});
