import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nullIdentity, nullMetrics } from '../../metrics/sample.ts';
import { findCsvTables, parseComputeApps, parseQueryGpuCsv } from './csv.ts';
import { assertSample, MiB, testdata } from './test-support.ts';

const HOST = 'test-host';
const NOW = Date.UTC(2026, 0, 1);

describe('parseQueryGpuCsv', () => {
  test('an H100 capture gives the idle and the load sample, read from its query-gpu sections', () => {
    const text = testdata('capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW });
    assert.equal(result.rows, 2);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    // Line 2105, under `# load :: query-gpu` (header on line 2104).
    assertSample(result.samples[1], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2026, 6, 14, 8, 12, 53, 353), // timestamp 2026/07/14 08:12:53.353
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-00000000-0000-0000-0000-000000000000',
      model: 'NVIDIA H100 80GB HBM3',
      pci_bus_id: '00000000:00:09.0',
      driver_version: '590.48.01',
      vbios_version: '96.00.A5.00.01',
      gpu_pcie_link_generation: 5, // pcie.link.gen.current 5 (gpucurrent 5)
      gpu_pcie_link_generation_max: 5,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_memory_reserved_bytes: 479 * MiB, // memory.reserved 479 MiB
      gpu_video_clock_mhz: 1545, // clocks.current.video 1545 MHz
      gpu_jpeg_utilization_percent: 0, // utilization.jpeg 0 %
      gpu_ofa_utilization_percent: 0,
      gpu_encoder_sessions: 0, // encoder.stats.sessionCount, averageFps, averageLatency: 0
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_remapped_rows_correctable_total: 0, // remapped_rows.correctable 0
      gpu_remapped_rows_uncorrectable_total: 0,
      gpu_retired_pages_single_bit_total: null, // [N/A]: Hopper remaps rows instead
      gpu_retired_pages_double_bit_total: null,
      gpu_utilization_percent: 100, // 100 %
      gpu_memory_utilization_percent: 11,
      gpu_encoder_utilization_percent: 0,
      gpu_decoder_utilization_percent: 0,
      gpu_memory_total_bytes: 81559 * MiB, // 81559 MiB
      gpu_memory_used_bytes: 19818 * MiB,
      gpu_memory_free_bytes: 61263 * MiB,
      gpu_temperature_celsius: 59,
      gpu_memory_temperature_celsius: 54,
      gpu_power_draw_watts: 631.95, // 631.95 W
      gpu_power_limit_watts: 700, // enforced.power.limit 700.00 W
      gpu_sm_clock_mhz: 1980, // clocks.current.sm 1980 MHz
      gpu_memory_clock_mhz: 2619,
      gpu_graphics_clock_mhz: 1980,
      gpu_fan_speed_percent: null, // [N/A]
      gpu_performance_state: 0, // P0
      gpu_clock_throttle_reasons: 0, // 0x0000000000000000
      gpu_ecc_errors_corrected_volatile_total: 0,
      gpu_ecc_errors_uncorrected_volatile_total: 0,
    });
  });

  test('in MIG mode utilization is [N/A] and so null, while the rest is read', () => {
    const text = testdata('capture__linux-x86_64__nvidia-h100-mig__590.48.01.txt');
    const [idle] = parseQueryGpuCsv(text, { host: HOST, now: NOW }).samples;
    // Line 1834, under `# idle :: query-gpu`.
    assert.equal(idle?.gpu_utilization_percent, null); // [N/A]
    assert.equal(idle?.gpu_memory_utilization_percent, null);
    assert.equal(idle?.gpu_memory_used_bytes, 59 * MiB); // 59 MiB
    assert.equal(idle?.gpu_power_draw_watts, 71.15); // 71.15 W
    assert.equal(idle?.gpu_clock_throttle_reasons, 1); // 0x0000000000000001: GPU idle
  });

  test('nounits output keeps units in the header only: a P100 line reads MiB as bytes', () => {
    const text = testdata('tesla-p100-pcie-16gb-nounits-driver-510.47.03.csv');
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW });
    // Line 2; the header (line 1) has no index, pci.bus_id, driver_version, timestamp or memory.total.
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: NOW,
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6',
      model: 'Tesla P100-PCIE-16GB',
      pci_bus_id: null,
      driver_version: null,
      gpu_fan_speed_percent: null, // [N/A]
      gpu_performance_state: 0, // P0
      gpu_memory_used_bytes: 0, // memory.used [MiB]: 0
      gpu_memory_free_bytes: 16280 * MiB, // 16280
      gpu_memory_reserved_bytes: 103 * MiB, // memory.reserved [MiB]: 103
      gpu_video_clock_mhz: 835, // clocks.current.video [MHz]: 835
      gpu_utilization_percent: 0,
      gpu_memory_utilization_percent: 0,
      gpu_temperature_celsius: 37,
      gpu_power_draw_watts: 28.16,
      gpu_graphics_clock_mhz: 405,
      gpu_sm_clock_mhz: 405,
      gpu_memory_clock_mhz: 715,
    });
  });

  test('a Windows 471.11 line with the old clocks_throttle_reasons names and bare N/A', () => {
    const text = testdata('rtx-2080-super-windows-driver-471.11-query-gpu-all.csv');
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW });
    // Line 2.
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2021, 5, 26, 16, 19, 47, 995), // 2021/06/26 16:19:47.995
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-df6e7a7c-7314-46f8-abc4-b88b36dcf3aa',
      model: 'NVIDIA GeForce RTX 2080 SUPER',
      pci_bus_id: '00000000:0C:00.0',
      driver_version: '471.11',
      vbios_version: '90.04.7a.40.73',
      gpu_pcie_link_generation: 3, // pcie.link.gen.current 3 of 3, width 16 of 16
      gpu_pcie_link_generation_max: 3,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_encoder_sessions: 0, // encoder.stats.*: 0
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_video_clock_mhz: 539, // clocks.current.video 539 MHz
      gpu_fan_speed_percent: 38, // 38 %
      gpu_performance_state: 8, // P8
      gpu_clock_throttle_reasons: 1, // clocks_throttle_reasons.active 0x0000000000000001
      gpu_memory_total_bytes: 8192 * MiB,
      gpu_memory_used_bytes: 876 * MiB,
      gpu_memory_free_bytes: 7316 * MiB,
      gpu_utilization_percent: 2,
      gpu_memory_utilization_percent: 10,
      gpu_temperature_celsius: 36,
      gpu_memory_temperature_celsius: null, // N/A (no brackets)
      gpu_power_draw_watts: 32.7, // 32.70 W
      gpu_power_limit_watts: 250,
      gpu_graphics_clock_mhz: 111,
      gpu_sm_clock_mhz: 111,
      gpu_memory_clock_mhz: 267,
      gpu_ecc_errors_corrected_volatile_total: null, // [N/A]
      gpu_ecc_errors_uncorrected_volatile_total: null,
    });
    assert.equal(result.samples[0]?.gpu_encoder_utilization_percent, null); // not in this field set
  });

  test('a -lms 50 log (header once, then values with units) reads every line, given an identity', () => {
    const text = testdata('power-draw-lms50-loop-unknown-gpu.csv');
    const fallback = { uuid: 'GPU-unknown', model: 'unknown GPU' };
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW, fallback });
    assert.equal(result.samples.length, result.rows);
    assert.equal(result.rows, text.trim().split('\n').length - 1);
    // Line 2: `2024/10/30 18:42:33.189, 22.89 W`.
    assert.equal(result.samples[0]?.ts, Date.UTC(2024, 9, 30, 18, 42, 33, 189));
    assert.equal(result.samples[0]?.gpu_power_draw_watts, 22.89);
    assert.equal(result.samples[0]?.gpu_temperature_celsius, null);
    const bare = parseQueryGpuCsv(text, { host: HOST, now: NOW });
    assert.equal(bare.samples.length, 0, 'without an identity a line names no GPU');
    assert.equal(bare.errors.length, bare.rows);
  });

  test('noheader output is read with the fields asked for; a short line is an error naming its line', () => {
    const fields = [
      'index',
      'uuid',
      'name',
      'memory.used',
      'pstate',
      'clocks_event_reasons.active',
      'power.draw',
    ];
    const text = '0, GPU-a, NVIDIA A10, 1234, P2, 0x0000000000000004, 27.23\n1, GPU-b, NVIDIA A10\n';
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW, fields });
    assert.equal(result.samples.length, 1);
    assert.equal(result.samples[0]?.gpu_memory_used_bytes, 1234 * MiB);
    assert.equal(result.samples[0]?.gpu_performance_state, 2);
    assert.equal(result.samples[0]?.gpu_clock_throttle_reasons, 4);
    assert.equal(result.samples[0]?.gpu_power_draw_watts, 27.23);
    assert.deepEqual(result.errors, [{ line: 2, reason: 'expected 7 fields, found 3' }]);
  });

  test('every no-value marker is null, and a value that is not a number is null with a warning', () => {
    const fields = [
      'index',
      'uuid',
      'name',
      'power.draw',
      'temperature.gpu',
      'fan.speed',
      'clocks.sm',
      'pstate',
    ];
    const text =
      '0, GPU-a, A, [Not Supported], [Requested functionality has been deprecated], REDACTED, [Unknown Error], banana';
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW, fields });
    const s = result.samples[0];
    assert.equal(s?.gpu_power_draw_watts, null);
    assert.equal(s?.gpu_temperature_celsius, null);
    assert.equal(s?.gpu_fan_speed_percent, null);
    assert.equal(s?.gpu_sm_clock_mhz, null);
    assert.equal(s?.gpu_performance_state, null);
    assert.deepEqual(result.warnings, [{ line: 1, reason: 'pstate: "banana" is not a pstate (P0..P15)' }]);
  });

  test('a value outside the catalog range is null with a warning, not an invalid sample', () => {
    const text = '0, GPU-a, A, 900\n';
    const result = parseQueryGpuCsv(text, {
      host: HOST,
      now: NOW,
      fields: ['index', 'uuid', 'name', 'temperature.gpu'],
    });
    assert.equal(result.samples[0]?.gpu_temperature_celsius, null);
    assert.equal(result.warnings.length, 1);
  });

  test('a capture from a 2021 driver: the query-gpu table after a `# nvidia-smi --query-gpu=` comment', () => {
    const text = testdata('rtx-2080-super-ubuntu20.04-driver-465.27-query-gpu-all.txt');
    const tables = findCsvTables(text).filter((t) => t.kind === 'query-gpu');
    assert.equal(tables.length, 1);
    assert.equal(tables[0]?.headerLine, 7);
    const [s] = parseQueryGpuCsv(text, { host: HOST, now: NOW }).samples;
    assert.equal(s?.driver_version, '465.27');
    assert.equal(typeof s?.gpu_clock_throttle_reasons, 'number'); // from clocks_throttle_reasons.active
  });

  test('a 610 capture (driver_version deprecated for kmd_version, both filled): the driver version is 610.57.04', () => {
    const text = testdata('capture__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt');
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW });
    assert.deepEqual(result.errors, []);
    assert.equal(result.rows, 2);
    // Lines 2291 and 2655: `timestamp, driver_version, kmd_version, ...` = `..., 610.57.04, 610.57.04, ...`
    assert.deepEqual(
      result.samples.map((s) => s.driver_version),
      ['610.57.04', '610.57.04'],
    );
  });

  test('the 610 capture edited so driver_version holds only the deprecation note: the version comes from kmd_version', () => {
    const text = testdata('capture__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt').replaceAll(
      ', 610.57.04, 610.57.04, ',
      ', [Deprecated; use kmd_version], 610.57.04, ',
    );
    const result = parseQueryGpuCsv(text, { host: HOST, now: NOW });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.samples.map((s) => s.driver_version),
      ['610.57.04', '610.57.04'],
    );
  });

  test('a driver version is read from kmd_version, then driver_version; a note or garbage is no version', () => {
    const fields = ['index', 'uuid', 'driver_version', 'kmd_version'];
    const cases: [string, string | null][] = [
      ['0, GPU-a, 590.48.01, [N/A]', '590.48.01'], // before 610: no kmd_version
      ['0, GPU-a, 610.57.04 [Deprecated; will be removed in CUDA 14.0], [N/A]', '610.57.04'],
      ['0, GPU-a, [Requested functionality has been deprecated], 611.02', '611.02'],
      ['0, GPU-a, see KMD version, [N/A]', null],
      ['0, GPU-a, 610, [N/A]', null], // a bare number is no driver version
      ['0, GPU-a, 610.57.04, 610.57.05', '610.57.05'], // kmd_version first
    ];
    for (const [line, expected] of cases) {
      const [s] = parseQueryGpuCsv(`${line}\n`, { host: HOST, now: NOW, fields }).samples;
      assert.equal(s?.driver_version, expected, line);
    }
  });
});

