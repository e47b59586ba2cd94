import { closeSync, fsyncSync, openSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { decodeSample, encodeSampleJson } from '../transport/kafka/encoding.ts';

export interface SpoolOptions {
  /** Directory of the segment files (created if missing). */
  dir: string;
  /** Bound of the spool in bytes; past it the oldest segments are dropped (and counted). */
  maxBytes: number;
  /** Size at which a segment is closed and a new one begun (default: maxBytes / 16, 64 KiB .. 4 MiB). */
  segmentBytes?: number;
  /**
   * Take the directory for this process alone: a `lock` file holding the pid, refused (SPOOL_IN_USE) while
   * that process lives, taken over once it is gone. Two processes appending to one spool would interleave
   * their segments.
   */
  exclusive?: boolean;
  logger?: Logger;
}

export interface SpoolStats {
  /** Samples in the spool not yet removed. */
  pending: number;
  bytes: number;
  segments: number;
  /** Samples appended since this spool was opened. */
  appended: number;
  /** Samples dropped to keep the bound, ever (kept in the directory across restarts). */
  dropped: number;
  /** Lines that did not decode when read back (a torn write), skipped. */
  corrupt: number;
}

/** Oldest samples of the spool, as `peek` gives them; pass it to `remove` once they are sent. */
export interface SpoolBatch {
  readonly samples: GpuSample[];
  readonly segment: number;
  readonly start: number;
  readonly end: number;
}

interface Segment {
  seq: number;
  path: string;
  bytes: number;
  /** Lines (samples) in the file. */
  lines: number;
}

const SEGMENT = /^(\d{16})\.seg$/;
const DROPPED_FILE = 'dropped';
const LOCK_FILE = 'lock';

/**
 * A bounded, append-only, on-disk FIFO of samples: where the agent keeps what Kafka could not take.
 *
 * Files: `<dir>/<16-digit sequence>.seg`, each one sample per line in the Kafka wire format
 * (docs/encoding.md), and `<dir>/dropped` (the count of samples dropped to keep the bound). A segment is
 * written by appends only; every append is one `write` followed by `fdatasync`, so a sample the spool took is
 * on disk when `append` resolves (the agent appends one read per sampling interval: one fsync a second).
 * A segment is closed once it reaches `segmentBytes`; a new process never appends to an old segment.
 *
 * Reading: `peek` returns the oldest samples without removing them; `remove` discards them after they were
 * sent, deleting a segment once all of it is sent. Progress inside a segment is kept in memory only: after a
 * restart the oldest segment is sent again from its start (at-least-once; at most one segment twice).
 *
 * Bound: when the files pass `maxBytes`, whole segments are dropped, oldest first, never the one being
 * written; their unsent samples are counted in `dropped`. A torn last line (a crash mid-write) is skipped
 * and counted in `corrupt`. Operations run one at a time, in call order.
 *
 * As a write-ahead log (the archive spool of `gpumon up`, see Batcher): `cut` closes the segment being
 * written and gives a mark; once everything appended before the cut has reached its destination another way,
 * `discardThrough(mark)` deletes those segments whole. What a crash leaves is read back with `peek`.
 */
export class Spool {
  private readonly segments: Segment[] = [];
  private active: { seq: number; fd: FileHandle } | undefined;
  private head: { seq: number; lines: string[]; next: number } | undefined;
  private nextSeq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly segmentBytes: number;
  private appended = 0;
  private dropped = 0;
  private corrupt = 0;
  private closed = false;

  private constructor(private readonly options: SpoolOptions) {
    this.segmentBytes =
      options.segmentBytes ??
      Math.min(4 * 1024 * 1024, Math.max(64 * 1024, Math.floor(options.maxBytes / 16)));
  }

  /** Opens (or creates) the spool in `dir`, finding the segments a previous run left. */
  static async open(options: SpoolOptions): Promise<Spool> {
    const spool = new Spool(options);
    await spool.load();
    return spool;
  }

  /** The directory of the segment files. */
  get dir(): string {
    return this.options.dir;
  }

  isEmpty(): boolean {
    return this.pendingCount() === 0;
  }

  stats(): SpoolStats {
    return {
      pending: this.pendingCount(),
      bytes: this.segments.reduce((sum, s) => sum + s.bytes, 0),
      segments: this.segments.length,
      appended: this.appended,
      dropped: this.dropped,
      corrupt: this.corrupt,
    };
  }

  /** Appends samples after every earlier one; resolves once they are on disk. */
  append(samples: readonly GpuSample[]): Promise<void> {
    if (samples.length === 0) return Promise.resolve();
    return this.serial(() => this.doAppend(samples));
  }

  /** The oldest samples (at most `max`), left in the spool until `remove`. Empty when the spool is. */
  peek(max: number): Promise<SpoolBatch> {
    return this.serial(() => this.doPeek(max));
  }

  /** Discards a batch `peek` gave, once it was sent. */
  remove(batch: SpoolBatch): Promise<void> {
    return this.serial(() => this.doRemove(batch));
  }

  /**
   * Closes the segment being written, so that the next append begins a new one; resolves with a mark:
   * everything appended before the cut lies in the segments up to it.
   */
  cut(): Promise<number> {
    return this.serial(async () => {
      await this.closeActive();
      return this.nextSeq - 1;
    });
  }

  /**
   * Deletes the segments up to a mark `cut` gave, whole (their samples reached their destination another
   * way); resolves with the samples they held that had not been removed.
   */
  discardThrough(mark: number): Promise<number> {
    return this.serial(async () => {
      let discarded = 0;
      for (let oldest = this.segments[0]; oldest && oldest.seq <= mark; oldest = this.segments[0]) {
        if (oldest.seq === this.active?.seq) await this.closeActive();
        discarded += oldest.lines - (this.head?.seq === oldest.seq ? this.head.next : 0);
        await this.deleteSegment(oldest);
      }
      return discarded;
    });
  }

  /** Closes the segment being written; what is pending stays on disk for the next open. */
  close(): Promise<void> {
    return this.serial(async () => {
      this.closed = true;
      await this.closeActive();
      if (this.options.exclusive) await unlink(join(this.options.dir, LOCK_FILE)).catch(() => undefined);
    });
  }

  private pendingCount(): number {
    const total = this.segments.reduce((sum, s) => sum + s.lines, 0);
    const headSeg = this.segments[0];
    return total - (this.head && headSeg && this.head.seq === headSeg.seq ? this.head.next : 0);
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new Error(`spool ${this.options.dir} is closed`);
      return op();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    if (this.options.exclusive) await this.lock();
    const names = (await readdir(this.options.dir)).filter((n) => SEGMENT.test(n)).sort();
    for (const name of names) {
      const path = join(this.options.dir, name);
      const data = await readFile(path);
      let end = data.length;
      if (end > 0 && data[end - 1] !== 0x0a) {
        // a torn last line: cut it off, so that the file is whole lines again
        end = data.lastIndexOf(0x0a) + 1;
        this.corrupt++;
        await writeFile(path, data.subarray(0, end));
      }
      let lines = 0;
      for (let i = 0; i < end; i++) if (data[i] === 0x0a) lines++;
      const seq = Number(SEGMENT.exec(name)?.[1]);
      if (lines === 0) await unlink(path);
      else this.segments.push({ seq, path, bytes: end, lines });
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    try {
      this.dropped = Number((await readFile(join(this.options.dir, DROPPED_FILE), 'utf8')).trim()) || 0;
    } catch {
      this.dropped = 0;
    }
    const pending = this.pendingCount();
    if (pending > 0) {
      this.options.logger?.info(
        { spool: this.options.dir, pending, segments: this.segments.length },
        'spool holds samples from an earlier run; they are sent first',
      );
    }
  }

  /** Takes the directory: writes our pid to `lock`, unless a living process other than this one holds it. */
  private async lock(): Promise<void> {
    const path = join(this.options.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new GpumonError(
          'SPOOL_IN_USE',
          `spool ${this.options.dir} is in use by process ${holder} (${path}); give each process its own spool`,
        );
      }
      await unlink(path).catch(() => undefined); // left by a process that is gone
    }
    throw new GpumonError(
      'SPOOL_IN_USE',
      `spool ${this.options.dir}: another process took ${path} meanwhile`,
    );
  }

  private async doAppend(samples: readonly GpuSample[]): Promise<void> {
    const text = `${samples.map(encodeSampleJson).join('\n')}\n`;
    const bytes = Buffer.byteLength(text);
    const last = this.segments.at(-1);
    if (
      !this.active ||
      !last ||
      last.seq !== this.active.seq ||
      (last.bytes > 0 && last.bytes + bytes > this.segmentBytes)
    ) {
      await this.rotate();
    }
    const segment = this.segments.at(-1) as Segment;
    const { fd } = this.active as { fd: FileHandle };
    await fd.write(text);
    await fd.datasync();
    segment.bytes += bytes;
    segment.lines += samples.length;
    this.appended += samples.length;
    await this.enforceBound();
  }

  private async rotate(): Promise<void> {
    await this.closeActive();
    const seq = this.nextSeq++;
    const path = join(this.options.dir, `${String(seq).padStart(16, '0')}.seg`);
    const fd = await open(path, 'a');
    syncDir(this.options.dir);
    this.active = { seq, fd };
    this.segments.push({ seq, path, bytes: 0, lines: 0 });
  }

  private async closeActive(): Promise<void> {
    const active = this.active;
    this.active = undefined;
    if (!active) return;
    await active.fd.close();
    const segment = this.segments.find((s) => s.seq === active.seq);
    if (segment && segment.lines === 0) await this.deleteSegment(segment);
  }

  private async enforceBound(): Promise<void> {
    let dropped = 0;
    while (this.segments.length > 1 && this.stats().bytes > this.options.maxBytes) {
      const oldest = this.segments[0] as Segment;
      const sent = this.head?.seq === oldest.seq ? this.head.next : 0;
      dropped += oldest.lines - sent;
      await this.deleteSegment(oldest);
    }
    if (dropped > 0) {
      this.dropped += dropped;
      await writeFileAtomic(join(this.options.dir, DROPPED_FILE), `${this.dropped}\n`);
      this.options.logger?.warn(
        { spool: this.options.dir, dropped, droppedTotal: this.dropped, maxBytes: this.options.maxBytes },
        'spool full: dropped its oldest samples',
      );
    }
  }

  private async doPeek(max: number): Promise<SpoolBatch> {
    for (;;) {
      const oldest = this.segments[0];
      if (!oldest || this.pendingCount() === 0) return { samples: [], segment: -1, start: 0, end: 0 };
      // read only closed segments: close the one being written if it is the oldest
      if (this.active?.seq === oldest.seq) await this.rotate();
      if (this.head?.seq !== oldest.seq) {
        const lines = (await readFile(oldest.path, 'utf8')).split('\n');
        lines.pop();
        this.head = { seq: oldest.seq, lines, next: 0 };
      }
      const head = this.head;
      if (head.next >= head.lines.length) {
        await this.deleteSegment(oldest);
        continue;
      }
      const start = head.next;
      const end = Math.min(head.lines.length, start + max);
      const samples: GpuSample[] = [];
      for (let i = start; i < end; i++) {
        const decoded = decodeSample(head.lines[i]);
        if (decoded.ok) samples.push(decoded.sample);
        else {
          this.corrupt++;
          this.options.logger?.warn(
            { spool: this.options.dir, reason: decoded.reason },
            'spool line skipped',
          );
        }
      }
      return { samples, segment: oldest.seq, start, end };
    }
  }

  private async doRemove(batch: SpoolBatch): Promise<void> {
    const head = this.head;
    const oldest = this.segments[0];
    if (!head || !oldest || head.seq !== batch.segment || oldest.seq !== batch.segment) return; // dropped meanwhile
    head.next = Math.max(head.next, batch.end);
    if (head.next >= head.lines.length) await this.deleteSegment(oldest);
  }

  private async deleteSegment(segment: Segment): Promise<void> {
    const at = this.segments.indexOf(segment);
    if (at >= 0) this.segments.splice(at, 1);
    if (this.head?.seq === segment.seq) this.head = undefined;
    await unlink(segment.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every platform can fsync a directory
  }
}

async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
