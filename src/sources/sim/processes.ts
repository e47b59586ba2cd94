import type { GpuProcess } from '../source.ts';
import type { Personality, SimGpu } from './fleet.ts';
import { hash32, unitHash } from './rng.ts';

const MiB = 1024 * 1024;

/** What the driver itself holds on every GPU (the share an idle simulated GPU reports as used). */
export const DRIVER_MEMORY_SHARE = 0.006;

/** Below this, a GPU's memory beyond the driver's is no process's: a job has let go (a burst ended). */
const MIN_JOB_BYTES = 256 * MiB;

/** A process of a job: its name, and the memory it holds beside the main one (the main one: the rest). */
interface Helper {
  name: string;
  /** Bytes, before the cap of a quarter of the job's memory. */
  bytes: number;
}

/** The main process of each personality's job, as nvidia-smi names it; an idle GPU runs none. */
const MAIN: Record<Personality, string | null> = {
  training: 'python3',
  inference: 'tritonserver',
  bursty: 'python3',
  'idle-holding': 'python3',
  idle: null,
};

/** The smaller processes beside the main one, fixed per GPU: Triton's Python model stubs, a second kernel. */
function helpersOf(gpu: SimGpu): Helper[] {
  const u = (k: number) => unitHash(gpu.seed, 0x50c, k);
  switch (gpu.personality) {
    case 'inference':
      // One or two Python backend stubs, each with its model's weights.
      return Array.from({ length: 1 + Math.floor(2 * u(0)) }, (_, i) => ({
        name: 'triton_python_backend_stub',
        bytes: (900 + Math.floor(1600 * u(1 + i))) * MiB,
      }));
    case 'training':
      // Half the trainers share their GPU with a small evaluation job.
      return u(0) < 0.5 ? [{ name: 'python3', bytes: (1500 + Math.floor(2500 * u(1))) * MiB }] : [];
    case 'idle-holding':
      // A notebook's kernel, and now and then a second one left open.
      return u(0) < 0.5 ? [{ name: 'python3', bytes: (1000 + Math.floor(2000 * u(1))) * MiB }] : [];
    default:
      return [];
  }
}

/**
 * The processes on a simulated GPU that reports `memoryUsedBytes` in use: none on an idle GPU (the driver's
 * memory only), else the job's main process and its helpers, whose memory adds up to what is used beyond the
 * driver's. PIDs are fixed per GPU, so a process keeps its PID from one read to the next.
 */
export function simProcesses(gpu: SimGpu, memoryUsedBytes: number): GpuProcess[] {
  const main = MAIN[gpu.personality];
  const driver = Math.round((DRIVER_MEMORY_SHARE * gpu.spec.memoryTotalBytes) / MiB) * MiB;
  const job = memoryUsedBytes - driver;
  if (main === null || job < MIN_JOB_BYTES) return [];
  const pid = (k: number) => 1200 + (hash32(gpu.seed, 0x91d, k) % 3_000_000);
  const helpers = helpersOf(gpu).map((helper, i) => ({
    uuid: gpu.uuid,
    pid: pid(i + 1),
    name: helper.name,
    usedMemoryBytes: Math.min(helper.bytes, Math.floor(job / 4 / MiB) * MiB),
  }));
  const rest = job - helpers.reduce((sum, p) => sum + p.usedMemoryBytes, 0);
  return [{ uuid: gpu.uuid, pid: pid(0), name: main, usedMemoryBytes: rest }, ...helpers];
}
