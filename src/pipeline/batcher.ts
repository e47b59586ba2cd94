import type { Spool } from '../agent/spool.ts';
import { GpumonError } from '../errors.ts';
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
  /**
   * Writes to the sink at a time (default 1): with more, the next batch's write starts while earlier ones are
   * still in flight (a sink whose writes may overlap and land in any order, such as InfluxDB's), each started
   * in the order the batches were cut and each acknowledged once written. 1 with a journal, whose segments are
   * discarded in order.
   */
  maxWritesInFlight?: number;
  /** First retry delay of a failed write; doubled each attempt up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * A write-ahead log of the sink (`gpumon up`'s archive spool): every delivery `add` takes is appended to
   * it (one write and one fdatasync), and its segments are deleted once their batch is written. What an
   * earlier run left there is written first. Without one, samples live in memory until written.
   */
  journal?: Spool;
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
  /** Samples written from the journal an earlier run left (included in `written`). */
  replayed: number;
  /** Samples given up unwritten by a stop out of time (`abandon`); the journal keeps those it holds. */
  abandoned: number;
  /** Samples whose append to the journal failed (held in memory only until written). */
  unjournaled: number;
}

/** How long `close` still waits, after giving up, for a write attempt in progress to end. */
export const ABANDON_GRACE_MS = 1000;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A batch on its way to the sink: its samples, who waits for it, and where the journal holds it. */
interface PendingBatch {
  samples: GpuSample[];
  waiters: Waiter[];
  /** Each delivery's append to the journal: true once on disk. */
  appends: Promise<boolean>[];
  /** The journal's mark after the batch's last append (undefined: no journal, or the cut failed). */
  mark: Promise<number | undefined> | undefined;
}

/**
 * The one place where batching, retry and acknowledgement happen for every sink. `add` takes samples
 * synchronously and returns a promise that resolves once they are durable: written to the sink, or, after a
 * stop gave up on the sink (`abandon`), held by the journal; it rejects with SINK_ABANDONED when given up
 * without a journal holding them. A failed write is retried with backoff, keeping the batch, until it
 * succeeds or the batcher is abandoned. Writes to one sink never overlap, unless `maxWritesInFlight` allows it.
 */
export class Batcher {
  private buffer: GpuSample[] = [];
  private waiters: Waiter[] = [];
  private appends: Promise<boolean>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private inWrite = 0;
  private closed = false;
  private unbatched = false;
  private abandoned = false;
  private journalFailing = false;
  private wakeRetry: (() => void) | undefined;
  /** Writes started and not yet settled (maxWritesInFlight > 1), and the batches waiting for a turn, in order. */
  private active = 0;
  private readonly turns: (() => void)[] = [];
  private readonly stats: BatcherStats;

