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
}
