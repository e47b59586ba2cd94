import type { Config } from '../../../config/schema.ts';
import { describeError, GpumonError } from '../../../errors.ts';
import { type Logger, silentLogger } from '../../../log.ts';
import { schemaTagOf } from '../../../sinks/archive/layout.ts';
import { PARQUET_COLUMNS } from '../../../sinks/archive/parquet-writer.ts';
import type { Query } from '../../analyses.ts';
import { SPARK_DIALECT } from '../../dialect.ts';
import type { Engine, EngineInput, EngineSession, InputFile, JsonRow } from '../../engine.ts';
import { abortError, corruptFileError, firstLine } from '../../engine-errors.ts';
import { arrowToJsonRows, ParquetResultWriter } from './arrow.ts';
import { type ExecuteResult, type Plan, SparkCallError, SparkConnectSession } from './client.ts';
import { parseSparkRemote, type SparkRemote } from './remote.ts';

/**
 * Session settings of every analytics session. UTC: `hour(ts)` and the timestamps are UTC, as in DuckDB.
 * ANSI mode off: the portable SQL relies on NULL, not an error, for an undefined result (as DuckDB does).
 */
export const SPARK_SESSION_CONFIG: Readonly<Record<string, string>> = {
  'spark.sql.session.timeZone': 'UTC',
  'spark.sql.ansi.enabled': 'false',
  // Archive files of format 1 hold `ts` without a time zone (UTC by convention), those of format 2 as
  // UTC-adjusted: both read as TIMESTAMP (the same microseconds since the epoch), so one read merges them.
  'spark.sql.parquet.inferTimestampNTZ.enabled': 'false',
};

/** The Spark SQL type of each archive column (src/sinks/archive/parquet-writer.ts names DuckDB's). */
const SPARK_TYPES: Record<string, string> = {
  TIMESTAMP: 'TIMESTAMP',
  INTEGER: 'INT',
  BIGINT: 'BIGINT',
  DOUBLE: 'DOUBLE',
  VARCHAR: 'STRING',
};

export interface SparkEngineOptions {
  /** The Spark Connect server, `sc://host:port`. */
  readonly remote: string;
  /** How long the first call may take to reach the server, ms. */
  readonly connectTimeoutMs?: number;
}

/**
 * The analytics on Apache Spark 4, over Spark Connect (gRPC): one Spark session per day, the day's Parquet
 * files read by Spark where they lie (local paths for a local archive, hdfs:// or webhdfs:// URIs for HDFS,
 * `readsUris`), each query's result cached on the server under its name, results collected as Arrow.
 * The results are small (rows per GPU and hour, one per spike), so they are written to Parquet here, with
 * DuckDB, in the same types as the DuckDB engine's.
 */
export class SparkEngine implements Engine {
  readonly name = 'spark';
  readonly dialect = SPARK_DIALECT;
  /** Spark reads archive URIs (hdfs://, webhdfs://) itself: the job need not copy HDFS files here. */
  readonly readsUris = true;
  readonly remote: SparkRemote;

  constructor(private readonly options: SparkEngineOptions) {
    this.remote = parseSparkRemote(options.remote);
  }

  static fromConfig(config: Config): SparkEngine {
    return new SparkEngine({ remote: config.analytics.sparkRemote });
  }

  async open(input: EngineInput): Promise<EngineSession> {
    if (input.files.length === 0) {
      throw new GpumonError('ANALYTICS_NO_DATA', 'the engine was opened with no input files');
    }
    const session = new SparkSession(new SparkConnectSession(this.remote), input);
    try {
      await session.start(this.options.connectTimeoutMs ?? 30_000);
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }
}

class SparkSession implements EngineSession {
  private readonly logger: Logger;
  private readonly results = new Map<string, ExecuteResult>();
  /** One DuckDB, opened on the first result written, for the session's Parquet files. */
  private readonly parquet = new ParquetResultWriter();

  constructor(
    private readonly spark: SparkConnectSession,
    private readonly input: EngineInput,
  ) {
    this.logger = (input.logger ?? silentLogger()).child({ engine: 'spark', session: spark.sessionId });
  }

