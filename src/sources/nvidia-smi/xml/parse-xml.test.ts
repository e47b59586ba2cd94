import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nullIdentity, nullMetrics } from '../../../metrics/sample.ts';
import { parseListGpus } from '../list.ts';
import {
  A100_MIG_LIST,
  a100WithMigProcesses,
  assertSample,
  MiB,
  rtx3090As610,
  testdata,
} from '../test-support.ts';
import { parseSmiXml } from './parse-xml.ts';

const HOST = 'test-host';
const NOW = Date.UTC(2026, 0, 1);
/** Hadoop's DTD v8 capture (driver 375.66, two Tesla P100), byte-exact: testdata/PROVENANCE.md. */
const P100_V8 = 'tesla-p100-pcie-12gb-x2-dtd-v8-driver-375.66-hadoop.xml';
const parse = (name: string) => parseSmiXml(testdata(name), { host: HOST, now: NOW });

describe('parseSmiXml', () => {
  test('GTX 1660 Ti on 418 (no DOCTYPE, product name "Graphics Device") is read with the v11 parser', () => {
    const result = parse('gtx-1660-ti-graphics-device-driver-418.43.xml');
    assert.equal(result.dtdVersion, null);
    assert.equal(result.schema, 'v11');
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2019, 2, 29, 19, 19, 44), // line 3: Fri Mar 29 19:19:44 2019
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-304a277d-3545-63b8-3a36-dfde3c992989', // line 20
      model: 'Graphics Device', // line 8
      pci_bus_id: '00000000:43:00.0', // line 47
      driver_version: '418.43', // line 4
      vbios_version: '90.16.25.00.4C', // line 22
      cuda_version: '10.1', // line 5
      gpu_pcie_link_generation: 1, // lines 51-56: max 3, current 1, 16x of 16x
      gpu_pcie_link_generation_max: 3,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_memory_reserved_bytes: null, // lines 81-85: no <reserved> before 450
      gpu_encoder_sessions: 0, // lines 98-106: encoder_stats and fbc_stats all 0
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_fbc_sessions: 0,
      gpu_fbc_fps: 0,
      gpu_fbc_latency_microseconds: 0,
      gpu_retired_pages_single_bit_total: null, // lines 128, 132: N/A
      gpu_retired_pages_double_bit_total: null,
      gpu_video_clock_mhz: 540, // line 159
      gpu_pcie_tx_bytes_per_second: 0, // line 65: 0 KB/s
      gpu_pcie_rx_bytes_per_second: 0,
      gpu_fan_speed_percent: 0, // line 68
      gpu_performance_state: 8, // line 69: P8
      gpu_clock_throttle_reasons: 0x1, // line 71: gpu_idle Active, all others Not Active
      gpu_memory_total_bytes: 5912 * MiB, // lines 82-84
      gpu_memory_used_bytes: 0,
      gpu_memory_free_bytes: 5912 * MiB,
      gpu_utilization_percent: 0, // lines 93-96
      gpu_memory_utilization_percent: 1,
      gpu_encoder_utilization_percent: 0,
      gpu_decoder_utilization_percent: 0,
      gpu_ecc_errors_corrected_volatile_total: null, // lines 114-117: all N/A
      gpu_ecc_errors_uncorrected_volatile_total: null,
      gpu_temperature_celsius: 40, // line 138: 40 C
      gpu_memory_temperature_celsius: null, // line 142: N/A
      gpu_power_draw_watts: 8.93, // line 148
      gpu_power_limit_watts: 130, // line 151: enforced_power_limit
      gpu_graphics_clock_mhz: 300, // lines 156-158
      gpu_sm_clock_mhz: 300,
      gpu_memory_clock_mhz: 405,
    });
    assert.equal(result.devices[0]?.serial, null); // line 19: N/A
    assert.equal(result.devices[0]?.vbiosVersion, '90.16.25.00.4C'); // line 22
  });

  test('Tesla P100 on 510 (DTD v11): single_bit/double_bit ECC totals, passive fan null', () => {
    const result = parse('tesla-p100-pcie-16gb-driver-510.47.03.xml');
    assert.equal(result.schema, 'v11');
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2022, 8, 17, 17, 6, 50), // line 4
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e', // line 29
      model: 'Tesla P100-PCIE-16GB', // line 9
      pci_bus_id: '00000000:00:04.0', // line 59
      driver_version: '510.47.03', // line 5
      vbios_version: '86.00.52.00.02', // line 31
      cuda_version: '11.6', // line 6
      gpu_pcie_link_generation: 3, // lines 63-68: gen 3 of 3, 16x of 16x
      gpu_pcie_link_generation_max: 3,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_memory_reserved_bytes: 103 * MiB, // line 95
      gpu_encoder_sessions: 0, // lines 111-120
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_fbc_sessions: 0,
      gpu_fbc_fps: 0,
      gpu_fbc_latency_microseconds: 0,
      gpu_retired_pages_single_bit_total: 0, // line 173
      gpu_retired_pages_double_bit_total: 0, // line 178
      gpu_remapped_rows_correctable_total: null, // line 185: N/A before Ampere
      gpu_remapped_rows_uncorrectable_total: null,
      gpu_video_clock_mhz: 835, // line 213
      gpu_pcie_tx_bytes_per_second: 0, // lines 77-78
      gpu_pcie_rx_bytes_per_second: 0,
      gpu_fan_speed_percent: null, // line 80: N/A
      gpu_performance_state: 0, // line 81: P0
      gpu_clock_throttle_reasons: 0x1, // line 83
      gpu_memory_total_bytes: 16384 * MiB, // lines 94-97
      gpu_memory_used_bytes: 0,
      gpu_memory_free_bytes: 16280 * MiB,
      gpu_utilization_percent: 0, // lines 106-109
      gpu_memory_utilization_percent: 0,
      gpu_encoder_utilization_percent: 0,
      gpu_decoder_utilization_percent: 0,
      gpu_ecc_errors_corrected_volatile_total: 0, // line 135: volatile/single_bit/total
      gpu_ecc_errors_uncorrected_volatile_total: 0, // volatile/double_bit/total
      gpu_temperature_celsius: 38, // line 187
      gpu_memory_temperature_celsius: null, // line 192
      gpu_power_draw_watts: 26.16, // line 202
      gpu_power_limit_watts: 250, // line 205
      gpu_graphics_clock_mhz: 405, // lines 210-212
      gpu_sm_clock_mhz: 405,
      gpu_memory_clock_mhz: 715,
    });
    assert.equal(result.devices[0]?.serial, '0324217145110'); // line 28
  });

  test('A100 80GB on 535 (DTD v12, MIG): gpu_power_readings, MIG devices listed with their parent', () => {
    const result = parse('a100-sxm4-80gb-x4-mig-driver-535.54.03.xml');
    assert.equal(result.schema, 'v12');
    assert.equal(result.samples.length, 5, 'the GPU, then its 4 MIG instances (parse-xml-mig.test.ts)');
    const parent = 'GPU-513536b6-7d19-9063-b049-1e69664bb298'; // line 153
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2023, 7, 4, 11, 44, 30), // line 4: Fri Aug  4 11:44:30 2023
      host: HOST,
      gpu_index: 0,
      uuid: parent,
      model: 'NVIDIA A100-SXM4-80GB', // line 9
      pci_bus_id: '00000000:01:00.0', // line 189
      driver_version: '535.54.03',
      vbios_version: '92.00.36.00.02', // line 155
      cuda_version: '12.2', // line 6
      gpu_pcie_link_generation: 4, // lines 193-201: gen 4 of 4, 16x of 16x
      gpu_pcie_link_generation_max: 4,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_memory_reserved_bytes: 869 * MiB, // line 230: the <gpu>'s own, not its MIG devices' (0 MiB)
      gpu_jpeg_utilization_percent: null, // lines 250-251: N/A in MIG mode
      gpu_ofa_utilization_percent: null,
      gpu_encoder_sessions: 0, // lines 253-261
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_fbc_sessions: 0,
      gpu_fbc_fps: 0,
      gpu_fbc_latency_microseconds: 0,
      gpu_retired_pages_single_bit_total: null, // lines 283, 287: N/A
      gpu_retired_pages_double_bit_total: null,
      gpu_remapped_rows_correctable_total: null, // line 293: N/A
      gpu_remapped_rows_uncorrectable_total: null,
      gpu_video_clock_mhz: 1275, // line 330
      gpu_pcie_tx_bytes_per_second: 4_000_000, // line 210: 4000 KB/s
      gpu_pcie_rx_bytes_per_second: 0,
      gpu_fan_speed_percent: null, // line 215
      gpu_performance_state: 0, // line 216
      gpu_clock_throttle_reasons: 0, // every clocks_event_reason Not Active
      gpu_memory_total_bytes: 81920 * MiB, // the <gpu>'s own fb_memory_usage (after the MIG ones)
      gpu_memory_used_bytes: 50 * MiB,
      gpu_memory_free_bytes: 80999 * MiB,
      gpu_utilization_percent: null, // lines 246-249: N/A in MIG mode
      gpu_memory_utilization_percent: null,
      gpu_encoder_utilization_percent: null,
      gpu_decoder_utilization_percent: null,
      gpu_ecc_errors_corrected_volatile_total: 0, // lines 269-272: sram + dram correctable
      gpu_ecc_errors_uncorrected_volatile_total: 0,
      gpu_temperature_celsius: 27, // line 295
      gpu_memory_temperature_celsius: 44, // line 301
      gpu_power_draw_watts: 67.03, // line 310: gpu_power_readings/power_draw
      gpu_power_limit_watts: 500, // line 311: current_power_limit
      gpu_graphics_clock_mhz: 1275, // lines 327-329
      gpu_sm_clock_mhz: 1275,
      gpu_memory_clock_mhz: 1593,
    });
    const migs = result.devices.filter((d) => d.parentUuid === parent);
    assert.deepEqual(
      migs.map((d) => d.uuid),
      [3, 4, 5, 6].map((gi) => `MIG-${parent}/${gi}/0`), // gpu_instance_id 3..6, compute_instance_id 0
    );
    assert.match(result.warnings[0]?.reason ?? '', /attached_gpus is 4 but 1 <gpu> block/);
  });

  test('with `nvidia-smi -L`, MIG devices get their MIG- UUID and profile', () => {
    const parent = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';
    const listed = parseListGpus(
      `GPU 0: NVIDIA A100-SXM4-80GB (UUID: ${parent})\n  MIG 1g.20gb     Device  0: (UUID: MIG-aaaaaaaa-0000-0000-0000-000000000000)\n`,
    );
    const result = parseSmiXml(testdata('a100-sxm4-80gb-x4-mig-driver-535.54.03.xml'), {
      host: HOST,
      now: NOW,
      listed,
    });
    const mig0 = result.devices.find((d) => d.parentUuid === parent && d.index === 0);
    assert.equal(mig0?.uuid, 'MIG-aaaaaaaa-0000-0000-0000-000000000000');
    assert.equal(mig0?.migProfile, '1g.20gb');
  });

  test('a process in a MIG instance (A100 535 capture edited to run one) is attributed to that instance, not to its GPU', () => {
    const result = parseSmiXml(a100WithMigProcesses(), {
      host: HOST,
      now: NOW,
      listed: parseListGpus(A100_MIG_LIST),
    });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.processes, [
      // GPU instance 3 / compute instance 0 is <mig_device> index 0, listed as MIG-aaaaaaaa-...
      {
        uuid: 'MIG-aaaaaaaa-0000-0000-0000-000000000000',
        pid: 4242,
        name: 'python train.py',
        usedMemoryBytes: 1024 * MiB,
      },
      // no instance ids: the GPU itself
      {
        uuid: 'GPU-513536b6-7d19-9063-b049-1e69664bb298',
        pid: 7,
        name: 'nvidia-persistenced',
        usedMemoryBytes: 0,
      },
    ]);
  });

  test('without `nvidia-smi -L`, a MIG process gets the instance name MIG-<GPU uuid>/<GI>/<CI>', () => {
    const result = parseSmiXml(a100WithMigProcesses(), { host: HOST, now: NOW });
    assert.equal(
      result.processes.find((p) => p.pid === 4242)?.uuid,
      'MIG-GPU-513536b6-7d19-9063-b049-1e69664bb298/3/0',
    );
  });

  test('RTX 3060 on 570 (DTD v12 already with average_power_draw): the average is the power draw', () => {
    const [s] = parse('rtx-3060-driver-570.124.04.xml').samples;
    assert.equal(s?.ts, Date.UTC(2025, 2, 2, 15, 2, 2)); // line 4: Sun Mar 2 15:02:02 2025
    assert.equal(s?.gpu_power_draw_watts, 11.6); // line 219: average_power_draw 11.60 W
    assert.equal(s?.gpu_power_limit_watts, 170); // line 221
    assert.equal(s?.gpu_memory_used_bytes, 116 * MiB); // line 126
    assert.equal(s?.gpu_pcie_tx_bytes_per_second, 550_000); // line 104: 550 KB/s
    assert.equal(s?.gpu_clock_throttle_reasons, 0x1); // line 112
    assert.equal(s?.gpu_ecc_errors_corrected_volatile_total, null); // lines 168-172: N/A
  });

  test('RTX 3090 on 590 (DTD v13): power_draw gone, deprecated values null, SW power cap flag', () => {
    const result = parse('rtx-3090-driver-590.44.01.xml');
    assert.equal(result.schema, 'v13');
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2025, 11, 30, 10, 49, 50), // line 4
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab', // line 31
      model: 'NVIDIA GeForce RTX 3090',
      pci_bus_id: '00000000:09:00.0', // line 81
      driver_version: '590.44.01',
      vbios_version: '94.02.26.48.1B', // line 34
      cuda_version: '13.1', // line 6
      gpu_pcie_link_generation: 1, // lines 85-93: gen 1 of 4 at idle, 16x of 16x
      gpu_pcie_link_generation_max: 4,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_memory_reserved_bytes: 450 * MiB, // line 130
      gpu_jpeg_utilization_percent: 0, // lines 150-151
      gpu_ofa_utilization_percent: 0,
      gpu_encoder_sessions: 0, // lines 153-161
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_fbc_sessions: 0,
      gpu_fbc_fps: 0,
      gpu_fbc_latency_microseconds: 0,
      gpu_video_clock_mhz: 555, // line 259
      gpu_pcie_tx_bytes_per_second: 488_000, // line 102
      gpu_pcie_rx_bytes_per_second: 439_000,
      gpu_fan_speed_percent: 0, // line 107
      gpu_performance_state: 8, // line 108
      gpu_clock_throttle_reasons: 0x4, // line 112: sw_power_cap Active
      gpu_memory_total_bytes: 24576 * MiB, // lines 129-132
      gpu_memory_used_bytes: 7 * MiB,
      gpu_memory_free_bytes: 24120 * MiB,
      gpu_utilization_percent: 0, // lines 146-149
      gpu_memory_utilization_percent: 1,
      gpu_encoder_utilization_percent: 0,
      gpu_decoder_utilization_percent: 0,
      gpu_temperature_celsius: 32, // line 212
      gpu_memory_temperature_celsius: null,
      gpu_power_draw_watts: 35.06, // line 227: average_power_draw
      gpu_power_limit_watts: 350, // line 229
      gpu_graphics_clock_mhz: 210, // lines 256-258
      gpu_sm_clock_mhz: 210,
      gpu_memory_clock_mhz: 405,
    });
  });

  test('RTX 3080 on Windows 536 (WDDM, v12): no processes, N/A serial', () => {
    const result = parse('rtx-3080-windows-wddm-driver-536.40.xml');
    assert.deepEqual(result.processes, []);
    assert.equal(result.devices[0]?.serial, null); // line 29
    const [s] = result.samples;
    assert.equal(s?.gpu_power_draw_watts, 22.78); // line 187
    assert.equal(s?.gpu_power_limit_watts, 336); // line 188
    assert.equal(s?.gpu_memory_used_bytes, 1128 * MiB); // line 108
    assert.equal(s?.gpu_memory_utilization_percent, 37); // line 124
    assert.equal(s?.gpu_pcie_rx_bytes_per_second, 6_000_000); // line 88
  });

  test('Tesla T4 on Windows 512 (WDDM): empty process names and N/A memory are null', () => {
    const result = parse('tesla-t4-wddm-driver-512.78.xml');
    assert.equal(result.processes.length, 15);
    assert.equal(result.processes.filter((p) => p.name === null).length, 13);
    assert.ok(result.processes.every((p) => p.usedMemoryBytes === null));
    assert.ok(result.processes.some((p) => p.name === 'C:\\Windows\\explorer.exe'));
  });

  test('RTX 4000 SFF Ada on 595 (v13): processes with their memory; REDACTED serial is null', () => {
    const result = parse('rtx-4000-sff-ada-driver-595.84.xml');
    assert.equal(result.processes.length, 4);
    assert.deepEqual(result.processes[0], {
      uuid: result.samples[0]?.uuid,
      pid: 1842,
      name: 'cosmic-comp',
      usedMemoryBytes: 410 * MiB,
    });
    assert.equal(result.devices[0]?.serial, null);
  });

  test('two GPUs in one file are indexed in order', () => {
    const result = parse('rtx-2070-x2-driver-590.44.01.xml');
    assert.deepEqual(
      result.samples.map((s) => s.gpu_index),
      [0, 1],
    );
  });

  test('GTX 1070 Ti from Telegraf (DTD v10, cut down): read with the v10 parser, no unknown-schema warning', () => {
    const warned: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => warned.push(m) } as never;
    const result = parseSmiXml(testdata('gtx-1070-ti-dtd-v10-telegraf.xml'), {
      host: HOST,
      now: NOW,
      logger,
    });
    assert.equal(result.dtdVersion, 10);
    assert.equal(result.schema, 'v10');
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(warned, []);
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: NOW, // no <timestamp> in this file
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-f9ba66fc-a7f5-94c5-da19-019ef2f9c665', // line 6
      model: 'GeForce GTX 1070 Ti', // line 5
      pci_bus_id: '00000000:01:00.0', // line 4: the <gpu id>, the file has no <pci_bus_id>
      driver_version: null, // no <driver_version>
      gpu_pcie_link_generation: 1, // line 10: only the current link is kept in this file
      gpu_pcie_link_width_lanes: 16, // line 13: 16x
      gpu_encoder_sessions: 0, // lines 30-32
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_video_clock_mhz: 405, // line 44
      gpu_fan_speed_percent: 100, // line 17
      gpu_performance_state: 8, // line 18: P8
      gpu_memory_total_bytes: 4096 * MiB, // lines 20-22
      gpu_memory_used_bytes: 42 * MiB,
      gpu_memory_free_bytes: 4054 * MiB,
      gpu_utilization_percent: 0, // lines 26-27
      gpu_memory_utilization_percent: 0,
      gpu_temperature_celsius: 39, // line 35
      gpu_power_draw_watts: null, // line 38: N/A
      gpu_graphics_clock_mhz: 135, // lines 41-43
      gpu_sm_clock_mhz: 135,
      gpu_memory_clock_mhz: 405,
    });
  });

  test('two Tesla P100 on 375.66 from Hadoop (DTD v8): read with the v10 parser, no warning, every value', () => {
    const warned: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => warned.push(m) } as never;
    const result = parseSmiXml(testdata(P100_V8), { host: HOST, now: NOW, logger });
    assert.equal(result.dtdVersion, 8);
    assert.equal(result.schema, 'v10');
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, [], 'no unknown-schema warning, no value that could not be read');
    assert.deepEqual(warned, []);
    assert.equal(result.gpuBlocks, 2);
    const v8 = (gpu: 0 | 1) => ({
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2017, 8, 6, 21, 52, 51), // line 22: Wed Sep  6 21:52:51 2017
      host: HOST,
      gpu_index: gpu,
      driver_version: '375.66', // line 23
      vbios_version: '86.00.3A.00.02', // lines 40, 301
      cuda_version: null, // no <cuda_version> before 418
      gpu_pcie_link_generation: 3, // lines 65-71: gen 3 of 3, 16x of 16x
      gpu_pcie_link_generation_max: 3,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_pcie_tx_bytes_per_second: 0, // lines 79-80: 0 KB/s
      gpu_pcie_rx_bytes_per_second: 0,
      gpu_fan_speed_percent: null, // line 82: N/A (passive cooling)
      gpu_performance_state: 0, // line 83: P0
      gpu_clock_throttle_reasons: 0x1, // lines 84-91: gpu_idle Active, the others Not Active
      gpu_memory_utilization_percent: 0, // lines 105-107
      gpu_encoder_utilization_percent: 0,
      gpu_decoder_utilization_percent: 0,
      gpu_encoder_sessions: 0, // lines 110-112
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0, // line 112: `0 ms`
      gpu_ecc_errors_corrected_volatile_total: 0, // lines 127, 136: volatile/single_bit/total, double_bit/total
      gpu_ecc_errors_uncorrected_volatile_total: 0,
      gpu_retired_pages_single_bit_total: 0, // lines 162, 167
      gpu_retired_pages_double_bit_total: 0,
      gpu_power_limit_watts: 250, // line 184: enforced_power_limit (power_limit, line 182, is the same)
      gpu_graphics_clock_mhz: 405, // lines 189-192
      gpu_sm_clock_mhz: 405,
      gpu_memory_clock_mhz: 715,
      gpu_video_clock_mhz: 835,
    });
    assertSample(result.samples[0], {
      ...v8(0),
      uuid: 'GPU-28604e81-21ec-cc48-6759-bf2648b22e16', // line 38
      model: 'Tesla P100-PCIE-12GB', // line 26
      pci_bus_id: '0000:04:00.0', // line 62: the 375 driver's 4-digit domain
      gpu_memory_total_bytes: 11567 * MiB, // lines 93-95
      gpu_memory_used_bytes: 11400 * MiB,
      gpu_memory_free_bytes: 167 * MiB,
      gpu_utilization_percent: 33.4, // line 104
      gpu_temperature_celsius: 31, // line 174
      gpu_power_draw_watts: 24.84, // line 181: power_readings/power_draw
    });
    assertSample(result.samples[1], {
      ...v8(1),
      uuid: 'GPU-46915a82-3fd2-8e11-ae26-a80b607c04f3', // line 299
      model: 'Tesla P100-PCIE-12GB_2', // line 287 (as Hadoop's test file names it)
      pci_bus_id: '0000:82:00.0', // line 323
      gpu_memory_total_bytes: 12290 * MiB,
      gpu_memory_used_bytes: 11800 * MiB,
      gpu_memory_free_bytes: 490 * MiB,
      gpu_utilization_percent: 10.3,
      gpu_temperature_celsius: 34,
      gpu_power_draw_watts: 25.54,
    });
    assert.deepEqual(
      result.devices.map((d) => [d.uuid, d.serial, d.driverVersion, d.parentUuid]),
      [
        ['GPU-28604e81-21ec-cc48-6759-bf2648b22e16', '0320717030197', '375.66', null], // line 37
        ['GPU-46915a82-3fd2-8e11-ae26-a80b607c04f3', '0320717031755', '375.66', null], // line 298
      ],
    );
    assert.deepEqual(result.processes, [], 'empty <processes>');
  });

  test('an encoder latency in ms (the 375 driver prints `0 ms`) is stored in microseconds', () => {
    const edited = testdata(P100_V8).replace(
      '<average_latency>0 ms</average_latency>',
      '<average_latency>2 ms</average_latency>',
    );
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.deepEqual(result.warnings, []);
    assert.equal(result.samples[0]?.gpu_encoder_latency_microseconds, 2000);
    assert.equal(result.samples[1]?.gpu_encoder_latency_microseconds, 0, 'the other GPU keeps its 0 ms');
  });

  test('the v8 capture with only <power_limit> (its enforced_power_limit removed) keeps the limit', () => {
    const edited = testdata(P100_V8).replaceAll(/<enforced_power_limit>[^<]*<\/enforced_power_limit>/g, '');
    assert.doesNotMatch(edited, /enforced_power_limit/);
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.equal(result.schema, 'v10');
    assert.equal(result.samples[0]?.gpu_power_limit_watts, 250);
  });

  test('Quadro P2000 on 525 (DTD v12 with the v11 names): power and limit from power_readings, throttle flags from clocks_throttle_reasons', () => {
    const result = parse('quadro-p2000-driver-525.125.06.xml');
    assert.equal(result.schema, 'v12');
    assert.deepEqual(result.warnings, []);
    assertSample(result.samples[0], {
      ...nullMetrics(),
      ...nullIdentity(),
      ts: Date.UTC(2023, 8, 20, 9, 37, 38), // line 4
      host: HOST,
      gpu_index: 0,
      uuid: 'GPU-396caaed-39ca-3199-2e68-717cdb786ec6', // line 29
      model: 'Quadro P2000', // line 9
      pci_bus_id: '00000000:17:00.0', // line 60
      driver_version: '525.125.06', // line 5
      vbios_version: '86.06.3F.00.30', // line 31
      cuda_version: '12.0', // line 6
      gpu_pcie_link_generation: 1, // lines 64-72: gen 1 of 3, 8x of 16x
      gpu_pcie_link_generation_max: 3,
      gpu_pcie_link_width_lanes: 8,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_memory_reserved_bytes: 66 * MiB, // line 101
      gpu_encoder_sessions: 0, // lines 117-125
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_fbc_sessions: 0,
      gpu_fbc_fps: 0,
      gpu_fbc_latency_microseconds: 0,
      gpu_video_clock_mhz: 544, // line 218
      gpu_pcie_tx_bytes_per_second: 0, // lines 81-82
      gpu_pcie_rx_bytes_per_second: 0,
      gpu_fan_speed_percent: 46, // line 86
      gpu_performance_state: 8, // line 87
      gpu_clock_throttle_reasons: 0x1, // lines 88-98: gpu_idle Active
      gpu_memory_total_bytes: 5120 * MiB, // lines 100-103
      gpu_memory_used_bytes: 1 * MiB,
      gpu_memory_free_bytes: 5051 * MiB,
      gpu_utilization_percent: 0, // lines 112-115
      gpu_memory_utilization_percent: 0,
      gpu_encoder_utilization_percent: 0,
      gpu_decoder_utilization_percent: 0,
      gpu_temperature_celsius: 34, // line 191
      gpu_power_draw_watts: 4.61, // line 207: power_readings/power_draw, no gpu_power_readings
      gpu_power_limit_watts: 75, // line 210: power_readings/enforced_power_limit
      gpu_graphics_clock_mhz: 139, // lines 215-217
      gpu_sm_clock_mhz: 139,
      gpu_memory_clock_mhz: 405,
    });
  });

  test('every DTD from v1 to v10 is read with the v10 parser and no warning (the 375 branch prints v8)', () => {
    const capture = testdata('gtx-1070-ti-dtd-v10-telegraf.xml');
    for (const version of [1, 4, 8, 9]) {
      const edited = capture.replace('nvsmi_device_v10.dtd', `nvsmi_device_v${version}.dtd`);
      const result = parseSmiXml(edited, { host: HOST, now: NOW });
      assert.equal(result.dtdVersion, version);
      assert.equal(result.schema, 'v10', `v${version}`);
      assert.deepEqual(result.warnings, [], `v${version}`);
      assert.equal(result.samples[0]?.gpu_temperature_celsius, 39, `v${version}`);
    }
  });

  test('DTD v0 is no known version: it warns and is read with the newest parser', () => {
    const edited = testdata('gtx-1070-ti-dtd-v10-telegraf.xml').replace(
      'nvsmi_device_v10.dtd',
      'nvsmi_device_v0.dtd',
    );
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.equal(result.schema, 'v13');
    assert.match(result.warnings[0]?.reason ?? '', /unknown nvidia-smi XML schema nvsmi_device_v0/);
    assert.equal(result.samples[0]?.gpu_memory_used_bytes, 42 * MiB, 'the newest parser still reads it');
  });

  test('a v13 file with a v11 power section (edited RTX 3090 590) falls back to power_readings', () => {
    const edited = testdata('rtx-3090-driver-590.44.01.xml').replace(
      /<gpu_power_readings>[\s\S]*?<\/gpu_power_readings>/,
      (block) =>
        block
          .replaceAll('gpu_power_readings>', 'power_readings>')
          .replaceAll('average_power_draw>', 'power_draw>')
          .replaceAll('current_power_limit>', 'enforced_power_limit>'),
    );
    assert.doesNotMatch(edited, /<gpu_power_readings>/);
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.equal(result.schema, 'v13');
    assert.equal(result.samples[0]?.gpu_power_draw_watts, 35.06);
    assert.equal(result.samples[0]?.gpu_power_limit_watts, 350);
  });

  test('a v11 file with only the v12 power names (edited Tesla T4 515) falls back to gpu_power_readings', () => {
    const edited = testdata('tesla-t4-driver-515.105.01.xml')
      .replaceAll('power_readings>', 'gpu_power_readings>')
      .replace('<enforced_power_limit>', '<current_power_limit>')
      .replace('</enforced_power_limit>', '</current_power_limit>')
      .replaceAll(/<power_limit>[^<]*<\/power_limit>/g, '');
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.equal(result.schema, 'v11');
    assert.equal(result.samples[0]?.gpu_power_draw_watts, 26.78);
    assert.equal(result.samples[0]?.gpu_power_limit_watts, 70);
  });

  test('RTX 3090 590 edited as 610 prints it (driver_version deprecated, kmd_version filled): the driver version is kmd_version', () => {
    // No public 610 XML capture exists: the 590 capture with its driver_version line replaced.
    const edited = testdata('rtx-3090-driver-590.44.01.xml').replace(
      '<driver_version>590.44.01</driver_version>',
      '<driver_version>Deprecated, see KMD version</driver_version>\n\t<kmd_version>590.44.01</kmd_version>',
    );
    assert.notEqual(edited, testdata('rtx-3090-driver-590.44.01.xml'));
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.deepEqual(result.errors, []);
    assert.equal(result.samples[0]?.driver_version, '590.44.01');
    assert.equal(result.devices[0]?.driverVersion, '590.44.01');
  });

  test('RTX 3090 590 edited with the version lines of the real 610 -q: driver 610.57.04 and CUDA 13.3, notes stripped', () => {
    const result = parseSmiXml(rtx3090As610(), { host: HOST, now: NOW });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.equal(result.samples[0]?.driver_version, '610.57.04');
    assert.equal(result.samples[0]?.cuda_version, '13.3');
  });

  test('a 610 root with only the deprecated names, each with its note, keeps the leading versions', () => {
    const edited = rtx3090As610()
      .replace(/\s*<kmd_version>[^<]*<\/kmd_version>/, '')
      .replace(/\s*<cuda_umd_version>[^<]*<\/cuda_umd_version>/, '');
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.equal(result.samples[0]?.driver_version, '610.57.04');
    assert.equal(result.samples[0]?.cuda_version, '13.3');
  });

  test('a CUDA version that is only a note (`Deprecated, see "CUDA UMD version" instead`) comes from cuda_umd_version', () => {
    const edited = rtx3090As610().replace(
      /<cuda_version>[^<]*<\/cuda_version>/,
      '<cuda_version>Deprecated, see &quot;CUDA UMD version&quot; instead</cuda_version>',
    );
    const result = parseSmiXml(edited, { host: HOST, now: NOW });
    assert.equal(result.samples[0]?.cuda_version, '13.3');
    const none = parseSmiXml(edited.replace(/\s*<cuda_umd_version>[^<]*<\/cuda_umd_version>/, ''), {
      host: HOST,
      now: NOW,
    });
    assert.equal(none.samples[0]?.cuda_version, null, 'a note is no version');
  });

  test('an unknown schema version warns once and is read with the newest parser', () => {
    const warned: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => warned.push(m) } as never;
    const text = testdata('rtx-3090-driver-590.44.01.xml').replace(
      'nvsmi_device_v13.dtd',
      'nvsmi_device_v99.dtd',
    );
    const first = parseSmiXml(text, { host: HOST, now: NOW, logger });
    const second = parseSmiXml(text, { host: HOST, now: NOW, logger });
    assert.equal(first.schema, 'v13');
    assert.equal(first.dtdVersion, 99);
    assert.equal(first.samples[0]?.gpu_power_draw_watts, 35.06);
    assert.match(first.warnings[0]?.reason ?? '', /unknown nvidia-smi XML schema nvsmi_device_v99/);
    assert.equal(second.warnings.length, 1, 'every result says it');
    assert.equal(warned.length, 1, 'the log says it once');
  });

  test('a cut document is one error and no sample', () => {
    const text = testdata('tesla-p100-pcie-16gb-driver-510.47.03.xml').slice(0, 3000);
    const result = parseSmiXml(text, { host: HOST, now: NOW });
    assert.equal(result.samples.length, 0);
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0]?.reason ?? '', /not well-formed XML/);
  });
});
