/** A day of hand-made samples of GPUs held by Kubernetes pods, for the pod_usage tests on both engines. */
import type { GpuSample } from '../metrics/sample.ts';
import { at, GPU_A, GPU_B, sample, type TestGpu } from './testing.ts';

const GiB = 1024 ** 3;
export const MIG: TestGpu = {
  host: 'node-a',
  gpu_index: 0,
  uuid: 'MIG-aaaa-1',
  model: 'Test GPU MIG 1g.10gb',
};
/** The identity columns an archive written before pod attribution lacks. */
export const POD_COLUMNS = ['namespace', 'pod', 'container'];

const held = (namespace: string, pod: string, container: string) => ({ namespace, pod, container });

/**
 * GPU_A: trainer-0 (team-a) busy for 30 s, then idle holding 8 GiB for 30 s, then free and idle for 20 s;
 * GPU_B: notebook-1 (team-b) idle for 20 s, then a gap; a MIG device: infer-2 (team-a), load and power unknown.
 */
export function podsDay(): GpuSample[] {
  const t = (s: number) => at('10:00:00') + s * 1000;
  const a = [
    ...[0, 1, 2].map((i) => ({
      gpu_utilization_percent: 80,
      gpu_power_draw_watts: 200,
      ...held('team-a', 'trainer-0', 'pytorch'),
      i,
    })),
    ...[3, 4, 5].map((i) => ({
      gpu_utilization_percent: 0,
      gpu_memory_used_bytes: 8 * GiB,
      gpu_power_draw_watts: 100,
      ...held('team-a', 'trainer-0', 'pytorch'),
      i,
    })),
    ...[6, 7, 8].map((i) => ({
      gpu_utilization_percent: 0,
      gpu_memory_used_bytes: 0,
      gpu_power_draw_watts: 50,
      i,
    })),
  ].map(({ i, ...m }) => sample(GPU_A, t(i * 10), m));
  const b = [0, 10, 20, 1020].map((s) =>
    sample(GPU_B, t(s), {
      gpu_utilization_percent: 0,
      gpu_memory_used_bytes: 0,
      gpu_power_draw_watts: 60,
      ...held('team-b', 'notebook-1', 'jupyter'),
    }),
  );
  const mig = [0, 10, 20].map((s) => sample(MIG, t(s + 5), held('team-a', 'infer-2', 'server')));
  return [...a, ...b, ...mig];
}
