import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type GpuSample, nullIdentity, nullMetrics, parseSample } from '../../metrics/sample.ts';
import { fuzzCases } from '../../testing/fuzz.ts';
import { parseDcgmMetrics } from './dcgm-parser.ts';
import { readPrometheusText } from './prometheus-text.ts';

const FIXTURE = readFileSync(
  new URL('./testdata/tesla-t4-x2-scrapes-datadog-serve-metrics.prom', import.meta.url),
  'utf8',
);
const T = 1_718_000_000_000;
const parse = (text: string) => parseDcgmMetrics(text, { now: T, host: 'fallback-host' });
const expected = (sample: Partial<GpuSample>): GpuSample =>
  ({ ...nullMetrics(), ...nullIdentity(), ts: T, ...sample }) as GpuSample;
const MiB = 1024 * 1024;

/** A one-GPU scrape line with the labels dcgm-exporter 3.x writes. */
const line = (field: string, value: string, extra = '') =>
  `${field}{gpu="1",UUID="GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",pci_bus_id="00000000:3B:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="550.90.07"${extra}} ${value}`;

describe('parseDcgmMetrics on the DataDog capture (two T4 scrapes concatenated)', () => {
  const result = parse(FIXTURE);

  test('it gives one valid sample per scrape and no error', () => {
    assert.deepEqual(result.errors, []);
    assert.equal(result.samples.length, 2);
    for (const s of result.samples) parseSample(s);
  });

  test('the first scrape (driver 460, DCGM_FI_PROCESS_NAME labels) reads field by field', () => {
    assert.deepEqual(
      result.samples[0],
      expected({
        host: '424773df46e0', // Hostname="424773df46e0"
        gpu_index: 0, // gpu="0"
        uuid: 'GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e', // UUID="GPU-20c56d28-..."
        model: 'Tesla T4', // modelName="Tesla T4"
        pci_bus_id: null, // no pci_bus_id label in this exporter version
        driver_version: '460.106.00', // DCGM_FI_DRIVER_VERSION="460.106.00"
        gpu_sm_clock_mhz: 300, // line 3: DCGM_FI_DEV_SM_CLOCK ... 300
        gpu_memory_clock_mhz: 405, // line 6: DCGM_FI_DEV_MEM_CLOCK ... 405
        gpu_temperature_celsius: 25, // line 9: DCGM_FI_DEV_GPU_TEMP ... 25
        gpu_power_draw_watts: 8.969, // line 12: DCGM_FI_DEV_POWER_USAGE ... 8.969000
        gpu_energy_joules_total: 128996.013, // line 15: DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION ... 128996013 (mJ)
        gpu_utilization_percent: 0, // line 21: DCGM_FI_DEV_GPU_UTIL ... 0
        gpu_memory_utilization_percent: 0, // line 24: DCGM_FI_DEV_MEM_COPY_UTIL ... 0
        gpu_encoder_utilization_percent: 0, // line 27: DCGM_FI_DEV_ENC_UTIL ... 0
        gpu_decoder_utilization_percent: 0, // line 30: DCGM_FI_DEV_DEC_UTIL ... 0
        gpu_xid_last: 0, // line 33: DCGM_FI_DEV_XID_ERRORS ... 0
        gpu_memory_free_bytes: 15109 * MiB, // line 36: DCGM_FI_DEV_FB_FREE ... 15109 (MiB)
        gpu_memory_used_bytes: 0, // line 39: DCGM_FI_DEV_FB_USED ... 0
        gpu_memory_total_bytes: null, // no DCGM_FI_DEV_FB_TOTAL in this scrape: not derived
      }),
    );
  });

  test('the second scrape (driver 470, DCGM_FI_DEV_NAME labels) reads field by field', () => {
    assert.deepEqual(
      result.samples[1],
      expected({
        host: '551bdf382151', // Hostname="551bdf382151"
        gpu_index: 0, // gpu="0"
        uuid: 'GPU-9ef1b6d0-3643-5dd7-b823-c0ec20dcf2d5', // UUID="GPU-9ef1b6d0-..."
        model: 'Tesla T4', // modelName="Tesla T4" (also DCGM_FI_DEV_NAME="Tesla T4")
        pci_bus_id: null,
        driver_version: '470.182.03', // DCGM_FI_DRIVER_VERSION="470.182.03"
        vbios_version: '90.04.96.00.02', // DCGM_FI_DEV_VBIOS_VERSION="90.04.96.00.02"
        cuda_version: '12.1', // DCGM_FI_CUDA_DRIVER_VERSION="12010"
        // line 64: DCGM_FI_DEV_FB_RESERVED ... 15109 (MiB): DataDog copied FB_TOTAL there (line 61 says so); read as is
        gpu_memory_reserved_bytes: 15842934784,
        gpu_performance_state: 8, // line 57: DCGM_FI_DEV_PSTATE ... 8
        gpu_memory_total_bytes: 15842934784, // line 60: DCGM_FI_DEV_FB_TOTAL ... 15109 (MiB) = 15109 * 1048576
        gpu_clock_throttle_reasons: 1, // line 70: DCGM_FI_DEV_CLOCK_THROTTLE_REASONS ... 1 (GPU idle)
        gpu_power_limit_watts: null, // line 54 is POWER_MGMT_LIMIT, not the enforced limit: unmapped
      }),
    );
    assert.deepEqual(result.devices[1], {
      uuid: 'GPU-9ef1b6d0-3643-5dd7-b823-c0ec20dcf2d5',
      index: 0,
      model: 'Tesla T4',
      pciBusId: null,
      serial: '1565220008176', // DCGM_FI_DEV_SERIAL="1565220008176"
      vbiosVersion: '90.04.96.00.02', // DCGM_FI_DEV_VBIOS_VERSION="90.04.96.00.02"
      driverVersion: '470.182.03',
      parentUuid: null,
      migProfile: null,
    });
  });

  test('fields the catalog has no metric for are kept with their GPU and line, not dropped', () => {
    assert.deepEqual(
      result.unmapped.map((u) => [u.field, u.uuid?.slice(0, 12), u.value, u.line]),
      [
        ['DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'GPU-20c56d28', 0, 18],
        ['DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL', 'GPU-20c56d28', 0, 42],
        ['DCGM_FI_DEV_VGPU_LICENSE_STATUS', 'GPU-20c56d28', 0, 45],
        ['DCGM_FI_DEV_COUNT', 'GPU-20c56d28', 1, 48],
        ['DCGM_FI_DEV_SLOWDOWN_TEMP', 'GPU-9ef1b6d0', 93, 51],
        ['DCGM_FI_DEV_POWER_MGMT_LIMIT', 'GPU-9ef1b6d0', 70, 54],
        ['DCGM_FI_DEV_FB_USED_PERCENT', 'GPU-9ef1b6d0', 0.000008, 67],
      ],
    );
  });
});

describe('parseDcgmMetrics on variations of the format', () => {
  test('PCIe throughput in KB/s becomes bytes per second, and the pci_bus_id label is the bus id', () => {
    const [sample] = parse(
      [line('DCGM_FI_DEV_PCIE_TX_THROUGHPUT', '2048'), line('DCGM_FI_DEV_PCIE_RX_THROUGHPUT', '10')].join(
        '\n',
      ),
    ).samples;
    assert.equal(sample?.gpu_pcie_tx_bytes_per_second, 2048 * 1024);
    assert.equal(sample?.gpu_pcie_rx_bytes_per_second, 10 * 1024);
    assert.equal(sample?.pci_bus_id, '00000000:3B:00.0');
    assert.equal(sample?.host, 'node-7');
    assert.equal(sample?.gpu_index, 1);
  });

  test('renamed fields of newer DCGM are read when the catalog field is absent, and lose to it when present', () => {
    const alone = parse(line('DCGM_FI_DEV_CLOCKS_EVENT_REASONS', '4')).samples[0];
    assert.equal(alone?.gpu_clock_throttle_reasons, 4);
    const both = parse(
      [line('DCGM_FI_PROF_PCIE_TX_BYTES', '5000'), line('DCGM_FI_DEV_PCIE_TX_THROUGHPUT', '1')].join('\n'),
    ).samples[0];
    assert.equal(both?.gpu_pcie_tx_bytes_per_second, 1024);
  });

  test('without a Hostname label the configured host is used; MIG instances are samples of their own', () => {
    const text = [
      'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",GPU_I_PROFILE="3g.40gb",GPU_I_ID="1",modelName="NVIDIA A100-SXM4-80GB"} 40',
      'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",GPU_I_PROFILE="1g.10gb",GPU_I_ID="9",modelName="NVIDIA A100-SXM4-80GB"} 5',
    ].join('\n');
    const result = parse(text);
    assert.deepEqual(
      result.samples.map((s) => [
        s.host,
        s.uuid,
        s.model,
        s.parent_uuid,
        s.mig_gpu_instance_id,
        s.mig_compute_instance_id,
        s.gpu_utilization_percent,
      ]),
      [
        // MIG-<UUID>/<GPU_I_ID>; the model as NVML names a MIG device; no compute instance in the labels
        ['fallback-host', 'MIG-GPU-1/1', 'NVIDIA A100-SXM4-80GB MIG 3g.40gb', 'GPU-1', 1, null, 40],
        ['fallback-host', 'MIG-GPU-1/9', 'NVIDIA A100-SXM4-80GB MIG 1g.10gb', 'GPU-1', 9, null, 5],
      ],
    );
    assert.deepEqual(
      result.devices.map((d) => [d.parentUuid, d.migProfile]),
      [
        ['GPU-1', '3g.40gb'],
        ['GPU-1', '1g.10gb'],
      ],
    );
  });

  test('a GPU_I_ID that is not an instance id costs its series, counted as bad-gpu-label', () => {
    const result = parse(
      [
        'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-1",GPU_I_PROFILE="1g.10gb",GPU_I_ID="first"} 10',
        'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-1",GPU_I_PROFILE="1g.10gb",GPU_I_ID="2"} 20',
      ].join('\n'),
    );
    assert.deepEqual(
      result.errors.map((e) => [e.reason, e.line]),
      [['bad-gpu-label', 1]],
    );
    assert.deepEqual(
      result.samples.map((s) => [s.uuid, s.gpu_memory_used_bytes]),
      [['MIG-GPU-1/2', 20 * 2 ** 20]],
    );
  });

  test('escaped label values, CRLF, a timestamp and exponent values are read', () => {
    const text = [
      'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-2",modelName="A \\"quoted\\" \\\\ name",} 1.5e2 1718000000000\r',
      'DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-2"} 61\r',
    ].join('\n');
    const result = parse(text);
    assert.deepEqual(result.errors, []);
    assert.equal(result.samples[0]?.model, 'A "quoted" \\ name');
    assert.equal(result.samples[0]?.gpu_power_draw_watts, 150);
    assert.equal(result.samples[0]?.gpu_temperature_celsius, 61);
  });

  test('each bad record is counted with its line, and the good values of the same GPU are kept', () => {
    const text = [
      line('DCGM_FI_DEV_GPU_TEMP', '55'), // 1
      line('DCGM_FI_DEV_GPU_TEMP', '56'), // 2: duplicate
      line('DCGM_FI_DEV_POWER_USAGE', 'NaN'), // 3
      line('DCGM_FI_DEV_GPU_UTIL', '250'), // 4: out of range
      'DCGM_FI_DEV_SM_CLOCK{gpu="0"} 1000', // 5: no UUID
      'DCGM_FI_DEV_SM_CLOCK{gpu="x",UUID="GPU-3"} 1000', // 6: bad gpu
      'DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-3" 1000', // 7: unterminated label set
      'DCGM_FI_DEV_MEM_CLOCK', // 8: no value
      '', // blank lines and comments are not records
      '# EOF',
    ].join('\n');
    const result = parse(text);
    assert.equal(result.samples.length, 1);
    assert.equal(result.samples[0]?.gpu_temperature_celsius, 55);
    assert.equal(result.samples[0]?.gpu_power_draw_watts, null);
    assert.equal(result.samples[0]?.gpu_utilization_percent, null);
    assert.deepEqual(
      result.errors.map((e) => [e.reason, e.line]),
      [
        ['duplicate-series', 2],
        ['not-a-number', 3],
        ['out-of-range', 4],
        ['no-gpu-labels', 5],
        ['bad-gpu-label', 6],
        ['malformed-line', 7],
        ['malformed-line', 8],
      ],
    );
  });

  test('an unknown field without GPU labels is kept as unmapped with no UUID', () => {
    const result = parse('dcgm_exporter_build_info{version="3.3.5"} 1');
    assert.deepEqual(result.samples, []);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.unmapped, [{ field: 'dcgm_exporter_build_info', uuid: null, value: 1, line: 1 }]);
  });
});

