import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { GpuIdentity, GpuSample } from '../../metrics/sample.ts';
import { nullIdentity } from '../../metrics/sample.ts';
import type { Source, SourceHealth } from '../source.ts';
import { inferVendor } from './columns.ts';
import { decodeLog } from './decode.ts';
import { LogFollower } from './follower.ts';
import { feedText, type GpuzLineIssue, GpuzLineParser, type GpuzRecord } from './parser.ts';

export interface GpuzSourceOptions {
  /** The GPU-Z sensor log (`GPU-Z Sensor Log.txt`). */
  file: string;
  /** Replay speed: a multiple of the time recorded in the log (default 1). Not used when following. */
  speed?: number;
  /** Replay the log again from its first record after its last (default false). Not used when following. */
  loop?: boolean;
  /** Follow the log as GPU-Z appends to it instead of replaying it (default false). */
  follow?: boolean;
  /** Host name the samples carry; empty or absent: this machine's. */
  host?: string;
  /** IANA time zone the log's local times are read in (default `UTC`). */
  timeZone?: string;
  /** The `model` the samples carry; default: from the log's columns (see README.md). */
  model?: string;
  logger?: Logger;
}

export const UNKNOWN_MODEL = 'unknown (GPU-Z log)';
const MAX_LOGGED_ISSUES = 20;

/** The sample of a record: its metrics, the GPU's identity, stamped `now`. */
export function recordToSample(record: GpuzRecord, identity: GpuIdentity, now: number): GpuSample {
  return { ts: Math.floor(now), ...identity, ...record.metrics };
}

