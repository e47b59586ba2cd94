/**
 * `gpumon serve`'s live fleet from InfluxDB: polls `gpu_metrics`, which `gpumon consume` writes, for the
 * samples it has not seen, and applies them to the live state (with the alerts the same rules raise on them),
 * so the page, /api/gpus, /api/stream and /metrics show every GPU of every node as `gpumon up` shows its own.
 *
 * - The first poll reads the whole live window (`windowMs`): the page starts with the recent series.
 * - Each next poll reads from the oldest latest sample among the GPUs that kept up (their latest sample within
 *   `followMs` of the fleet's, the median GPU's), so a GPU whose samples reach InfluxDB a little later than the others'
 *   still gets every one; a GPU further behind (an agent emptying its spool, a consumer catching up) shows
 *   its samples from when they are recent again: the archive has the rest. Per GPU only samples newer than
 *   its latest applied one are applied, so the live series stay in time order and nothing is applied twice.
 * - Bounded queries: a query asks for `querySeries` GPUs (SLIMIT/SOFFSET, until a page has fewer), at most
 *   `queryPoints / querySeries` samples each (LIMIT), over a span of half that many sampling intervals (the
 *   margin: a GPU may report up to twice as often as `intervalMs` before its span is cut short, which is
 *   counted and logged once). 1,000 GPUs over the 15-minute window at 1 s: 10 pages x 9 spans of 100 s.
 * - A failed poll (InfluxDB away, refused, an answer that is not a result) changes nothing: it is counted,
 *   logged once per outage (and once when polls succeed again), and the next poll asks again.
 */
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { SAMPLE_MEASUREMENT } from '../../metrics/line-protocol.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import type { AlertEvaluator, AlertEvent } from '../../pipeline/alerts.ts';
import { quoteIdentifier } from '../../sinks/influxdb/influx-client.ts';
import type { LiveFeed, LiveFeedHealth } from '../live-feed.ts';
import { decodeSeries, GROUP_BY_TAGS, SAMPLE_FIELDS, seriesOf } from './sample-decoder.ts';

/** What the feed needs of InfluxDB: InfluxQL in, the `results` array out (InfluxClient.query). */
export interface InfluxQuerier {
  query(q: string): Promise<unknown[]>;
}

/** Where the samples go: LiveState.apply. */
export interface LiveSink {
  apply(samples: readonly GpuSample[], alerts?: readonly AlertEvent[]): void;
}

export interface InfluxDbLiveFeedOptions {
  client: InfluxQuerier;
  /** Where it reads, without credentials, for messages: `http://influxdb:8086 database gpumon`. */
  target: string;
  live: LiveSink;
  /** Raises the alerts of the samples read (the `alerts.*` thresholds), as `gpumon up` does; none: no alerts. */
  alerts?: AlertEvaluator;
  /** The live window: the first poll reads this far back (live.windowSeconds). */
  windowMs: number;
  /** Time between the end of a poll and the start of the next (serve.pollMs). */
  pollMs: number;
  /** The agents' sampling interval (source.intervalMs): sizes the spans of the queries. */
  intervalMs: number;
  /** GPUs per query (serve.querySeries). */
  querySeries: number;
  /** Samples per query at most (serve.queryPoints). */
  queryPoints: number;
  /** The retention policy to read (influxdb.retentionPolicy); empty: the database's default. */
  retentionPolicy?: string;
  logger: Logger;
  /** The clock, for tests. */
  now?: () => number;
}

/** A GPU whose latest sample is this far behind the fleet's (the median GPU's) is not waited for (see the module). */
export function followMs(pollMs: number, intervalMs: number): number {
  return Math.max(10_000, 3 * pollMs, 3 * intervalMs);
}

