import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import { IDENTITY, METRICS } from './catalog.ts';
import { type GpuSample, nullIdentity, nullMetrics, parseSample, SAMPLE_COLUMNS } from './sample.ts';

function sample(overrides: Partial<GpuSample> = {}): GpuSample {
  return {
    ...nullIdentity(),
    ts: Date.UTC(2026, 10, 25, 12),
    host: 'node-1',
    gpu_index: 0,
    uuid: 'GPU-0000',
    model: 'NVIDIA H100 80GB HBM3',
    pci_bus_id: '00000000:17:00.0',
    driver_version: '590.48.01',
    ...nullMetrics(),
    gpu_temperature_celsius: 61,
    ...overrides,
  };
}

describe('GpuSample', () => {
  it('has one column per catalog metric plus identity and time', () => {
    assert.equal(SAMPLE_COLUMNS.length, 1 + IDENTITY.length + METRICS.length);
    for (const m of METRICS) assert.ok(SAMPLE_COLUMNS.includes(m.name), m.name);
  });

  it('accepts a sample whose unread metrics are null', () => {
    const parsed = parseSample(sample());
    assert.equal(parsed.gpu_temperature_celsius, 61);
    assert.equal(parsed.gpu_power_draw_watts, null);
  });

  it('rejects a sample that omits a metric instead of saying null', () => {
    const { gpu_power_draw_watts: _omitted, ...partial } = sample();
    assert.throws(
      () => parseSample(partial, 'message 7'),
      (err) =>
        isGpumonError(err, 'SAMPLE_INVALID') && /message 7: field gpu_power_draw_watts/.test(err.message),
    );
  });

  it('rejects a value outside the catalog range, naming the field', () => {
    assert.throws(
      () => parseSample(sample({ gpu_utilization_percent: 140 })),
      (err) => isGpumonError(err, 'SAMPLE_INVALID') && /gpu_utilization_percent/.test(err.message),
    );
  });

  it('rejects a fractional value for an integer metric', () => {
    assert.throws(() => parseSample(sample({ gpu_memory_used_bytes: 1.5 })), /gpu_memory_used_bytes/);
  });

  it('rejects unknown keys', () => {
    assert.throws(() => parseSample({ ...sample(), gpu_magic: 1 }), /gpu_magic|Unrecognized/);
  });
});
