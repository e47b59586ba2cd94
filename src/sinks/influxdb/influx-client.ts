/**
 * The HTTP side of InfluxDB: line protocol to `/write`, InfluxQL to `/query`, with Node's fetch and zlib.
 * Speaks the 1.x API, which 2.x and 3.x also serve (their v1-compatible endpoints, with a token). No retry
 * and no buffering here: a failure the pipeline should retry rejects; see `writeLines` for what does not.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Config } from '../../config/schema.ts';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { PRECISION } from '../../metrics/line-protocol.ts';

const gzip = promisify(gzipCallback);

/**
 * zlib level of the request bodies. Line protocol compresses about 7:1 even at level 1, which costs the
 * consumer half the CPU of the default 6 (about 2 against 4 µs a sample) for a body a fifth larger
 * (bench/pipeline).
 */
export const GZIP_LEVEL = 1;

export type InfluxDbOptions = Config['influxdb'];

/** Requests of one `writeLines` sent at a time. */
export const IN_FLIGHT = 2;

/**
 * One line of line protocol, without its newline: text, or bytes already encoded (UTF-8) by the decoder
 * (src/metrics/line-protocol.ts `ENCODED_LINE`).
 */
export type Line = string | Uint8Array;

/** What `writeLines` did; the sinks add these up for their stats. */
export interface WriteResult {
  /** Lines InfluxDB accepted (all of them, less those a partial write names as dropped). */
  written: number;
  /** HTTP requests sent (a created database's retry included). */
  requests: number;
  /** Lines InfluxDB refused for good (a 400: field type conflict, parse error, partial write). */
  rejected: number;
}

/** A 400 that InfluxDB will answer again to the same lines: retrying cannot help, it would only stall. */
const PERMANENT = [
  'partial write',
  'field type conflict',
  'unable to parse',
  'points beyond retention policy',
  'max-values-per-tag limit exceeded',
  'max-series-per-database limit exceeded',
];

/**
 * Whether write requests to `url` are gzip-compressed under `influxdb.compression`: `auto` compresses unless
 * the host is this machine (localhost, 127.0.0.0/8, ::1), where compressing only costs CPU. Measured on 2 cores
 * with InfluxDB on a core of its own (bench/pipeline --pin): gzip at level 1 held `gpumon consume` to 23,400
 * samples/s, plain bodies reached 31,500, because each write waits for its bodies before its requests leave.
 */
export function compressesWrites(url: string, compression: InfluxDbOptions['compression']): boolean {
  if (compression !== 'auto') return compression === 'gzip';
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return true;
  }
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return !loopback;
}

/**
 * A client of one InfluxDB database. `writeLines` sends at most `batchLines` lines per request, gzip
 * compressed (see `compressesWrites`), with basic auth (username/password) or `Authorization: Token ...`.
 */
export class InfluxClient {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly gzipped: boolean;
  /** Set once CREATE DATABASE succeeded (or was not ours to do); reset when a write finds it missing. */
  private databaseChecked = false;

  constructor(
    private readonly options: InfluxDbOptions,
    private readonly logger?: Logger,
  ) {
    this.base = options.url.replace(/\/+$/, '');
    this.gzipped = compressesWrites(options.url, options.compression);
    this.headers = {};
    if (options.token) this.headers.authorization = `Token ${options.token}`;
    else if (options.username) {
      const basic = Buffer.from(`${options.username}:${options.password}`).toString('base64');
      this.headers.authorization = `Basic ${basic}`;
    }
  }

  /** The write endpoint, without credentials: for messages. */
  get writeUrl(): string {
    const query = new URLSearchParams({ db: this.options.database, precision: PRECISION });
    if (this.options.retentionPolicy) query.set('rp', this.options.retentionPolicy);
    return `${this.base}/write?${query}`;
  }

