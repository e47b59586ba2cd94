import { METRICS } from './catalog.ts';
import { type GpuIdentity, type GpuSample, identityKey, identityOf } from './sample.ts';

/**
 * Samples in columns, for bulk work without one object per sample: `gpu[i]` indexes a list of identities
 * kept beside the columns, `ts[i]` is epoch ms, and `metrics[m][i]` is the value of catalog metric `m`
 * (METRICS order), NaN where it is null. Rows `0 .. length-1` are in use.
 */
export class SampleColumns {
  readonly capacity: number;
  length = 0;
  readonly gpu: Int32Array;
  readonly ts: Float64Array;
  readonly metrics: Float64Array[];

  constructor(capacity: number) {
    this.capacity = capacity;
    this.gpu = new Int32Array(capacity);
    this.ts = new Float64Array(capacity);
    this.metrics = METRICS.map(() => new Float64Array(capacity).fill(Number.NaN));
  }

  /** Columns holding `samples`, with the distinct identities they refer to. */
  static fromSamples(samples: readonly GpuSample[]): { gpus: GpuIdentity[]; columns: SampleColumns } {
    const gpus: GpuIdentity[] = [];
    const keys = new Map<string, number>();
    const columns = new SampleColumns(samples.length);
    samples.forEach((s, i) => {
      const key = identityKey(s);
      let gpu = keys.get(key);
      if (gpu === undefined) {
        gpu = gpus.length;
        keys.set(key, gpu);
        gpus.push(identityOf(s));
      }
      columns.gpu[i] = gpu;
      columns.ts[i] = s.ts;
      METRICS.forEach((m, c) => {
        const value = s[m.name];
        (columns.metrics[c] as Float64Array)[i] = typeof value === 'number' ? value : Number.NaN;
      });
    });
    columns.length = samples.length;
    return { gpus, columns };
  }

  /** Row `i` as a sample (NaN back to null). */
  sample(i: number, gpus: readonly GpuIdentity[]): GpuSample {
    const id = gpus[this.gpu[i] as number];
    if (!id) throw new RangeError(`row ${i} refers to unknown GPU ${this.gpu[i]}`);
    // Only the identity's own fields: `gpus` may hold richer objects (the simulator's GPUs).
    const sample = { ts: this.ts[i] as number, ...identityOf(id) } as GpuSample;
    METRICS.forEach((m, c) => {
      const value = (this.metrics[c] as Float64Array)[i] as number;
      sample[m.name] = Number.isNaN(value) ? null : value;
    });
    return sample;
  }
}
