import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSample } from '../../metrics/sample.ts';
import { captureNvml } from './capture.ts';
import { buildFakeNvml, FAKE_NVML_SCENARIO_ENV, scenarioPath } from './fake/fake-nvml.ts';

describe('captureNvml', () => {
  test('captures devices, a few reads, processes and failed calls, ready to keep as a fixture', async () => {
    process.env[FAKE_NVML_SCENARIO_ENV] = scenarioPath('h100-pair');
    const capture = await captureNvml({ library: buildFakeNvml(), reads: 3, intervalMs: 1 });
    assert.equal(capture.error, null);
    assert.deepEqual(capture.probe, { available: true, gpus: 2 });
    assert.equal(capture.devices.length, 2);
    assert.equal(capture.samples.length, 6);
    for (const s of capture.samples) parseSample(s);
    assert.deepEqual(capture.throttleReasons.slice(0, 2), [['SwPowerCap', 'SwThermalSlowdown'], ['GpuIdle']]);
    assert.equal(capture.processes.length, 2);
    assert.deepEqual(
      capture.unsupported.map((u) => `${u.gpuIndex} ${u.call} ${u.error}`),
      [
        '0 nvmlDeviceGetRetiredPages(NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS) NOT_SUPPORTED',
        '0 nvmlDeviceGetRetiredPages(NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR) NOT_SUPPORTED',
        '0 nvmlDeviceGetFanSpeed NOT_SUPPORTED',
        '1 nvmlDeviceGetFanSpeed NOT_SUPPORTED',
      ],
    );
    assert.equal(capture.readDurationsMs.length, 3);
    assert.deepEqual(JSON.parse(JSON.stringify(capture)), capture, 'survives JSON');
  });

  test('a machine where NVML cannot be opened still gives a capture that says why', async () => {
    process.env[FAKE_NVML_SCENARIO_ENV] = scenarioPath('driver-not-loaded');
    const capture = await captureNvml({ library: buildFakeNvml(), reads: 1 });
    assert.match(capture.error ?? '', /SOURCE_UNAVAILABLE|nvmlInit_v2 failed: Driver Not Loaded/);
    assert.equal(capture.probe.available, false);
    assert.deepEqual(capture.samples, []);
  });
});
