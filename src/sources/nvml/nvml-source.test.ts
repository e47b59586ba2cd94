import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { isGpumonError } from '../../errors.ts';
import { IDENTITY, METRICS } from '../../metrics/catalog.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';
import {
  buildFakeNvml,
  FAKE_NVML_SCENARIO_ENV,
  FakeNvmlControl,
  scenarioPath,
  writeScenario,
} from './fake/fake-nvml.ts';
import { NVML_PROTOTYPES, type NvmlFunctionName } from './nvml-lib.ts';
import { NvmlSource, type NvmlSourceOptions, nvmlAvailable, probeNvml } from './nvml-source.ts';
import { READERS } from './readers.ts';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const library = buildFakeNvml();
const fake = new FakeNvmlControl(library);
const oldLibrary = buildFakeNvml({ defines: ['FAKE_NVML_NO_CLOCKS_EVENT_REASONS'] });
const validated: GpuSample[] = [];
const opened: NvmlSource[] = [];

/** A source on the fake library playing `scenario` (a file name under fake/scenarios, or inline text). */
async function openOn(scenario: string, options: NvmlSourceOptions = {}) {
  process.env[FAKE_NVML_SCENARIO_ENV] = scenario.includes('=')
    ? writeScenario(scenario)
    : scenarioPath(scenario);
  fake.resetCalls();
  const source = new NvmlSource({ library, host: 'node-07', ...options });
  await source.open();
  opened.push(source);
  return source;
}

/** Reads `count` times one second apart; every sample is kept for the parseSample check. */
async function readTimes(source: NvmlSource, count: number): Promise<GpuSample[][]> {
  const reads: GpuSample[][] = [];
  for (let k = 0; k < count; k++) {
    const samples = await source.read(T0 + k * 1000);
    validated.push(...samples);
    reads.push(samples);
  }
  return reads;
}

function logLines() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

// A test that fails half-way still shuts NVML down, so the next one starts from its own scenario.
afterEach(async () => {
  for (const source of opened.splice(0)) await source.close();
});

after(() => {
  delete process.env[FAKE_NVML_SCENARIO_ENV];
});

