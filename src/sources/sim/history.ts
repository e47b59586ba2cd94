import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SampleColumns } from '../../metrics/sample-columns.ts';
import { datesBetween, nextDate, startOfDate } from '../../sinks/archive/layout.ts';
import type { ParquetBatch, ParquetWriter } from '../../sinks/archive/parquet-writer.ts';
import type { SimFleetOptions } from './fleet.ts';
import { NULL_METRICS } from './model.ts';
import { Simulator } from './simulator.ts';

/**
 * Rows per Parquet file at most, by default: half a GPU-day at 1 Hz. A file's rows sit in a DuckDB table until
 * the file is written, and writing it costs about as much again, with one file being written while the next is
 * generated (bench/simulate, docs/benchmarks.md: 2 M rows per file took 1.3-2.9 GiB, 86,400 rows 400-560 MiB).
 */
export const ROWS_PER_FILE = 43_200;

export interface HistoryOptions extends SimFleetOptions {
  /** First and last UTC date (YYYY-MM-DD), both included. */
  firstDate: string;
  lastDate: string;
  intervalMs: number;
  writer: ParquetWriter;
  /** Called as rows are written, with the rows written so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Rows per Parquet file at most (default ROWS_PER_FILE): what bounds the memory. */
  rowsPerFile?: number;
}

export interface HistoryResult {
  samples: number;
  files: string[];
}

/**
 * Writes simulated history of a fleet into the archive, as fast as the machine allows: every GPU sampled at
 * `firstDate 00:00 UTC + k * intervalMs` up to the end of `lastDate`, in bounded memory whatever the fleet and
 * the days. Days in order; a day in files of at most `rowsPerFile` rows: groups of whole GPU-days where a
 * GPU-day fits, else each GPU's day cut into spans of time (spans outer, GPU groups inner, so that every GPU
 * and host steps forward through its times, and the samples are the same however the day is cut). The
 * simulator fills columns that go straight to DuckDB, 2048 rows at a time; while DuckDB writes one file (on
 * its own thread), the next is being generated, and no more than these two are held.
 */
export async function writeHistory(options: HistoryOptions): Promise<HistoryResult> {
  const { writer, intervalMs } = options;
  const rowsPerFile = Math.max(1, Math.floor(options.rowsPerFile ?? ROWS_PER_FILE));
  const simulator = new Simulator(options);
  const gpuCount = simulator.gpus.length;
  const start = startOfDate(options.firstDate);
  const end = startOfDate(nextDate(options.lastDate));
  const stepsBefore = (ms: number) => Math.ceil((ms - start) / intervalMs);
  const total = gpuCount * stepsBefore(end);

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
      const span = Math.min(steps, rowsPerFile);
      const gpusPerFile = Math.max(1, Math.floor(rowsPerFile / span));
      for (let k = 0; k < steps; k += span) {
        const count = Math.min(span, steps - k);
        const first = start + (firstStep + k) * intervalMs;
        for (let from = 0; from < gpuCount; from += gpusPerFile) {
          const to = Math.min(gpuCount, from + gpusPerFile);
          batch = await writer.begin(simulator.gpus.slice(from, to), NULL_METRICS);
          simulator.writeRows(from, to, first, intervalMs, count, columns, flush);
          if (columns.length > 0) flush(columns);
          // The file before this one is written by now, or is waited for here: two at most in memory.
          if (pending) {
            files.push(...(await pending));
            if (process.memoryUsage.rss() > GC_ABOVE_BYTES) collectGarbage();
          }
          pending = batch.finish();
          pending.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
          // Generate the next file while DuckDB writes this one: its write starts once the main thread lets it.
          await batch.writing();
          batch = undefined;
        }
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

/** Resident memory above which a full GC runs after a file (about two files' worth under 400 MiB). */
const GC_ABOVE_BYTES = 200 * 1024 * 1024;

/**
 * A full garbage collection. DuckDB's objects (a batch's data chunk of about 0.8 MiB, its appender, results)
 * free their native memory in finalizers, which run only when V8 collects them; V8 sees a small heap and rarely
 * collects, so without this the memory of finished files would pile up, about 0.8 MiB a file. Run only when
 * the process holds more than GC_ABOVE_BYTES: each costs a few milliseconds.
 */
let gc: (() => void) | undefined;
function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
