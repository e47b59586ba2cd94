import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLOCK_EVENT_REASONS, decodeClockEventReasons } from './clock-events.ts';

describe('decodeClockEventReasons', () => {
  test('no bit set means no reason (nvmlClocksEventReasonNone)', () => {
    assert.deepEqual(decodeClockEventReasons(0), []);
  });

  test('each bit decodes to its nvml.h name', () => {
    assert.deepEqual(
      CLOCK_EVENT_REASONS.map(({ bit }) => decodeClockEventReasons(bit)[0]),
      [
        'GpuIdle',
        'ApplicationsClocksSetting',
        'SwPowerCap',
        'HwSlowdown',
        'SyncBoost',
        'SwThermalSlowdown',
        'HwThermalSlowdown',
        'HwPowerBrakeSlowdown',
        'DisplayClockSetting',
      ],
    );
  });

  test('a power-capped, thermally slowed GPU shows both reasons, lowest bit first', () => {
    assert.deepEqual(decodeClockEventReasons(0x24), ['SwPowerCap', 'SwThermalSlowdown']);
    assert.deepEqual(decodeClockEventReasons(0xc8n), [
      'HwSlowdown',
      'HwThermalSlowdown',
      'HwPowerBrakeSlowdown',
    ]);
  });

  test('a bit newer than gpumon is named by its value instead of being dropped', () => {
    assert.deepEqual(decodeClockEventReasons(0x4n | (1n << 33n)), ['SwPowerCap', 'Unknown(0x200000000)']);
  });

  test('a negative mask is rejected', () => {
    assert.throws(() => decodeClockEventReasons(-1), RangeError);
  });
});
