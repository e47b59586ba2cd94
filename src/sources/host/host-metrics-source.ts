import type { Logger } from '../../log.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import type { GpuDevice, GpuProcess, Source, SourceHealth } from '../source.ts';
import {
  FIRST_READ,
  HOST_METRICS,
  type HostMetricName,
  HostReader,
  type HostReading,
} from './host-reader.ts';

/** Distinct reasons logged at most (a value in a reason could make each one new). */
const MAX_LOGGED_REASONS = 50;

export interface HostMetricsSourceOptions {
  /** The host reader (default: one on `root`). */
  reader?: HostReader;
  /** Where the host's proc and sys are (config `source.hostRoot`; default `/`). */
  root?: string;
  logger?: Logger | undefined;
  /**
   * Which samples are of this machine (default: all). A source that may read other machines (a dcgm-exporter
   * scrape of another node) fills only the samples whose `host` is this one's.
   */
  isLocal?: (sample: GpuSample) => boolean;
}

/**
 * A live source whose samples also carry the host's CPU temperature, CPU utilization and memory: the host is
 * read once per `read` (not once per GPU), and its four metrics go into every sample of this machine, where the
 * source left them null. A host figure that cannot be read stays null and never fails the read; why it is null
 * is logged once per reason, and counted in `health().errors` as `host:<metric>` unless the machine simply does
 * not have it (`HostReading.absent`: no CPU sensor in a VM, no /proc file).
 */
export class HostMetricsSource implements Source {
  readonly name: string;
  readonly devices?: () => GpuDevice[];
  readonly processes?: () => Promise<GpuProcess[]>;
  readonly reader: HostReader;
  private readonly errors: Record<string, number> = {};
  private readonly logged = new Set<string>();
  private last: HostReading | null = null;

  constructor(
    readonly inner: Source,
    private readonly options: HostMetricsSourceOptions = {},
  ) {
    this.name = inner.name;
    this.reader = options.reader ?? new HostReader(options.root ? { root: options.root } : {});
    if (inner.devices) this.devices = () => (inner.devices as () => GpuDevice[]).call(inner);
    if (inner.processes) this.processes = () => (inner.processes as () => Promise<GpuProcess[]>).call(inner);
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  async read(now: number): Promise<GpuSample[]> {
    const [samples, host] = await Promise.all([this.inner.read(now), this.reader.read()]);
    this.note(host);
    const isLocal = this.options.isLocal;
    for (const sample of samples) {
      if (isLocal && !isLocal(sample)) continue;
      for (const metric of HOST_METRICS) {
        if (sample[metric] === null) sample[metric] = host.metrics[metric];
      }
    }
    return samples;
  }

  /** The last host reading: per-package temperatures and the reasons of null figures. */
  lastReading(): HostReading | null {
    return this.last;
  }

  health(): SourceHealth {
    const inner = this.inner.health();
    return { ...inner, errors: { ...inner.errors, ...this.errors } };
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private note(reading: HostReading): void {
    this.last = reading;
    for (const [metric, reason] of Object.entries(reading.issues) as [HostMetricName, string][]) {
      // The first read never has a utilization: that is no failure, and no news worth a line.
      if (reason === FIRST_READ) continue;
      // A figure this machine does not have (no CPU sensor in a VM) is logged once, not counted as a failure.
      if (reading.metrics[metric] === null && !reading.absent.includes(metric)) {
        this.errors[`host:${metric}`] = (this.errors[`host:${metric}`] ?? 0) + 1;
      }
      if (this.logged.has(reason) || this.logged.size >= MAX_LOGGED_REASONS) continue;
      this.logged.add(reason);
      this.options.logger?.warn(
        { metric, reason, root: this.reader.root },
        `host metrics: ${metric}: ${reason}`,
      );
    }
  }
}

/**
 * The HostMetricsSource a live source is, or wraps (through the wrappers' `inner`, e.g. the agent's pod
 * attribution), or null for a source without host figures (the simulator, a GPU-Z log).
 */
export function hostMetricsOf(source: Source): HostMetricsSource | null {
  let at: Source | undefined = source;
  while (at !== undefined) {
    if (at instanceof HostMetricsSource) return at;
    at = (at as { inner?: Source }).inner;
  }
  return null;
}
