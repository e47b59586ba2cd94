import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  Table,
  TimestampMicrosecond,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { loadConfig } from '../../../config/load.ts';
import { isGpumonError } from '../../../errors.ts';
import type { ArchiveStorage } from '../../../sinks/archive/storage.ts';
import { remoteArchiveBase } from '../../daily-job.ts';
import { sqlString } from '../duckdb.ts';
import { engineFromConfig } from '../registry.ts';
import { arrowToJsonRows, ParquetResultWriter, writeArrowParquet } from './arrow.ts';
import { concatBatches, rpcCodec } from './client.ts';
import { parseSparkRemote } from './remote.ts';
import { ident, namedFile, SparkEngine } from './spark-engine.ts';

/** A table as Spark sends one: BIGINT, TIMESTAMP (UTC session), DOUBLE with NaN, INT, STRING, with nulls. */
function sparkLikeTable(): Table {
  const micros = [1_768_471_200_123_456n, -1_500n, 0n];
  const ts = makeData({
    type: new TimestampMicrosecond('UTC'),
    length: 3,
    nullCount: 1,
    nullBitmap: Uint8Array.of(0b011),
    data: BigInt64Array.from(micros),
  });
  return new Table({
    n: vectorFromArray([9_007_199_254_740_993n, -2n, null], new Int64()),
    ts: makeVector(ts),
    x: vectorFromArray([Number.NaN, 1.5, null], new Float64()),
    i: vectorFromArray([7, null, -1], new Int32()),
    s: vectorFromArray(['GPU-a', null, 'é'], new Utf8()),
  });
}

describe('Arrow results of Spark', () => {
  it('become JSON rows as DuckDB gives them: int64 as numbers, timestamps as epoch ms, NaN as null', () => {
    assert.deepEqual(arrowToJsonRows(sparkLikeTable()), [
      { n: 9_007_199_254_740_992, ts: 1_768_471_200_123, x: null, i: 7, s: 'GPU-a' },
      { n: -2, ts: -2, x: 1.5, i: null, s: null },
      { n: null, ts: null, x: null, i: -1, s: 'é' },
    ]);
  });

  it('are no rows when Spark sent no batch', () => {
    assert.deepEqual(arrowToJsonRows(undefined), []);
  });

  it('of several Arrow streams are one table with every row, in order', () => {
    const a = new Table({ v: vectorFromArray([1, 2], new Int32()) });
    const b = new Table({ v: vectorFromArray([3], new Int32()) });
    const table = concatBatches([tableToIPC(a, 'stream'), tableToIPC(b, 'stream')]);
    assert.deepEqual(arrowToJsonRows(table), [{ v: 1 }, { v: 2 }, { v: 3 }]);
    assert.equal(concatBatches([]), undefined);
  });

  it('are written to Parquet with the column order and the types of DuckDB, values exact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpumon-spark-arrow-'));
    try {
      const file = join(dir, 'r.parquet');
      await writeArrowParquet(sparkLikeTable(), file);
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      const types = (
        await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`)
      ).getRowObjectsJS();
      assert.deepEqual(
        types.map((r) => `${r.column_name} ${r.column_type}`),
        ['n BIGINT', 'ts TIMESTAMP', 'x DOUBLE', 'i INTEGER', 's VARCHAR'],
      );
      const rows = (
        await connection.runAndReadAll(
          `SELECT n, epoch_us(ts) AS us, isnan(x) AS nan, i, s FROM read_parquet(${sqlString(file)})`,
        )
      ).getRowObjectsJS();
      assert.deepEqual(rows, [
        { n: 9_007_199_254_740_993n, us: 1_768_471_200_123_456n, nan: true, i: 7, s: 'GPU-a' },
        { n: -2n, us: -1_500n, nan: false, i: null, s: null },
        { n: null, us: null, nan: null, i: -1, s: 'é' },
      ]);
      connection.closeSync();
      db.closeSync();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('of a session are written by one DuckDB, each file with only its own columns and rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpumon-spark-arrow-'));
    const writer = new ParquetResultWriter();
    try {
      await writer.write(sparkLikeTable(), join(dir, 'a.parquet'));
      await writer.write(new Table({ v: vectorFromArray([3, 4], new Int32()) }), join(dir, 'b.parquet'));
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      const read = async (name: string) =>
        (
          await connection.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(join(dir, name))})`)
        ).getRowObjectsJS();
      assert.equal((await read('a.parquet')).length, 3);
      assert.deepEqual(await read('b.parquet'), [{ v: 3 }, { v: 4 }]);
      connection.closeSync();
      db.closeSync();
    } finally {
      await writer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('that cannot be written fail without leaving the writer unusable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpumon-spark-arrow-'));
    const writer = new ParquetResultWriter();
    try {
      const table = new Table({ v: vectorFromArray([1], new Int32()) });
      await assert.rejects(writer.write(table, join(dir, 'no-such-dir', 'r.parquet')));
      await writer.write(table, join(dir, 'r.parquet'));
    } finally {
      await writer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the Spark Connect protocol subset', () => {
  it('round-trips an ExecutePlanRequest with a checkpoint command', () => {
    const codec = rpcCodec('ExecutePlan');
    const request = {
      session_id: 's-1',
      user_context: { user_id: 'gpumon', user_name: 'gpumon' },
      client_type: 'gpumon',
      operation_id: 'op-1',
      tags: [],
      plan: {
        command: {
          checkpoint_command: {
            relation: { sql: { query: 'SELECT 1' } },
            local: true,
            eager: true,
            storage_level: { use_disk: true, use_memory: true, replication: 1 },
          },
        },
      },
    };
    const decoded = codec.requestDeserialize(codec.requestSerialize(request)) as typeof request;
    assert.equal(decoded.session_id, 's-1');
    assert.equal(decoded.operation_id, 'op-1');
    assert.deepEqual(decoded.plan.command.checkpoint_command.relation.sql, { query: 'SELECT 1' });
    assert.equal(decoded.plan.command.checkpoint_command.storage_level.replication, 1);
  });

  it('puts fields at the numbers of apache/spark base.proto and relations.proto', () => {
    // ExecutePlanRequest.session_id = 1 (tag 0x0a), Plan.root = 1, Relation.sql = 10 (tag 0x52), SQL.query = 1.
    const bytes = rpcCodec('ExecutePlan').requestSerialize({
      session_id: 'a',
      plan: { root: { sql: { query: 'q' } } },
    });
    assert.deepEqual([...bytes], [0x0a, 1, 0x61, 0x1a, 7, 0x0a, 5, 0x52, 3, 0x0a, 1, 0x71]);
  });

  it('decodes an ExecutePlanResponse arrow batch (field 2) and a checkpoint result (field 19)', () => {
    const codec = rpcCodec('ExecutePlan');
    const arrow = codec.responseDeserialize(
      codec.responseSerialize({ arrow_batch: { row_count: '3', data: Buffer.from([1, 2]) } }),
    ) as { response_type: string; arrow_batch: { row_count: string; data: Buffer } };
    assert.equal(arrow.response_type, 'arrow_batch');
    assert.equal(arrow.arrow_batch.row_count, '3');
    const bytes = codec.responseSerialize({ checkpoint_command_result: { relation: { relation_id: 'r' } } });
    assert.deepEqual([...bytes], [0x9a, 0x01, 5, 0x0a, 3, 0x0a, 1, 0x72]);
  });
});