describe('parseDcgmMetrics on the newer DataDog capture (two T4 scrapes and an A10G line with pod labels)', () => {
  const A10G = readFileSync(
    new URL('./testdata/datadog-fixture-t4-a10g-pod-labels.prom', import.meta.url),
    'utf8',
  );
  const result = parse(A10G);
  const a10g = result.samples.find((s) => s.model === 'NVIDIA A10G');

  test('the A10G, with only DCGM_FI_PROF_DRAM_ACTIVE (no DEV_MEM_COPY_UTIL), gets its memory activity from it', () => {
    // Last line: DCGM_FI_PROF_DRAM_ACTIVE{gpu="0",UUID="GPU-abc",...,modelName="NVIDIA A10G",...} 0.000003 (a ratio)
    assert.ok(a10g, 'a sample for the A10G');
    assert.ok(Math.abs((a10g.gpu_memory_utilization_percent ?? Number.NaN) - 0.0003) < 1e-12);
    assert.equal(a10g.uuid, 'GPU-abc');
    assert.equal(a10g.host, 'ip-11111');
    assert.equal(a10g.driver_version, '550.144.03');
    assert.equal(
      a10g.gpu_utilization_percent,
      null,
      'no GPU_UTIL and no labelled GR_ENGINE_ACTIVE: null, not 0',
    );
  });

  test("the A10G's pod, namespace and container labels are kept as its workload, and on its sample", () => {
    assert.deepEqual(result.workloads, [
      { uuid: 'GPU-abc', namespace: 'ray-llm', pod: 'ray-1111111', container: 'ray-worker' },
    ]);
    assert.deepEqual(
      { namespace: a10g?.namespace, pod: a10g?.pod, container: a10g?.container },
      { namespace: 'ray-llm', pod: 'ray-1111111', container: 'ray-worker' },
    );
    const t4 = result.samples.find((s) => s.model !== 'NVIDIA A10G');
    assert.ok(t4, 'a sample of a GPU without pod labels');
    assert.deepEqual([t4.namespace, t4.pod, t4.container], [null, null, null], 'no pod: null, not empty');
  });

  test('the T4 of driver 460 keeps MEM_COPY_UTIL: DRAM_ACTIVE is only a fallback', () => {
    const t4 = result.samples.find((s) => s.uuid === 'GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e');
    assert.equal(t4?.gpu_memory_utilization_percent, 0); // line 24
    const both = parse(
      [line('DCGM_FI_PROF_DRAM_ACTIVE', '0.5'), line('DCGM_FI_DEV_MEM_COPY_UTIL', '7')].join('\n'),
    ).samples[0];
    assert.equal(both?.gpu_memory_utilization_percent, 7);
  });

  test("DataDog's dummy lines without GPU labels are counted, never given to a GPU", () => {
    assert.deepEqual(
      result.errors.map((e) => [e.reason, e.line]),
      [
        ['no-gpu-labels', 74], // DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS 0
        ['no-gpu-labels', 77], // DCGM_FI_DEV_FAN_SPEED 0
        ['no-gpu-labels', 80], // DCGM_FI_DEV_MEMORY_TEMP 0
        ['no-gpu-labels', 83], // DCGM_FI_PROF_PCIE_RX_BYTES 0
        ['no-gpu-labels', 86], // DCGM_FI_PROF_PCIE_TX_BYTES 0
        ['no-gpu-labels', 92], // DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS 0
        ['no-gpu-labels', 95], // DCGM_FI_PROF_GR_ENGINE_ACTIVE 0
        ['no-gpu-labels', 104], // DCGM_FI_PROF_PIPE_TENSOR_ACTIVE 0
      ],
    );
    assert.equal(result.samples.length, 3);
  });

  test("the tensor pipes' activity ratio becomes a percent, and a ratio above 1 is out of range", () => {
    const ok = parse(line('DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', '0.425'));
    assert.equal(ok.samples[0]?.gpu_tensor_active_percent, 42.5);
    const bad = parse(line('DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', '1.5'));
    assert.equal(bad.samples[0]?.gpu_tensor_active_percent, null);
    assert.ok(bad.errors.length > 0, 'the bad value is counted');
  });

  test('a DRAM_ACTIVE ratio above 1 is out of range, and a series without a pod label has no workload', () => {
    const bad = parse(line('DCGM_FI_PROF_DRAM_ACTIVE', '1.5'));
    assert.equal(bad.samples[0]?.gpu_memory_utilization_percent, null);
    assert.deepEqual(
      bad.errors.map((e) => e.reason),
      ['out-of-range'],
    );
    assert.deepEqual(bad.workloads, []);
    const emptyPod = parse(line('DCGM_FI_DEV_GPU_TEMP', '50', ',namespace="ml",pod=""'));
    assert.deepEqual(emptyPod.workloads, [], 'an empty pod label (a free GPU) is no workload');
  });
});