export class InfluxDbLiveFeed implements LiveFeed {
  readonly name = 'influxdb';
  private readonly now: () => number;
  private readonly lastTs = new Map<string, number>();
  private newest: number | null = null;
  private readonly startedAtMs: number;
  private lastPollMs: number | null = null;
  private lastPollDurationMs: number | null = null;
  private failures = 0;
  private failingSinceMs: number | null = null;
  private lastError: string | null = null;
  private invalid = 0;
  private truncatedLogged = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: InfluxDbLiveFeedOptions) {
    this.now = options.now ?? Date.now;
    this.startedAtMs = this.now();
  }

  start(): void {
    const loop = () => {
      this.timer = null;
      if (this.stopped) return;
      this.inFlight = this.poll().finally(() => {
        this.inFlight = null;
        if (!this.stopped) this.timer = setTimeout(loop, this.options.pollMs);
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  health(): LiveFeedHealth {
    return {
      feed: this.name,
      target: this.options.target,
      startedAtMs: this.startedAtMs,
      lastPollMs: this.lastPollMs,
      lastPollDurationMs: this.lastPollDurationMs,
      newestSampleMs: this.newest,
      gpus: this.lastTs.size,
      failures: this.failures,
      failingSinceMs: this.failingSinceMs,
      lastError: this.lastError,
      invalid: this.invalid,
    };
  }

  /** One poll: never rejects (a failure is recorded in `health`). */
  async poll(): Promise<void> {
    const started = this.now();
    try {
      await this.readSince(this.since(started), started);
      this.lastPollMs = this.now();
      this.lastPollDurationMs = this.lastPollMs - started;
      if (this.failingSinceMs !== null) {
        this.options.logger.info(
          { target: this.options.target, failures: this.failures },
          'live fleet: InfluxDB answers again',
        );
      }
      this.failingSinceMs = null;
      this.lastError = null;
    } catch (err) {
      this.failures++;
      const error =
        err instanceof GpumonError && err.code === 'LIVE_READ_FAILED'
          ? err
          : new GpumonError(
              'LIVE_READ_FAILED',
              `live fleet from ${this.options.target}: ${(err as Error).message}`,
              { cause: err },
            );
      this.lastError = error.message;
      if (this.failingSinceMs === null) {
        this.failingSinceMs = started;
        this.options.logger.warn(
          { err: error, target: this.options.target },
          'live fleet: cannot read InfluxDB; polling on (logged again when it answers)',
        );
      }
    }
  }

  /**
   * Where this poll starts reading (epoch ms, exclusive): the oldest latest sample among the GPUs within
   * `followMs` of the fleet's time, and never before the live window. The fleet's time is the median of the
   * GPUs' latest samples, not the newest: one agent whose clock is an hour ahead must not hide the others.
   */
  private since(now: number): number {
    const windowStart = now - this.options.windowMs;
    if (this.lastTs.size === 0) return windowStart;
    const latest = [...this.lastTs.values()].sort((a, b) => a - b);
    const fleetTime = latest[Math.floor((latest.length - 1) / 2)] as number;
    const keptUp = fleetTime - followMs(this.options.pollMs, this.options.intervalMs);
    const oldest = latest.find((ts) => ts >= keptUp) ?? fleetTime;
    return Math.max(oldest, windowStart);
  }

  /** Reads (since, ...) span by span, oldest first, applying each span's new samples. */
  private async readSince(since: number, now: number): Promise<void> {
    const perSeries = Math.max(1, Math.floor(this.options.queryPoints / this.options.querySeries));
    const spanMs = Math.max(this.options.intervalMs, Math.floor(perSeries / 2) * this.options.intervalMs);
    for (let from = since; !this.stopped; from += spanMs) {
      const open = from + spanMs >= now;
      await this.readSpan(from, open ? null : from + spanMs, perSeries);
      if (open) return;
    }
  }

  /** One span, page by page of `querySeries` GPUs; its new samples are applied at its end, in time order. */
  private async readSpan(from: number, to: number | null, limit: number): Promise<void> {
    const rows: GpuSample[] = [];
    const where = `InfluxDB ${this.options.target}`;
    for (let offset = 0; ; offset += this.options.querySeries) {
      if (this.stopped) return; // a stop does not wait for the rest of a long first read
      const q = this.query(from, to, limit, offset);
      let results: unknown[];
      try {
        results = await this.options.client.query(q);
      } catch (err) {
        throw new GpumonError(
          'LIVE_READ_FAILED',
          `live fleet from ${this.options.target}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const decoded = decodeSeries(seriesOf(results, where));
      if (decoded.invalid > 0) {
        if (this.invalid === 0) {
          this.options.logger.warn(
            { err: decoded.firstInvalid, target: this.options.target },
            'live fleet: rows of gpu_metrics that are not valid samples are skipped (counted in /api/health)',
          );
        }
        this.invalid += decoded.invalid;
      }
      if (!this.truncatedLogged && decoded.samples.length >= limit)
        this.noteTruncation(decoded.samples, limit);
      for (const s of decoded.samples) rows.push(s);
      if (decoded.series < this.options.querySeries) break;
    }
    this.apply(rows);
  }

  /** A GPU that filled its LIMIT reports faster than `intervalMs` says: its span was cut short. */
  private noteTruncation(samples: readonly GpuSample[], limit: number): void {
    const counts = new Map<string, number>();
    for (const s of samples) counts.set(s.uuid, (counts.get(s.uuid) ?? 0) + 1);
    const fast = [...counts].find(([, n]) => n >= limit);
    if (!fast) return;
    this.truncatedLogged = true;
    this.options.logger.warn(
      { uuid: fast[0], limit, intervalMs: this.options.intervalMs },
      'live fleet: a GPU reports more often than source.intervalMs says; its live series has gaps at the ' +
        'start (set source.intervalMs to the agents’ interval)',
    );
  }

  private apply(rows: GpuSample[]): void {
    rows.sort((a, b) => a.ts - b.ts);
    const fresh: GpuSample[] = [];
    for (const s of rows) {
      const last = this.lastTs.get(s.uuid);
      if (last !== undefined && s.ts <= last) continue;
      this.lastTs.set(s.uuid, s.ts);
      if (this.newest === null || s.ts > this.newest) this.newest = s.ts;
      fresh.push(s);
    }
    if (fresh.length === 0) return;
    this.options.live.apply(fresh, this.options.alerts?.evaluate(fresh) ?? []);
  }

  /** The InfluxQL of one page of one span. */
  query(from: number, to: number | null, limit: number, offset: number): string {
    const rp = this.options.retentionPolicy ? `${quoteIdentifier(this.options.retentionPolicy)}.` : '';
    const fields = SAMPLE_FIELDS.map(quoteIdentifier).join(',');
    const time = `time > ${Math.floor(from)}ms${to === null ? '' : ` AND time <= ${Math.floor(to)}ms`}`;
    const groupBy = GROUP_BY_TAGS.map(quoteIdentifier).join(',');
    return (
      `SELECT ${fields} FROM ${rp}${quoteIdentifier(SAMPLE_MEASUREMENT)} WHERE ${time} ` +
      `GROUP BY ${groupBy} ORDER BY time ASC LIMIT ${limit} SLIMIT ${this.options.querySeries} SOFFSET ${offset}`
    );
  }
}
