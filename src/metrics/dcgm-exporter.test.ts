import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseDcgmMetrics } from '../sources/dcgm/dcgm-parser.ts';
import { readPrometheusText } from '../sources/dcgm/prometheus-text.ts';
import { testSample } from '../testing/samples.ts';
import { dcgmFields, METRICS } from './catalog.ts';
import { renderDcgmExporter } from './dcgm-exporter.ts';
import { renderSamples } from './prometheus.ts';

const SCRAPE = readFileSync(
  new URL('../sources/dcgm/testdata/tesla-t4-x2-scrapes-datadog-serve-metrics.prom', import.meta.url),
  'utf8',
);
const COUNTERS = readFileSync(
  new URL('testdata/dcgm-exporter-default-counters.csv', import.meta.url),
  'utf8',
);

/** The `# TYPE` and `# HELP` lines of a scrape, by family. */
function families(text: string): Map<string, { type?: string; help?: string }> {
  const out = new Map<string, { type?: string; help?: string }>();
  for (const line of text.split('\n')) {
    const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    const [, what, name, rest] = m as unknown as [string, string, string, string];
    const f = out.get(name) ?? {};
    if (what === 'TYPE') f.type = rest;
    else f.help = rest;
    out.set(name, f);
  }
  return out;
}

/** The rows of dcgm-exporter's counters file, commented-out rows included (they are its opt-in metrics). */
function counterRows(): Map<string, { type: string; help: string }> {
  const rows = new Map<string, { type: string; help: string }>();
  for (const line of COUNTERS.split('\n')) {
    const m = /^#?\s*(DCGM_FI_\w+)\s*,\s*(\w+)\s*,\s*(.*)$/.exec(line);
    if (m) rows.set(m[1] as string, { type: m[2] as string, help: (m[3] as string).trim() });
  }
  return rows;
}

