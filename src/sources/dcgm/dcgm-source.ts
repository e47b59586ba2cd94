import { hostname } from 'node:os';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { HealthTracker } from '../health.ts';
import type { GpuDevice, Source, SourceHealth } from '../source.ts';
import { parseDcgmMetrics } from './dcgm-parser.ts';

export interface DcgmSourceOptions {
  /** The dcgm-exporter metrics endpoint (config `source.dcgm.url`), e.g. `http://127.0.0.1:9400/metrics`. */
  url: string;
  /** Host name for series without a `Hostname` label; empty or absent: this machine's (config `source.host`). */
  host?: string;
  logger?: Logger;
  /** A scrape that takes longer is aborted and counted as `timeout` (default 5 s). */
  timeoutMs?: number;
}

export const DEFAULT_DCGM_TIMEOUT_MS = 5000;

/**
 * NVIDIA GPUs through a dcgm-exporter: each `read` scrapes its `/metrics` once. Failures are counted in
 * `health().errors` by kind (`timeout`, `fetch`, `http-status`, `no-samples`, `parse:<reason>`); DCGM fields
 * the catalog does not name are logged once each and listed by `unmappedFields()`.
 */
export class DcgmSource implements Source {
  readonly name = 'dcgm';
  private readonly tracker: HealthTracker;
  private readonly url: string;
  private readonly host: string;
  private readonly logger: Logger | undefined;
  private readonly timeoutMs: number;
  private busy = false;
  private lastDevices: GpuDevice[] = [];
  private readonly unmapped = new Set<string>();

  constructor(options: DcgmSourceOptions) {
    this.url = options.url;
    this.host = options.host || hostname();
    this.logger = options.logger;
    this.tracker = new HealthTracker('dcgm source', options.logger);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DCGM_TIMEOUT_MS;
  }

  /**
   * Probes the exporter once: throws SOURCE_UNAVAILABLE naming the URL when it does not answer, or answers
   * other than 200, so that a wrong `source.dcgm.url` stops the start instead of failing every read after it.
   */
  async open(): Promise<void> {
    const unavailable = (why: string, cause?: unknown) =>
      new GpumonError(
        'SOURCE_UNAVAILABLE',
        `dcgm source: ${this.url} ${why} (is dcgm-exporter running there? set source.dcgm.url)`,
        { cause },
      );
    let response: Response;
    try {
      response = await fetch(this.url, {
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { accept: 'text/plain' },
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw unavailable(timedOut ? `did not answer within ${this.timeoutMs} ms` : 'cannot be reached', err);
    }
    await response.body?.cancel();
    if (!response.ok) throw unavailable(`answered HTTP ${response.status} ${response.statusText}`);
  }

  async read(now: number): Promise<GpuSample[]> {
    if (this.busy)
      throw this.tracker.fail('overlap', 'the previous scrape has not finished; not starting another');
    this.busy = true;
    const started = performance.now();
    let text: string;
    try {
      text = await this.scrape();
    } finally {
      this.busy = false;
      this.tracker.lastReadDurationMs = performance.now() - started;
    }

    const parsed = parseDcgmMetrics(text, { now, host: this.host });
    for (const issue of parsed.errors) {
      this.tracker.count(`parse:${issue.reason}`);
      this.tracker.warnOnce(`${issue.reason}`, { issue }, 'dcgm-exporter scrape: part of it was not used');
    }
    for (const { field } of parsed.unmapped) {
      if (this.unmapped.has(field)) continue;
      this.unmapped.add(field);
      this.logger?.info({ field }, 'dcgm-exporter exports a field gpumon has no metric for; it is ignored');
    }
    if (parsed.samples.length === 0) {
      throw this.tracker.fail(
        'no-samples',
        `${this.url} gave no GPU sample (${parsed.errors.length} lines not used)`,
      );
    }
    this.lastDevices = parsed.devices;
    this.tracker.succeeded(now);
    return parsed.samples;
  }

  health(): SourceHealth {
    return {
      source: this.name,
      ...this.tracker.readings(),
      notice: this.tracker.notice,
    };
  }

  devices(): GpuDevice[] {
    return this.lastDevices.map((d) => ({ ...d }));
  }

  /** DCGM fields seen in scrapes that map to no catalog metric, in the order first seen. */
  unmappedFields(): string[] {
    return [...this.unmapped];
  }

  async close(): Promise<void> {}

  private async scrape(): Promise<string> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { accept: 'text/plain' },
      });
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') {
        throw this.tracker.fail('timeout', `${this.url} did not answer within ${this.timeoutMs} ms`, err);
      }
      throw this.tracker.fail(
        'fetch',
        `cannot reach ${this.url} (is dcgm-exporter running? set source.dcgm.url)`,
        err,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw this.tracker.fail(
        'http-status',
        `${this.url} answered HTTP ${response.status} ${response.statusText}`,
      );
    }
    try {
      return await response.text();
    } catch (err) {
      const kind = (err as Error).name === 'TimeoutError' ? 'timeout' : 'fetch';
      throw this.tracker.fail(kind, `reading the answer of ${this.url} failed`, err);
    }
  }
}

/** Whether a dcgm-exporter answers at `url` with DCGM fields (a short scrape). For `source.type: auto`. */
export async function dcgmAvailable(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      return false;
    }
    return /^DCGM_FI_\w+\{/m.test(await response.text());
  } catch {
    return false;
  }
}
