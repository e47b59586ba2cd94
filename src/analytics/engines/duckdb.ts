import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../../config/schema.ts';
import { GpumonError } from '../../errors.ts';
import { archiveColumnSql } from '../../sinks/archive/archive-reader.ts';
import { PARQUET_COLUMNS } from '../../sinks/archive/parquet-writer.ts';
import type { Query } from '../analyses.ts';
import { DUCKDB_DIALECT } from '../dialect.ts';
import type { Engine, EngineInput, EngineSession, InputFile, JsonRow } from '../engine.ts';
import { abortError, corruptFileError, firstLine } from '../engine-errors.ts';

export interface DuckDbEngineOptions {
  /** DuckDB memory limit (e.g. '2GB'); beyond it, DuckDB spills to the session's scratch directory. */
  readonly memoryLimit: string;
  /** Worker threads; 0 = one per core. */
  readonly threads: number;
}

/**
 * The analytics engine in-process: one in-memory DuckDB database per session, reading the day's Parquet
 * files where they lie. Relations are temporary tables; only the columns a query uses are read.
 */
export class DuckDbEngine implements Engine {
  readonly name = 'duckdb';
  readonly dialect = DUCKDB_DIALECT;

  constructor(private readonly options: DuckDbEngineOptions) {}

  static fromConfig(config: Config): DuckDbEngine {
    return new DuckDbEngine({ memoryLimit: config.analytics.memoryLimit, threads: config.analytics.threads });
  }

  async open(input: EngineInput): Promise<EngineSession> {
    if (input.files.length === 0) {
      throw new GpumonError('ANALYTICS_NO_DATA', 'the engine was opened with no input files');
    }
    const settings: Record<string, string> = {
      memory_limit: this.options.memoryLimit,
      temp_directory: join(input.scratchDir, 'duckdb-spill'),
    };
    if (this.options.threads > 0) settings.threads = String(this.options.threads);
    const instance = await DuckDBInstance.create(':memory:', settings);
    const session = new DuckDbSession(instance, await instance.connect(), input);
    try {
      await session.start();
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }
}

class DuckDbSession implements EngineSession {
  private readonly onAbort = () => this.connection.interrupt();
  private ordered = true;

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly input: EngineInput,
  ) {
    input.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Session settings, and `samples`: every catalog column, cast to its type, NULL where no file has it. */
  async start(): Promise<void> {
    await this.exec("SET TimeZone = 'UTC'", 'session settings');
    const source = `read_parquet([${this.input.files.map((f) => sqlString(f.location)).join(', ')}], hive_partitioning = false, union_by_name = true)`;
    const described = await this.query(
      `DESCRIBE SELECT * FROM ${source}`,
      'reading the Parquet schema',
      true,
    );
    const stored = new Map(described.map((row) => [String(row.column_name), String(row.column_type)]));
    const columns = PARQUET_COLUMNS.map((c) => archiveColumnSql(c, stored.get(c.name)));
    const range = this.input.timeRange;
    // On the stored column, so that DuckDB skips the row groups outside the range by their statistics.
    const where = range
      ? ` WHERE ts >= make_timestamp(${range.fromMs * 1000}) AND ts < make_timestamp(${range.toMs * 1000})`
      : '';
    await this.exec(
      `CREATE TEMP VIEW samples AS SELECT ${columns.join(', ')} FROM ${source}${where}`,
      'samples',
    );
    for (const table of this.input.tables ?? []) {
      const files = table.files.map((f) => sqlString(f.location)).join(', ');
      await this.exec(
        `CREATE TEMP VIEW ${ident(table.name)} AS SELECT * FROM read_parquet([${files}], hive_partitioning = false)`,
        `reading ${table.name}`,
      );
    }
  }

  async materialize(query: Query): Promise<number> {
    // Keeping the order of rows costs memory and time in the big window pass; only results need it.
    if (query.ordered !== this.ordered) {
      await this.exec(`SET preserve_insertion_order = ${query.ordered}`, 'session settings');
      this.ordered = query.ordered;
    }
    const sql = query.sql.trim().replace(/;\s*$/, '');
    await this.exec(`CREATE OR REPLACE TEMP TABLE ${ident(query.name)} AS ${sql}`, query.source, true);
    const [row] = await this.query(`SELECT count(*) AS n FROM ${ident(query.name)}`, query.source);
    return Number(row?.n ?? 0);
  }

  async rows(name: string): Promise<JsonRow[]> {
    return this.query(`SELECT * FROM ${ident(name)}`, `reading ${name}`);
  }

  async writeParquet(name: string, localFile: string): Promise<void> {
    await this.exec(
      `COPY (SELECT * FROM ${ident(name)}) TO ${sqlString(localFile)} (FORMAT parquet, COMPRESSION zstd)`,
      `writing ${name} to ${localFile}`,
    );
  }

  async close(): Promise<void> {
    this.input.signal?.removeEventListener('abort', this.onAbort);
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async exec(sql: string, what: string, readsArchive = false): Promise<void> {
    this.checkAborted();
    try {
      await this.connection.run(sql);
    } catch (err) {
      throw await this.failure(err, what, readsArchive);
    }
  }

  private async query(sql: string, what: string, readsArchive = false): Promise<JsonRow[]> {
    this.checkAborted();
    try {
      const reader = await this.connection.runAndReadAll(sql);
      return reader.getRowObjectsJS().map(toJsonRow);
    } catch (err) {
      throw await this.failure(err, what, readsArchive);
    }
  }

  private checkAborted(): void {
    const signal = this.input.signal;
    if (signal?.aborted) throw abortError(signal);
  }

  /**
   * The GpumonError for a failed statement. DuckDB names the file for a bad footer, not for a bad page
   * inside a multi-file scan: then each input file is read alone to find the one at fault.
   */
  private async failure(err: unknown, what: string, readsArchive: boolean): Promise<GpumonError> {
    const signal = this.input.signal;
    if (signal?.aborted) return abortError(signal);
    const message = err instanceof Error ? err.message : String(err);
    const named = this.input.files.find((f) => message.includes(f.location));
    if (named) return corruptFileError(named, message, err);
    if (readsArchive && !/^(Parser|Binder|Catalog|Out of Memory|INTERRUPT) Error/i.test(message)) {
      const bad = await this.findUnreadableFile();
      if (bad) return corruptFileError(bad.file, bad.message, err);
    }
    return new GpumonError('ANALYTICS_QUERY_FAILED', `${what} failed: ${firstLine(message)}`, { cause: err });
  }

  private async findUnreadableFile(): Promise<{ file: InputFile; message: string } | undefined> {
    for (const file of this.input.files) {
      if (this.input.signal?.aborted) return undefined;
      try {
        await this.connection.run(`SELECT count(COLUMNS(*)) FROM read_parquet(${sqlString(file.location)})`);
      } catch (err) {
        return { file, message: err instanceof Error ? err.message : String(err) };
      }
    }
    return undefined;
  }
}

/** A JS value from DuckDB as JSON: BIGINT as number, TIMESTAMP as epoch ms, NaN and infinities as null. */
export function toJsonRow(row: Record<string, unknown>): JsonRow {
  const out: JsonRow = {};
  for (const [key, value] of Object.entries(row)) {
    if (value === null || value === undefined) out[key] = null;
    else if (typeof value === 'bigint') out[key] = Number(value);
    else if (typeof value === 'number') out[key] = Number.isFinite(value) ? value : null;
    else if (value instanceof Date) out[key] = value.getTime();
    else if (typeof value === 'string' || typeof value === 'boolean') out[key] = value;
    else out[key] = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
  }
  return out;
}

export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