/** A stable UUID-like id of a log file: `GPU-Z-` and a hash of its absolute path. */
export function gpuzUuid(file: string): string {
  const h = createHash('sha256').update(resolve(file)).digest('hex');
  return `GPU-Z-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * GPU-Z sensor log as a source of one GPU (GPU-Z logs one card): replayed at a speed, optionally looping, or
 * followed live as GPU-Z appends to it. See README.md for the column mapping and the replay and follow rules.
 *
 * `read(now)` returns the record current at that moment, stamped `now`, once: when no record became current
 * since the last read it returns [] (a value is never repeated or made up). `current()` gives the record itself,
 * with the log's own time.
 */
export class GpuzSource implements Source {
  readonly name = 'gpuz';
  private readonly file: string;
  private readonly speed: number;
  private readonly loop: boolean;
  private readonly follow: boolean;
  private readonly host: string;
  private readonly timeZone: string;
  private readonly logger: Logger | undefined;
  private identity: GpuIdentity | null = null;
  private parser: GpuzLineParser | null = null;
  private lastSuccessMs: number | null = null;
  private lastReadDurationMs: number | null = null;
  private latest: GpuzRecord | null = null;
  private readFailures = 0;
  private loggedIssues = 0;
  private reportedUnknown = 0;
  private event: string | null = null;
  // replay
  private records: GpuzRecord[] = [];
  private offsets: number[] = [];
  private period = 1000;
  private startNow: number | null = null;
  private cursor = -1;
  private finished = false;
  // follow
  private follower: LogFollower | null = null;
  private missing = false;

  constructor(private readonly options: GpuzSourceOptions) {
    this.file = options.file;
    this.speed = options.speed ?? 1;
    this.loop = options.loop ?? false;
    this.follow = options.follow ?? false;
    this.host = options.host || hostname();
    this.timeZone = options.timeZone ?? 'UTC';
    this.logger = options.logger;
    if (!this.file) {
      throw new GpumonError(
        'CONFIG_INVALID',
        'gpuz source: no log file; set source.gpuz.file to a GPU-Z sensor log',
      );
    }
    if (!(this.speed > 0) || !Number.isFinite(this.speed)) {
      throw new GpumonError('CONFIG_INVALID', `gpuz source: speed ${this.speed} must be a number above 0`);
    }
  }

  async open(): Promise<void> {
    if (this.parser) return;
    const parser = new GpuzLineParser({ timeZone: this.timeZone });
    if (this.follow) {
      this.follower = new LogFollower(this.file);
      const first = await this.poll(parser);
      this.parser = parser;
      this.identity = this.identityFrom(parser);
      this.reportIssues();
      this.logger?.info({ file: this.file, skipped: first.length }, 'gpuz: following the log from its end');
      return;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file);
    } catch (err) {
      throw new GpumonError(
        'SOURCE_UNAVAILABLE',
        `gpuz source: cannot read the GPU-Z log ${this.file} (source.gpuz.file): ${(err as Error).message}`,
        { cause: err },
      );
    }
    const { text, encoding } = decodeLog(bytes);
    this.records = feedText(parser, text);
    this.parser = parser;
    this.schedule();
    this.identity = this.identityFrom(parser);
    this.reportIssues();
    this.logger?.info(
      {
        file: this.file,
        records: this.records.length,
        encoding,
        speed: this.speed,
        loop: this.loop,
      },
      'gpuz: replaying the log',
    );
  }

  async read(now: number): Promise<GpuSample[]> {
    if (!this.parser || !this.identity) {
      throw new GpumonError('SOURCE_UNAVAILABLE', 'gpuz source: read called before open');
    }
    const started = performance.now();
    let record: GpuzRecord | null;
    try {
      record = this.follow ? ((await this.poll(this.parser)).at(-1) ?? null) : this.replayAt(now);
    } catch (err) {
      this.readFailures++;
      throw new GpumonError(
        'SOURCE_READ_FAILED',
        `gpuz source: cannot read ${this.file}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    } finally {
      this.lastReadDurationMs = performance.now() - started;
    }
    this.reportIssues();
    if (!record) return [];
    this.latest = record;
    this.lastSuccessMs = now;
    return [recordToSample(record, this.identity, now)];
  }

  /** The record of the latest sample `read` returned (with the log's own time), or null before the first. */
  current(): GpuzRecord | null {
    return this.latest;
  }

  /** Header texts of the columns not in the catalog, kept in each record's `extra`. */
  unknownColumns(): readonly string[] {
    return this.parser?.unknownColumns ?? [];
  }

  /** Malformed lines seen so far (the first MAX_ISSUES of them), with their line numbers. */
  lineErrors(): readonly GpuzLineIssue[] {
    return this.parser?.errors ?? [];
  }

  health(): SourceHealth {
    const p = this.parser;
    const errors: Record<string, number> = {};
    if (p?.errorCount) errors.malformed_lines = p.errorCount;
    if (p?.warningCount) errors.line_warnings = p.warningCount;
    if (p?.unknownColumns.length) errors.unknown_columns = p.unknownColumns.length;
    if (this.readFailures) errors.read_failed = this.readFailures;
    return {
      source: this.name,
      lastSuccessMs: this.lastSuccessMs,
      lastReadDurationMs: this.lastReadDurationMs,
      errors,
      notice: this.notice(),
    };
  }

  async close(): Promise<void> {
    this.parser = null;
    this.follower = null;
    this.records = [];
    this.offsets = [];
  }

  private notice(): string {
    const parts: string[] = [];
    if (this.follow) {
      parts.push(`following GPU-Z log ${this.file}`);
      if (this.missing) parts.push('the file does not exist (yet): waiting for GPU-Z to write it');
    } else {
      const loop = this.loop ? ', looping' : '';
      parts.push(`replaying GPU-Z log ${this.file} at ${this.speed}x${loop} (recorded data, not live)`);
      if (this.records.length === 0) parts.push('the log has no data lines');
      if (this.finished) {
        const last = this.records.at(-1) as GpuzRecord;
        parts.push(
          `replay finished at its last record (line ${last.line}, ${last.localTime}): no more samples`,
        );
      }
    }
    if (this.event) parts.push(this.event);
    const p = this.parser;
    if (p?.unknownColumns.length) {
      parts.push(
        `columns not in the metric catalog, kept only in the parsed records: ${p.unknownColumns.join(', ')}`,
      );
    }
    if (p?.errorCount) {
      const first = p.errors[0] as GpuzLineIssue;
      parts.push(`${p.errorCount} malformed lines skipped (first: line ${first.line}: ${first.reason})`);
    }
    return parts.join('; ');
  }

  /** Replay schedule: each record's offset from the first, in log time; backward steps count as 0. */
  private schedule(): void {
    const r = this.records;
    this.offsets = r.map(() => 0);
    const steps: number[] = [];
    for (let i = 1; i < r.length; i++) {
      const step = Math.max(0, (r[i] as GpuzRecord).time - (r[i - 1] as GpuzRecord).time);
      this.offsets[i] = (this.offsets[i - 1] as number) + step;
      if (step > 0) steps.push(step);
    }
    steps.sort((a, b) => a - b);
    // A loop lasts the log plus one typical step, so its last and first records do not fall on one instant.
    this.period = (this.offsets.at(-1) ?? 0) + (steps[Math.floor(steps.length / 2)] ?? 1000);
  }

  /** The record that became current at replay time `now`, or null when it was already returned. */
  private replayAt(now: number): GpuzRecord | null {
    const n = this.records.length;
    if (n === 0) return null;
    this.startNow ??= now;
    const elapsed = Math.max(0, now - this.startNow) * this.speed;
    const round = this.loop ? Math.floor(elapsed / this.period) : 0;
    const position = elapsed - round * this.period;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.offsets[mid] as number) <= position) lo = mid;
      else hi = mid - 1;
    }
    const cursor = round * n + lo;
    if (cursor <= this.cursor) return null;
    this.cursor = cursor;
    if (!this.loop && lo === n - 1 && !this.finished) {
      this.finished = true;
      this.logger?.info({ file: this.file }, 'gpuz: replay reached the end of the log');
    }
    return this.records[lo] as GpuzRecord;
  }

  private async poll(parser: GpuzLineParser): Promise<GpuzRecord[]> {
    const follower = this.follower as LogFollower;
    const result = await follower.poll();
    if (result.missing !== this.missing) {
      this.missing = result.missing;
      if (result.missing) this.logger?.warn({ file: this.file }, 'gpuz: the followed log does not exist');
    }
    if (result.reset) {
      this.event = `the log was ${result.reset} at ${new Date().toISOString()}: read again from its start`;
      this.logger?.warn({ file: this.file, reset: result.reset }, 'gpuz: log truncated or replaced');
    }
    const records: GpuzRecord[] = [];
    for (const { text, line } of result.lines) records.push(...parser.feed(text, line));
    return records;
  }

  private identityFrom(parser: GpuzLineParser): GpuIdentity {
    const vendor = inferVendor(parser.headers[0]?.columns ?? []);
    return {
      ...nullIdentity(),
      host: this.host,
      gpu_index: 0,
      uuid: gpuzUuid(this.file),
      model: this.options.model || (vendor ? `${vendor}, model unknown (GPU-Z log)` : UNKNOWN_MODEL),
      pci_bus_id: null,
      driver_version: null,
    };
  }

  /** Logs new unknown columns once, and the first malformed lines. */
  private reportIssues(): void {
    const p = this.parser;
    if (!p) return;
    if (p.unknownColumns.length > this.reportedUnknown) {
      const columns = p.unknownColumns.slice(this.reportedUnknown);
      this.reportedUnknown = p.unknownColumns.length;
      this.logger?.warn(
        { file: this.file, columns },
        'gpuz: columns not in the metric catalog, kept in records only',
      );
    }
    while (this.loggedIssues < Math.min(p.errors.length, MAX_LOGGED_ISSUES)) {
      const issue = p.errors[this.loggedIssues++] as GpuzLineIssue;
      this.logger?.warn({ file: this.file, ...issue }, 'gpuz: malformed line skipped');
    }
  }
}
