import { readFile } from 'node:fs/promises';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { GpumonError } from '../errors.ts';
import type { ArchiveStorage } from '../sinks/archive/storage.ts';
import { ANALYSES, type AnalysisName, hasGpuRows } from './analyses.ts';
import { RESULTS_DIR, resultsPath } from './daily-job.ts';
import type { JsonRow } from './engine.ts';
import { sqlString, toJsonRow } from './engines/duckdb.ts';

/**
 * Reading the daily results back (for the HTTP API, see ResultsApi in server/deps.ts): rows as plain JSON-safe
 * objects, 64-bit integers as numbers, timestamps as epoch milliseconds (UTC). A date or an analysis without
 * results is `null`; a malformed date is USAGE, naming it.
 */

/** The dates that have published results, oldest first (runs in progress are not listed). */
export async function listResultDates(storage: ArchiveStorage): Promise<string[]> {
  const dates: string[] = [];
  for (const entry of await storage.list(RESULTS_DIR)) {
    const match = /^date=(\d{4}-\d{2}-\d{2})$/.exec(entry);
    if (match?.[1]) dates.push(match[1]);
  }
  return dates.sort();
}

/** The contents of summary.json of a date, or null when the date has no results. */
export async function readSummary(storage: ArchiveStorage, date: string): Promise<JsonRow | null> {
  const path = `${resultsPath(checkDate(date))}/summary.json`;
  if (!(await storage.exists(path))) return null;
  let text: string;
  try {
    text = await readFile(await storage.localPath(path), 'utf8');
  } catch (err) {
    // Replaced by a re-run of the date between the two calls: as if absent.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new GpumonError('ARCHIVE_READ_FAILED', `cannot read ${storage.uri}/${path}`, { cause: err });
  }
  try {
    return JSON.parse(text) as JsonRow;
  } catch (cause) {
    throw new GpumonError('ARCHIVE_FILE_CORRUPT', `${storage.uri}/${path} is not valid JSON`, { cause });
  }
}

/** Which rows of a result to read: those of one GPU, from row `offset` on, and at most `limit` of them. */
export interface ResultFilter {
  uuid?: string;
  limit?: number;
  offset?: number;
}

export interface ResultReaderOptions {
  /** Reads that run at a time, each on its own connection of the one instance; more wait their turn. Default 4. */
  connections?: number;
  /** DuckDB's memory limit for the reader's one instance. Default 256MB. */
  memoryLimit?: string;
}

/** What a reader has opened so far, for tests and logs. */
export interface ResultReaderStats {
  /** DuckDB instances created: 0 before the first read, then 1 for the reader's whole life. */
  instances: number;
  /** Connections opened; never more than `connections`. */
  connections: number;
  /** Reads running now, and waiting for a connection. */
  running: number;
  waiting: number;
}

const DEFAULT_READER_CONNECTIONS = 4;
const DEFAULT_READER_MEMORY_LIMIT = '256MB';

/**
 * Reads the rows of the daily results for the HTTP server: one DuckDB instance for the reader's whole life
 * (opened on the first read), and a pool of at most `connections` connections, one per read running; further
 * reads wait for a free connection. A server opens one reader and closes it when it stops; the caller bounds
 * how many reads may wait (see server/read-limit.ts).
 *
 * Concurrency: `read` may be called any number of times at once; `close` waits for the reads running, fails
 * those still waiting, and makes later reads fail (ARCHIVE_READ_FAILED).
 */
export class ResultReader {
  private instance: Promise<DuckDBInstance> | null = null;
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiters: Array<{ resolve: (c: DuckDBConnection) => void; reject: (e: Error) => void }> =
    [];
  private readonly running = new Set<Promise<unknown>>();
  private readonly maxConnections: number;
  private readonly memoryLimit: string;
  private instances = 0;
  private connections = 0;
  private closed = false;

  constructor(
    private readonly storage: ArchiveStorage,
    options: ResultReaderOptions = {},
  ) {
    this.maxConnections = options.connections ?? DEFAULT_READER_CONNECTIONS;
    if (!Number.isSafeInteger(this.maxConnections) || this.maxConnections < 1) {
      throw new GpumonError('USAGE', `connections must be a whole number >= 1, got ${this.maxConnections}`);
    }
    this.memoryLimit = options.memoryLimit ?? DEFAULT_READER_MEMORY_LIMIT;
  }

