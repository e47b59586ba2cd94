import { type GpuSample, nullIdentity, nullMetrics } from '../metrics/sample.ts';

/** A valid sample for tests: GPU `gpu` of `host` at `ts`, every metric null unless overridden. */
export function testSample(
  overrides: Partial<GpuSample> & { ts: number },
  gpu = 0,
  host = 'node-1',
): GpuSample {
  return {
    ...nullIdentity(),
    host,
    gpu_index: gpu,
    uuid: `GPU-${host}-${gpu}`,
    model: 'NVIDIA H100 80GB HBM3',
    pci_bus_id: null,
    driver_version: null,
    ...nullMetrics(),
    ...overrides,
  };
}
