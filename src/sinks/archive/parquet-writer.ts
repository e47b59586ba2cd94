import { rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import {
  BIGINT,
  DOUBLE,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  INTEGER,
  TIMESTAMP,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { IDENTITY, METRICS } from '../../metrics/catalog.ts';
import type { GpuIdentity, GpuSample } from '../../metrics/sample.ts';
import { SampleColumns } from '../../metrics/sample-columns.ts';
import { ColumnScales, copyOptions } from './encoding.ts';
import { dateOfTs, datesBetween, newPartPath, nextDate } from './layout.ts';
import { createExclusive, makePrivateDir } from './private-temp.ts';
import type { ArchiveStorage } from './storage.ts';

/**
 * The archive's columns, derived from the catalog, in SAMPLE_COLUMNS order, with the SQL type a reader casts
 * each to (the analytics read `ts` as a TIMESTAMP in a session whose time zone is UTC).
 *
 * Files are written in format 2 (`ARCHIVE_FORMAT`): `ts` is a UTC-adjusted timestamp (Parquet
 * `isAdjustedToUTC = true`, DuckDB TIMESTAMPTZ, Spark TIMESTAMP, pyarrow `timestamp[us, tz=UTC]`); files of
 * format 1 (before 2026-12) hold it as a timestamp without time zone, UTC by convention. Both read the same in
 * a UTC session.
 */
export const PARQUET_COLUMNS: readonly { name: string; sqlType: string }[] = [
  { name: 'ts', sqlType: 'TIMESTAMP' },
  ...IDENTITY.map((i) => ({ name: i.name, sqlType: i.type === 'int32' ? 'INTEGER' : 'VARCHAR' })),
  ...METRICS.map((m) => ({ name: m.name, sqlType: m.type === 'int64' ? 'BIGINT' : 'DOUBLE' })),
];

export interface ParquetWriterOptions {
  storage: ArchiveStorage;
  /** Rows per Parquet row group (config archive.rowGroupSize). */
  rowGroupSize?: number;
  /**
   * Under which directory the writer makes its private staging directory (mkdtemp, mode 0700), where files
   * are written before `storage.put` moves them in (default: the OS temporary directory, TMPDIR).
   */
  tmpDir?: string;
  /** DuckDB threads (default: DuckDB's, one per core). */
  threads?: number;
  /** DuckDB memory limit such as '2GB' (default: DuckDB's). */
  memoryLimit?: string;
  /** Says which abandoned temporary files were removed from the archive (and a sweep that failed). */
  logger?: Logger;
}

/**
 * A temporary file of the archive's last modified longer ago than this is abandoned: no put takes an hour
 * (a Parquet file of a batch is a few MiB, and a put to a DataNode that stops answering gives up after
 * WebHdfsStorage's idle timeout).
 */
export const ABANDONED_AFTER_MS = 3_600_000;

/**
 * The format the writer writes: 2 (`ts` UTC-adjusted, float64 metrics as exact decimals where their values
 * allow, encoding.ts); 1 before it (`ts` without time zone, every metric of its catalog type).
 */
export const ARCHIVE_FORMAT = 2;

const VECTOR_SIZE = duckdb.vector_size();
const TWO_32 = 4_294_967_296;
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * Writes samples to the archive as Parquet through DuckDB (zstd, each column encoded as encoding.ts says, which
 * keeps every value bit for bit), the configured row-group size, rows sorted
 * by (host, gpu_index, ts), one file per UTC date, each written to a temporary file and then moved into place
 * with `storage.put` (atomic), so a reader never sees a partial file and a failed write leaves nothing.
 *
 * Rows that arrive already in that order (the simulator's) are written as they are, without a sort.
 *
 * Rows travel into DuckDB as whole columns (`SampleColumns`): typed arrays are copied into DuckDB vectors
 * 2048 rows at a time, with a validity mask where a value is null; no per-value calls.
 */
export class ParquetWriter {
  readonly storage: ArchiveStorage;
  readonly rowGroupSize: number;
  private readonly tmpBase: string | undefined;
  /** This writer's own staging directory, made on first use, removed by `close`. */
  private staging: Promise<string> | undefined;
  private readonly dbOptions: Record<string, string>;
  private instance: Promise<DuckDBInstance> | undefined;
  private batches = 0;
  private readonly logger: Logger | undefined;
  /** The directories swept of abandoned temporary files by this writer (once each). */
  private readonly swept = new Set<string>();

  constructor(options: ParquetWriterOptions) {
    this.storage = options.storage;
    this.rowGroupSize = options.rowGroupSize ?? 122_880;
    this.tmpBase = options.tmpDir;
    this.logger = options.logger;
    this.dbOptions = {};
    if (options.threads) this.dbOptions.threads = String(options.threads);
    if (options.memoryLimit) this.dbOptions.memory_limit = options.memoryLimit;
  }

  /** Writes samples (any order, any dates); resolves with the storage paths of the new files. */
  async writeSamples(samples: readonly GpuSample[]): Promise<string[]> {
    if (samples.length === 0) return [];
    const { gpus, columns } = SampleColumns.fromSamples(samples);
    const batch = await this.begin(gpus);
    try {
      batch.append(columns);
    } catch (err) {
      await batch.abort();
      throw err;
    }
    return batch.finish();
  }

  /**
   * Starts a batch of rows of the GPUs `gpus` (a row's `gpu` key indexes this list). Several batches may be
   * open at once, each on its own DuckDB connection: one can be appended to while another finishes.
   *
   * `nullMetrics`: catalog metrics every row of the batch leaves null (a source that never reports them, such
   * as the simulator's NULL_METRICS). They are not held in DuckDB while the batch fills, only written as the
   * null columns they are (the file is the same); a row with a value in one of them is refused.
   */
  async begin(gpus: readonly GpuIdentity[], nullMetrics: readonly string[] = []): Promise<ParquetBatch> {
    if (gpus.length === 0)
      throw new GpumonError('ARCHIVE_WRITE_FAILED', 'a Parquet batch needs at least one GPU');
    const unknown = nullMetrics.find((name) => !METRICS.some((m) => m.name === name));
    if (unknown !== undefined)
      throw new GpumonError(
        'ARCHIVE_WRITE_FAILED',
        `a Parquet batch cannot leave out ${unknown}: no such metric`,
      );
    const held = METRICS.flatMap((m, c) => (nullMetrics.includes(m.name) ? [] : [c]));
    const instance = await this.db();
    const connection = await instance.connect();
    this.batches += 1;
    const name = `batch_${process.pid}_${this.batches}`;
    try {
      const metricColumns = held.map((c) => {
        const m = METRICS[c] as (typeof METRICS)[number];
        return `${quote(m.name)} ${m.type === 'int64' ? 'BIGINT' : 'DOUBLE'}`;
      });
      await connection.run(
        `CREATE TABLE ${name} (gpu INTEGER, ts TIMESTAMP${metricColumns.map((c) => `, ${c}`).join('')})`,
      );
      const appender = await connection.createAppender(name);
      return new ParquetBatch(this, connection, appender, name, gpus, held);
    } catch (cause) {
      connection.closeSync();
      throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot prepare a Parquet batch in DuckDB`, { cause });
    }
  }

  /** Releases DuckDB and removes the staging directory. Batches still open must be finished or aborted first. */
  async close(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    if (instance) (await instance).closeSync();
    const staging = this.staging;
    this.staging = undefined;
    if (staging) await rm(await staging.catch(() => ''), { recursive: true, force: true }).catch(() => {});
  }

  /**
   * @internal Once per directory this writer puts files into: removes the temporary files an earlier put left
   * there (a process killed mid-put; a DataNode that finished a file after the put gave up). Never fails the
   * write that called it: a sweep that fails is logged and tried again with the next file.
   */
  async sweepOnce(dir: string): Promise<void> {
    if (this.swept.has(dir)) return;
    try {
      const removed = await this.storage.removeAbandoned(dir, ABANDONED_AFTER_MS);
      this.swept.add(dir);
      if (removed.length > 0) {
        this.logger?.info(
          { dir: `${this.storage.uri}/${dir}`, removed },
          'removed temporary files abandoned by earlier writes',
        );
      }
    } catch (err) {
      this.logger?.warn({ err, dir }, 'could not look for abandoned temporary files');
    }
  }

  /**
   * @internal A new, empty temporary file for a batch's output, in this writer's private staging directory
   * (made with mkdtemp, mode 0700, on first use), created exclusively. TEMP_FILE_FAILED names the path.
   */
  async tmpFile(name: string): Promise<string> {
    this.staging ??= makePrivateDir('gpumon-parquet-', this.tmpBase).catch((err: unknown) => {
      this.staging = undefined;
      throw err;
    });
    const file = join(await this.staging, `${name}.parquet.tmp`);
    await createExclusive(file);
    return file;
  }

  /** The staging directory, once made (for tests and messages). */
  async stagingDir(): Promise<string | undefined> {
    return this.staging;
  }

  private db(): Promise<DuckDBInstance> {
    // `ts` is a naive TIMESTAMP in a batch's table and written as TIMESTAMPTZ: the cast reads it in the
    // session's time zone, the machine's unless set, so every session of this instance is in UTC.
    this.instance ??= createInUtc(this.dbOptions).catch((cause) => {
      this.instance = undefined;
      throw new GpumonError('ARCHIVE_WRITE_FAILED', 'cannot start DuckDB for the Parquet writer', { cause });
    });
    return this.instance;
  }
}

const INT64_METRIC = METRICS.map((m) => m.type === 'int64');

/** Rows on their way to Parquet files: `append` any number of times, then `finish` (or `abort`) once. */
export class ParquetBatch {
  private readonly chunk: DuckDBDataChunk;
  /** Whether each catalog metric is held in the batch's table (else null in every row). */
  private readonly isHeld: boolean[];
  private readonly gpuBuffer = new Int32Array(VECTOR_SIZE);
  private readonly int64Buffer = new Int32Array(VECTOR_SIZE * 2);
  private readonly validity = new Uint32Array(VECTOR_SIZE / 32);
  /** Sort position of each GPU key by (host, gpu_index). */
  private readonly rank: Int32Array;
  private readonly identitySql: string[];
  /** The decimal places each float64 metric needs so far (encoding.ts). */
  private readonly scales = new ColumnScales();
  /** Whether the rows arrived ordered by (host, gpu_index, ts): then no sort is needed. */
  private sorted = true;
  private lastRank = -1;
  private lastTs = Number.NEGATIVE_INFINITY;
  private firstDate: string | null = null;
  private lastDate: string | null = null;
  /** The earliest timestamp appended (epoch ms). */
  private minTs = Number.POSITIVE_INFINITY;
  private done = false;
  /** Settles once DuckDB writes the first file (or the batch ends without one): see `writing`. */
  private readonly started = settleOnce();
  rows = 0;

  constructor(
    private readonly writer: ParquetWriter,
    private readonly connection: DuckDBConnection,
    private readonly appender: DuckDBAppender,
    private readonly name: string,
    private readonly gpus: readonly GpuIdentity[],
    /** The catalog positions of the metrics held in the table, in order (`begin`'s nullMetrics left out). */
    private readonly held: readonly number[],
  ) {
    this.isHeld = METRICS.map((_, c) => held.includes(c));
    const types: DuckDBType[] = [INTEGER, TIMESTAMP];
    for (const c of held) types.push(INT64_METRIC[c] ? BIGINT : DOUBLE);
    this.chunk = DuckDBDataChunk.create(types);
    const order = gpus.map((_, i) => i);
    order.sort((a, b) => compareIdentity(gpus[a] as GpuIdentity, gpus[b] as GpuIdentity));
    this.rank = new Int32Array(gpus.length);
    order.forEach((key, position) => {
      const previous = order[position - 1];
      const tie =
        previous !== undefined &&
        compareIdentity(gpus[previous] as GpuIdentity, gpus[key] as GpuIdentity) === 0;
      this.rank[key] = tie ? (this.rank[previous] as number) : position;
    });
    // Identity columns are looked up by key from constant lists: a projection, which keeps row order; a
    // field all the batch's GPUs share (one GPU's batch, or one host's model) is a constant, cheaper to write.
    this.identitySql = IDENTITY.map((i) => {
      const items = gpus.map((g) => {
        const value = g[i.name];
        // undefined: a sample built before the catalog gained the field.
        if (value === null || value === undefined) return 'NULL';
        return typeof value === 'number' ? String(value) : literal(value);
      });
      const cast = i.type === 'int32' ? 'INTEGER' : 'VARCHAR';
      if (items.every((item) => item === items[0])) return `${items[0]}::${cast} AS ${quote(i.name)}`;
      return `([${items.join(', ')}]::${cast}[])[s.gpu + 1] AS ${quote(i.name)}`;
    });
  }

  /** Copies rows `0 .. columns.length-1` into DuckDB (synchronously); `columns` may be reused after. */
  append(columns: SampleColumns): void {
    if (this.done) throw new Error('append after finish');
    for (let offset = 0; offset < columns.length; offset += VECTOR_SIZE) {
      this.appendSlice(columns, offset, Math.min(VECTOR_SIZE, columns.length - offset));
    }
  }

  /** Writes one Parquet file per UTC date into storage; resolves with their storage paths. */
  async finish(): Promise<string[]> {
    if (this.done) throw new Error('finish called twice');
    this.done = true;
    const written: string[] = [];
    try {
      this.appender.closeSync();
      if (this.rows === 0 || !this.firstDate || !this.lastDate) return [];
      const dates = datesBetween(this.firstDate, this.lastDate);
      for (const date of dates) {
        const where =
          dates.length === 1
            ? ''
            : `WHERE s.ts >= TIMESTAMP '${date}' AND s.ts < TIMESTAMP '${nextDate(date)}'`;
        const path = await this.writeFile(date, where);
        if (path) written.push(path);
      }
      return written;
    } finally {
      this.started.resolve();
      await this.drop();
    }
  }

  /**
   * Resolves once DuckDB is writing the batch's first file, on its own thread, or once `finish` has ended: a
   * caller that generates the next batch meanwhile waits for this first, since the steps of `finish` before
   * the write (a temporary file, the COPY's start) run on the main thread and would otherwise wait for it.
   */
  writing(): Promise<void> {
    return this.started.promise;
  }

  /** Drops the rows without writing anything. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.started.resolve();
    try {
      this.appender.closeSync();
    } catch {
      // The appender may already be in error; the table is dropped below either way.
    }
    await this.drop();
  }

  private async writeFile(date: string, where: string): Promise<string | null> {
    const encoding = this.scales.layout();
    const metrics = METRICS.map((m, c) => {
      if (!this.isHeld[c]) return `NULL::${encoding.types[c]} AS ${quote(m.name)}`;
      return encoding.types[c] === (m.type === 'int64' ? 'BIGINT' : 'DOUBLE')
        ? `s.${quote(m.name)}`
        : `s.${quote(m.name)}::${encoding.types[c]} AS ${quote(m.name)}`;
    });
    const select = ['s.ts::TIMESTAMPTZ AS ts', ...this.identitySql, ...metrics].join(', ');
    const order = this.sorted ? '' : 'ORDER BY host, gpu_index, ts';
    // One date: the batch's own count and first time (samples' times are whole ms). Several: DuckDB's, per date.
    let count = this.rows;
    let firstTs = this.minTs;
    if (where !== '') {
      try {
        const result = await this.connection.runAndReadAll(
          `SELECT count(*)::INTEGER, epoch_ms(min(s.ts))::DOUBLE FROM ${this.name} s ${where}`,
        );
        [count, firstTs] = (result.getRows()[0] ?? [0, 0]) as [number, number];
      } catch (cause) {
        throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot read the batch of ${date} in DuckDB`, {
          cause,
        });
      }
    }
    if (count === 0) return null;
    const tmp = await this.writer.tmpFile(`${this.name}-${date}`);
    try {
      try {
        const copy = this.connection.run(
          `COPY (SELECT ${select} FROM ${this.name} s ${where} ${order}) TO ${literal(tmp)} ` +
            `(${copyOptions(encoding, this.writer.rowGroupSize)})`,
        );
        this.started.resolve();
        await copy;
      } catch (cause) {
        // Writing the local staging file failed (a full or unwritable TMPDIR): not the archive's fault.
        throw new GpumonError('TEMP_FILE_FAILED', `cannot write the samples of ${date} to ${tmp}`, { cause });
      }
      const path = newPartPath(date, firstTs, encoding.tag);
      try {
        await this.writer.storage.put(tmp, path);
      } catch (cause) {
        throw new GpumonError(
          'ARCHIVE_WRITE_FAILED',
          `cannot write the samples of ${date} to ${this.writer.storage.uri}/${path}`,
          { cause },
        );
      }
      await this.writer.sweepOnce(posix.dirname(path));
      return path;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async drop(): Promise<void> {
    try {
      await this.connection.run(`DROP TABLE IF EXISTS ${this.name}`);
    } finally {
      this.connection.closeSync();
    }
  }

  private appendSlice(columns: SampleColumns, offset: number, n: number): void {
    const raw = this.chunk.chunk;
    duckdb.data_chunk_set_size(raw, n);

    const gpu = this.gpuBuffer;
    gpu.set(columns.gpu.subarray(offset, offset + n));
    for (let r = 0; r < n; r++) {
      const key = gpu[r] as number;
      if (key < 0 || key >= this.gpus.length) {
        throw new GpumonError('ARCHIVE_WRITE_FAILED', `row ${offset + r} refers to unknown GPU ${key}`);
      }
    }
    duckdb.copy_data_to_vector(duckdb.data_chunk_get_vector(raw, 0), 0, gpu.buffer, 0, n * 4);
    if (this.sorted) this.checkOrder(gpu, columns.ts, offset, n);

    // Timestamps: epoch ms -> int64 microseconds, written as two int32 halves (no BigInt per row).
    const ts = columns.ts;
    const words = this.int64Buffer;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < n; r++) {
      const ms = ts[offset + r] as number;
      if (!Number.isFinite(ms)) {
        throw new GpumonError('ARCHIVE_WRITE_FAILED', `row ${offset + r} has no valid timestamp (${ms})`);
      }
      if (ms < min) min = ms;
      if (ms > max) max = ms;
      const us = Math.round(ms * 1000);
      const hi = Math.floor(us / TWO_32);
      words[2 * r] = us - hi * TWO_32;
      words[2 * r + 1] = hi;
    }
    duckdb.copy_data_to_vector(duckdb.data_chunk_get_vector(raw, 1), 0, words.buffer, 0, n * 8);
    this.noteTimes(min, max);
    if (min < this.minTs) this.minTs = min;

    for (let c = 0; c < METRICS.length; c++) {
      if (!this.isHeld[c]) this.checkNull(columns, c, offset, n);
    }
    for (let k = 0; k < this.held.length; k++) {
      const c = this.held[k] as number;
      const vector = duckdb.data_chunk_get_vector(raw, k + 2);
      const values = (columns.metrics[c] as Float64Array).subarray(offset, offset + n);
      let nulls = 0;
      if (INT64_METRIC[c]) {
        for (let r = 0; r < n; r++) {
          const v = values[r] as number;
          if (Number.isNaN(v)) {
            nulls++;
            continue;
          }
          const hi = Math.floor(v / TWO_32);
          words[2 * r] = v - hi * TWO_32;
          words[2 * r + 1] = hi;
        }
        duckdb.copy_data_to_vector(vector, 0, words.buffer, 0, n * 8);
      } else {
        for (let r = 0; r < n; r++) if (Number.isNaN(values[r])) nulls++;
        this.scales.note(c, values, n);
        duckdb.copy_data_to_vector(vector, 0, values.buffer as ArrayBuffer, values.byteOffset, n * 8);
      }
      if (nulls > 0) this.writeValidity(vector, values, n);
    }
    this.appender.appendDataChunk(this.chunk);
    duckdb.data_chunk_reset(raw);
    this.rows += n;
  }

  /** Refuses a value in metric `c`, which the batch was told every row leaves null. */
  private checkNull(columns: SampleColumns, c: number, offset: number, n: number): void {
    const values = columns.metrics[c] as Float64Array;
    for (let r = offset; r < offset + n; r++) {
      if (!Number.isNaN(values[r])) {
        const name = (METRICS[c] as (typeof METRICS)[number]).name;
        throw new GpumonError(
          'ARCHIVE_WRITE_FAILED',
          `row ${r} has a value for ${name}, which this batch was told is always null`,
        );
      }
    }
  }

  /** Marks the NaN rows of `values` null in `vector` (bit r of 64-bit word r/64; little-endian halves). */
  private writeValidity(vector: duckdb.Vector, values: Float64Array, n: number): void {
    const bits = this.validity;
    bits.fill(0xffffffff);
    for (let r = 0; r < n; r++) {
      if (Number.isNaN(values[r])) bits[r >>> 5] = (bits[r >>> 5] as number) & ~(1 << (r & 31));
    }
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, bits.buffer, 0, Math.ceil(n / 64) * 8);
  }

  private checkOrder(gpu: Int32Array, ts: Float64Array, offset: number, n: number): void {
    for (let r = 0; r < n; r++) {
      const rank = this.rank[gpu[r] as number] as number;
      const t = ts[offset + r] as number;
      if (rank < this.lastRank || (rank === this.lastRank && t < this.lastTs)) {
        this.sorted = false;
        return;
      }
      this.lastRank = rank;
      this.lastTs = t;
    }
  }

  private noteTimes(min: number, max: number): void {
    const first = dateOfTs(min);
    const last = dateOfTs(max);
    if (this.firstDate === null || first < this.firstDate) this.firstDate = first;
    if (this.lastDate === null || last > this.lastDate) this.lastDate = last;
  }
}

/** A promise with its resolve function (Node 20 has no Promise.withResolvers). */
function settleOnce(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function createInUtc(options: Record<string, string>): Promise<DuckDBInstance> {
  const instance = await DuckDBInstance.create(':memory:', options);
  try {
    const connection = await instance.connect();
    await connection.run("SET GLOBAL TimeZone = 'UTC'");
    connection.closeSync();
    return instance;
  } catch (err) {
    instance.closeSync();
    throw err;
  }
}

function compareIdentity(a: GpuIdentity, b: GpuIdentity): number {
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  return a.gpu_index - b.gpu_index;
}