  /**
   * Writes the lines, `batchLines` per request, IN_FLIGHT requests at a time; resolves when InfluxDB holds
   * every one it accepts.
   *
   * - 2xx: written.
   * - 400 that InfluxDB would answer again (field type conflict, parse error, "partial write", points beyond
   *   the retention policy, a limit reached): the points it could take are written (1.x writes the good points
   *   of a partial write), the others never will be. Retrying would stall the pipeline forever on one bad
   *   point, so the request counts as done: `onRejected` gets a GpumonError naming the status and InfluxDB's
   *   text, and `rejected` counts the lines (`dropped=N` of a partial write, else the request's lines).
   * - 404 "database not found" with no token: CREATE DATABASE, then the request again, once.
   * - any other status (401, 403, 404, 413, 429, 5xx, a 400 such as "retention policy not found" that an
   *   operator can fix), a timeout, a refused connection: rejects with SINK_WRITE_FAILED; the pipeline
   *   retries the whole batch (requests already written are written again, which InfluxDB overwrites).
   */
  async writeLines(lines: readonly Line[], onRejected?: (err: GpumonError) => void): Promise<WriteResult> {
    const result: WriteResult = { written: 0, requests: 0, rejected: 0 };
    if (lines.length === 0) return result;
    if (!this.databaseChecked) await this.ensureDatabase();
    // Requests of even size, `batchLines` at most (10,001 lines: two of 5,001 and 5,000, not a third of one
    // line), and at least twice IN_FLIGHT of them when there are 1,000 lines each to make (below).
    const n = lines.length;
    const fewest = Math.ceil(n / this.options.batchLines);
    const count = Math.max(fewest, Math.min(2 * IN_FLIGHT, Math.floor(n / 1000)));
    const size = Math.ceil(n / count);
    const chunks: (readonly Line[])[] = [];
    for (let start = 0; start < n; start += size) chunks.push(lines.slice(start, start + size));
    // Every body is compressed at once (zlib's thread pool), so that while IN_FLIGHT requests are in flight
    // the next ones are ready: InfluxDB does not wait for gzip between two requests. (It still waits for the
    // first: on a machine short of CPU that wait is most of a write, hence `compressesWrites`.)
    const bodies = chunks.map((chunk) => {
      const body = bodyOf(chunk);
      if (this.gzipped) return gzip(body, { level: GZIP_LEVEL });
      return Promise.resolve(typeof body === 'string' ? Buffer.from(body) : body);
    });
    // Each is awaited below, except those after a request that failed: never an unhandled rejection.
    for (const body of bodies) body.catch(() => undefined);
    // Several requests in flight: InfluxDB parses and indexes each on a core of its own, so it ingests
    // markedly faster than with one (bench/pipeline); the points carry their own timestamps, so the order of
    // requests does not matter.
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const i = next++;
        await this.writeChunk(
          chunks[i] as readonly Line[],
          await (bodies[i] as Promise<Buffer>),
          result,
          onRejected,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, chunks.length) }, worker));
    return result;
  }

  private async writeChunk(
    chunk: readonly Line[],
    body: Buffer,
    result: WriteResult,
    onRejected: ((err: GpumonError) => void) | undefined,
  ): Promise<void> {
    let res = await this.post(body, chunk.length);
    result.requests++;
    if (res.status === 404 && !this.options.token && /database not found/i.test(res.text)) {
      this.databaseChecked = false;
      await this.ensureDatabase();
      res = await this.post(body, chunk.length);
      result.requests++;
    }
    if (res.status >= 200 && res.status < 300) {
      result.written += chunk.length;
      return;
    }
    const error = this.describe(res, chunk.length);
    if (res.status === 400 && PERMANENT.some((p) => res.text.toLowerCase().includes(p))) {
      // 1.x counts type conflicts in `dropped=N` but not unparseable lines, which it names one by one.
      const partial = /partial write/i.test(res.text);
      const dropped = Number(/dropped=(\d+)/.exec(res.text)?.[1] ?? 0);
      const unparsed = res.text.match(/unable to parse/gi)?.length ?? 0;
      const rejected = partial ? Math.min(chunk.length, dropped + unparsed) : chunk.length;
      result.rejected += rejected;
      result.written += chunk.length - rejected;
      (onRejected ?? ((e) => this.logger?.error({ err: e }, 'InfluxDB refused points for good')))(error);
      return;
    }
    throw error;
  }

  /**
   * CREATE DATABASE (InfluxDB 1.x; does nothing if it exists). Skipped with a token: on 2.x/3.x the bucket
   * and its DBRP mapping are made by an operator. A user without the admin right cannot create databases:
   * that is logged and the write goes on (the database may exist; if not, the write fails and says so).
   */
  async ensureDatabase(): Promise<void> {
    if (this.options.token) {
      this.databaseChecked = true;
      return;
    }
    try {
      await this.query(`CREATE DATABASE ${quoteIdentifier(this.options.database)}`);
    } catch (err) {
      const status = (err as { status?: number }).status;
      const forbidden =
        status === 401 || status === 403 || /authoriz|privilege/i.test((err as Error).message);
      if (!forbidden) throw err;
      this.logger?.warn({ err, database: this.options.database }, 'cannot create the InfluxDB database');
    }
    this.databaseChecked = true;
  }

  /** Runs InfluxQL (POST /query); rejects with SINK_WRITE_FAILED on any error, a statement's included. */
  async query(q: string): Promise<unknown[]> {
    const form = new URLSearchParams({ q, db: this.options.database, epoch: PRECISION });
    const res = await this.send(`${this.base}/query`, form, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    let statementError: string | undefined;
    let results: { error?: string }[] = [];
    if (res.status >= 200 && res.status < 300) {
      results = res.text ? ((JSON.parse(res.text) as { results?: { error?: string }[] }).results ?? []) : [];
      statementError = results.find((r) => r.error)?.error;
    }
    if (res.status < 200 || res.status >= 300 || statementError) {
      const err = new GpumonError(
        'SINK_WRITE_FAILED',
        `InfluxDB ${this.base}/query ${JSON.stringify(q)}: ${res.status} ${statementError ?? influxText(res.text)}`,
      );
      throw Object.assign(err, { status: res.status });
    }
    return results;
  }

  private post(body: Buffer, lines: number): Promise<{ status: number; text: string }> {
    return this.send(this.writeUrl, body, {
      'content-type': 'text/plain; charset=utf-8',
      ...(this.gzipped ? { 'content-encoding': 'gzip' } : {}),
    }).catch((err: unknown) => {
      throw new GpumonError(
        'SINK_WRITE_FAILED',
        `InfluxDB write of ${lines} lines to ${this.writeUrl} failed: ${(err as Error).message}`,
        { cause: err },
      );
    });
  }

  private async send(
    url: string,
    body: Buffer | URLSearchParams,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string }> {
    const timeoutMs = this.options.timeoutMs;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...this.headers, ...headers },
        body: body as BodyInit,
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new GpumonError('SINK_WRITE_FAILED', `no answer within ${timeoutMs} ms (influxdb.timeoutMs)`, {
          cause: err,
        });
      }
      const cause = (err as Error).cause as { code?: string; message?: string } | undefined;
      throw new GpumonError(
        'SINK_WRITE_FAILED',
        `cannot reach InfluxDB at ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        { cause: err },
      );
    }
  }

  private describe(res: { status: number; text: string }, lines: number): GpumonError {
    let hint = '';
    if (res.status === 401 || res.status === 403)
      hint = ' (check influxdb.username/password or influxdb.token)';
    else if (res.status === 404) hint = ' (on InfluxDB 2.x/3.x: map the database to a bucket, DBRP)';
    else if (res.status === 413) hint = ' (lower influxdb.batchLines)';
    return new GpumonError(
      'SINK_WRITE_FAILED',
      `InfluxDB refused a write of ${lines} lines to ${this.writeUrl}: ${res.status} ${influxText(res.text)}${hint}`,
    );
  }
}

/** The lines of one request, each followed by a newline. */
export function bodyOf(lines: readonly Line[]): string | Buffer {
  let bytes = 0;
  let text = 0;
  for (const line of lines) {
    if (typeof line === 'string') text += line.length;
    else bytes += line.length;
  }
  if (bytes === 0) return `${(lines as string[]).join('\n')}\n`;
  // Room for every line and its newline (a UTF-16 unit is at most 3 bytes of UTF-8); the text is written
  // straight into it.
  const body = Buffer.allocUnsafe(bytes + 3 * text + lines.length);
  let at = 0;
  for (const line of lines) {
    if (typeof line === 'string') at += body.write(line, at);
    else {
      body.set(line, at);
      at += line.length;
    }
    body[at++] = 0x0a;
  }
  return body.subarray(0, at);
}

/** InfluxDB's error text: the `error` of its JSON answer, else the body as it came. */
function influxText(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: string; message?: string };
    return parsed.error ?? parsed.message ?? text.trim();
  } catch {
    return text.trim();
  }
}

/** An InfluxQL identifier in double quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/["\\]/g, '\\$&')}"`;
}
