import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type GpuSample, nullIdentity, nullMetrics, parseSample } from '../../metrics/sample.ts';
import { fuzzCases } from '../../testing/fuzz.ts';
import { parseDcgmMetrics, toCatalogUnit } from './dcgm-parser.ts';
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
    // GR_ENGINE_ACTIVE, as dcgm-exporter reports an instance's activity (DEV_GPU_UTIL is not read per instance)
    const text = [
      'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-1",GPU_I_PROFILE="3g.40gb",GPU_I_ID="1",modelName="NVIDIA A100-SXM4-80GB"} 0.4',
      'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-1",GPU_I_PROFILE="1g.10gb",GPU_I_ID="9",modelName="NVIDIA A100-SXM4-80GB"} 0.05',
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
    // The exporter's 0.000003 with its decimal point moved: exactly 0.0003, not 0.000003 / 0.01.
    assert.equal(a10g.gpu_memory_utilization_percent, 0.0003);
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

describe('parseDcgmMetrics on a real MIG scrape (8x A800-SXM4-80GB, GPU 0 in three 2g.20gb instances)', () => {
  const A800 = readFileSync(
    new URL('./testdata/a800-sxm4-80gb-x8-mig-2g20gb-driver-535.129.03.prom', import.meta.url),
    'utf8',
  );
  const result = parse(A800);
  const GPU0 = 'GPU-1f027ee8-6e1e-2b8c-0108-3d370e5f0418';
  const mig = (gi: number) => `MIG-${GPU0}/${gi}`;

  test('it gives GPU 0, then one device per MIG instance (GPU_I_ID 3, 5, 6), then GPUs 1 to 7', () => {
    assert.deepEqual(
      result.devices.map((d) => [d.uuid, d.index, d.model, d.parentUuid, d.migProfile]),
      [
        [GPU0, 0, 'NVIDIA A800-SXM4-80GB', null, null],
        [mig(3), 0, 'NVIDIA A800-SXM4-80GB MIG 2g.20gb', GPU0, '2g.20gb'],
        [mig(5), 0, 'NVIDIA A800-SXM4-80GB MIG 2g.20gb', GPU0, '2g.20gb'],
        [mig(6), 0, 'NVIDIA A800-SXM4-80GB MIG 2g.20gb', GPU0, '2g.20gb'],
        ...[
          'GPU-9e5b8fec-61bf-5124-a0a9-079af1b65cc6',
          'GPU-5022ce43-b44a-987b-71c3-dee05378a618',
          'GPU-f22db14d-1597-8eb1-78dc-d93765918c73',
          'GPU-a878a9f3-cf6d-b94c-38ba-892ed140c7ee',
          'GPU-a1dd6923-de62-e22b-c882-4d6f7e1ec5ce',
          'GPU-c07eb90d-74b0-d3b4-e6ce-f18687564243',
          'GPU-4e75c9ab-0ed7-8a57-75f5-23761b9f053f',
        ].map((uuid, i) => [uuid, i + 1, 'NVIDIA A800-SXM4-80GB', null, null]),
      ],
    );
    assert.equal(result.samples.length, 11);
  });

  test('an instance has its ids, its parent, its own memory and activity, and none of the GPU’s power', () => {
    assert.deepEqual(
      result.samples[1],
      expected({
        host: 'msxf-hpc-64-35-ai', // Hostname
        gpu_index: 0, // gpu="0": the parent GPU's index
        uuid: mig(3), // MIG-<UUID>/<GPU_I_ID>: dcgm-exporter names no MIG UUID
        model: 'NVIDIA A800-SXM4-80GB MIG 2g.20gb', // modelName, MIG, GPU_I_PROFILE
        parent_uuid: GPU0, // UUID
        mig_gpu_instance_id: 3, // GPU_I_ID="3"
        mig_compute_instance_id: null, // not in dcgm-exporter's labels
        driver_version: '535.129.03',
        gpu_memory_free_bytes: 19957 * MiB, // line 147: DCGM_FI_DEV_FB_FREE ... 19957
        gpu_memory_used_bytes: 10 * MiB, // line 159: DCGM_FI_DEV_FB_USED ... 10
        gpu_memory_total_bytes: null, // no FB_TOTAL in the scrape
        gpu_utilization_percent: 0, // line 234: DCGM_FI_PROF_GR_ENGINE_ACTIVE 0.000000 (no GPU_UTIL in MIG mode)
        gpu_memory_utilization_percent: 0, // line 258: DCGM_FI_PROF_DRAM_ACTIVE 0.000000
        gpu_tensor_active_percent: 0, // line 246: DCGM_FI_PROF_PIPE_TENSOR_ACTIVE 0.000000
        // lines 3, 15, 27, 39, 51, 63, 135 (clocks, temperatures, power, energy, XID) are the GPU's: not here
      }),
    );
    for (const [i, gi] of [
      [2, 5],
      [3, 6],
    ] as const) {
      assert.equal(result.samples[i]?.uuid, mig(gi));
      assert.equal(result.samples[i]?.mig_gpu_instance_id, gi);
      assert.equal(result.samples[i]?.gpu_memory_used_bytes, 10 * MiB);
      assert.equal(result.samples[i]?.gpu_power_draw_watts, null);
      assert.equal(result.samples[i]?.gpu_energy_joules_total, null);
    }
  });

  test('GPU 0 has no line of its own in MIG mode: its power, energy, temperatures and clocks, repeated on each instance, are counted once, on it', () => {
    assert.deepEqual(
      result.samples[0],
      expected({
        host: 'msxf-hpc-64-35-ai',
        gpu_index: 0,
        uuid: GPU0,
        model: 'NVIDIA A800-SXM4-80GB',
        driver_version: '535.129.03',
        gpu_sm_clock_mhz: 1410, // line 3 (GPU_I_ID 3, the first instance line)
        gpu_memory_clock_mhz: 1593, // line 15
        gpu_memory_temperature_celsius: 29, // line 27
        gpu_temperature_celsius: 33, // line 39
        gpu_power_draw_watts: 78.174, // line 51 (line 53, GPU_I_ID 6, says 78.446000: a later read of the same GPU)
        gpu_energy_joules_total: 257858.316, // line 63: 257858316 mJ, the same on lines 64 and 65
        gpu_xid_last: 0, // line 135
      }),
    );
    const energy = result.samples.reduce((j, s) => j + (s.gpu_energy_joules_total ?? 0), 0);
    const perGpu = [257858316, 187554325, 179711977, 190722266, 196329125, 182536958, 191045467, 183986286];
    assert.ok(Math.abs(energy - perGpu.reduce((a, b) => a + b) / 1000) < 1e-6, 'each GPU’s energy once');
  });

  test('a whole GPU reads field by field (GPU 4)', () => {
    assert.deepEqual(
      result.samples[7],
      expected({
        host: 'msxf-hpc-64-35-ai',
        gpu_index: 4,
        uuid: 'GPU-a878a9f3-cf6d-b94c-38ba-892ed140c7ee',
        model: 'NVIDIA A800-SXM4-80GB',
        driver_version: '535.129.03',
        gpu_sm_clock_mhz: 210,
        gpu_memory_clock_mhz: 1593,
        gpu_memory_temperature_celsius: 30,
        gpu_temperature_celsius: 31,
        gpu_power_draw_watts: 58.643,
        gpu_energy_joules_total: 196329.125,
        gpu_utilization_percent: 0,
        gpu_memory_utilization_percent: 0,
        gpu_encoder_utilization_percent: 0,
        gpu_decoder_utilization_percent: 0,
        gpu_xid_last: 0,
        gpu_memory_free_bytes: 81226 * MiB,
        gpu_memory_used_bytes: 2 * MiB,
        gpu_remapped_rows_correctable_total: 0,
        gpu_remapped_rows_uncorrectable_total: 0,
        gpu_tensor_active_percent: 0,
        gpu_pcie_tx_bytes_per_second: 137399, // DCGM_FI_PROF_PCIE_TX_BYTES: bytes per second already
        gpu_pcie_rx_bytes_per_second: 209486,
      }),
    );
  });

  test('the exporter’s "ERROR - FAILED TO CONVERT TO STRING" values of a field gpumon does not read cost nothing', () => {
    // lines 210-219: DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION{...} ERROR - FAILED TO CONVERT TO STRING
    assert.deepEqual(result.errors, []);
    const vgpu = result.unmapped.filter((u) => u.field === 'DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION');
    assert.deepEqual(
      vgpu.map((u) => [u.line, Number.isNaN(u.value)]),
      [210, 211, 212, 213, 214, 215, 216, 217, 218, 219].map((l) => [l, true]),
    );
    assert.equal(vgpu[0]?.uuid, mig(3));
  });

  test('the same words on a field gpumon reads are counted as not-a-number, with the words', () => {
    const bad = parse(line('DCGM_FI_DEV_GPU_TEMP', 'ERROR - FAILED TO CONVERT TO STRING'));
    assert.deepEqual(bad.errors, [
      {
        reason: 'not-a-number',
        line: 1,
        detail: 'DCGM_FI_DEV_GPU_TEMP is ERROR - FAILED TO CONVERT TO STRING',
      },
    ]);
    assert.equal(bad.samples[0]?.gpu_temperature_celsius, null);
  });
});

describe('parseDcgmMetrics on a GPU written beside its MIG instances (as in NVIDIA’s dcgm-exporter docs)', () => {
  const gpu = (field: string, value: string) =>
    `${field}{gpu="0",UUID="GPU-34319582",device="nvidia0",Hostname="ub20-a100-k8s"} ${value}`;
  const gi13 = (field: string, value: string) =>
    `${field}{gpu="0",UUID="GPU-34319582",device="nvidia0",GPU_I_PROFILE="1g.5gb",GPU_I_ID="13",Hostname="ub20-a100-k8s",pod="p"} ${value}`;

  test('the GPU keeps its own XID and activity; the instance’s repeat of the XID is no duplicate', () => {
    const result = parse(
      [
        gpu('DCGM_FI_DEV_XID_ERRORS', '0'),
        gpu('DCGM_FI_PROF_GR_ENGINE_ACTIVE', '0.995630'),
        gi13('DCGM_FI_DEV_XID_ERRORS', '0'),
        gi13('DCGM_FI_PROF_GR_ENGINE_ACTIVE', '0.995687'),
      ].join('\n'),
    );
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.samples.map((s) => [
        s.uuid,
        s.gpu_xid_last,
        Number(s.gpu_utilization_percent?.toFixed(4)),
        s.pod,
      ]),
      [
        ['GPU-34319582', 0, 99.563, null], // the pod holds the instance, not the GPU
        ['MIG-GPU-34319582/13', null, 99.5687, 'p'],
      ],
    );
  });

  test('a line of the GPU itself after an instance’s copy of the same field replaces the copy', () => {
    const result = parse(
      [gi13('DCGM_FI_DEV_POWER_USAGE', '80'), gpu('DCGM_FI_DEV_POWER_USAGE', '81')].join('\n'),
    );
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.samples.map((s) => [s.uuid, s.gpu_power_draw_watts]),
      [
        ['GPU-34319582', 81],
        ['MIG-GPU-34319582/13', null],
      ],
    );
    const twice = parse(
      [gpu('DCGM_FI_DEV_POWER_USAGE', '80'), gpu('DCGM_FI_DEV_POWER_USAGE', '81')].join('\n'),
    );
    assert.deepEqual(
      twice.errors.map((e) => [e.reason, e.line]),
      [['duplicate-series', 2]],
      'two lines of the GPU itself are still a duplicate',
    );
  });

  test('instances with only their own fields add no empty sample for the GPU', () => {
    const result = parse(gi13('DCGM_FI_DEV_FB_USED', '100'));
    assert.deepEqual(
      result.samples.map((s) => [s.uuid, s.gpu_memory_used_bytes]),
      [['MIG-GPU-34319582/13', 100 * MiB]],
    );
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

describe('toCatalogUnit', () => {
  test('moves the decimal point for a power-of-ten scale, giving the decimal the exporter printed', () => {
    assert.equal(toCatalogUnit(0.000003, 0.01), 0.0003);
    assert.notEqual(0.000003 / 0.01, 0.0003, 'what plain division gives instead');
    assert.equal(toCatalogUnit(0.07, 0.01), 7);
    assert.equal(toCatalogUnit(0.29, 0.01), 29);
    assert.equal(toCatalogUnit(3e-7, 0.01), 0.00003);
    assert.equal(toCatalogUnit(1.5e21, 0.01), 1.5e23);
    assert.equal(toCatalogUnit(123456789, 1000), 123456.789);
    assert.equal(toCatalogUnit(-0.5, 0.01), -50);
    assert.equal(toCatalogUnit(0, 0.01), 0);
  });

  test('divides where the scale is no power of ten (MiB to bytes), and leaves a scale of 1 alone', () => {
    assert.equal(toCatalogUnit(81559, 1 / (1024 * 1024)), 81559 * 1024 * 1024);
    assert.equal(toCatalogUnit(42.5, 1), 42.5);
  });

  test('every ratio of 0 to 1 in hundredths or thousandths becomes its percent exactly', () => {
    for (let i = 0; i <= 1000; i++) {
      const ratio = Number((i / 1000).toFixed(3));
      assert.equal(toCatalogUnit(ratio, 0.01), Number((i / 10).toFixed(1)), `ratio ${ratio}`);
    }
  });
});
