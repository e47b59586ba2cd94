import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { freePort, interrupt, pollHttp, startGpumon, tempDir } from './helpers.ts';

interface Readiness {
  service: string;
  status: string;
  checks: { name: string; ok: boolean; detail: string }[];
}

// A port nothing listens on: Kafka is unreachable there.
const NO_KAFKA = '127.0.0.1:1';

describe('the health server of gpumon agent and consume (Kubernetes probes)', () => {
  it('gpumon agent is alive and ready on the simulator while Kafka is away, and says it spools', async () => {
    const port = await freePort();
    const agent = startGpumon(
      [
        'agent',
        '--source',
        'sim',
        '--brokers',
        NO_KAFKA,
        '--spool',
        tempDir('health-spool'),
        '--health-port',
        String(port),
      ],
      { GPUMON_LOG_LEVEL: 'error', GPUMON_SOURCE_INTERVAL_MS: '200' },
    );
    try {
      const alive = await pollHttp(`http://127.0.0.1:${port}/healthz`, (s) => s === 200, 60_000);
      assert.equal(JSON.parse(alive.body).service, 'gpumon-agent');
      const ready = await pollHttp(
        `http://127.0.0.1:${port}/readyz`,
        (s, body) => s === 200 && /unreachable/.test(body),
        30_000,
      );
      const body = JSON.parse(ready.body) as Readiness;
      assert.equal(body.status, 'ready');
      assert.match(body.checks.find((c) => c.name === 'kafka')?.detail ?? '', /spooling on disk/);
      const metrics = await pollHttp(`http://127.0.0.1:${port}/metrics`, (s) => s === 200, 5_000);
      assert.match(metrics.body, /^gpumon_agent_kafka_reachable 0$/m);
      assert.match(metrics.body, /^gpumon_agent_samples_spooled_total [1-9]\d*$/m);
      assert.match(agent.stdout(), new RegExp(`health on http://127\\.0\\.0\\.1:${port}/readyz`));
    } finally {
      const { code } = await interrupt(agent);
      assert.equal(code, 0, agent.stderr());
    }
  });

  it('gpumon consume is alive but not ready while Kafka cannot be reached, naming the group', async () => {
    const port = await freePort();
    const prefix = `health-${randomBytes(3).toString('hex')}`;
    const consume = startGpumon(
      ['consume', '--brokers', NO_KAFKA, '--sinks', 'influxdb', '--health-port', String(port)],
      { GPUMON_LOG_LEVEL: 'fatal', GPUMON_KAFKA_GROUP_PREFIX: prefix },
    );
    try {
      await pollHttp(`http://127.0.0.1:${port}/healthz`, (s) => s === 200, 60_000);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as Readiness;
      const kafka = body.checks.find((c) => c.name === `kafka:${prefix}-influxdb`);
      assert.equal(kafka?.ok, false);
      assert.match(kafka?.detail ?? '', /127\.0\.0\.1:1/);
    } finally {
      const { code } = await interrupt(consume);
      assert.equal(code, 0, consume.stderr());
    }
  });

  it('refuses a health port that is not a port, naming the key', async () => {
    const run = startGpumon(['agent', '--source', 'sim', '--health-port', '70000']);
    const { code } = await run.exited;
    assert.equal(code, 2);
    assert.match(run.stderr(), /health\.port/);
  });
});
