import { SampleColumns } from '../../metrics/sample-columns.ts';
import { datesBetween, nextDate, startOfDate } from '../../sinks/archive/layout.ts';
import type { ParquetBatch, ParquetWriter } from '../../sinks/archive/parquet-writer.ts';
import type { SimFleetOptions } from './fleet.ts';
import { Simulator } from './simulator.ts';

export interface HistoryOptions extends SimFleetOptions {
  /** First and last UTC date (YYYY-MM-DD), both included. */
  firstDate: string;
  lastDate: string;
  intervalMs: number;
  writer: ParquetWriter;
  /** Called as rows are written, with the rows written so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Rows per Parquet file at most, roughly (default 2,000,000): bounds DuckDB's memory. */
  rowsPerFile?: number;
}

export interface HistoryResult {
  samples: number;
  files: string[];
}

/**
 * Writes simulated history of a fleet into the archive, as fast as the machine allows: every GPU sampled at
 * `firstDate 00:00 UTC + k * intervalMs` up to the end of `lastDate`. Days in order; within a day, groups of
 * GPUs, one file per group and day. The simulator fills columns that go straight to DuckDB, and while DuckDB
 * writes one file, the next group is already being generated. JavaScript holds one 2048-row chunk at a time.
 */
export async function writeHistory(options: HistoryOptions): Promise<HistoryResult> {
  const { writer, intervalMs } = options;
  const simulator = new Simulator(options);
  const gpuCount = simulator.gpus.length;
  const start = startOfDate(options.firstDate);
  const end = startOfDate(nextDate(options.lastDate));
  const stepsBefore = (ms: number) => Math.ceil((ms - start) / intervalMs);
  const total = gpuCount * stepsBefore(end);
  const stepsPerDay = Math.ceil(86_400_000 / intervalMs);
  const gpusPerFile = Math.max(1, Math.floor((options.rowsPerFile ?? 2_000_000) / stepsPerDay));

  const columns = new SampleColumns(2048);
  const files: string[] = [];
  let done = 0;
  let batch: ParquetBatch | undefined;
  let pending: Promise<string[]> | undefined;
  const flush = (full: SampleColumns) => {
    batch?.append(full);
    done += full.length;
    full.length = 0;
    options.onProgress?.(done, total);
  };
  try {
    for (const date of datesBetween(options.firstDate, options.lastDate)) {
      const firstStep = stepsBefore(startOfDate(date));
      const steps = stepsBefore(startOfDate(nextDate(date))) - firstStep;
      if (steps <= 0) continue;
      for (let from = 0; from < gpuCount; from += gpusPerFile) {
        const to = Math.min(gpuCount, from + gpusPerFile);
        batch = await writer.begin(simulator.gpus.slice(from, to));
        simulator.writeRows(from, to, start + firstStep * intervalMs, intervalMs, steps, columns, flush);
        if (columns.length > 0) flush(columns);
        if (pending) files.push(...(await pending));
        pending = batch.finish();
        pending.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
        batch = undefined;
      }
    }
    if (pending) files.push(...(await pending));
  } catch (err) {
    await batch?.abort();
    await pending?.catch(() => {});
    throw err;
  }
  return { samples: done, files };
}