describe('Spark Connect URLs', () => {
  it('give host, port (15002 by default) and parameters', () => {
    assert.deepEqual(parseSparkRemote('sc://spark.example:443/;use_ssl=true;token=abc;user_id=ops'), {
      host: 'spark.example',
      port: 443,
      useSsl: true,
      token: 'abc',
      userId: 'ops',
      address: 'spark.example:443',
    });
    const plain = parseSparkRemote('sc://127.0.0.1');
    assert.equal(plain.port, 15002);
    assert.equal(plain.useSsl, false);
    assert.equal(plain.address, '127.0.0.1:15002');
  });

  it('are refused naming the setting and the value when malformed', () => {
    for (const bad of [
      'http://127.0.0.1:15002',
      'sc://',
      'sc://host:99999',
      'sc://host:x',
      'sc://host/;colour=blue',
      'sc://host/;token=t',
      'sc://host/;use_ssl=yes',
    ]) {
      assert.throws(
        () => parseSparkRemote(bad, '--spark-remote', 'USAGE'),
        (err) =>
          isGpumonError(err, 'USAGE') &&
          err.message.includes('--spark-remote') &&
          err.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });

  it('in analytics.sparkRemote are checked by the configuration, naming the key', () => {
    assert.throws(
      () => loadConfig({ flags: { 'analytics.sparkRemote': 'spark:15002' } }),
      (err) => isGpumonError(err, 'CONFIG_INVALID') && err.message.includes('analytics.sparkRemote'),
    );
  });
});

describe('choosing the engine', () => {
  it('is DuckDB by default and Spark when analytics.engine says spark, at analytics.sparkRemote', () => {
    assert.equal(engineFromConfig(loadConfig({})).name, 'duckdb');
    const spark = engineFromConfig(
      loadConfig({ flags: { 'analytics.engine': 'spark', 'analytics.sparkRemote': 'sc://spark:1234' } }),
    );
    assert.ok(spark instanceof SparkEngine);
    assert.equal(spark.remote.address, 'spark:1234');
    assert.equal(spark.readsUris, true);
    assert.equal(spark.dialect.name, 'spark');
  });

  it('refuses an unknown analytics.engine naming the key', () => {
    assert.throws(
      () => loadConfig({ flags: { 'analytics.engine': 'presto' } }),
      (err) => isGpumonError(err, 'CONFIG_INVALID') && err.message.includes('analytics.engine'),
    );
  });
});

describe('input files of the Spark engine', () => {
  const storage = (uri: string) => ({ uri }) as ArchiveStorage;

  it('are read from HDFS by the URI of archive.path (hdfs:// over RPC), not from local copies', () => {
    const config = loadConfig({ flags: { 'archive.path': 'hdfs://nn:8020/gpumon/' } });
    assert.equal(remoteArchiveBase(config, storage('webhdfs://nn:9870/gpumon')), 'hdfs://nn:8020/gpumon');
  });

  it("use the storage's webhdfs:// URI when archive.path names another archive", () => {
    const config = loadConfig({ flags: { 'archive.path': 'hdfs://nn:8020/other' } });
    assert.equal(remoteArchiveBase(config, storage('webhdfs://nn:9870/gpumon')), 'webhdfs://nn:9870/gpumon');
  });

  it('are local paths for a local archive', () => {
    assert.equal(remoteArchiveBase(loadConfig({}), storage('/data')), undefined);
  });

  it('are found in a Spark error message by their location, the longest first', () => {
    const files = [
      { location: '/a/part-1.parquet', name: 'A1' },
      { location: '/a/part-10.parquet', name: 'A10' },
    ];
    assert.equal(namedFile(files, 'FAILED_READ_FILE file:/a/part-10.parquet.')?.name, 'A10');
    assert.equal(namedFile(files, 'Encountered error while reading file:///a/part-1.parquet')?.name, 'A1');
    assert.equal(namedFile(files, 'something else'), undefined);
  });

  it('names relations as Spark SQL identifiers', () => {
    assert.equal(ident('daily_stats'), '`daily_stats`');
    assert.equal(ident('a`b'), '`a``b`');
  });
});
