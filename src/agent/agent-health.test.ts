import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PrometheusNames } from '../metrics/prometheus.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { HostMetricsSource } from '../sources/host/host-metrics-source.ts';
import { SimSource } from '../sources/sim/sim-source.ts';
import type { Source } from '../sources/source.ts';
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

async function agentWith(
  kafka: FakeKafka,
  prometheusNames?: PrometheusNames,
  wrap: (sim: Source) => Source = (sim) => sim,
): Promise<Agent> {
  const source = wrap(new SimSource({ hosts: 1, gpusPerHost: 2, seed: 7 }));
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
    hostName: 'node-7',
  });
}

/** A real machine's /proc and /sys, captured (two coretemp packages: src/sources/host/testdata/PROVENANCE.md). */
const TWO_PACKAGES = new URL('../sources/host/testdata/node-exporter-2x-coretemp', import.meta.url).pathname;

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

  it("serves each CPU package's temperature where the source reads the host, while the read is fresh", async () => {
    const agent = await agentWith(
      new FakeKafka(),
      'gpumon',
      (sim) => new HostMetricsSource(sim, { root: TWO_PACKAGES }),
    );
    const start = Date.now();
    await agent.tick(start);
    const text = agent.healthReporter(() => start + 100).metrics();
    assert.match(text, /^# TYPE host_cpu_package_temperature_celsius gauge$/m);
    assert.deepEqual(text.match(/^host_cpu_package_temperature_celsius\{.*$/gm), [
      'host_cpu_package_temperature_celsius{host="node-7",device="hwmon0",label="Physical id 0"} 55',
      'host_cpu_package_temperature_celsius{host="node-7",device="hwmon1",label="Physical id 0"} 55',
    ]);
    const stale = agent.healthReporter(() => start + 10_500).metrics();
    assert.doesNotMatch(stale, /host_cpu_package_temperature_celsius/, 'no frozen package values either');
    await agent.stop(0);
  });

  it('serves no CPU package family where the source reads no host (the simulator alone)', async () => {
    const agent = await agentWith(new FakeKafka());
    const start = Date.now();
    await agent.tick(start);
    assert.doesNotMatch(agent.healthReporter(() => start).metrics(), /host_cpu_package_temperature_celsius/);
    await agent.stop(0);
  });
});
