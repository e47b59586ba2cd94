import type { Logger } from '../log.ts';
import type { Query } from './analyses.ts';
import type { Dialect } from './dialect.ts';

/**
 * An SQL engine that runs the analyses (DuckDB in-process, or Apache Spark 4 over Spark Connect). The engine
 * knows nothing of the analyses themselves: the daily job renders the portable SQL of src/analytics/queries
 * with the engine's `dialect` and hands it over one query at a time.
 *
 * Lifecycle: `open` one session per day of input; `materialize` the queries in order (each may read the
 * relations built before it); `rows` / `writeParquet` the results; `close` once, always (also after a
 * failure). A session runs one statement at a time: calls must not overlap.
 *
 * Errors are GpumonErrors: ARCHIVE_FILE_CORRUPT naming the input file at fault, ANALYTICS_DEADLINE_EXCEEDED
 * when `signal` aborts (the running statement is interrupted), ANALYTICS_QUERY_FAILED naming the query,
 * ANALYTICS_ENGINE_UNAVAILABLE naming the address of a remote engine that cannot be reached.
 */
export interface Engine {
  readonly name: string;
  readonly dialect: Dialect;
  /**
   * The engine reads archive URIs itself (hdfs://, webhdfs://): the job hands it the files of a remote archive
   * by URI instead of copying them to local disk first. Absent or false: local paths only.
   */
  readonly readsUris?: boolean;
  open(input: EngineInput): Promise<EngineSession>;
}

export interface EngineInput {
  /** The day's Parquet files in the archive layout (columns of SAMPLE_COLUMNS); at least one. */
  readonly files: readonly InputFile[];
  /**
   * Only the samples taken in [fromMs, toMs) are `samples` (an hourly run reads the files that may hold its
   * hour); absent: every sample of the files.
   */
  readonly timeRange?: { readonly fromMs: number; readonly toMs: number } | undefined;
  /**
   * Other Parquet files the queries read, each set as a relation named `name` with the columns as written
   * (the partials kept by hourly runs); at least one file per set.
   */
  readonly tables?: readonly { readonly name: string; readonly files: readonly InputFile[] }[] | undefined;
  /** A local directory the engine may use for spilling and scratch files; the caller removes it. */
  readonly scratchDir: string;
  readonly signal?: AbortSignal | undefined;
  /** Progress of the engine's work (e.g. a remote engine's stages) goes here at debug level. */
  readonly logger?: Logger | undefined;
}

export interface InputFile {
  /** Where the engine reads it: a local path or a URL it understands. */
  readonly location: string;
  /** How to name it to people (e.g. its archive URI), in error messages. */
  readonly name: string;
}

export interface EngineSession {
  /**
   * Runs `query` and keeps its result as the relation `query.name`, readable by the queries after it.
   * The day's samples are the relation `samples`, every catalog column present (NULL where a file lacks it).
   * Returns the number of rows.
   */
  materialize(query: Query): Promise<number>;
  /** The rows of a relation built by `materialize`, JSON-safe (see `JsonRow`). */
  rows(name: string): Promise<JsonRow[]>;
  /** Writes a relation built by `materialize` to a local Parquet file (zstd). */
  writeParquet(name: string, localFile: string): Promise<void>;
  close(): Promise<void>;
}

/** A result row as JSON: 64-bit integers as numbers, timestamps as epoch milliseconds (UTC), NaN as null. */
export type JsonRow = Record<string, string | number | boolean | null>;