describe('parseDcgmMetrics under fuzzing', () => {
  test('3000 mutated scrapes: nothing throws, every sample is valid, every line is a sample, an error or unmapped', () => {
    const seeds = [
      FIXTURE,
      [line('DCGM_FI_DEV_GPU_TEMP', '55'), line('DCGM_FI_DEV_FB_USED', '1024')].join('\n'),
    ];
    for (const { index, text } of fuzzCases(seeds, 3000, 11)) {
      let result: ReturnType<typeof parse>;
      try {
        result = parse(text);
      } catch (err) {
        assert.fail(`case ${index} threw: ${(err as Error).message}`);
      }
      for (const s of result.samples) parseSample(s, `case ${index}`);
      assert.equal(result.samples.length, result.devices.length);
      const records = [...readPrometheusText(text)].length;
      const lineErrors = new Set(result.errors.filter((e) => e.line !== undefined).map((e) => e.line));
      const used = result.samples.length > 0 || result.unmapped.length > 0 || lineErrors.size > 0;
      assert.ok(records === 0 || used, `case ${index}: ${records} records, nothing read and nothing counted`);
      const malformed = [...readPrometheusText(text)].filter((r) => !r.ok).length;
      assert.equal(
        result.errors.filter((e) => e.reason === 'malformed-line').length,
        malformed,
        `case ${index}`,
      );
    }
  });
});
