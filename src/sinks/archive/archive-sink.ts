import type { GpuSample } from '../../metrics/sample.ts';
import type { Sink } from '../sink.ts';
import { ParquetWriter, type ParquetWriterOptions } from './parquet-writer.ts';

const DAY_MS = 86_400_000;

/**
 * The Parquet archive as a sink: each batch becomes one Parquet file per UTC date under
 * `gpu-metrics/date=YYYY-MM-DD/`, and `write` resolves once the files are in place. Batching into large
 * batches is the pipeline's work; a small batch makes a small file.
 *
 * Exactly once across retries: each date's file is put atomically (all or nothing), and when a batch that
 * spans several dates fails part-way, the dates already archived are remembered for that batch (the pipeline
 * retries the same array) and not written again.
 */
export class ArchiveSink implements Sink {
  readonly name = 'archive';
  private readonly writer: ParquetWriter;
  /** UTC days (ms / DAY_MS) already archived of batches whose write failed part-way. */
  private readonly archivedDays = new WeakMap<readonly GpuSample[], Set<number>>();

  constructor(options: ParquetWriterOptions) {
    this.writer = new ParquetWriter(options);
  }

  async write(batch: readonly GpuSample[]): Promise<void> {
    const days = byUtcDay(batch);
    if (days.size <= 1) {
      await this.writer.writeSamples(batch);
      return;
    }
    let done = this.archivedDays.get(batch);
    for (const [day, samples] of days) {
      if (done?.has(day)) continue;
      await this.writer.writeSamples(samples);
      if (!done) {
        done = new Set();
        this.archivedDays.set(batch, done);
      }
      done.add(day);
    }
    this.archivedDays.delete(batch);
  }

  /** Releases DuckDB. */
  async close(): Promise<void> {
    await this.writer.close();
  }
}

/** The samples of each UTC day, in batch order; one entry (the batch itself) when all share a day. */
function byUtcDay(batch: readonly GpuSample[]): Map<number, readonly GpuSample[]> {
  const first = batch[0];
  if (!first) return new Map();
  const firstDay = Math.floor(first.ts / DAY_MS);
  if (batch.every((s) => Math.floor(s.ts / DAY_MS) === firstDay)) return new Map([[firstDay, batch]]);
  const days = new Map<number, GpuSample[]>();
  for (const s of batch) {
    const day = Math.floor(s.ts / DAY_MS);
    const list = days.get(day);
    if (list) list.push(s);
    else days.set(day, [s]);
  }
  return days;
}
