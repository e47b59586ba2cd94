import { METRIC_NAMES } from '../../metrics/catalog.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { SampleColumns } from '../../metrics/sample-columns.ts';
import type { GpuProcess } from '../source.ts';
import { buildFleet, type SimFleetOptions, type SimGpu } from './fleet.ts';
import { buildHosts, initialHostState, type SimHost, type SimHostState, stepHost } from './host.ts';
import { initialState, type SimGpuState, step, writeMetrics } from './model.ts';
import { simProcesses } from './processes.ts';

/** The host's figures at the times of one `writeRows` call, computed once for all its GPUs. */
interface HostSeries {
  first: number;
  intervalMs: number;
  count: number;
  temperature: Float64Array;
  utilization: Float64Array;
  used: Float64Array;
}

const HOST_COLUMNS = {
  temperature: METRIC_NAMES.indexOf('host_cpu_temperature_celsius'),
  utilization: METRIC_NAMES.indexOf('host_cpu_utilization_percent'),
  used: METRIC_NAMES.indexOf('host_memory_used_bytes'),
  total: METRIC_NAMES.indexOf('host_memory_total_bytes'),
} as const;

/**
 * A simulated fleet and the state of each of its GPUs. A GPU's state starts, settled, at the first time it
 * is asked for, then moves forward with every later time: ask for the same times, get the same samples.
 */
export class Simulator {
  readonly gpus: readonly SimGpu[];
  readonly hosts: readonly SimHost[];
  private readonly gpusPerHost: number;
  private readonly states: (SimGpuState | undefined)[];
  private readonly hostStates: (SimHostState | undefined)[];
  /** Host series of the hosts the last `writeRows` touched (a host split between two calls is computed once). */
  private readonly hostSeries = new Map<number, HostSeries>();
  private row: SampleColumns | undefined;

  constructor(options: SimFleetOptions) {
    this.gpus = buildFleet(options);
    this.gpusPerHost = options.gpusPerHost;
    this.hosts = buildHosts(this.gpus, options.gpusPerHost, options.seed);
    this.states = new Array(this.gpus.length);
    this.hostStates = new Array(this.hosts.length);
  }

  /** The state of host `h`, stepped to `ts`. */
  hostStateAt(h: number, ts: number): SimHostState {
    const host = this.hosts[h] as SimHost;
    let state = this.hostStates[h];
    if (!state) {
      state = initialHostState(host, this.gpus, ts);
      this.hostStates[h] = state;
    } else {
      stepHost(host, this.gpus, state, ts);
    }
    return state;
  }

  /** Host `h`'s figures at `first + k * intervalMs`, k < count: stepped once, kept while rows of it are written. */
  private seriesOf(h: number, first: number, intervalMs: number, count: number): HostSeries {
    let series = this.hostSeries.get(h);
    if (series && series.first === first && series.intervalMs === intervalMs && series.count === count) {
      return series;
    }
    if (!series || series.temperature.length !== count) {
      series = {
        first,
        intervalMs,
        count,
        temperature: new Float64Array(count),
        utilization: new Float64Array(count),
        used: new Float64Array(count),
      };
      this.hostSeries.set(h, series);
    }
    series.first = first;
    series.intervalMs = intervalMs;
    for (let k = 0; k < count; k++) {
      const state = this.hostStateAt(h, first + k * intervalMs);
      series.temperature[k] = state.reportedTemperature;
      series.utilization[k] = state.reportedUtil;
      series.used[k] = state.reportedUsedBytes;
    }
    return series;
  }

  /** The processes on every GPU as of its last step (none before its first). */
  processes(): GpuProcess[] {
    return this.gpus.flatMap((gpu, i) => {
      const state = this.states[i];
      return state ? simProcesses(gpu, state.memoryUsedBytes) : [];
    });
  }

  /** The state of GPU `i`, stepped to `ts`. */
  stateAt(i: number, ts: number): SimGpuState {
    const gpu = this.gpus[i] as SimGpu;
    let state = this.states[i];
    if (!state) {
      state = initialState(gpu, ts);
      this.states[i] = state;
    } else {
      step(gpu, state, ts);
    }
    return state;
  }

  /** One sample per GPU, at `ts`. */
  sampleAll(ts: number): GpuSample[] {
    this.row ??= new SampleColumns(this.gpus.length);
    const columns = this.row;
    columns.length = 0;
    this.writeRows(0, this.gpus.length, ts, 1, 1, columns, () => {});
    const samples: GpuSample[] = [];
    for (let i = 0; i < columns.length; i++) samples.push(columns.sample(i, this.gpus));
    return samples;
  }

  /**
   * Steps GPUs `from .. to-1` through `count` times `first, first + intervalMs, ...`, GPU by GPU (so rows come
   * out ordered by GPU, then time), appending rows to `columns`; calls `flush(columns)` whenever it is full
   * (`flush` must empty it). Returns the rows written. The GPU key of a row is its index in `gpus.slice(from, to)`.
   * The host figures of a row are its host's at that time: each host touched is stepped through the times once.
   */
  writeRows(
    from: number,
    to: number,
    first: number,
    intervalMs: number,
    count: number,
    columns: SampleColumns,
    flush: (columns: SampleColumns) => void,
  ): number {
    const metrics = columns.metrics;
    const firstHost = Math.floor(from / this.gpusPerHost);
    const lastHost = Math.floor((to - 1) / this.gpusPerHost);
    for (const h of this.hostSeries.keys()) if (h < firstHost || h > lastHost) this.hostSeries.delete(h);
    const temperature = metrics[HOST_COLUMNS.temperature] as Float64Array;
    const utilization = metrics[HOST_COLUMNS.utilization] as Float64Array;
    const used = metrics[HOST_COLUMNS.used] as Float64Array;
    const total = metrics[HOST_COLUMNS.total] as Float64Array;
    for (let i = from; i < to; i++) {
      const gpu = this.gpus[i] as SimGpu;
      const h = Math.floor(i / this.gpusPerHost);
      const host = this.seriesOf(h, first, intervalMs, count);
      const memoryTotal = (this.hosts[h] as SimHost).memoryTotalBytes;
      for (let k = 0; k < count; k++) {
        if (columns.length === columns.capacity) {
          flush(columns);
          if (columns.length !== 0) throw new Error('flush must empty the columns');
        }
        const ts = first + k * intervalMs;
        const state = this.stateAt(i, ts);
        const row = columns.length++;
        columns.gpu[row] = i - from;
        columns.ts[row] = ts;
        writeMetrics(gpu, state, metrics, row);
        temperature[row] = host.temperature[k] as number;
        utilization[row] = host.utilization[k] as number;
        used[row] = host.used[k] as number;
        total[row] = memoryTotal;
      }
    }
    return (to - from) * count;
  }
}