  /** Session settings, and `samples`: every catalog column, cast to its type, NULL where no file has it. */
  async start(connectTimeoutMs: number): Promise<void> {
    this.checkAborted();
    try {
      await this.spark.setConfig({ ...SPARK_SESSION_CONFIG }, connectTimeoutMs);
    } catch (err) {
      throw await this.failure(err, 'session settings');
    }
    this.logger.debug(
      { remote: this.spark.remote.address, files: this.input.files.map((f) => f.location) },
      'Spark Connect session opened; Spark reads the files where they lie',
    );
    // Files of one schema tag share a schema (layout.ts): Spark merges files whose columns differ only by
    // presence, not a DECIMAL with a DOUBLE, so each tag is read alone, cast to the catalog's types, and unioned.
    const groups = new Map<string, string[]>();
    for (const file of this.input.files) {
      const tag = schemaTagOf(file.location) ?? '';
      groups.set(tag, [...(groups.get(tag) ?? []), file.location]);
    }
    const selects: string[] = [];
    for (const [i, paths] of [...groups.values()].entries()) {
      const view = `samples_files_${i}`;
      await this.command(
        {
          create_dataframe_view: {
            input: {
              read: {
                data_source: {
                  format: 'parquet',
                  // Files of an older catalog lack columns: the union of the files' columns.
                  options: { mergeSchema: 'true' },
                  paths,
                },
              },
            },
            name: view,
            is_global: false,
            replace: true,
          },
        },
        'reading the Parquet files',
        true,
      );
      const described = await this.query(`DESCRIBE ${view}`, 'reading the Parquet schema', true);
      const present = new Set(described.map((row) => String(row.col_name)));
      const columns = PARQUET_COLUMNS.map((c) => {
        const type = SPARK_TYPES[c.sqlType] ?? c.sqlType;
        return present.has(c.name)
          ? `CAST(${ident(c.name)} AS ${type}) AS ${ident(c.name)}`
          : `CAST(NULL AS ${type}) AS ${ident(c.name)}`;
      });
      selects.push(`SELECT ${columns.join(', ')} FROM ${view}`);
    }
    const range = this.input.timeRange;
    const all = selects.join(' UNION ALL ');
    const samples = range
      ? `SELECT * FROM (${all}) WHERE ts >= timestamp_micros(${range.fromMs * 1000}) AND ts < timestamp_micros(${range.toMs * 1000})`
      : all;
    await this.sql(`CREATE OR REPLACE TEMPORARY VIEW samples AS ${samples}`, 'samples');
    for (const table of this.input.tables ?? []) {
      await this.command(
        {
          create_dataframe_view: {
            input: {
              read: {
                data_source: { format: 'parquet', options: {}, paths: table.files.map((f) => f.location) },
              },
            },
            name: table.name,
            is_global: false,
            replace: true,
          },
        },
        `reading ${table.name}`,
      );
    }
  }

  async materialize(query: Query): Promise<number> {
    const sql = query.sql.trim().replace(/;\s*$/, '');
    return this.checkpoint(query, sql);
  }

  /** Runs `sql` and keeps its rows on the server under `query.name`; returns how many. */
  private async checkpoint(query: Query, sql: string): Promise<number> {
    // An eager local checkpoint (DataFrame.localCheckpoint): the query runs now and its rows, in their
    // order, stay on the server (memory, else disk) for the next queries. CACHE TABLE would not do: Spark
    // finds a cached relation by matching plans, and the plans of these queries (GROUPING SETS, windows
    // over views) do not match, so each later query recomputed every relation before it.
    const { checkpointId } = await this.command(
      {
        checkpoint_command: {
          relation: { sql: { query: sql } },
          local: true,
          eager: true,
          storage_level: {
            use_disk: true,
            use_memory: true,
            use_off_heap: false,
            deserialized: false,
            replication: 1,
          },
        },
      },
      query.source,
      true,
      query.name,
    );
    if (!checkpointId) {
      throw new GpumonError(
        'ANALYTICS_QUERY_FAILED',
        `${query.source}: Spark kept no result (no checkpoint id)`,
      );
    }
    await this.command(
      {
        create_dataframe_view: {
          input: { cached_remote_relation: { relation_id: checkpointId } },
          name: query.name,
          is_global: false,
          replace: true,
        },
      },
      query.source,
    );
    const [row] = await this.query(`SELECT count(*) AS n FROM ${ident(query.name)}`, query.source);
    return Number(row?.n ?? 0);
  }

  async rows(name: string): Promise<JsonRow[]> {
    const { table } = await this.collect(name);
    const started = performance.now();
    const rows = arrowToJsonRows(table);
    this.logger.debug({ relation: name, ms: performance.now() - started }, 'Spark result converted to rows');
    return rows;
  }

  async writeParquet(name: string, localFile: string): Promise<void> {
    const { table } = await this.collect(name);
    if (!table) {
      throw new GpumonError('ANALYTICS_QUERY_FAILED', `writing ${name}: Spark returned no schema for it`);
    }
    const started = performance.now();
    try {
      await this.parquet.write(table, localFile);
    } catch (err) {
      throw new GpumonError('ANALYTICS_QUERY_FAILED', `writing ${name} to ${localFile} failed`, {
        cause: err,
      });
    }
    this.logger.debug({ relation: name, ms: performance.now() - started }, 'Spark result written to Parquet');
  }