  /**
   * The rows of one analysis of a date, in the order the analysis sorted them, or null when the date has no
   * results or there is no such analysis (temperature_spikes can hold many rows: filter by GPU, or limit).
   */
  async read(date: string, analysis: string, filter: ResultFilter = {}): Promise<JsonRow[] | null> {
    checkDate(date);
    if (!(ANALYSES as readonly string[]).includes(analysis)) return null;
    if (filter.uuid !== undefined && !hasGpuRows(analysis)) {
      throw new GpumonError('USAGE', `${analysis} has no rows of GPUs: it cannot be filtered by GPU`);
    }
    const where = filter.uuid === undefined ? '' : ` WHERE uuid = ${sqlString(filter.uuid)}`;
    const limit = filter.limit === undefined ? '' : ` LIMIT ${checkCount('limit', filter.limit)}`;
    const offset = filter.offset ? ` OFFSET ${checkCount('offset', filter.offset)}` : '';
    const path = `${resultsPath(date)}/${analysis as AnalysisName}.parquet`;
    this.checkOpen();
    const sql = (local: string) =>
      `SELECT * FROM read_parquet(${sqlString(local)}, hive_partitioning = false)${where}${limit}${offset}`;
    const read = this.query(path, sql);
    this.running.add(read);
    try {
      return await read;
    } finally {
      this.running.delete(read);
    }
  }

  /**
   * Runs `work` on a connection of the reader's pool (the server's reads of the samples archive share the one
   * instance with the results); it waits for a free connection like a read, and `close` waits for it.
   */
  async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    const run = (async () => {
      try {
        return await work(connection);
      } finally {
        this.release(connection);
      }
    })();
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  private async query(path: string, sql: (local: string) => string): Promise<JsonRow[] | null> {
    if (!(await this.storage.exists(path))) return null;
    const local = await this.storage.localPath(path);
    const connection = await this.acquire();
    try {
      const reader = await connection.runAndReadAll(sql(local));
      return reader.getRowObjectsJS().map(toJsonRow);
    } catch (cause) {
      if (!(await this.storage.exists(path))) return null; // replaced by a re-run meanwhile
      throw new GpumonError('ARCHIVE_FILE_CORRUPT', `cannot read ${this.storage.uri}/${path}`, { cause });
    } finally {
      this.release(connection);
    }
  }

  stats(): ResultReaderStats {
    return {
      instances: this.instances,
      connections: this.connections,
      running: this.connections - this.idle.length,
      waiting: this.waiters.length,
    };
  }

  /** Fails the reads waiting, waits for those running, then closes the connections and the instance. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(closedError());
    await Promise.allSettled([...this.running]);
    for (const c of this.idle.splice(0)) c.closeSync();
    const instance = await this.instance?.catch(() => null);
    instance?.closeSync();
  }

  private async acquire(): Promise<DuckDBConnection> {
    this.checkOpen();
    const free = this.idle.pop();
    if (free) return free;
    if (this.connections < this.maxConnections) {
      this.connections++;
      try {
        return await (await this.db()).connect();
      } catch (err) {
        this.connections--;
        throw err;
      }
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(connection: DuckDBConnection): void {
    const next = this.waiters.shift();
    if (next) next.resolve(connection);
    else if (this.closed) connection.closeSync();
    else this.idle.push(connection);
  }

  private db(): Promise<DuckDBInstance> {
    if (!this.instance) {
      this.instances++;
      this.instance = (async () => {
        const db = await DuckDBInstance.create(':memory:', {
          threads: '1',
          memory_limit: this.memoryLimit,
        });
        const setup = await db.connect();
        try {
          await setup.run("SET GLOBAL TimeZone = 'UTC'");
        } finally {
          setup.closeSync();
        }
        return db;
      })();
      // A failed start is tried again by the next read.
      this.instance.catch(() => {
        this.instance = null;
      });
    }
    return this.instance;
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }
}

function closedError(): GpumonError {
  return new GpumonError('ARCHIVE_READ_FAILED', 'the result reader is closed: the server is stopping');
}

/**
 * The rows of one analysis of a date, read by a reader of its own (one DuckDB instance, closed before it
 * returns): for one-off reads (tests, tools). A server keeps one `ResultReader` instead.
 */
export async function readResult(
  storage: ArchiveStorage,
  date: string,
  analysis: string,
  filter: ResultFilter = {},
): Promise<JsonRow[] | null> {
  const reader = new ResultReader(storage, { connections: 1 });
  try {
    return await reader.read(date, analysis, filter);
  } finally {
    await reader.close();
  }
}

function checkCount(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new GpumonError('USAGE', `${name} must be a whole number >= 0, got ${value}`);
  }
  return value;
}

function checkDate(date: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    throw new GpumonError('USAGE', `date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  }
  return date;
}
