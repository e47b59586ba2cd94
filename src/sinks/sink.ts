import type { GpuSample } from '../metrics/sample.ts';

/**
 * Where samples end up (live state, Parquet archive, InfluxDB).
 *
 * Batching, retry and acknowledgement live once in pipeline/, not in each sink: `write` receives a batch that
 * the pipeline already assembled and resolves only when the batch is durable at the sink (or rejects, and the
 * pipeline retries the same batch: the same array object, so a stateful sink can tell a retry apart).
 * `write` is never called concurrently on one sink. `close` is called once, after every `write` has settled.
 */
export interface Sink {
  readonly name: string;
  write(batch: readonly GpuSample[]): Promise<void>;
  close(): Promise<void>;
}
