import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSummary } from '../../src/analytics/results.ts';
import { isGpumonError } from '../../src/errors.ts';
import { WebHdfsStorage } from '../../src/sinks/archive/webhdfs-storage.ts';
import { webhdfsUrl } from '../../src/testing/services.ts';
import { runGpumon, tempDir } from '../e2e/helpers.ts';

const root = () => `/gpumon-test-${randomBytes(4).toString('hex')}`;

async function localFile(text: string): Promise<string> {
  const file = join(tempDir('webhdfs'), 'part.bin');
  await writeFile(file, text);
  return file;
}

describe('the archive on HDFS (real NameNode and DataNode, over WebHDFS)', () => {
  it('puts files atomically, lists, reads back through a local copy, renames and removes', async () => {
    const storage = new WebHdfsStorage({ url: await webhdfsUrl(), root: root(), user: 'gpumon' });
    await storage.put(await localFile('first'), 'gpu-metrics/date=2026-11-25/part-1.parquet');
    await storage.put(await localFile('second'), 'gpu-metrics/date=2026-11-25/part-2.parquet');
    assert.deepEqual(await storage.list('gpu-metrics/date=2026-11-25'), ['part-1.parquet', 'part-2.parquet']);
    assert.deepEqual(await storage.list('gpu-metrics/date=2026-11-24'), []);

    await storage.put(await localFile('replaced'), 'gpu-metrics/date=2026-11-25/part-1.parquet');
    const copy = await storage.localPath('gpu-metrics/date=2026-11-25/part-1.parquet');
    assert.equal(await readFile(copy, 'utf8'), 'replaced');

    await storage.rename('gpu-metrics/date=2026-11-25', 'gpu-metrics/date=2026-11-26');
    assert.equal(await storage.exists('gpu-metrics/date=2026-11-25'), false);
    assert.equal(await storage.exists('gpu-metrics/date=2026-11-26/part-2.parquet'), true);
    await assert.rejects(storage.rename('gpu-metrics/date=2026-11-26', 'gpu-metrics'), /target exists/);

    await storage.remove('');
    assert.deepEqual(await storage.list(''), []);
  });

  it('removes the temporary files a put abandoned longer ago than asked, and nothing else', async () => {
    const url = await webhdfsUrl();
    const base = root();
    const storage = new WebHdfsStorage({ url, root: base, user: 'gpumon' });
    const day = 'gpu-metrics/date=2026-11-25';
    for (const name of ['.part-1.parquet.0a0a0a0a.tmp', '.part-2.parquet.0b0b0b0b.tmp', 'part-3.parquet']) {
      await storage.put(await localFile(name), `${day}/${name}`);
    }
    // Age two of them by an hour and a minute: the first temporary file, and the finished one.
    const hourAgo = Date.now() - 3_660_000;
    for (const name of ['.part-1.parquet.0a0a0a0a.tmp', 'part-3.parquet']) {
      const aged = await fetch(
        `${url}/webhdfs/v1${base}/${day}/${name}?op=SETTIMES&modificationtime=${hourAgo}&user.name=gpumon`,
        { method: 'PUT' },
      );
      assert.equal(aged.status, 200, await aged.text());
    }
    assert.deepEqual(await storage.list(day), ['part-3.parquet']);

    assert.deepEqual(await storage.removeAbandoned(day, 3_600_000), ['.part-1.parquet.0a0a0a0a.tmp']);
    assert.equal(await storage.exists(`${day}/.part-1.parquet.0a0a0a0a.tmp`), false);
    assert.equal(
      await storage.exists(`${day}/.part-2.parquet.0b0b0b0b.tmp`),
      true,
      'a recent one may be a put under way',
    );
    assert.equal(await storage.exists(`${day}/part-3.parquet`), true);
    assert.deepEqual(await storage.removeAbandoned('gpu-metrics/date=2026-11-24', 3_600_000), []);
    await storage.remove('');
  });

  it('simulates into HDFS and analyses a day from it, results on HDFS', async () => {
    const url = await webhdfsUrl();
    const dir = root();
    const archive = `webhdfs://${new URL(url).host}${dir}`;
    const sim = await runGpumon([
      'simulate',
      '--days',
      '1',
      '--end',
      '2026-11-20',
      '--interval-ms',
      '60000',
      '--out',
      archive,
    ]);
    assert.equal(sim.code, 0, sim.stderr);
    const state = tempDir('hdfs-state');
    const analyze = await runGpumon(['analyze', '--date', '2026-11-20', '--archive', archive], {
      GPUMON_LOG_LEVEL: 'warn',
      GPUMON_ARCHIVE_STATE_PATH: state,
    });
    assert.equal(analyze.code, 0, analyze.stderr);
    const storage = new WebHdfsStorage({ url, root: dir, user: 'gpumon' });
    assert.ok((await storage.list('gpu-analytics/date=2026-11-20')).includes('daily_stats.parquet'));
    const summary = await readSummary(storage, '2026-11-20');
    assert.equal(summary?.gpus, 8);
    assert.equal(summary?.sample_count, 8 * 24 * 60);
    await storage.remove('');
  });

  it('names the NameNode when it cannot be reached', async () => {
    const storage = new WebHdfsStorage({
      url: 'http://127.0.0.1:1',
      root: '/x',
      user: 'gpumon',
      timeoutMs: 2000,
    });
    await assert.rejects(
      storage.put(await localFile('x'), 'a/b.parquet'),
      (err) => isGpumonError(err, 'ARCHIVE_WRITE_FAILED') && err.message.includes('127.0.0.1:1'),
    );
  });

  it('refuses an HDFS archive path without a directory, naming archive.path, with exit status 2', async () => {
    const result = await runGpumon(['analyze', '--date', '2026-11-20', '--archive', 'hdfs://namenode:8020']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /archive\.path/);
  });
});
