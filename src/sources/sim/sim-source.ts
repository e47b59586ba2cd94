import { GpumonError } from '../../errors.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { HealthTracker } from '../health.ts';
import type { GpuProcess, Source, SourceHealth } from '../source.ts';
import { Simulator } from './simulator.ts';

export interface SimSourceOptions {
  /** Hosts in the fleet (default 2). */
  hosts?: number;
  /** GPUs per host (default 4). */
  gpusPerHost?: number;
  /** The same seed gives the same fleet and, for the same read times, the same samples (default 42). */
  seed?: number;
  /** What `health().notice` says, so nobody mistakes the data for real GPUs. */
  notice?: string;
}

export const DEFAULT_SIM_NOTICE = 'simulated GPUs (no real GPU source)';

/** A simulated fleet as a source: realistic, deterministic samples with no GPU (see README.md). */
export class SimSource implements Source {
  readonly name = 'sim';
  private readonly tracker = new HealthTracker();
  private readonly options: Required<SimSourceOptions>;
  private simulator: Simulator | undefined;

  constructor(options: SimSourceOptions = {}) {
    this.options = {
      hosts: options.hosts ?? 2,
      gpusPerHost: options.gpusPerHost ?? 4,
      seed: options.seed ?? 42,
      notice: options.notice ?? DEFAULT_SIM_NOTICE,
    };
  }

  async open(): Promise<void> {
    this.simulator ??= new Simulator(this.options);
  }

  async read(now: number): Promise<GpuSample[]> {
    if (!this.simulator) throw new GpumonError('SOURCE_UNAVAILABLE', 'sim source: read called before open');
    const started = performance.now();
    const samples = this.simulator.sampleAll(now);
    this.tracker.lastReadDurationMs = performance.now() - started;
    this.tracker.lastSuccessMs = now;
    return samples;
  }

  health(): SourceHealth {
    return {
      source: this.name,
      ...this.tracker.readings(),
      notice: this.options.notice,
    };
  }

  /** The processes holding each GPU's memory at the last read: the job's, none on an idle GPU (processes.ts). */
  async processes(): Promise<GpuProcess[]> {
    if (!this.simulator)
      throw new GpumonError('SOURCE_UNAVAILABLE', 'sim source: processes called before open');
    return this.simulator.processes();
  }

  async close(): Promise<void> {
    this.simulator = undefined;
  }
}
