/**
 * The Spark engine on an HDFS archive: Spark reads the day's files from HDFS by URI (hdfs:// over RPC,
 * webhdfs:// over HTTP), not from local copies, and the results land on HDFS. Needs HDFS and Spark Connect
 * (scripts/services/hdfs.sh, scripts/services/spark-connect.sh); fails without them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readSummary } from '../../src/analytics/results.ts';
import { WebHdfsStorage } from '../../src/sinks/archive/webhdfs-storage.ts';
import { hdfsRpcUrl, webhdfsUrl } from '../../src/testing/services.ts';
import { runGpumon, tempDir } from '../e2e/helpers.ts';
import { ANALYZE_ENV, assertSameRows, DATE, sparkRemote } from './helpers.ts';

describe('gpumon analyze --engine spark on an HDFS archive', () => {
  const dir = `/gpumon-test/spark-${randomUUID().slice(0, 8)}`;
  let webhdfs: URL;
  let hdfs: URL;
  let storage: WebHdfsStorage;
  let duckdbSummary: Record<string, unknown> | null = null;
  const env = () => ({
    ...ANALYZE_ENV,
    GPUMON_LOG_LEVEL: 'debug',
    GPUMON_ARCHIVE_STATE_PATH: tempDir('spark-hdfs-state'),
    GPUMON_ARCHIVE_WEBHDFS_PORT: webhdfs.port,
  });

  before(async () => {
    webhdfs = new URL(await webhdfsUrl());
    hdfs = new URL(hdfsRpcUrl());
    sparkRemote();
    storage = new WebHdfsStorage({ url: webhdfs.origin, root: dir, user: 'gpumon' });
    const archive = `webhdfs://${webhdfs.host}${dir}`;
    const sim = await runGpumon([
      'simulate',
      '--days',
      '1',
      '--end',
      DATE,
      '--interval-ms',
      '60000',
      '--out',
      archive,
    ]);
    assert.equal(sim.code, 0, sim.stderr);
    const duckdb = await runGpumon(['analyze', '--date', DATE, '--archive', archive], env());
    assert.equal(duckdb.code, 0, duckdb.stderr);
    duckdbSummary = await readSummary(storage, DATE);
  });

  after(async () => {
    await storage?.remove('');
  });

  for (const scheme of ['hdfs', 'webhdfs'] as const) {
    it(`reads the files from HDFS by ${scheme}:// and writes the results on HDFS, as DuckDB's`, async () => {
      const archive = scheme === 'hdfs' ? `hdfs://${hdfs.host}${dir}` : `webhdfs://${webhdfs.host}${dir}`;
      await storage.remove(`gpu-analytics/date=${DATE}`);
      const result = await runGpumon(
        [
          'analyze',
          '--engine',
          'spark',
          '--spark-remote',
          sparkRemote(),
          '--date',
          DATE,
          '--archive',
          archive,
        ],
        env(),
      );
      assert.equal(result.code, 0, result.stderr);
      // The engine was handed HDFS URIs, so Spark read the files itself: no local copies.
      assert.match(
        result.stderr,
        new RegExp(`"files":\\["${archive}/gpu-metrics/date=${DATE}/[^"]+\\.parquet"`),
      );
      const written = await storage.list(`gpu-analytics/date=${DATE}`);
      assert.ok(
        written.includes('daily_stats.parquet') && written.includes('summary.json'),
        written.join(' '),
      );
      const summary = await readSummary(storage, DATE);
      assert.equal(summary?.sample_count, 8 * 24 * 60);
      assert.ok(duckdbSummary);
      assertSameRows([duckdbSummary], [summary ?? {}], 'summary');
    });
  }
});
