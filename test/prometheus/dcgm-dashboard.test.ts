import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { MetricName } from '../../src/metrics/catalog.ts';
import { readPrometheusText } from '../../src/sources/dcgm/prometheus-text.ts';
import { kafkaBootstrap } from '../../src/testing/services.ts';
import { freePort, interrupt, pollHttp, ROOT, type Running, startGpumon, tempDir } from '../e2e/helpers.ts';
import { type RunningPrometheus, startPrometheus, type VectorSample } from './prometheus.ts';

interface DashboardQueries {
  variables: { name: string; query: string }[];
  panels: { id: number; title: string; expr: string }[];
}

const DASHBOARD = JSON.parse(
  readFileSync(new URL('testdata/dcgm-exporter-dashboard-queries.json', import.meta.url), 'utf8'),
) as DashboardQueries;

/** What each panel must show, computed from the gpumon-named series of the same scrape. */
type Expectation = { gpumon: MetricName; scale: number; of: 'each GPU' | 'average' | 'sum' };

const EXPECTED: Record<string, Expectation> = {
  'GPU Temperature': { gpumon: 'gpu_temperature_celsius', scale: 1, of: 'each GPU' },
  'GPU Avg. Temp': { gpumon: 'gpu_temperature_celsius', scale: 1, of: 'average' },
  'GPU Power Usage': { gpumon: 'gpu_power_draw_watts', scale: 1, of: 'each GPU' },
  'GPU Power Total': { gpumon: 'gpu_power_draw_watts', scale: 1, of: 'sum' },
  'GPU SM Clocks': { gpumon: 'gpu_sm_clock_mhz', scale: 1e6, of: 'each GPU' },
  'GPU Utilization': { gpumon: 'gpu_utilization_percent', scale: 0.01, of: 'each GPU' },
  'GPU Framebuffer Mem Used': { gpumon: 'gpu_memory_used_bytes', scale: 1 / 2 ** 20, of: 'each GPU' },
  'Tensor Core Utilization': { gpumon: 'gpu_tensor_active_percent', scale: 0.01, of: 'each GPU' },
};

/** Grafana's substitution for a multi-value variable set to "All" without a custom all value. */
const all = (expr: string) => expr.replace(/\$(Hostname|gpu|instance|datasource)\b/g, '.*');

const HOSTS = 2;
const GPUS_PER_HOST = 2;

/** The gpumon-named GPU series of an agent's /metrics: metric -> "host/gpu" -> value. */
function gpumonValues(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const e of readPrometheusText(text)) {
    if (!e.ok || !e.sample.name.startsWith('gpu_')) continue;
    const { host, gpu } = e.sample.labels;
    const byGpu = out.get(e.sample.name) ?? new Map<string, number>();
    byGpu.set(`${host}/${gpu}`, e.sample.value);
    out.set(e.sample.name, byGpu);
  }
  return out;
}

/** The GPU sample lines of an agent's /metrics (its counters left out): equal texts, equal samples. */
const sampleLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('gpumon_'))
    .join('\n');