describe('parseComputeApps', () => {
  test('Windows WDDM: paths with backslashes and spaces are kept, [N/A] memory is null', () => {
    const text = testdata('capture__windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.txt');
    const result = parseComputeApps(text);
    assert.deepEqual(result.errors, []);
    assert.equal(result.processes.length, result.rows);
    assert.ok(result.processes.every((p) => p.usedMemoryBytes === null));
    // `# idle :: query-compute-apps`, 5th line: `..., 20372, C:\Program Files\NZXT CAM\NZXT CAM.exe, [N/A]`
    assert.deepEqual(
      result.processes.find((p) => p.pid === 20372),
      {
        uuid: 'GPU-00000000-0000-0000-0000-000000000000',
        pid: 20372,
        name: 'C:\\Program Files\\NZXT CAM\\NZXT CAM.exe',
        usedMemoryBytes: null,
      },
    );
  });

  test('Linux: used_gpu_memory with a MiB suffix is bytes, idle and load sections both read', () => {
    const text = testdata('capture__linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05.txt');
    const result = parseComputeApps(text);
    assert.equal(result.processes.length, 4); // 1 idle + 3 load
    // `/usr/bin/kwin_wayland, 25 MiB`
    assert.deepEqual(result.processes[0], {
      uuid: 'GPU-00000000-0000-0000-0000-000000000000',
      pid: 2165,
      name: '/usr/bin/kwin_wayland',
      usedMemoryBytes: 25 * MiB,
    });
  });

  test('noheader output of the live query; a process name with a comma is rejoined', () => {
    const fields = ['pid', 'process_name', 'used_gpu_memory', 'gpu_uuid'];
    const text = '11345, ./gpu_burn, 15690, GPU-a\n42, python a,b.py, 100, GPU-a\nx, y, 1, GPU-a\n';
    const result = parseComputeApps(text, fields);
    assert.deepEqual(result.processes, [
      { uuid: 'GPU-a', pid: 11345, name: './gpu_burn', usedMemoryBytes: 15690 * MiB },
      { uuid: 'GPU-a', pid: 42, name: 'python a, b.py', usedMemoryBytes: 100 * MiB },
    ]);
    assert.deepEqual(result.errors, [{ line: 3, reason: 'pid "x" is not a process id' }]);
  });
});