describe('NvmlSource', () => {
  test('initializes NVML once and reads each GPU handle and identity once, however many reads follow', async () => {
    const source = await openOn('h100-pair');
    await readTimes(source, 5);
    assert.equal(fake.calls('nvmlInit_v2'), 1);
    assert.equal(fake.calls('nvmlDeviceGetCount_v2'), 1);
    assert.equal(fake.calls('nvmlSystemGetDriverVersion'), 1);
    for (const fn of [
      'nvmlDeviceGetHandleByIndex_v2',
      'nvmlDeviceGetUUID',
      'nvmlDeviceGetName',
      'nvmlDeviceGetPciInfo_v3',
      'nvmlDeviceGetSerial',
      'nvmlDeviceGetVbiosVersion',
      'nvmlDeviceGetIndex',
    ]) {
      assert.equal(fake.deviceCalls(fn, 0), 1, fn);
      assert.equal(fake.deviceCalls(fn, 1), 1, fn);
    }
    assert.equal(fake.deviceCalls('nvmlDeviceGetTemperature', 0), 5);
    await source.close();
    assert.equal(fake.calls('nvmlShutdown'), 1);
  });

  test('samples carry the cached identity: host, NVML index, UUID, name, PCI bus id and driver version', async () => {
    const source = await openOn('h100-pair');
    const [samples] = await readTimes(source, 1);
    assert.deepEqual(
      samples?.map((s) => [s.ts, s.host, s.gpu_index, s.uuid, s.model, s.pci_bus_id, s.driver_version]),
      [
        [
          T0,
          'node-07',
          0,
          'GPU-4f2b7c1e-9a3d-4e61-b8c2-1d5e6f7a8b90',
          'NVIDIA H100 80GB HBM3',
          '00000000:18:00.0',
          '550.54.15',
        ],
        [
          T0,
          'node-07',
          1,
          'GPU-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          'NVIDIA H100 80GB HBM3',
          '00000000:2A:00.0',
          '550.54.15',
        ],
      ],
    );
    assert.deepEqual(source.devices()[0], {
      uuid: 'GPU-4f2b7c1e-9a3d-4e61-b8c2-1d5e6f7a8b90',
      index: 0,
      model: 'NVIDIA H100 80GB HBM3',
      pciBusId: '00000000:18:00.0',
      serial: '1654922012345',
      vbiosVersion: '96.00.74.00.01',
      driverVersion: '550.54.15',
      parentUuid: null,
      migProfile: null,
    });
    await source.close();
  });

  test('maps every NVML metric into the catalog units: mW to W, mJ to J, KB/s to bytes/s, memory in bytes', async () => {
    const source = await openOn('h100-pair');
    const [[gpu0] = []] = await readTimes(source, 1);
    assert.ok(gpu0);
    const { ts, host, gpu_index, uuid, model, pci_bus_id, driver_version, ...rest } = gpu0;
    const metrics = Object.fromEntries(
      Object.entries(rest).filter(([k]) => !IDENTITY.some((i) => i.name === k)),
    );
    assert.deepEqual(metrics, {
      gpu_utilization_percent: 97,
      gpu_memory_utilization_percent: 41,
      gpu_encoder_utilization_percent: 0,
      gpu_decoder_utilization_percent: 3,
      gpu_memory_total_bytes: 85_520_809_984,
      gpu_memory_used_bytes: 72_477_573_120,
      gpu_memory_free_bytes: 13_043_236_864,
      gpu_temperature_celsius: 67,
      gpu_memory_temperature_celsius: 74,
      gpu_power_draw_watts: 612.345,
      gpu_power_limit_watts: 700,
      gpu_energy_joules_total: 987_654.321,
      gpu_sm_clock_mhz: 1980,
      gpu_memory_clock_mhz: 2619,
      gpu_graphics_clock_mhz: 1980,
      gpu_fan_speed_percent: null,
      gpu_performance_state: 0,
      gpu_clock_throttle_reasons: 0x24,
      gpu_pcie_tx_bytes_per_second: 12_500 * 1024,
      gpu_pcie_rx_bytes_per_second: 250_000 * 1024,
      gpu_ecc_errors_corrected_volatile_total: 3,
      gpu_ecc_errors_uncorrected_volatile_total: 0,
      gpu_xid_last: 0,
      gpu_hotspot_temperature_celsius: null, // NVML has no hot-spot sensor
      gpu_memory_reserved_bytes: 502_267_904, // nvmlMemory_v2_t.reserved, 479 MiB
      gpu_video_clock_mhz: 1755,
      gpu_jpeg_utilization_percent: 0,
      gpu_ofa_utilization_percent: 0,
      gpu_tensor_active_percent: null, // a DCGM profiling counter: not in NVML's device queries
      gpu_encoder_sessions: 0,
      gpu_encoder_fps: 0,
      gpu_encoder_latency_microseconds: 0,
      gpu_fbc_sessions: 0,
      gpu_fbc_fps: 0,
      gpu_fbc_latency_microseconds: 0,
      gpu_pcie_link_generation: 5,
      gpu_pcie_link_generation_max: 5,
      gpu_pcie_link_width_lanes: 16,
      gpu_pcie_link_width_max_lanes: 16,
      gpu_remapped_rows_correctable_total: 2,
      gpu_remapped_rows_uncorrectable_total: 0,
      gpu_retired_pages_single_bit_total: null, // NOT_SUPPORTED
      gpu_retired_pages_double_bit_total: null,
      host_cpu_temperature_celsius: null,
      host_memory_used_bytes: null,
      host_memory_total_bytes: null,
      host_cpu_utilization_percent: null,
    });
    assert.equal(gpu0.vbios_version, '96.00.74.00.01'); // device.0.vbios
    assert.equal(gpu0.cuda_version, '12.4'); // cuda_driver_version=12040
    await source.close();
  });

  test('retired pages are counted by asking NVML for none: INSUFFICIENT_SIZE gives the count', async () => {
    const source = await openOn('device_count=1\ndevice.0.retired_sbe=3\ndevice.0.retired_dbe=0\n');
    const [[gpu] = []] = await readTimes(source, 1);
    assert.equal(gpu?.gpu_retired_pages_single_bit_total, 3);
    assert.equal(gpu?.gpu_retired_pages_double_bit_total, 0);
    assert.deepEqual(source.health().errors, {}, 'INSUFFICIENT_SIZE is the answer asked for, not a failure');
  });

  test('a driver without the CUDA version call leaves cuda_version null, the rest is read', async () => {
    const source = await openOn('device_count=1\ncuda_driver_version=NOT_SUPPORTED\n');
    const [[gpu] = []] = await readTimes(source, 1);
    assert.equal(gpu?.cuda_version, null);
    assert.equal(gpu?.vbios_version, '96.00.00.00.01'); // the fake's default VBIOS
    assert.equal(gpu?.gpu_pcie_link_generation, 4); // the fake's defaults: gen 4 of 5, x16 of x16
    assert.equal(gpu?.gpu_pcie_link_generation_max, 5);
    assert.equal(gpu?.gpu_video_clock_mhz, 1275);
  });

  test('reads every catalog metric that names an NVML call, through a reader named exactly as the catalog names it', () => {
    for (const metric of METRICS.filter((m) => m.nvml !== '')) {
      if (metric.name === 'gpu_xid_last') continue; // from the event set, see the XID tests
      const reader = READERS.find((r) => (r.metrics as readonly string[]).includes(metric.name));
      assert.ok(reader, `no reader fills ${metric.name}`);
      assert.equal(reader.call, metric.nvml.replace(/\.\w+$/, ''), metric.name);
    }
    const readerMetrics = READERS.flatMap((r) => r.metrics);
    assert.equal(new Set(readerMetrics).size, readerMetrics.length, 'two readers fill the same metric');
  });

  test('a call that returns NOT_SUPPORTED gives null, is reported once per GPU and is not called again on it', async () => {
    const { logger, lines } = logLines();
    const source = await openOn('h100-pair', { logger });
    const reads = await readTimes(source, 4);
    assert.deepEqual(
      reads.flat().map((s) => s.gpu_fan_speed_percent),
      Array(8).fill(null),
    );
    assert.equal(fake.deviceCalls('nvmlDeviceGetFanSpeed', 0), 1);
    assert.equal(fake.deviceCalls('nvmlDeviceGetFanSpeed', 1), 1);
    assert.equal(source.health().errors['nvmlDeviceGetFanSpeed: NOT_SUPPORTED'], 2);
    assert.deepEqual(
      source.unsupported().filter((u) => u.call === 'nvmlDeviceGetFanSpeed'),
      [
        {
          uuid: 'GPU-4f2b7c1e-9a3d-4e61-b8c2-1d5e6f7a8b90',
          gpuIndex: 0,
          call: 'nvmlDeviceGetFanSpeed',
          error: 'NOT_SUPPORTED',
        },
        {
          uuid: 'GPU-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          gpuIndex: 1,
          call: 'nvmlDeviceGetFanSpeed',
          error: 'NOT_SUPPORTED',
        },
      ],
    );
    const fanLogs = lines.filter((l) => l.call === 'nvmlDeviceGetFanSpeed');
    assert.equal(fanLogs.length, 2);
    assert.match(String(fanLogs[0]?.msg), /nvmlDeviceGetFanSpeed returns NOT_SUPPORTED for GPU 0/);
    assert.equal(reads[3]?.[0]?.gpu_temperature_celsius, 67, 'the other metrics are still read');
    await source.close();
  });

  test('any other error of a call (NO_PERMISSION, UNKNOWN) is handled the same way, also when it starts mid-run', async () => {
    const source = await openOn(
      'device_count=1\ndevice.0.ecc_corrected=NO_PERMISSION\ndevice.0.temperature=55\n',
    );
    await readTimes(source, 2);
    fake.set('device.0.temperature', 'UNKNOWN');
    const reads = await readTimes(source, 3);
    assert.deepEqual(
      reads.map(([s]) => [s?.gpu_ecc_errors_corrected_volatile_total, s?.gpu_temperature_celsius]),
      [
        [null, null],
        [null, null],
        [null, null],
      ],
    );
    assert.equal(fake.deviceCalls('nvmlDeviceGetTemperature', 0), 3);
    assert.deepEqual(source.health().errors, {
      'nvmlDeviceGetTotalEccErrors(NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC): NO_PERMISSION': 1,
      'nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU): UNKNOWN': 1,
    });
    await source.close();
  });

  test('a GPU that falls off the bus (GPU_IS_LOST) gives null metrics, is reported, and the others are still read', async () => {
    const source = await openOn('h100-pair');
    await readTimes(source, 1);
    fake.set('device.1.lost', 1);
    const [first = [], second = []] = await readTimes(source, 2);
    const callsAfterLoss = fake.deviceCalls('nvmlDeviceGetUtilizationRates', 1);
    await readTimes(source, 2);
    for (const samples of [first, second]) {
      const {
        ts,
        host,
        gpu_index,
        uuid,
        model,
        pci_bus_id,
        driver_version,
        vbios_version,
        cuda_version,
        ...metrics
      } = samples[1] as GpuSample;
      assert.equal(uuid, 'GPU-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d');
      assert.ok(Object.values(metrics).every((v) => v === null));
      assert.equal(samples[0]?.gpu_temperature_celsius, 67);
    }
    assert.equal(
      fake.deviceCalls('nvmlDeviceGetUtilizationRates', 1),
      callsAfterLoss,
      'a lost GPU is not called',
    );
    assert.equal(source.health().errors.GPU_IS_LOST, 1);
    assert.match(source.health().notice ?? '', /GPU 1 \(GPU-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\) lost/);
    await source.close();
  });

  test('when every GPU is lost, read rejects with SOURCE_READ_FAILED naming them', async () => {
    const source = await openOn('device_count=1\n');
    fake.set('device.0.lost', 1);
    await assert.rejects(source.read(T0), (err) => {
      assert.ok(isGpumonError(err, 'SOURCE_READ_FAILED'));
      assert.match(err.message, /every GPU is lost.*GPU-fa4e0000-0000-4000-8000-000000000000/);
      return true;
    });
    await source.close();
  });

  test('a driver that is not loaded makes open throw SOURCE_UNAVAILABLE naming the library and NVML error', async () => {
    process.env[FAKE_NVML_SCENARIO_ENV] = scenarioPath('driver-not-loaded');
    const source = new NvmlSource({ library });
    await assert.rejects(source.open(), (err) => {
      assert.ok(isGpumonError(err, 'SOURCE_UNAVAILABLE'));
      assert.ok(err.message.includes(library), err.message);
      assert.match(err.message, /nvmlInit_v2 failed: Driver Not Loaded \(NVML_ERROR_DRIVER_NOT_LOADED\)/);
      assert.match(err.message, /kernel driver loaded/);
      return true;
    });
    assert.equal(nvmlAvailable(library), false);
    assert.match((probeNvml(library) as { reason: string }).reason, /DRIVER_NOT_LOADED/);
  });

  test('GPUs that cannot be opened are skipped and reported; when none can be, open throws SOURCE_UNAVAILABLE', async () => {
    const source = await openOn('device_count=2\ndevice.0.lost=1\n');
    assert.deepEqual(
      source.devices().map((d) => d.index),
      [1],
    );
    assert.equal(source.health().errors['nvmlDeviceGetUUID: GPU_IS_LOST'], 1);
    await source.close();
    process.env[FAKE_NVML_SCENARIO_ENV] = writeScenario('device_count=1\ndevice.0.lost=1\n');
    await assert.rejects(new NvmlSource({ library }).open(), (err) => {
      assert.ok(isGpumonError(err, 'SOURCE_UNAVAILABLE'));
      assert.match(
        err.message,
        /none of the 1 GPUs NVML counts could be opened: GPU 0: nvmlDeviceGetUUID: GPU_IS_LOST/,
      );
      return true;
    });
    assert.equal(fake.calls('nvmlInit_v2'), fake.calls('nvmlShutdown'), 'NVML is shut down again');
  });

  test('a library that cannot be loaded makes open throw SOURCE_UNAVAILABLE naming it, and the probe says false', async () => {
    const missing = join(tmpdir(), 'no-such-dir', 'libnvidia-ml.so.1');
    await assert.rejects(new NvmlSource({ library: missing }).open(), (err) => {
      assert.ok(isGpumonError(err, 'SOURCE_UNAVAILABLE'));
      assert.match(err.message, /NVML library .*no-such-dir\/libnvidia-ml\.so\.1 cannot be loaded/);
      return true;
    });
    assert.equal(nvmlAvailable(missing), false);
  });

  test('the probe is true where NVML initializes and sees a GPU, and shuts NVML down again', () => {
    process.env[FAKE_NVML_SCENARIO_ENV] = scenarioPath('eight-gpus');
    fake.resetCalls();
    assert.equal(nvmlAvailable(library), true);
    assert.deepEqual(probeNvml(library), { available: true, gpus: 8 });
    assert.equal(fake.calls('nvmlInit_v2'), 2);
    assert.equal(fake.calls('nvmlShutdown'), 2);
    process.env[FAKE_NVML_SCENARIO_ENV] = writeScenario('device_count=0\n');
    assert.equal(nvmlAvailable(library), false, 'no GPU: not worth choosing');
  });

  test('MIG devices are listed right after their parent, with its UUID and their profile', async () => {
    const source = await openOn('a100-mig');
    assert.deepEqual(
      source.devices().map((d) => [d.uuid, d.index, d.parentUuid, d.migProfile, d.model]),
      [
        ['GPU-5d1c3b2a-0000-4c5d-9e8f-a1b2c3d4e5f6', 0, null, null, 'NVIDIA A100-SXM4-80GB'],
        [
          'MIG-1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d',
          0,
          'GPU-5d1c3b2a-0000-4c5d-9e8f-a1b2c3d4e5f6',
          '3g.40gb',
          'NVIDIA A100-SXM4-80GB MIG 3g.40gb',
        ],
        [
          'MIG-9f8e7d6c-5b4a-5c3d-8e2f-1a0b9c8d7e6f',
          3,
          'GPU-5d1c3b2a-0000-4c5d-9e8f-a1b2c3d4e5f6',
          '2g.20gb',
          'NVIDIA A100-SXM4-80GB MIG 2g.20gb',
        ],
        ['GPU-6e2d4c3b-1111-4d6e-8f90-b2c3d4e5f6a7', 1, null, null, 'NVIDIA A100-SXM4-80GB'],
      ],
    );
    assert.equal(fake.deviceCalls('nvmlDeviceGetMaxMigDeviceCount', 1), 0, 'MIG off: no slots looked at');
    const samples = await source.read(T0);
    validated.push(...samples);
    assert.deepEqual(
      samples.map((s) => s.uuid),
      source.devices().map((d) => d.uuid),
      'a sample per GPU and per MIG instance, each instance after its GPU',
    );
    await source.close();
  });

  test('a MIG instance sample carries its own memory and ids, its GPU as parent, and none of the GPU readings', async () => {
    const source = await openOn('a100-mig');
    const samples = await source.read(T0);
    validated.push(...samples);
    const parent = 'GPU-5d1c3b2a-0000-4c5d-9e8f-a1b2c3d4e5f6';
    const mig = samples.find((s) => s.uuid === 'MIG-1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d');
    assert.deepEqual(
      mig && {
        gpu_index: mig.gpu_index,
        model: mig.model,
        parent_uuid: mig.parent_uuid,
        gi: mig.mig_gpu_instance_id,
        ci: mig.mig_compute_instance_id,
        total: mig.gpu_memory_total_bytes,
        used: mig.gpu_memory_used_bytes,
        free: mig.gpu_memory_free_bytes,
        reserved: mig.gpu_memory_reserved_bytes,
      },
      {
        gpu_index: 0, // its GPU's index
        model: 'NVIDIA A100-SXM4-80GB MIG 3g.40gb', // NVML's name of the MIG device
        parent_uuid: parent,
        gi: 1, // the scenario's device.0.mig.0.gpu_instance_id
        ci: 0,
        total: 42_949_672_960, // device.0.mig.0.mem_*: the instance's, not the GPU's 80 GiB
        used: 20_971_520_000,
        free: 21_978_152_960,
        reserved: 0,
      },
    );
    const gpu = samples.find((s) => s.uuid === parent);
    assert.equal(gpu?.gpu_temperature_celsius, 30, 'the GPU reads its temperature');
    assert.equal(gpu?.parent_uuid, null);
    for (const metric of [
      'gpu_temperature_celsius',
      'gpu_utilization_percent',
      'gpu_power_draw_watts',
      'gpu_sm_clock_mhz',
      'gpu_xid_last',
    ] as const) {
      assert.equal(mig?.[metric], null, `${metric}: the GPU's, not the instance's`);
    }
    await source.close();
  });

  test("a MIG instance whose memory NVML does not give keeps null memory, reported once under the instance's UUID", async () => {
    const source = await openOn(
      [
        'device_count=1',
        'device.0.mig_mode=1',
        'device.0.max_mig=2',
        'device.0.mig.1.uuid=MIG-11111111-2222-5333-8444-555555555555',
        'device.0.mig.1.name=NVIDIA H100 80GB HBM3 MIG 1g.10gb',
        'device.0.mig.1.gpu_instance_id=9',
        'device.0.mig.1.compute_instance_id=NOT_SUPPORTED',
        'device.0.mig.1.mem_total=NOT_SUPPORTED',
      ].join('\n'),
    );
    const [first] = await readTimes(source, 2);
    const mig = first?.find((s) => s.parent_uuid !== null);
    assert.deepEqual(
      mig && [mig.uuid, mig.mig_gpu_instance_id, mig.mig_compute_instance_id, mig.gpu_memory_total_bytes],
      ['MIG-11111111-2222-5333-8444-555555555555', 9, null, null],
    );
    assert.equal(first?.[0]?.gpu_memory_total_bytes, 85_899_345_920, 'the GPU still reads its own');
    assert.deepEqual(
      source.unsupported().filter((f) => f.uuid.startsWith('MIG-')),
      ['nvmlDeviceGetMemoryInfo(MIG)', 'nvmlDeviceGetMemoryInfo_v2(MIG)'].map((call) => ({
        uuid: 'MIG-11111111-2222-5333-8444-555555555555',
        gpuIndex: 0,
        call,
        error: 'NOT_SUPPORTED',
      })),
      'each call once, not at every read',
    );
    await source.close();
  });

  test('processes carry their GPU or MIG instance UUID, pid, memory in bytes and name from /proc', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'gpumon-proc-'));
    mkdirSync(join(proc, '4242'));
    writeFileSync(join(proc, '4242', 'comm'), 'python3\n');
    mkdirSync(join(proc, '4343'));
    writeFileSync(join(proc, '4343', 'cmdline'), '/opt/conda/bin/torchrun\0--nproc_per_node=8\0train.py\0');
    const source = await openOn('h100-pair', { procRoot: proc });
    assert.deepEqual(await source.processes(), [
      {
        uuid: 'GPU-4f2b7c1e-9a3d-4e61-b8c2-1d5e6f7a8b90',
        pid: 4242,
        usedMemoryBytes: 71_940_702_208,
        name: 'python3',
      },
      {
        uuid: 'GPU-4f2b7c1e-9a3d-4e61-b8c2-1d5e6f7a8b90',
        pid: 4343,
        usedMemoryBytes: null,
        name: 'torchrun',
      },
    ]);
    await source.close();

    const mig = await openOn('a100-mig', { procRoot: proc });
    assert.deepEqual(await mig.processes(), [
      {
        uuid: 'MIG-1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d',
        pid: 5001,
        usedMemoryBytes: 20_971_520_000,
        name: null,
      },
      {
        uuid: 'MIG-9f8e7d6c-5b4a-5c3d-8e2f-1a0b9c8d7e6f',
        pid: 5002,
        usedMemoryBytes: 10_485_760_000,
        name: null,
      },
    ]);
    await mig.close();
  });

  test('more processes than the buffer holds are all listed; a GPU that cannot list them is reported once', async () => {
    const lines = ['device_count=2', 'device.1.processes=NOT_SUPPORTED'];
    for (let k = 0; k < 32; k++)
      lines.push(`device.0.process.${k}.pid=${10_000 + k}`, `device.0.process.${k}.used=${k}`);
    const source = await openOn(`${lines.join('\n')}\n`, { procRoot: join(tmpdir(), 'no-such-proc') });
    assert.equal((await source.processes()).length, 32);
    assert.equal((await source.processes()).length, 32);
    assert.equal(fake.deviceCalls('nvmlDeviceGetComputeRunningProcesses_v3', 1), 1);
    assert.equal(source.health().errors['nvmlDeviceGetComputeRunningProcesses_v3: NOT_SUPPORTED'], 1);
    await source.close();
  });

  test('an XID event sets gpu_xid_last on its GPU only, and it stays until the next XID', async () => {
    const { logger, lines } = logLines();
    const source = await openOn('h100-pair', { logger });
    const [before = []] = await readTimes(source, 1);
    assert.deepEqual(
      before.map((s) => s.gpu_xid_last),
      [0, 0],
    );
    fake.set('device.1.xid', 79);
    const reads = await readTimes(source, 2);
    fake.set('device.1.xid', 48);
    fake.set('device.0.xid', 13);
    reads.push(...(await readTimes(source, 1)));
    assert.deepEqual(
      reads.map((samples) => samples.map((s) => s.gpu_xid_last)),
      [
        [0, 79],
        [0, 79],
        [13, 48],
      ],
    );
    assert.ok(lines.some((l) => l.xid === 79 && /XID 79 on GPU 1/.test(String(l.msg))));
    await source.close();
  });

  test('a GPU where XID events cannot be registered has gpu_xid_last null, reported once', async () => {
    const source = await openOn('device_count=2\ndevice.0.register_events=NOT_SUPPORTED\ndevice.0.xid=31\n');
    const reads = await readTimes(source, 2);
    assert.deepEqual(
      reads.map((samples) => samples.map((s) => s.gpu_xid_last)),
      [
        [null, 0],
        [null, 0],
      ],
    );
    assert.equal(
      source.health().errors['nvmlDeviceRegisterEvents(nvmlEventTypeXidCriticalError): NOT_SUPPORTED'],
      1,
    );
    await source.close();
  });

  test('an unknown pstate (32) and a value outside the catalog range become null; the latter is counted', async () => {
    const source = await openOn('device_count=1\ndevice.0.pstate=32\ndevice.0.temperature=400\n');
    const [[sample] = []] = await readTimes(source, 2);
    assert.equal(sample?.gpu_performance_state, null);
    assert.equal(sample?.gpu_temperature_celsius, null);
    assert.equal(source.health().errors['nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU): OUT_OF_RANGE'], 2);
    await source.close();
  });

  test('with a driver older than 535, throttle reasons come from nvmlDeviceGetCurrentClocksThrottleReasons', async () => {
    process.env[FAKE_NVML_SCENARIO_ENV] = writeScenario(
      'device_count=1\ndevice.0.clocks_event_reasons=0x40\n',
    );
    const old = new FakeNvmlControl(oldLibrary);
    const source = new NvmlSource({ library: oldLibrary });
    await source.open();
    const [sample] = await source.read(T0);
    assert.equal(sample?.gpu_clock_throttle_reasons, 0x40);
    assert.equal(old.calls('nvmlDeviceGetCurrentClocksThrottleReasons'), 1);
    await source.close();
  });

  test('health reports the last read, and the host defaults to this machine', async () => {
    const source = await openOn('eight-gpus', { host: '' });
    const [samples = []] = await readTimes(source, 1);
    assert.equal(samples.length, 8);
    assert.ok(samples[0]?.host);
    const health = source.health();
    assert.equal(health.source, 'nvml');
    assert.equal(health.lastSuccessMs, T0);
    assert.ok((health.lastReadDurationMs ?? -1) >= 0);
    assert.equal(health.notice, null);
    await source.close();
    await source.close();
    await assert.rejects(source.read(T0), (err) => isGpumonError(err, 'SOURCE_UNAVAILABLE'));
  });

  test('every sample read in these tests passes parseSample', () => {
    assert.ok(validated.length > 50);
    for (const [i, sample] of validated.entries()) parseSample(sample, `sample ${i}`);
  });

  test('every NVML function the source binds was exercised against the fake library', async () => {
    // Counts since the last reset: run one full scenario (identity, metrics, MIG, processes, XID, probe).
    const source = await openOn('a100-mig');
    fake.set('device.0.xid', 94);
    await readTimes(source, 1);
    await source.processes();
    await source.close();
    process.env[FAKE_NVML_SCENARIO_ENV] = scenarioPath('driver-not-loaded');
    nvmlAvailable(library);
    const fallbackOnly: NvmlFunctionName[] = ['nvmlDeviceGetCurrentClocksThrottleReasons']; // see the test above
    const unexercised = (Object.keys(NVML_PROTOTYPES) as NvmlFunctionName[]).filter(
      (fn) => !fallbackOnly.includes(fn) && fake.calls(fn) === 0,
    );
    assert.deepEqual(unexercised, []);
  });
});
