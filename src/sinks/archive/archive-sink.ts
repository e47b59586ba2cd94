import type { GpuSample } from '../../metrics/sample.ts';
import type { Sink } from '../sink.ts';
import { ParquetWriter, type ParquetWriterOptions } from './parquet-writer.ts';

/**
 * The Parquet archive as a sink: each batch becomes one Parquet file per UTC date under
 * `gpu-metrics/date=YYYY-MM-DD/`, and `write` resolves once the files are in place. Batching into large
 * batches is the pipeline's work; a small batch makes a small file.
 */
export class ArchiveSink implements Sink {
  readonly name = 'archive';
  private readonly writer: ParquetWriter;

  constructor(options: ParquetWriterOptions) {
    this.writer = new ParquetWriter(options);
  }

  async write(batch: readonly GpuSample[]): Promise<void> {
    await this.writer.writeSamples(batch);
  }

  /** Releases DuckDB. */
  async close(): Promise<void> {
    await this.writer.close();
  }
}