  async close(): Promise<void> {
    this.results.clear();
    await this.parquet.close();
    try {
      await this.spark.close();
    } catch (err) {
      this.logger.debug({ err: describeError(err) }, 'releasing the Spark Connect session failed');
    }
  }

  /** The result of a relation, collected once (rows and writeParquet both read it). */
  private async collect(name: string): Promise<ExecuteResult> {
    let result = this.results.get(name);
    if (!result) {
      result = await this.execute(
        { root: { sql: { query: `SELECT * FROM ${ident(name)}` } } },
        `reading ${name}`,
      );
      this.results.set(name, result);
    }
    return result;
  }

  private sql(sql: string, what: string, readsArchive = false, analysis?: string): Promise<ExecuteResult> {
    return this.command({ sql_command: { input: { sql: { query: sql } } } }, what, readsArchive, analysis);
  }

  private command(
    command: Extract<Plan, { command: unknown }>['command'],
    what: string,
    readsArchive = false,
    analysis?: string,
  ): Promise<ExecuteResult> {
    return this.execute({ command }, what, readsArchive, analysis);
  }

  private async query(sql: string, what: string, readsArchive = false): Promise<JsonRow[]> {
    return arrowToJsonRows((await this.execute({ root: { sql: { query: sql } } }, what, readsArchive)).table);
  }

  private async execute(
    plan: Plan,
    what: string,
    readsArchive = false,
    analysis?: string,
  ): Promise<ExecuteResult> {
    this.checkAborted();
    const started = Date.now();
    let result: ExecuteResult;
    try {
      result = await this.spark.execute(plan, {
        signal: this.input.signal,
        onProgress: (p) =>
          this.logger.debug(
            { analysis: analysis ?? what, ...p, ms: Date.now() - started },
            `Spark: ${analysis ?? what}: ${p.stagesDone}/${p.stages} stages, ${p.tasksDone}/${p.tasks} tasks`,
          ),
      });
    } catch (err) {
      throw await this.failure(err, what, readsArchive);
    }
    // One line per call, for bench/engines: its wall time (round trip, the server's work, the Arrow stream,
    // decoding) and what came back.
    this.logger.debug(
      {
        call: 'root' in plan ? 'query' : Object.keys(plan.command)[0],
        analysis: analysis ?? what,
        ms: Date.now() - started,
        rows: result.rowCount,
        arrowBytes: result.arrowBytes,
        decodeMs: Math.round(result.decodeMs * 100) / 100,
      },
      'Spark call done',
    );
    return result;
  }

  private checkAborted(): void {
    const signal = this.input.signal;
    if (signal?.aborted) throw abortError(signal);
  }

  /** The GpumonError for a failed call: the deadline, an unreachable server, a file at fault, or the query. */
  private async failure(err: unknown, what: string, readsArchive = false): Promise<GpumonError> {
    const signal = this.input.signal;
    if (signal?.aborted) return abortError(signal);
    if (err instanceof GpumonError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof SparkCallError && err.unreachable) {
      return new GpumonError(
        'ANALYTICS_ENGINE_UNAVAILABLE',
        `the Spark Connect server at ${this.spark.remote.address} cannot be reached (${what}): ${firstLine(message)}`,
        { cause: err },
      );
    }
    if (readsArchive) {
      // The message of a failed call is cut short; the file at fault is named in a cause, if anywhere.
      const causes =
        err instanceof SparkCallError && err.errorId ? await this.spark.errorMessages(err.errorId) : [];
      for (const text of [message, ...causes.slice(1)]) {
        const named = namedFile(this.input.files, text);
        if (named) return corrupt(named, text, err);
      }
    }
    return new GpumonError('ANALYTICS_QUERY_FAILED', `${what} failed on Spark: ${firstLine(message)}`, {
      cause: err,
    });
  }
}

/** The input file a Spark error message names (Spark writes local paths as file: URIs), if any. */
export function namedFile(files: readonly InputFile[], message: string): InputFile | undefined {
  // The longest location first: part-1.parquet must not be found inside part-10.parquet's message.
  const byLength = [...files].sort((a, b) => b.location.length - a.location.length);
  return byLength.find((f) => message.includes(f.location));
}

function corrupt(file: InputFile, message: string, cause: unknown): GpumonError {
  // Spark spells a local path as file:/path or file:///path.
  const escaped = file.location.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return corruptFileError(file, message, cause, new RegExp(`(?:file:(?://)?)?${escaped}`, 'g'));
}

/** A Spark SQL identifier. */
export function ident(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}
