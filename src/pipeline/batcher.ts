import type { Logger } from '../log.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { Sink } from '../sinks/sink.ts';

export interface BatcherOptions {
  /** A batch is written once it holds this many samples. */
  maxRows: number;
  /** ...or once its oldest sample has waited this long. */
  maxAgeMs: number;
  /** Samples held in memory at most (buffered + being written); beyond, `add` refuses (backpressure). */
  maxBuffered: number;
  /** First retry delay of a failed write; doubled each attempt up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/** Counters of one batched sink, for logs and the API. */
export interface BatcherStats {
  sink: string;
  written: number;
  batches: number;
  failures: number;
  buffered: number;
  /** Epoch ms since when every write has failed (the batch in hand is being retried); null while writes succeed. */
  failingSinceMs: number | null;
}

/**
 * The one place where batching, retry and acknowledgement happen for every sink. `add` takes samples
 * synchronously and returns a promise that resolves once they are durable in the sink; a failed write is
 * retried with backoff, keeping the batch, until it succeeds or the batcher is closed with `abandon`.
 * Writes to one sink never overlap.
 */
export class Batcher {
  private buffer: GpuSample[] = [];
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private inWrite = 0;
  private closed = false;
  private readonly stats: BatcherStats;

  constructor(
    private readonly sink: Sink,
    private readonly options: BatcherOptions,
    private readonly logger?: Logger,
  ) {
    this.stats = { sink: sink.name, written: 0, batches: 0, failures: 0, buffered: 0, failingSinceMs: null };
  }

  /**
   * Whether `add` would take `count` more samples now. An empty batcher takes any delivery, even one larger
   * than `maxBuffered`, so a delivery bigger than the bound still makes progress.
   */
  hasRoom(count: number): boolean {
    if (this.closed) return false;
    const held = this.buffer.length + this.inWrite;
    return held === 0 || held + count <= this.options.maxBuffered;
  }

  /** Takes the samples now; resolves when they are written. Throws when the buffer is full or closed. */
  add(samples: readonly GpuSample[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`sink ${this.sink.name} is closed`));
    if (!this.hasRoom(samples.length)) {
      return Promise.reject(
        new Error(`sink ${this.sink.name} is behind: ${this.options.maxBuffered} samples buffered`),
      );
    }
    for (const s of samples) this.buffer.push(s);
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.buffer.length >= this.options.maxRows) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.maxAgeMs);
    return done;
  }

  /** Starts writing what is buffered now; resolves when it (and every earlier batch) is written. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return this.writing;
    const batch = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    this.inWrite += batch.length;
    this.writing = this.writing.then(async () => {
      await this.writeWithRetry(batch);
      this.inWrite -= batch.length;
      for (const resolve of waiters) resolve();
    });
    return this.writing;
  }

  getStats(): BatcherStats {
    return { ...this.stats, buffered: this.buffer.length + this.inWrite };
  }

  /** Flushes everything, waits for it, then closes the sink. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.sink.close();
  }

  private async writeWithRetry(batch: GpuSample[]): Promise<void> {
    let delay = this.options.retryDelayMs ?? 500;
    const maxDelay = this.options.maxRetryDelayMs ?? 30_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sink.write(batch);
        this.stats.written += batch.length;
        this.stats.batches++;
        this.stats.failingSinceMs = null;
        return;
      } catch (err) {
        this.stats.failures++;
        this.stats.failingSinceMs ??= Date.now();
        this.logger?.error(
          { err, sink: this.sink.name, attempt, rows: batch.length },
          'sink write failed; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, maxDelay);
      }
    }
  }
}
