/**
 * Issue 5: a DataNode stopped mid-write fails the write cleanly and the retry succeeds without a half file
 * visible. An HDFS of this file's own (own-hdfs.ts): the DataNode is stopped and started through
 * scripts/services/hdfs.sh, the shared instance is never touched.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isGpumonError } from '../../src/errors.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { Batcher } from '../../src/pipeline/batcher.ts';
import { countArchiveRows } from '../../src/sinks/archive/archive-reader.ts';
import { ArchiveSink } from '../../src/sinks/archive/archive-sink.ts';
import { WebHdfsStorage } from '../../src/sinks/archive/webhdfs-storage.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { OwnHdfs } from './own-hdfs.ts';

const hdfs = new OwnHdfs();
const local = mkdtempSync(join(tmpdir(), 'gpumon-datanode-stop-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A file of `mib` MiB of random bytes; resolves with its sha256. */
async function randomFile(path: string, mib: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let i = 0; i < mib; i++) {
    const chunk = randomBytes(1024 * 1024);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return hash.digest('hex');
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** How a promise settled, and when (ms after `since`). */
async function settle(p: Promise<unknown>, since: number) {
  try {
    await p;
    return { ok: true as const, ms: Date.now() - since, err: undefined };
  } catch (err) {
    return { ok: false as const, ms: Date.now() - since, err };
  }
}

describe('a DataNode stopped mid-write (own HDFS: one NameNode, one DataNode)', () => {
  before(async () => {
    await hdfs.start();
  });
  after(async () => {
    await hdfs.stop();
    rmSync(local, { recursive: true, force: true });
  });

  it('fails the put cleanly, leaves no file nor temporary name, and the retried put writes it byte for byte', async (t) => {
    const root = `/datanode-stop-${randomBytes(4).toString('hex')}`;
    const storage = new WebHdfsStorage({
      url: hdfs.webhdfs,
      root,
      user: 'gpumon',
      timeoutMs: 20_000,
      cacheDir: join(local, 'cache'),
    });
    const file = join(local, 'big.bin');
    // Large enough (about a second to upload here) that the stop lands while the body streams.
    const digest = await randomFile(file, 256);
    const path = 'gpu-metrics/date=2026-11-26/big.parquet';
    const dir = `${root}/gpu-metrics/date=2026-11-26`;

    const started = Date.now();
    const put = settle(storage.put(file, path), started);
    // The temporary file appears once the DataNode has begun taking the body: stop the DataNode then.
    let streaming = false;
    while (!streaming && Date.now() - started < 30_000) {
      streaming = (await hdfs.rawList(dir)).some((n) => n.startsWith('.'));
      if (!streaming) await sleep(10);
    }
    assert.ok(streaming, 'the upload began (its temporary file appeared)');
    const stoppedAt = Date.now() - started;
    await hdfs.script('datanode-stop');
    const result = await put;
    t.diagnostic(`DataNode stopped ${stoppedAt} ms into the put; the put settled after ${result.ms} ms`);

    assert.equal(result.ok, false, 'the put failed: the stop landed before the upload ended');
    assert.ok(
      isGpumonError(result.err, 'ARCHIVE_WRITE_FAILED'),
      `ARCHIVE_WRITE_FAILED, not ${String(result.err)}`,
    );
    assert.ok(result.err.message.includes(path), `the message names the path: ${result.err.message}`);
    assert.match(result.err.message, /DataNode/);
    assert.ok(result.ms < 60_000, `settled within a bounded time (${result.ms} ms)`);
    assert.deepEqual(await hdfs.rawList(dir), [], 'nothing is left: no half file, no temporary name');
    assert.equal(await storage.exists(path), false);
    assert.deepEqual(await storage.list('gpu-metrics/date=2026-11-26'), []);

    await hdfs.script('datanode-start');
    await storage.put(file, path);
    assert.deepEqual(await hdfs.rawList(dir), ['big.parquet'], 'only the file, under its final name');
    assert.equal(await sha256(await storage.localPath(path)), digest, 'the content is byte-identical');
    await storage.remove('');
  });

  it('times out a put to a DataNode that hangs (SIGSTOP) instead of waiting for ever; nothing half written is listed', async (t) => {
    const root = `/datanode-hang-${randomBytes(4).toString('hex')}`;
    const storage = new WebHdfsStorage({ url: hdfs.webhdfs, root, user: 'gpumon', timeoutMs: 3000 });
    const file = join(local, 'hang.bin');
    const digest = await randomFile(file, 64);
    const pid = hdfs.datanodePid();
    process.kill(pid, 'SIGSTOP');
    let result: Awaited<ReturnType<typeof settle>>;
    try {
      result = await settle(storage.put(file, 'a/hang.parquet'), Date.now());
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal(result.ok, false);
    assert.ok(isGpumonError(result.err, 'ARCHIVE_WRITE_FAILED'), String(result.err));
    assert.match(result.err.message, /a\/hang\.parquet.*timed out/);
    assert.ok(result.ms < 15_000, `gave up after the timeout, not later (${result.ms} ms)`);
    assert.equal(await storage.exists('a/hang.parquet'), false, 'nothing at the final name');
    assert.deepEqual(await storage.list('a'), [], 'nothing listed');

    // The DataNode, woken up, may still act on the abandoned request and create the temporary name (hidden,
    // never listed, never read: not a .parquet name); the retry writes the file whole beside it.
    await storage.put(file, 'a/hang.parquet');
    assert.deepEqual(await storage.list('a'), ['hang.parquet']);
    const raw = await hdfs.rawList(`${root}/a`);
    assert.ok(
      raw.every((n) => n === 'hang.parquet' || /^\.hang\.parquet\.[0-9a-f]{8}\.tmp$/.test(n)),
      raw.join(', '),
    );
    t.diagnostic(
      `left by the woken DataNode: ${raw.filter((n) => n !== 'hang.parquet').join(', ') || 'nothing'}`,
    );
    assert.equal(await sha256(await storage.localPath('a/hang.parquet')), digest);
    await storage.remove('');
  });

  it('the archive sink retried by the pipeline archives every sample exactly once after the DataNode is back', async (t) => {
    const root = `/datanode-sink-${randomBytes(4).toString('hex')}`;
    const storage = new WebHdfsStorage({
      url: hdfs.webhdfs,
      root,
      user: 'gpumon',
      timeoutMs: 10_000,
      cacheDir: join(local, 'cache'),
    });
    const sink = new ArchiveSink({ storage, tmpDir: join(local, 'parquet') });
    const batcher = new Batcher(sink, {
      maxRows: 100_000,
      maxAgeMs: 50,
      maxBuffered: 1_000_000,
      retryDelayMs: 200,
      maxRetryDelayMs: 1000,
    });
    const source = new SimSource({ hosts: 2, gpusPerHost: 4, seed: 11 });
    await source.open();
    const samples: GpuSample[] = [];
    const t0 = Date.UTC(2026, 10, 26, 10);
    for (let i = 0; i < 100; i++) samples.push(...(await source.read(t0 + i * 1000)));

    await hdfs.script('datanode-stop');
    let archived = false;
    let timer: NodeJS.Timeout | undefined;
    const written = Promise.race([
      batcher.add(samples).then(() => {
        archived = true;
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the batch was not archived within 90 s')), 90_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const deadline = Date.now() + 30_000;
    while (batcher.getStats().failures < 2) {
      assert.ok(Date.now() < deadline, 'the archive sink failed and was retried');
      await sleep(100);
    }
    assert.equal(archived, false, 'not acknowledged while the DataNode is down');
    await hdfs.script('datanode-start');
    const retried = await settle(written, Date.now());
    assert.ok(retried.ok, String(retried.err));
    await batcher.close();
    t.diagnostic(`${batcher.getStats().failures} failed attempts before the DataNode came back`);

    assert.equal(await countArchiveRows(storage), samples.length, 'every sample exactly once');
    const files = await hdfs.rawList(`${root}/gpu-metrics/date=2026-11-26`);
    assert.equal(files.length, 1, `one file, no temporary names: ${files.join(', ')}`);
    assert.match(files[0] ?? '', /^part-.*\.parquet$/);
    await storage.remove('');
  });
});
