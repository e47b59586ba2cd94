import type { GpuSample } from '../metrics/sample.ts';

/** What a source says of its own state: exposed on the API and, later, on /metrics. */
export interface SourceHealth {
  source: string;
  /** Epoch ms of the last read that returned samples, or null before the first. */
  lastSuccessMs: number | null;
  /** Wall time of the last read, in milliseconds. */
  lastReadDurationMs: number | null;
  /** Count of failed reads (or failed metric reads) by kind. */
  errors: Record<string, number>;
  /** A notice a person should see (e.g. "no GPU found: simulated data"). */
  notice: string | null;
}

/**
 * How long a source may go without a successful read before its readings count as stale: three sampling
 * intervals, at least 10 s. The one rule of the agent's readiness and /metrics, and of the server's health.
 */
export function staleAfterMs(intervalMs: number): number {
  return Math.max(3 * intervalMs, 10_000);
}

/**
 * A source of GPU samples (NVML, nvidia-smi, GPU-Z log, rocm-smi, simulator).
 *
 * Lifecycle: `open` once, then `read` any number of times, one call at a time, then `close` once.
 * `read(now)` returns one sample per GPU, stamped `now`; a metric it cannot read is `null` in the sample,
 * never 0, and a failing metric never fails the whole read. `read` rejects only when nothing could be read.
 */
export interface Source {
  readonly name: string;
  open(): Promise<void>;
  read(now: number): Promise<GpuSample[]>;
  health(): SourceHealth;
  close(): Promise<void>;
  /** The devices the source sees, MIG instances listed with their parent (sources that know them). */
  devices?(): GpuDevice[];
  /** Processes using GPU memory now (sources that can list them). */
  processes?(): Promise<GpuProcess[]>;
}

/** A GPU or a MIG instance as a source sees it. */
export interface GpuDevice {
  uuid: string;
  index: number;
  model: string;
  pciBusId: string | null;
  serial: string | null;
  vbiosVersion: string | null;
  driverVersion: string | null;
  /** For a MIG instance: its parent GPU's UUID, and the instance's profile (e.g. `3g.40gb`) if known. */
  parentUuid: string | null;
  migProfile: string | null;
}

/** A process holding GPU memory. */
export interface GpuProcess {
  /** The GPU (or MIG instance) UUID. */
  uuid: string;
  pid: number;
  /** Process name (from /proc or the driver); null when unknown. */
  name: string | null;
  /** Device memory it uses, in bytes; null where the driver does not say (Windows WDDM). */
  usedMemoryBytes: number | null;
}
