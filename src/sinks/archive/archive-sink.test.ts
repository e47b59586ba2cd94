import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GpumonError } from '../../errors.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { Batcher } from '../../pipeline/batcher.ts';
import { SimSource } from '../../sources/sim/sim-source.ts';
import { countArchiveRows } from './archive-reader.ts';
import { ArchiveSink } from './archive-sink.ts';
import { LocalStorage } from './local-storage.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Local storage whose put number `failAt` (1-based) fails once, as an HDFS DataNode that goes away would. */
class FlakyStorage extends LocalStorage {
  puts = 0;
  constructor(
    root: string,
    private readonly failAt: number,
  ) {
    super(root);
  }

  override async put(localFile: string, path: string): Promise<void> {
    this.puts += 1;
    if (this.puts === this.failAt) {
      throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot write ${path}: the DataNode went away`);
    }
    await super.put(localFile, path);
  }
}

async function samplesAround(midnight: number, reads: number): Promise<GpuSample[]> {
  const source = new SimSource({ hosts: 1, gpusPerHost: 2, seed: 3 });
  await source.open();
  const out: GpuSample[] = [];
  for (let i = 0; i < reads; i++) out.push(...(await source.read(midnight - (reads / 2) * 1000 + i * 1000)));
  return out;
}

describe('ArchiveSink under the pipeline retry', () => {
  const midnight = Date.UTC(2026, 10, 26);

  for (const failAt of [1, 2]) {
    test(`archives a batch spanning two dates exactly once when put ${failAt} of 2 fails and the batch is retried`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'gpumon-archive-sink-'));
      dirs.push(root);
      const storage = new FlakyStorage(root, failAt);
      const sink = new ArchiveSink({ storage, tmpDir: join(root, '.tmp-parquet') });
      const batcher = new Batcher(sink, {
        maxRows: 10_000,
        maxAgeMs: 10,
        maxBuffered: 100_000,
        retryDelayMs: 5,
      });
      const samples = await samplesAround(midnight, 40);
      await batcher.add(samples);
      await batcher.close();

      const stats = batcher.getStats();
      assert.equal(stats.failures, 1, 'one failed write');
      assert.equal(stats.written, samples.length);
      assert.equal(storage.puts, 3, 'one put per date, and the failed one again');
      assert.equal(await countArchiveRows(storage, '2026-11-25'), 40);
      assert.equal(await countArchiveRows(storage, '2026-11-26'), 40);
      assert.equal(await countArchiveRows(storage), samples.length, 'every sample exactly once');
    });
  }
});
