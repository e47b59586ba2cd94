/**
 * Issue 5, end to end: samples of a simulated fleet -> real Kafka -> `gpumon consume` -> the Parquet archive on
 * HDFS (webhdfs://, the shared instance) -> `gpumon analyze` from HDFS (DuckDB, then Spark through Spark
 * Connect) -> the day's results on HDFS. Needs GPUMON_TEST_KAFKA, GPUMON_TEST_WEBHDFS and
 * GPUMON_TEST_SPARK_CONNECT: fails, never skips, without them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readResult, readSummary } from '../../src/analytics/results.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { countArchiveRows, readArchiveSamples } from '../../src/sinks/archive/archive-reader.ts';
import { WebHdfsStorage } from '../../src/sinks/archive/webhdfs-storage.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { kafkaBootstrap, sparkConnectUrl, webhdfsUrl } from '../../src/testing/services.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { interrupt, runGpumon, startGpumon, tempDir } from './helpers.ts';

const DATE = '2026-11-25';
const T0 = Date.UTC(2026, 10, 25, 12);
const HOSTS = 2;
const GPUS = 4;
const READS = 50;
const N = HOSTS * GPUS * READS;

describe('gpumon consume -> archive on HDFS -> gpumon analyze from HDFS (real Kafka, HDFS, Spark)', () => {
  const id = randomBytes(4).toString('hex');
  const root = `/gpumon-e2e-${id}`;
  let archive = '';
  let storage: WebHdfsStorage;
  const state = tempDir('consume-hdfs-state');

  before(async () => {
    const url = await webhdfsUrl();
    archive = `webhdfs://${new URL(url).host}${root}`;
    storage = new WebHdfsStorage({ url, root, user: 'gpumon', cacheDir: tempDir('consume-hdfs-cache') });
  });
  after(async () => {
    await storage?.remove('');
  });

  it('archives exactly the N samples on the topic as Parquet on HDFS, each once', async () => {
    const brokers = await kafkaBootstrap();
    const topic = `gpumon-e2e-hdfs-${id}`;
    const source = new SimSource({ hosts: HOSTS, gpusPerHost: GPUS, seed: 5 });
    await source.open();
    const producer = new KafkaTransport({ brokers, topic, dlqTopic: `${topic}-dlq`, partitions: 3 });
    let sent = 0;
    try {
      for (let i = 0; i < READS; i++) {
        const samples = await source.read(T0 + i * 1000);
        await producer.publish(samples);
        sent += samples.length;
      }
    } finally {
      await producer.close();
    }
    assert.equal(sent, N);

    const consume = startGpumon(
      ['consume', '--brokers', brokers, '--topic', topic, '--sinks', 'archive', '--archive', archive],
      {
        GPUMON_KAFKA_DLQ_TOPIC: `${topic}-dlq`,
        GPUMON_KAFKA_GROUP_PREFIX: `e2e-hdfs-${id}`,
        GPUMON_ARCHIVE_FLUSH_INTERVAL_MS: '500',
        GPUMON_ARCHIVE_STATE_PATH: state,
        GPUMON_LOG_LEVEL: 'warn',
      },
    );
    try {
      const deadline = Date.now() + 90_000;
      while ((await countArchiveRows(storage, DATE).catch(() => 0)) < N) {
        assert.equal(consume.child.exitCode, null, `gpumon consume exited: ${consume.stderr()}`);
        assert.ok(Date.now() < deadline, `timed out waiting for ${N} rows on HDFS: ${consume.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    } catch (err) {
      await interrupt(consume).catch(() => undefined);
      throw err;
    }
    const { code } = await interrupt(consume);
    assert.equal(code, 0, consume.stderr());
    assert.match(consume.stdout(), new RegExp(`e2e-hdfs-${id}-archive: ${N} samples received`));

    // Read back from HDFS: every file downloaded over WebHDFS and counted by DuckDB.
    const names = await storage.list(`gpu-metrics/date=${DATE}`);
    assert.ok(names.length > 0 && names.every((n) => /^part-.*\.parquet$/.test(n)), names.join(', '));
    assert.equal(await countArchiveRows(storage), N, 'exactly N rows in the archive on HDFS');
    const rows: GpuSample[] = await readArchiveSamples(storage, DATE);
    const keys = new Set(rows.map((s) => `${s.host}/${s.gpu_index}/${s.ts}`));
    assert.equal(keys.size, N, 'each sample once');
  });

  it('gpumon analyze --archive webhdfs://... (DuckDB) writes the day results to gpu-analytics/ on HDFS', async () => {
    const analyze = await runGpumon(['analyze', '--date', DATE, '--archive', archive], {
      GPUMON_LOG_LEVEL: 'warn',
      GPUMON_ARCHIVE_STATE_PATH: state,
    });
    assert.equal(analyze.code, 0, analyze.stderr);
    const results = await storage.list(`gpu-analytics/date=${DATE}`);
    assert.ok(results.includes('daily_stats.parquet'), results.join(', '));
    assert.ok(results.includes('summary.json'), results.join(', '));
    const summary = await readSummary(storage, DATE);
    assert.equal(summary?.gpus, HOSTS * GPUS);
    assert.equal(summary?.sample_count, N);
  });

  it('gpumon analyze --engine spark reads the same archive on HDFS and publishes the same summary', async () => {
    const remote = sparkConnectUrl();
    const duckdbStats = await readResult(storage, DATE, 'daily_stats');
    const analyze = await runGpumon(
      ['analyze', '--date', DATE, '--archive', archive, '--engine', 'spark', '--spark-remote', remote],
      { GPUMON_LOG_LEVEL: 'warn', GPUMON_ARCHIVE_STATE_PATH: state },
    );
    assert.equal(analyze.code, 0, analyze.stderr);
    const results = await storage.list(`gpu-analytics/date=${DATE}`);
    assert.ok(results.includes('daily_stats.parquet'), results.join(', '));
    const spark = await readSummary(storage, DATE);
    assert.equal(spark?.gpus, HOSTS * GPUS);
    assert.equal(spark?.sample_count, N);
    // The same figures as DuckDB's (counts exactly; the fractional figures are docs/analytics.md's business).
    const counts = (rows: typeof duckdbStats) =>
      (rows ?? []).map((r) => `${r.scope}/${r.uuid}/${r.sample_count}`).sort();
    const sparkStats = await readResult(storage, DATE, 'daily_stats');
    assert.equal(sparkStats?.length, HOSTS * GPUS + 1, 'one row per GPU and one of the fleet');
    assert.deepEqual(counts(sparkStats), counts(duckdbStats));
  });
});
