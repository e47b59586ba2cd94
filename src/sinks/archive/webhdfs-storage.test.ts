import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isGpumonError } from '../../errors.ts';
import { WebHdfsStorage } from './webhdfs-storage.ts';

const dirs: string[] = [];
const servers: Server[] = [];
after(async () => {
  for (const server of servers) {
    server.close();
    server.closeAllConnections();
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/**
 * A stand-in for the NameNode and the DataNode on one port: CREATE is redirected to `/datanode/...`, which
 * `datanode` answers; DELETE and the rest answer as the NameNode would, and are recorded.
 */
async function fakeHdfs(
  datanode: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/datanode/')) return datanode(req, res);
    const op = url.searchParams.get('op');
    calls.push(`${op} ${decodeURIComponent(url.pathname.replace('/webhdfs/v1', ''))}`);
    if (op === 'CREATE') {
      const { port } = server.address() as AddressInfo;
      res.writeHead(307, { location: `http://127.0.0.1:${port}/datanode${url.pathname}` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"boolean":true}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

async function bigFile(mib: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gpumon-webhdfs-unit-'));
  dirs.push(dir);
  const file = join(dir, 'part.parquet');
  await writeFile(file, Buffer.alloc(mib * 1024 * 1024, 7));
  return file;
}

describe('WebHdfsStorage.put against a misbehaving DataNode', () => {
  test('reports the DataNode refusal it answered before reading the body, not the broken pipe, and deletes the temporary file', async () => {
    const hdfs = await fakeHdfs((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"RemoteException":{"exception":"FileAlreadyExistsException","message":"already exists"}}');
    });
    const storage = new WebHdfsStorage({ url: hdfs.url, root: '/a', user: 'gpumon', timeoutMs: 5000 });
    const file = await bigFile(32);
    await assert.rejects(
      storage.put(file, 'gpu-metrics/date=2026-11-26/p.parquet'),
      (err) =>
        isGpumonError(err, 'ARCHIVE_WRITE_FAILED') &&
        err.message.includes('gpu-metrics/date=2026-11-26/p.parquet') &&
        err.message.includes('403') &&
        err.message.includes('FileAlreadyExistsException'),
    );
    const deleted = hdfs.calls.filter((c) => c.startsWith('DELETE'));
    assert.equal(deleted.length, 1, hdfs.calls.join('\n'));
    assert.match(deleted[0] ?? '', /\/a\/gpu-metrics\/date=2026-11-26\/\.p\.parquet\.[0-9a-f]{8}\.tmp$/);
    assert.ok(!hdfs.calls.some((c) => c.startsWith('RENAME')), 'nothing renamed into place');
  });

  test('gives up on a DataNode that takes the connection but never reads nor answers, after timeoutMs', async () => {
    const hdfs = await fakeHdfs((req) => {
      req.pause(); // reads nothing, answers nothing
    });
    const storage = new WebHdfsStorage({ url: hdfs.url, root: '/a', user: 'gpumon', timeoutMs: 500 });
    const file = await bigFile(16);
    const started = Date.now();
    await assert.rejects(
      storage.put(file, 'x/p.parquet'),
      (err) =>
        isGpumonError(err, 'ARCHIVE_WRITE_FAILED') &&
        err.message.includes('x/p.parquet') &&
        /timed out/.test(err.message),
    );
    assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
    assert.equal(hdfs.calls.filter((c) => c.startsWith('DELETE')).length, 1, hdfs.calls.join('\n'));
  });

  test('keeps the local file after a failure, so that the same put can be retried', async () => {
    const hdfs = await fakeHdfs((_req, res) => {
      res.writeHead(500, { connection: 'close' }).end('boom');
    });
    const storage = new WebHdfsStorage({ url: hdfs.url, root: '/a', user: 'gpumon', timeoutMs: 2000 });
    const file = await bigFile(1);
    await assert.rejects(storage.put(file, 'x/p.parquet'), /500: boom/);
    assert.equal((await stat(file)).size, 1024 * 1024);
  });
});

/**
 * A stand-in for WebHDFS serving one file of `chunks` chunks of 64 KiB: GETFILESTATUS describes it, OPEN sends
 * the chunks `gapMs` apart, or stops after `stallAfter` chunks and keeps the connection open.
 */
async function slowFileHdfs(chunks: number, gapMs: number, stallAfter = Number.POSITIVE_INFINITY) {
  const chunk = Buffer.alloc(64 * 1024, 3);
  const server = createServer((req, res) => {
    const op = new URL(req.url ?? '/', 'http://x').searchParams.get('op');
    if (op === 'GETFILESTATUS') {
      const status = { pathSuffix: '', type: 'FILE', length: chunk.length * chunks, modificationTime: 1 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ FileStatus: status }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    let sent = 0;
    const next = () => {
      if (sent === stallAfter) return; // the connection stays open, nothing more comes
      res.write(chunk);
      sent++;
      if (sent === chunks) res.end();
      else setTimeout(next, gapMs);
    };
    next();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = await mkdtemp(join(tmpdir(), 'gpumon-webhdfs-read-'));
  dirs.push(dir);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cacheDir: dir,
    size: chunk.length * chunks,
  };
}

describe('WebHdfsStorage.localPath on a slow or stalled read', () => {
  test('copies a file whose download takes longer than timeoutMs in all, as long as it keeps moving', async () => {
    const hdfs = await slowFileHdfs(12, 100);
    const storage = new WebHdfsStorage({ ...hdfs, root: '/a', user: 'gpumon', timeoutMs: 400 });
    const started = Date.now();
    const local = await storage.localPath('big.parquet');
    assert.ok(Date.now() - started > 400, 'the download outlasted timeoutMs');
    assert.equal((await stat(local)).size, hdfs.size);
  });

  test('gives up on a download that stops moving, after timeoutMs without progress, naming the file', async () => {
    const hdfs = await slowFileHdfs(12, 20, 3);
    const storage = new WebHdfsStorage({ ...hdfs, root: '/a', user: 'gpumon', timeoutMs: 400 });
    const started = Date.now();
    await assert.rejects(storage.localPath('stalled.parquet'), (err: unknown) => {
      assert.ok(isGpumonError(err, 'ARCHIVE_READ_FAILED'), String(err));
      assert.match((err as Error).message, /stalled\.parquet.*no progress for 400 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'given up soon after the stall');
  });
});