const close = (actual: number, expected: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: Prometheus has ${actual}, gpumon sampled ${expected}`,
  );

describe("NVIDIA's dcgm-exporter dashboard on a real Prometheus scraping gpumon agent", () => {
  let agent: Running;
  let prometheus: RunningPrometheus;
  let agentUrl: string;

  before(async () => {
    const brokers = await kafkaBootstrap();
    const port = await freePort();
    agentUrl = `http://127.0.0.1:${port}/metrics`;
    agent = startGpumon(
      [
        'agent',
        '--source',
        'sim',
        '--brokers',
        brokers,
        '--topic',
        `prometheus-${randomBytes(4).toString('hex')}`,
        '--spool',
        tempDir('prometheus-spool'),
        '--health-port',
        String(port),
      ],
      {
        GPUMON_LOG_LEVEL: 'error',
        GPUMON_SOURCE_SIM_HOSTS: String(HOSTS),
        GPUMON_SOURCE_SIM_GPUS_PER_HOST: String(GPUS_PER_HOST),
        // Slow sampling, fast scraping: between two reads every scrape sees the same samples.
        GPUMON_SOURCE_INTERVAL_MS: '10000',
        GPUMON_PROMETHEUS_NAMES: 'both',
      },
    );
    await pollHttp(agentUrl, (s, body) => s === 200 && body.includes('DCGM_FI_DEV_GPU_TEMP{'), 120_000);
    prometheus = await startPrometheus([`127.0.0.1:${port}`], { job: 'gpumon-agent', scrapeIntervalS: 1 });
  });

  after(async () => {
    await prometheus?.stop();
    if (agent) {
      const { code } = await interrupt(agent);
      assert.equal(code, 0, agent.stderr());
    }
  });

  /**
   * Runs every panel's query at one instant whose last scrape saw `text`: the agent's /metrics before and
   * after the queries hold the same samples (no read in between), and Prometheus scraped after the first.
   */
  async function queriesOverOneScrape(
    queries: readonly { name: string; expr: string }[],
  ): Promise<{ text: string; results: Map<string, VectorSample[]> }> {
    for (let attempt = 1; ; attempt++) {
      const fetchedAt = Date.now();
      const text = await (await fetch(agentUrl)).text();
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [last] = await prometheus.query('max(timestamp(DCGM_FI_DEV_GPU_TEMP))');
        if (last && last.value * 1000 > fetchedAt + 100) break;
        if (Date.now() > deadline) assert.fail(`Prometheus did not scrape the agent:\n${prometheus.log()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const at = Date.now();
      const results = new Map<string, VectorSample[]>();
      for (const q of queries) results.set(q.name, await prometheus.query(q.expr, at));
      const again = await (await fetch(agentUrl)).text();
      if (sampleLines(again) === sampleLines(text)) return { text, results };
      assert.ok(attempt < 6, 'the agent read new samples during every attempt');
    }
  }

  it('answers every panel query with the values gpumon sampled, in dcgm-exporter units', async () => {
    const { text, results } = await queriesOverOneScrape(
      DASHBOARD.panels.map((p) => ({ name: p.title, expr: all(p.expr) })),
    );
    const gpumon = gpumonValues(text);
    assert.equal(gpumon.get('gpu_temperature_celsius')?.size, HOSTS * GPUS_PER_HOST);
    assert.deepEqual(
      DASHBOARD.panels.map((p) => p.title).sort(),
      Object.keys(EXPECTED).sort(),
      'every panel of the dashboard has an expectation',
    );
    for (const panel of DASHBOARD.panels) {
      const series = results.get(panel.title) ?? [];
      const expect = EXPECTED[panel.title] as Expectation;
      const sampled = gpumon.get(expect.gpumon);
      assert.ok(
        sampled && sampled.size === HOSTS * GPUS_PER_HOST,
        `${expect.gpumon} of every GPU on the agent`,
      );
      const values = [...sampled.values()].map((v) => v * expect.scale);
      if (expect.of === 'each GPU') {
        assert.equal(series.length, HOSTS * GPUS_PER_HOST, `${panel.title}: one series per GPU`);
        for (const s of series) {
          const key = `${s.metric.Hostname}/${s.metric.gpu}`;
          const want = sampled.get(key);
          assert.ok(want !== undefined, `${panel.title}: a series for ${key}, a GPU the agent does not have`);
          close(s.value, want * expect.scale, `${panel.title} of ${key}`);
        }
      } else {
        assert.equal(series.length, 1, `${panel.title}: one series`);
        const sum = values.reduce((a, b) => a + b, 0);
        // "GPU Power Total" sums the max of each gpu index over the hosts, as the dashboard writes it.
        const want =
          expect.of === 'average'
            ? sum / values.length
            : [...Array(GPUS_PER_HOST).keys()].reduce(
                (total, gpu) =>
                  total +
                  Math.max(
                    ...[...sampled]
                      .filter(([key]) => key.endsWith(`/${gpu}`))
                      .map(([, v]) => v * expect.scale),
                  ),
                0,
              );
        close(series[0]?.value ?? Number.NaN, want, panel.title);
      }
    }
  });

  it("fills the dashboard's Hostname and gpu variables with the agent's hosts and GPU indexes", async () => {
    const text = await (await fetch(agentUrl)).text();
    const keys = [...(gpumonValues(text).get('gpu_memory_free_bytes')?.keys() ?? [])];
    const hosts = [...new Set(keys.map((k) => k.split('/')[0]))].sort();
    const gpus = [...new Set(keys.map((k) => k.split('/')[1]))].sort();
    assert.equal(hosts.length, HOSTS);
    const [hostVar, gpuVar] = DASHBOARD.variables;
    const match = (q: string) => /label_values\((.*), \w+\)$/.exec(all(q))?.[1] ?? '';
    assert.deepEqual((await prometheus.labelValues('Hostname', match(hostVar?.query ?? ''))).sort(), hosts);
    assert.deepEqual((await prometheus.labelValues('gpu', match(gpuVar?.query ?? ''))).sort(), gpus);
  });

  it('carries the dcgm-exporter labels on every series: gpu, UUID, device, modelName, Hostname', async () => {
    const series = await prometheus.query('DCGM_FI_DEV_FB_USED');
    assert.equal(series.length, HOSTS * GPUS_PER_HOST);
    for (const s of series) {
      for (const label of [
        'gpu',
        'UUID',
        'device',
        'modelName',
        'Hostname',
        'pci_bus_id',
        'DCGM_FI_DRIVER_VERSION',
      ]) {
        assert.ok(s.metric[label], `DCGM_FI_DEV_FB_USED has ${label}: ${JSON.stringify(s.metric)}`);
      }
      assert.equal(s.metric.device, `nvidia${s.metric.gpu}`);
    }
  });

  it("evaluates the alert rules' expressions on gpumon's series: a value for every GPU", async () => {
    const file = readFileSync(join(ROOT, 'deploy', 'prometheus', 'gpumon-alerts.rules.yml'), 'utf8');
    const rules = (parse(file) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    assert.equal(rules.length, 4);
    // Each expression without its threshold: the level the alert compares, for every GPU.
    const { text, results } = await queriesOverOneScrape(
      rules.map((r) => ({ name: r.alert, expr: r.expr.replace(/\s*>=?\s*[\d.]+$/, '') })),
    );
    for (const r of rules) {
      assert.equal(results.get(r.alert)?.length, HOSTS * GPUS_PER_HOST, `${r.alert}: ${r.expr}`);
    }
    const gpumon = gpumonValues(text);
    for (const s of results.get('GpuHighPower') ?? []) {
      const key = `${s.metric.Hostname}/${s.metric.gpu}`;
      const power = gpumon.get('gpu_power_draw_watts')?.get(key) as number;
      const limit = gpumon.get('gpu_power_limit_watts')?.get(key) as number;
      close(s.value, (100 * power) / limit, `power share of ${key}`);
    }
  });
});
