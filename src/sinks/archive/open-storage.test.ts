import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/load.ts';
import { isGpumonError } from '../../errors.ts';
import { LocalStorage } from './local-storage.ts';
import { openStorage, statePath } from './open-storage.ts';
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