  constructor(
    private readonly sink: Sink,
    private readonly options: BatcherOptions,
    private readonly logger?: Logger,
  ) {
    this.stats = {
      sink: sink.name,
      written: 0,
      batches: 0,
      failures: 0,
      buffered: 0,
      failingSinceMs: null,
      replayed: 0,
      abandoned: 0,
      unjournaled: 0,
    };
    if (options.journal) this.writing = this.replay(options.journal);
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

  /** Whether a stop gave up on this sink: it takes nothing more. */
  isAbandoned(): boolean {
    return this.abandoned;
  }

  /** Takes the samples now; resolves when they are durable. Throws when the buffer is full or closed. */
  add(samples: readonly GpuSample[]): Promise<void> {
    if (this.abandoned) return Promise.reject(abandonedError(this.sink.name));
    if (this.closed) return Promise.reject(new Error(`sink ${this.sink.name} is closed`));
    if (!this.hasRoom(samples.length)) {
      return Promise.reject(
        new Error(`sink ${this.sink.name} is behind: ${this.options.maxBuffered} samples buffered`),
      );
    }
    for (const s of samples) this.buffer.push(s);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.options.journal) this.appends.push(this.journalAppend(this.options.journal, samples));
    if (this.unbatched || this.buffer.length >= this.options.maxRows) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.maxAgeMs);
    return done;
  }

  /** Starts writing what is buffered now; resolves when it (and every earlier batch) is settled. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return this.writing;
    const batch: PendingBatch = {
      samples: this.buffer,
      waiters: this.waiters,
      appends: this.appends,
      mark: this.options.journal ? this.journalCut(this.options.journal) : undefined,
    };
    this.buffer = [];
    this.waiters = [];
    this.appends = [];
    this.inWrite += batch.samples.length;
    const inFlight = this.options.journal ? 1 : Math.max(1, this.options.maxWritesInFlight ?? 1);
    if (inFlight === 1) {
      this.writing = this.writing.then(() => this.settle(batch));
      return this.writing;
    }
    const settled = this.turn(inFlight).then(async () => {
      try {
        await this.settle(batch);
      } finally {
        this.endTurn();
      }
    });
    this.writing = Promise.all([this.writing, settled]).then(() => undefined);
    return this.writing;
  }

  /** Resolves when a write may start: at once while fewer than `inFlight` run, else first come, first served. */
  private turn(inFlight: number): Promise<void> {
    if (this.active < inFlight) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.turns.push(resolve));
  }

  /** A write settled: its turn goes to the next batch waiting, if any. */
  private endTurn(): void {
    const next = this.turns.shift();
    if (next) next();
    else this.active--;
  }

  /** For a stop: writes what is buffered now, and from now on every delivery at once (no batch age). */
  stopBatching(): void {
    this.unbatched = true;
    void this.flush();
  }

  /**
   * For a stop out of time: stops retrying (a write attempt in progress ends on its own), takes nothing
   * more, and settles every batch not written: resolved where the journal holds it, else rejected with
   * SINK_ABANDONED.
   */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.closed = true;
    void this.flush();
    this.wakeRetry?.();
  }

  getStats(): BatcherStats {
    return { ...this.stats, buffered: this.buffer.length + this.inWrite };
  }

  /**
   * Flushes everything, waits for it, then closes the sink (and the journal). With `untilMs`, waits until
   * then at most: past it, gives up (`abandon`) and waits ABANDON_GRACE_MS more for a write attempt in
   * progress; one still running after that is left to finish on its own (the process is about to exit),
   * without closing the sink under it. Resolves with the counters; `abandoned` counts what was not written.
   */
  async close(options: { untilMs?: number } = {}): Promise<BatcherStats> {
    const written = this.flush();
    this.closed = true;
    let settled = await settledBy(written, options.untilMs);
    if (!settled) {
      this.abandon();
      settled = await settledBy(this.writing, Date.now() + ABANDON_GRACE_MS);
    }
    if (!settled) {
      this.logger?.warn(
        { sink: this.sink.name, samples: this.inWrite },
        'a write was still in progress when the stop ran out of time; not waiting for it',
      );
      return { ...this.getStats(), abandoned: this.stats.abandoned + this.inWrite };
    }
    await this.sink.close();
    await this.options.journal?.close();
    return this.getStats();
  }

  /** Writes the batch (retrying), then acknowledges it and deletes it from the journal. Never rejects. */
  private async settle(batch: PendingBatch): Promise<void> {
    const count = batch.samples.length;
    let written = false;
    try {
      await this.writeWithRetry(batch.samples);
      written = true;
    } catch {
      // abandoned: settled below
    }
    this.inWrite -= count;
    if (written) {
      for (const waiter of batch.waiters) waiter.resolve();
      const mark = await batch.mark;
      if (mark !== undefined) await this.journalDiscard(mark);
      return;
    }
    this.stats.abandoned += count;
    const journaled = batch.mark !== undefined && (await Promise.all(batch.appends)).every(Boolean);
    for (const waiter of batch.waiters) {
      if (journaled) waiter.resolve();
      else waiter.reject(abandonedError(this.sink.name));
    }
  }

  /** Writes, one segment at a time, what an earlier run left in the journal (before anything of this run). */
  private async replay(journal: Spool): Promise<void> {
    try {
      const earlier = await journal.cut();
      if (journal.isEmpty()) return;
      this.logger?.info(
        { sink: this.sink.name, spool: journal.dir, samples: journal.stats().pending },
        'writing the samples an earlier run left in the spool',
      );
      while (!this.abandoned) {
        const batch = await journal.peek(Number.MAX_SAFE_INTEGER);
        if (batch.segment < 0 || batch.segment > earlier) break;
        if (batch.samples.length > 0) await this.writeWithRetry(batch.samples);
        this.stats.replayed += batch.samples.length;
        await journal.remove(batch);
      }
      this.logger?.info(
        { sink: this.sink.name, spool: journal.dir, samples: this.stats.replayed },
        'samples from the spool written',
      );
    } catch (err) {
      if (!this.abandoned) {
        this.logger?.error(
          { err, sink: this.sink.name, spool: journal.dir },
          'cannot write the spool an earlier run left; it stays for the next start',
        );
      }
    }
  }

  private async writeWithRetry(batch: readonly GpuSample[]): Promise<void> {
    let delay = this.options.retryDelayMs ?? 500;
    const maxDelay = this.options.maxRetryDelayMs ?? 30_000;
    for (let attempt = 1; ; attempt++) {
      if (this.abandoned) throw abandonedError(this.sink.name);
      try {
        await this.sink.write(batch);
        this.stats.written += batch.length;
        this.stats.batches++;
        this.stats.failingSinceMs = null;
        return;
      } catch (err) {
        this.stats.failures++;
        this.stats.failingSinceMs ??= Date.now();
        if (this.abandoned) throw abandonedError(this.sink.name);
        this.logger?.error(
          { err, sink: this.sink.name, attempt, rows: batch.length },
          'sink write failed; retrying',
        );
        await this.pause(delay);
        delay = Math.min(delay * 2, maxDelay);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeRetry = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.wakeRetry = undefined;
    });
  }

  /** Appends a delivery to the journal; resolves whether it is on disk (a failure is logged once a streak). */
  private journalAppend(journal: Spool, samples: readonly GpuSample[]): Promise<boolean> {
    return journal.append(samples).then(
      () => {
        if (this.journalFailing) {
          this.journalFailing = false;
          this.logger?.info({ sink: this.sink.name, spool: journal.dir }, 'the spool takes samples again');
        }
        return true;
      },
      (err: unknown) => {
        this.stats.unjournaled += samples.length;
        if (!this.journalFailing) {
          this.journalFailing = true;
          this.logger?.error(
            { err, sink: this.sink.name, spool: journal.dir },
            'cannot append to the spool: samples are held in memory only until written',
          );
        }
        return false;
      },
    );
  }

  private journalCut(journal: Spool): Promise<number | undefined> {
    return journal.cut().catch((err: unknown) => {
      this.logger?.error({ err, spool: journal.dir }, 'cannot close a spool segment');
      return undefined;
    });
  }

  private async journalDiscard(mark: number): Promise<void> {
    const journal = this.options.journal as Spool;
    await journal.discardThrough(mark).catch((err: unknown) => {
      this.logger?.warn(
        { err, sink: this.sink.name, spool: journal.dir },
        'written, but not deleted from the spool: written again at the next start',
      );
    });
  }
}

function abandonedError(sink: string): GpumonError {
  return new GpumonError(
    'SINK_ABANDONED',
    `sink ${sink}: the stop ran out of time (shutdown.timeoutMs) before this was written`,
  );
}

/** Whether `promise` settles by `untilMs` (epoch ms); waits for it to settle when no time is given. */
export async function settledBy(promise: Promise<unknown>, untilMs: number | undefined): Promise<boolean> {
  if (untilMs === undefined) {
    await promise.catch(() => undefined);
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, untilMs - Date.now()));
  });
  try {
    const settled = promise.then(
      () => true,
      () => true,
    );
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
