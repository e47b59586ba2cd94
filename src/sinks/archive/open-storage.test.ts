import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/load.ts';
import { describeError, isGpumonError } from '../../errors.ts';
import { LocalStorage } from './local-storage.ts';
import { archiveSpoolPath, checkArchiveWritable, openStorage, statePath } from './open-storage.ts';
import { WebHdfsStorage } from './webhdfs-storage.ts';

const config = (path: string, extra: Record<string, unknown> = {}) =>
  loadConfig({ flags: { 'archive.path': path, ...extra } });

describe('the archive storage archive.path names', () => {
  it('is a local directory for a plain path, with its state inside', () => {
    const c = config('/srv/gpumon');
    assert.ok(openStorage(c) instanceof LocalStorage);
    assert.equal(statePath(c), '/srv/gpumon/state');
  });

  it('is HDFS over WebHDFS for webhdfs:// and hdfs:// URIs, with its state local', () => {
    const web = openStorage(config('webhdfs://namenode:9871/gpumon'));
    assert.ok(web instanceof WebHdfsStorage);
    assert.equal(web.uri, 'webhdfs://namenode:9871/gpumon');
    const rpc = openStorage(config('hdfs://namenode:8020/data/gpumon', { 'archive.webhdfsPort': 50070 }));
    assert.equal(rpc.uri, 'webhdfs://namenode:50070/data/gpumon');
    assert.equal(statePath(config('hdfs://namenode:8020/data/gpumon')), 'state');
    assert.equal(
      statePath(config('hdfs://namenode:8020/x', { 'archive.statePath': '/var/lib/gpumon' })),
      '/var/lib/gpumon',
    );
  });

  it("takes the file system's root, so that the samples are /gpu-metrics and the results /gpu-analytics", () => {
    const web = openStorage(config('webhdfs://namenode:9870/'));
    assert.equal(web.uri, 'webhdfs://namenode:9870');
    assert.equal(openStorage(config('hdfs://namenode:8020/')).uri, 'webhdfs://namenode:9870');
  });

  it('refuses an HDFS URI without a host or a directory, naming archive.path', () => {
    for (const bad of ['hdfs://namenode:8020', 'webhdfs:///gpumon', 'hdfs://']) {
      assert.throws(
        () => config(bad),
        (err) => isGpumonError(err, 'CONFIG_INVALID') && err.message.includes('archive.path'),
        bad,
      );
    }
  });
});

describe('the archive write check at start', () => {
  const archiveDir = () => mkdtempSync(join(tmpdir(), 'gpumon-check-test-'));

  it('passes on a new directory, creating it, and leaves nothing a reader would see', async () => {
    const root = join(archiveDir(), 'new-archive');
    const storage = new LocalStorage(root);
    await checkArchiveWritable(storage);
    assert.deepEqual(readdirSync(join(root, 'gpu-metrics')), []);
  });

  it('fails with ARCHIVE_NOT_WRITABLE naming the archive when archive.path is a file', async () => {
    const file = join(archiveDir(), 'archive');
    writeFileSync(file, 'not a directory');
    await assert.rejects(
      checkArchiveWritable(new LocalStorage(file)),
      (err: unknown) =>
        isGpumonError(err, 'ARCHIVE_NOT_WRITABLE') &&
        err.message.includes(file) &&
        /ENOTDIR|EEXIST/.test(describeError(err)),
    );
  });

  it('fails with ARCHIVE_NOT_WRITABLE when the samples directory of the archive is a file', async () => {
    const root = archiveDir();
    writeFileSync(join(root, 'gpu-metrics'), 'not a directory');
    await assert.rejects(checkArchiveWritable(new LocalStorage(root)), (err: unknown) =>
      isGpumonError(err, 'ARCHIVE_NOT_WRITABLE'),
    );
  });

  it('puts the spool of gpumon up beside the run history unless archive.spoolPath says where', () => {
    assert.equal(archiveSpoolPath(config('/srv/gpumon')), '/srv/gpumon/state/archive-spool');
    assert.equal(
      archiveSpoolPath(config('/srv/gpumon', { 'archive.spoolPath': '/var/spool/gpumon' })),
      '/var/spool/gpumon',
    );
  });
});
