import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PrometheusNames } from '../metrics/prometheus.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { SimSource } from '../sources/sim/sim-source.ts';
import { Agent } from './agent.ts';
import { Spool } from './spool.ts';
import type { Publisher } from './spooling-publisher.ts';

/** A Kafka stand-in that refuses while `down` is set. */
class FakeKafka implements Publisher {
  down = false;
  got = 0;
  async publish(samples: readonly GpuSample[]): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    this.got += samples.length;
  }
  async close(): Promise<void> {}
}

async function agentWith(kafka: FakeKafka, prometheusNames?: PrometheusNames): Promise<Agent> {
  const source = new SimSource({ hosts: 1, gpusPerHost: 2, seed: 7 });
  await source.open();
  const spool = await Spool.open({
    dir: mkdtempSync(join(tmpdir(), 'gpumon-agent-health-')),
    maxBytes: 1 << 20,
  });
  return new Agent({
    source,
    target: kafka,
    spool,
    intervalMs: 1000,
    retryDelayMs: 10,
    statsIntervalMs: 0,
    ...(prometheusNames ? { prometheusNames } : {}),
  });
}

describe("the agent's health", () => {
  it('is not ready before the source has read once', async () => {
    const agent = await agentWith(new FakeKafka());
    const [source] = agent.healthReporter().readiness();
    assert.equal(source?.name, 'source');
    assert.equal(source?.ok, false);
    assert.match(source?.detail ?? '', /no successful read yet/);
    await agent.stop(0);
  });

  it('is ready after a read, and not ready once the last read is older than three intervals (10 s at least)', async () => {
    const agent = await agentWith(new FakeKafka());
    const start = Date.now();
    await agent.tick(start);
    let now = start + 500;
    const health = agent.healthReporter(() => now);
    assert.deepEqual(
      health.readiness().map((c) => [c.name, c.ok]),
      [
        ['source', true],
        ['kafka', true],
      ],
    );
    now = start + 10_500;
    const [stale] = health.readiness();
    assert.equal(stale?.ok, false);
    assert.match(stale?.detail ?? '', /last successful read 10\.\d s ago/);
    await agent.stop(0);
  });

  it('stays ready while Kafka is away, saying that it spools', async () => {
    const kafka = new FakeKafka();
    kafka.down = true;
    const agent = await agentWith(kafka);
    await agent.tick(Date.now());
    const checks = agent.healthReporter().readiness();
    assert.ok(checks.every((c) => c.ok));
    assert.match(
      checks.find((c) => c.name === 'kafka')?.detail ?? '',
      /unreachable: spooling on disk \(2 samples pending\)/,
    );
    assert.match(agent.healthReporter().metrics(), /^gpumon_agent_kafka_reachable 0$/m);
    await agent.stop(0);
  });

  it('counts samples read, sent and spooled in /metrics', async () => {
    const kafka = new FakeKafka();
    const agent = await agentWith(kafka);
    await agent.tick(Date.now());
    await agent.tick(Date.now() + 1000);
    const text = agent.healthReporter().metrics();
    assert.match(text, /^gpumon_agent_samples_read_total 4$/m);
    assert.match(text, /^gpumon_agent_samples_sent_total 4$/m);
    assert.match(text, /^gpumon_agent_samples_spooled_total 0$/m);
    assert.match(text, /^gpumon_agent_spool_pending_samples 0$/m);
    assert.match(text, /^gpumon_source_last_success_timestamp_seconds\{source="sim"\} \d+/m);
    assert.match(text, /^# TYPE gpumon_agent_samples_read_total counter$/m);
    await agent.stop(0);
  });

  it("serves the latest sample of each GPU beside its counters, with gpumon's and dcgm-exporter's names", async () => {
    const kafka = new FakeKafka();
    kafka.down = true;
    const agent = await agentWith(kafka);
    const start = Date.now();
    await agent.tick(start);
    const text = agent.healthReporter(() => start + 100).metrics();
    assert.match(text, /^gpumon_agent_samples_read_total 2$/m, 'the counters stay');
    assert.equal(text.match(/^gpu_temperature_celsius\{/gm)?.length, 2);
    assert.equal(text.match(/^DCGM_FI_DEV_GPU_TEMP\{gpu="\d",UUID="GPU-[^"]+",/gm)?.length, 2);
    assert.match(text, /^# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter$/m);
    await agent.stop(0);
  });

  it('serves only the names prometheus.names asks for', async () => {
    const agent = await agentWith(new FakeKafka(), 'dcgm');
    const start = Date.now();
    await agent.tick(start);
    const text = agent.healthReporter(() => start).metrics();
    assert.match(text, /^DCGM_FI_DEV_FB_USED\{/m);
    assert.doesNotMatch(text, /^gpu_memory_used_bytes\{/m);
    await agent.stop(0);
  });

  it('leaves no frozen GPU values once the last read is stale', async () => {
    const agent = await agentWith(new FakeKafka());
    const start = Date.now();
    await agent.tick(start);
    const text = agent.healthReporter(() => start + 10_500).metrics();
    assert.doesNotMatch(text, /DCGM_FI_DEV_GPU_TEMP|gpu_temperature_celsius/);
    assert.match(text, /^gpumon_agent_samples_read_total 2$/m);
    await agent.stop(0);
  });
});