describe('dcgm-exporter names', () => {
  it("gives every catalog field that dcgm-exporter's counters file lists its type and help", () => {
    const rows = counterRows();
    let checked = 0;
    for (const { field } of dcgmFields()) {
      const row = rows.get(field.field);
      if (!row) continue;
      assert.equal(field.type, row.type, `${field.field}: type`);
      assert.equal(field.help, row.help, `${field.field}: help`);
      checked++;
    }
    assert.ok(checked >= 14, `only ${checked} catalog fields are in the counters file`);
  });

  it('renders a real dcgm-exporter scrape back with its names, types, units, labels and values', () => {
    const parsed = parseDcgmMetrics(SCRAPE, { now: 0, host: 'unused' });
    assert.equal(parsed.samples.length, 2);
    const ours = renderDcgmExporter(parsed.samples);
    const theirFamilies = families(SCRAPE);
    const ourFamilies = families(ours);
    const theirs = new Map<string, Record<string, string> & { value: string }>();
    for (const e of readPrometheusText(SCRAPE)) {
      if (e.ok)
        theirs.set(`${e.sample.name}/${e.sample.labels.UUID}`, {
          ...e.sample.labels,
          value: String(e.sample.value),
        });
    }
    let compared = 0;
    for (const e of readPrometheusText(ours)) {
      assert.ok(e.ok, 'our output parses');
      const s = e.sample;
      const their = theirs.get(`${s.name}/${s.labels.UUID}`);
      if (!their) continue; // a field only the other scrape of the fixture has
      for (const label of ['gpu', 'UUID', 'device', 'modelName', 'Hostname', 'DCGM_FI_DRIVER_VERSION']) {
        assert.equal(s.labels[label], their[label], `${s.name} label ${label}`);
      }
      assert.equal(
        s.value,
        Number(their.value),
        `${s.name} of ${s.labels.UUID}: value in dcgm-exporter's unit`,
      );
      assert.equal(ourFamilies.get(s.name)?.type, theirFamilies.get(s.name)?.type, `${s.name}: TYPE`);
      const theirHelp = theirFamilies.get(s.name)?.help;
      if (theirHelp) assert.equal(ourFamilies.get(s.name)?.help, theirHelp, `${s.name}: HELP`);
      compared++;
    }
    assert.equal(compared, 16, 'every mapped series of the fixture: 12 of one T4, 4 of the other');
  });

  it('writes framebuffer in MiB, energy in mJ, PCIe in KB/s and bytes/s, utilization also as a ratio', () => {
    const text = renderDcgmExporter([
      testSample({
        ts: 1,
        gpu_memory_used_bytes: 2048 * 1024 * 1024,
        gpu_energy_joules_total: 12.5,
        gpu_pcie_tx_bytes_per_second: 4096,
        gpu_utilization_percent: 42,
        pci_bus_id: '00000000:3B:00.0',
        driver_version: '550.54.15',
      }),
    ]);
    const labels =
      'gpu="0",UUID="GPU-node-1-0",pci_bus_id="00000000:3B:00.0",device="nvidia0",' +
      'modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",DCGM_FI_DRIVER_VERSION="550.54.15"';
    const lines = text.split('\n');
    assert.ok(lines.includes(`DCGM_FI_DEV_FB_USED{${labels}} 2048`));
    assert.ok(lines.includes(`DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{${labels}} 12500`));
    assert.ok(lines.includes('# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter'));
    assert.ok(lines.includes(`DCGM_FI_DEV_PCIE_TX_THROUGHPUT{${labels}} 4`));
    assert.ok(lines.includes(`DCGM_FI_PROF_PCIE_TX_BYTES{${labels}} 4096`));
    assert.ok(lines.includes(`DCGM_FI_DEV_GPU_UTIL{${labels}} 42`));
    assert.ok(lines.includes(`DCGM_FI_PROF_GR_ENGINE_ACTIVE{${labels}} 0.42`));
    assert.ok(!text.includes('DCGM_FI_DEV_GPU_TEMP'), 'a null reading has no series, never 0');
    assert.ok(
      !text.includes('DCGM_FI_DEV_CLOCKS_EVENT_REASONS'),
      'the newer alias of throttle reasons is read, not written',
    );
  });

  it('labels a MIG instance as dcgm-exporter does: its GPU UUID and model, GPU_I_PROFILE and GPU_I_ID', () => {
    const text = renderDcgmExporter([
      testSample({
        ts: 1,
        uuid: 'MIG-aaaaaaaa-0000-0000-0000-000000000000',
        model: 'NVIDIA A100-SXM4-80GB MIG 3g.40gb',
        parent_uuid: 'GPU-abc',
        mig_gpu_instance_id: 3,
        mig_compute_instance_id: 0,
        gpu_memory_used_bytes: 2 * 1024 * 1024,
      }),
    ]);
    assert.match(
      text,
      /DCGM_FI_DEV_FB_USED\{gpu="0",UUID="GPU-abc",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="3g.40gb",GPU_I_ID="3",Hostname="node-1"\} 2/,
    );
  });

  it('escapes label values', () => {
    const text = renderDcgmExporter([
      testSample({ ts: 1, model: 'A "quoted" \\ model', gpu_temperature_celsius: 50 }),
    ]);
    assert.match(text, /modelName="A \\"quoted\\" \\\\ model"/);
  });

  it('labels a GPU held by a pod with its pod, namespace and container, as dcgm-exporter does on Kubernetes', () => {
    const held = { ts: 1, gpu_temperature_celsius: 50, namespace: 'ml', pod: 'train-0', container: 'worker' };
    assert.match(
      renderDcgmExporter([testSample(held)]),
      /DCGM_FI_DEV_GPU_TEMP\{gpu="0",UUID="GPU-node-1-0",device="nvidia0",modelName="[^"]+",Hostname="node-1",pod="train-0",namespace="ml",container="worker"\} 50/,
    );
    assert.doesNotMatch(renderDcgmExporter([testSample({ ts: 1, gpu_temperature_celsius: 50 })]), /pod=/);
  });

  it('renders gpumon names, dcgm names or both as prometheus.names says', () => {
    const latest = [testSample({ ts: 1, gpu_temperature_celsius: 61 })];
    const has = (text: string) => [
      text.includes('gpu_temperature_celsius{'),
      text.includes('DCGM_FI_DEV_GPU_TEMP{'),
    ];
    assert.deepEqual(has(renderSamples(latest, 'gpumon')), [true, false]);
    assert.deepEqual(has(renderSamples(latest, 'dcgm')), [false, true]);
    assert.deepEqual(has(renderSamples(latest, 'both')), [true, true]);
  });

  it('maps every metric that DCGM has to a field, and no field twice', () => {
    const fields = dcgmFields().map((f) => f.field.field);
    assert.equal(new Set(fields).size, fields.length);
    assert.ok(METRICS.filter((m) => m.dcgm !== null).length >= 20);
  });

  it("reads back what it writes: gpumon's dcgm source parses the rendering into the same values", () => {
    const sample = testSample({
      ts: 5,
      pci_bus_id: '00000000:3B:00.0',
      driver_version: '550.54.15',
      gpu_utilization_percent: 37,
      gpu_memory_utilization_percent: 12,
      gpu_memory_total_bytes: 80 * 1024 ** 3,
      gpu_memory_used_bytes: 1234 * 1024 ** 2,
      gpu_memory_free_bytes: (80 * 1024 - 1234) * 1024 ** 2,
      gpu_temperature_celsius: 64,
      gpu_memory_temperature_celsius: 71,
      gpu_power_draw_watts: 512.25,
      gpu_power_limit_watts: 700,
      gpu_energy_joules_total: 98765.432,
      gpu_sm_clock_mhz: 1980,
      gpu_memory_clock_mhz: 2619,
      gpu_fan_speed_percent: 45,
      gpu_performance_state: 0,
      gpu_clock_throttle_reasons: 4,
      gpu_pcie_tx_bytes_per_second: 3 * 1024 * 1024,
      gpu_pcie_rx_bytes_per_second: 5 * 1024 * 1024,
      gpu_ecc_errors_corrected_volatile_total: 2,
      gpu_ecc_errors_uncorrected_volatile_total: 0,
      gpu_xid_last: 79,
    });
    const parsed = parseDcgmMetrics(renderDcgmExporter([sample]), { now: 5, host: 'unused' });
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.samples, [sample]);
  });

  it('takes utilization from DCGM_FI_PROF_GR_ENGINE_ACTIVE (a ratio) where DCGM_FI_DEV_GPU_UTIL is absent', () => {
    const parsed = parseDcgmMetrics(
      'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-x",Hostname="h"} 0.25\n',
      {
        now: 1,
        host: 'h',
      },
    );
    assert.equal(parsed.samples[0]?.gpu_utilization_percent, 25);
  });
});
