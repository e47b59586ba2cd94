import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildFakeNvml, FakeNvmlControl } from './fake/fake-nvml.ts';
import { fieldValueNumber, NVML_VALUE_TYPE, nvmlReturnName, OFFSETS, SIZES } from './nvml-lib.ts';

describe('nvml-lib', () => {
  test('struct sizes are those of nvml.h on 64-bit Linux', () => {
    assert.deepEqual(SIZES, {
      nvmlPciInfo_t: 68, // char[16] + 5 x uint + char[32]
      nvmlUtilization_t: 8,
      nvmlMemory_t: 24,
      nvmlProcessInfo_t: 24, // pid, 4 bytes padding, usedGpuMemory, gpuInstanceId, computeInstanceId
      nvmlFieldValue_t: 40,
      nvmlEventData_t: 32,
      nvmlMemory_v2_t: 40, // version, 4 bytes padding, total, reserved, free, used
      nvmlFBCStats_t: 12,
    });
  });

  test('the koffi declarations agree with what gcc makes of the same structs in the fake library', () => {
    const fake = new FakeNvmlControl(buildFakeNvml());
    for (const [type, size] of Object.entries(SIZES)) assert.equal(fake.layout(type), size, type);
    const members: [string, number][] = [
      ['nvmlPciInfo_t.busId', OFFSETS.pciBusId],
      ['nvmlUtilization_t.memory', OFFSETS.utilizationMemory],
      ['nvmlMemory_t.free', OFFSETS.memoryFree],
      ['nvmlMemory_t.used', OFFSETS.memoryUsed],
      ['nvmlProcessInfo_t.usedGpuMemory', OFFSETS.processUsedGpuMemory],
      ['nvmlProcessInfo_t.gpuInstanceId', OFFSETS.processGpuInstanceId],
      ['nvmlFieldValue_t.valueType', OFFSETS.fieldValueType],
      ['nvmlFieldValue_t.nvmlReturn', OFFSETS.fieldReturn],
      ['nvmlFieldValue_t.value', OFFSETS.fieldValue],
      ['nvmlEventData_t.eventType', OFFSETS.eventType],
      ['nvmlEventData_t.eventData', OFFSETS.eventData],
      ['nvmlMemory_v2_t.reserved', OFFSETS.memoryV2Reserved],
      ['nvmlFBCStats_t.averageFPS', OFFSETS.fbcFps],
      ['nvmlFBCStats_t.averageLatency', OFFSETS.fbcLatency],
    ];
    for (const [member, offset] of members) assert.equal(fake.layout(member), offset, member);
  });

  test('return codes are named as in nvml.h, and an unknown one by its number', () => {
    assert.equal(nvmlReturnName(0), 'SUCCESS');
    assert.equal(nvmlReturnName(3), 'NOT_SUPPORTED');
    assert.equal(nvmlReturnName(9), 'DRIVER_NOT_LOADED');
    assert.equal(nvmlReturnName(15), 'GPU_IS_LOST');
    assert.equal(nvmlReturnName(999), 'UNKNOWN');
    assert.equal(nvmlReturnName(4242), 'ERROR_4242');
  });

  test('a field value is read according to its value type', () => {
    const field = (type: number, write: (b: Buffer, at: number) => void) => {
      const b = Buffer.alloc(SIZES.nvmlFieldValue_t);
      b.writeInt32LE(type, OFFSETS.fieldValueType);
      write(b, OFFSETS.fieldValue);
      return fieldValueNumber(b);
    };
    assert.equal(
      field(NVML_VALUE_TYPE.DOUBLE, (b, at) => b.writeDoubleLE(71.5, at)),
      71.5,
    );
    assert.equal(
      field(NVML_VALUE_TYPE.UNSIGNED_INT, (b, at) => b.writeUInt32LE(74, at)),
      74,
    );
    assert.equal(
      field(NVML_VALUE_TYPE.UNSIGNED_LONG, (b, at) => b.writeBigUInt64LE(75n, at)),
      75,
    );
    assert.equal(
      field(NVML_VALUE_TYPE.UNSIGNED_LONG_LONG, (b, at) => b.writeBigUInt64LE(76n, at)),
      76,
    );
    assert.equal(
      field(NVML_VALUE_TYPE.SIGNED_LONG_LONG, (b, at) => b.writeBigInt64LE(-5n, at)),
      -5,
    );
    assert.equal(
      field(NVML_VALUE_TYPE.SIGNED_INT, (b, at) => b.writeInt32LE(-6, at)),
      -6,
    );
    assert.equal(
      field(42, () => {}),
      null,
    );
  });
});
