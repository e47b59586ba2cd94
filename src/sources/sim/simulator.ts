import type { GpuSample } from '../../metrics/sample.ts';
import { SampleColumns } from '../../metrics/sample-columns.ts';
import { buildFleet, type SimFleetOptions, type SimGpu } from './fleet.ts';
import { initialState, type SimGpuState, step, writeMetrics } from './model.ts';

/**
 * A simulated fleet and the state of each of its GPUs. A GPU's state starts, settled, at the first time it
 * is asked for, then moves forward with every later time: ask for the same times, get the same samples.
 */
export class Simulator {
  readonly gpus: readonly SimGpu[];
  private readonly states: (SimGpuState | undefined)[];
  private row: SampleColumns | undefined;

  constructor(options: SimFleetOptions) {
    this.gpus = buildFleet(options);
    this.states = new Array(this.gpus.length);
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
    for (let i = from; i < to; i++) {
      const gpu = this.gpus[i] as SimGpu;
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
      }
    }
    return (to - from) * count;
  }
}
