/**
 * Smoke tests of HDFS (WebHDFS) and Apache Spark 4 (Spark Connect), the real services that the archive and the
 * daily analytics move to (docs/services.md), started by scripts/services/hdfs.sh and
 * scripts/services/spark-connect.sh. They fail, never skip, when a service is missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { hdfsRpcUrl, sparkConnectUrl, webhdfsUrl } from '../../src/testing/services.ts';
import { ROOT } from '../e2e/helpers.ts';

const run = promisify(execFile);
const unique = () => randomUUID().replaceAll('-', '').slice(0, 12);
const USER = 'user.name=gpumon';

/**
 * PUT a body to a DataNode (the second step of CREATE). node:http, not fetch: the DataNode answers CREATE and
 * APPEND with an unsolicited `100 Continue` before its final status, which fetch (undici) rejects as
 * "bad response"; node:http reads past informational responses.
 */
function putToDataNode(
  location: string,
  body: Buffer | string,
): Promise<{ status: number; headers: Headers; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(location, { method: 'PUT', timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`PUT ${location} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The two-step CREATE: the NameNode redirects (307) to a DataNode, which takes the body (201). */
async function create(url: string, path: string, body: Buffer | string): Promise<string> {
  const first = await fetch(`${url}/webhdfs/v1${path}?op=CREATE&overwrite=false&${USER}`, {
    method: 'PUT',
    redirect: 'manual',
  });
  await first.arrayBuffer();
  assert.equal(first.status, 307, `CREATE ${path} at the NameNode`);
  const location = first.headers.get('location');
  assert.ok(location, 'CREATE redirect without Location');
  const second = await putToDataNode(location, body);
  assert.equal(second.status, 201, `CREATE ${path} at the DataNode: ${second.text}`);
  return location;
}

async function json(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 300)}`);
  }
}

describe('HDFS over WebHDFS', () => {
  it('creates (two-step), reads, renames, lists and deletes a file', async () => {
    const url = await webhdfsUrl();
    const dir = `/gpumon-smoke/${unique()}`;
    const body = Buffer.from(
      Array.from({ length: 2000 }, (_, i) => `gpu,host=node-1,gpu=${i % 8} util=${i % 101}\n`).join(''),
    );
    try {
      const location = await create(url, `${dir}/part.tmp`, body);
      // the redirect names a DataNode every client can reach, never an unresolvable hostname
      assert.equal(new URL(location).hostname, '127.0.0.1');

      // a second CREATE of the same path without overwrite: the NameNode redirects all the same (it does not
      // look), the DataNode refuses
      const again = await fetch(`${url}/webhdfs/v1${dir}/part.tmp?op=CREATE&overwrite=false&${USER}`, {
        method: 'PUT',
        redirect: 'manual',
      });
      await again.arrayBuffer();
      assert.equal(again.status, 307);
      const refused = await putToDataNode(again.headers.get('location') ?? '', 'other');
      assert.equal(refused.status, 403);
      assert.equal(
        (JSON.parse(refused.text) as { RemoteException?: { exception?: string } }).RemoteException?.exception,
        'FileAlreadyExistsException',
      );

      // OPEN redirects to the DataNode too; fetch follows it
      const open = await fetch(`${url}/webhdfs/v1${dir}/part.tmp?op=OPEN&${USER}`);
      assert.equal(open.status, 200);
      assert.ok(Buffer.from(await open.arrayBuffer()).equals(body));
      // a range of it (offset, length)
      const range = await fetch(`${url}/webhdfs/v1${dir}/part.tmp?op=OPEN&offset=5&length=10&${USER}`);
      assert.equal(await range.text(), body.subarray(5, 15).toString());

      // RENAME (as the archive publishes a finished file: write under a temporary name, then rename)
      const renamed = await fetch(
        `${url}/webhdfs/v1${dir}/part.tmp?op=RENAME&destination=${encodeURIComponent(`${dir}/part-0.lp`)}&${USER}`,
        { method: 'PUT' },
      );
      assert.deepEqual(await json(renamed), { boolean: true });

      const list = await fetch(`${url}/webhdfs/v1${dir}?op=LISTSTATUS&${USER}`);
      const statuses = (
        (await json(list)) as {
          FileStatuses: {
            FileStatus: { pathSuffix: string; type: string; length: number; replication: number }[];
          };
        }
      ).FileStatuses.FileStatus;
      assert.deepEqual(
        statuses.map((s) => [s.pathSuffix, s.type, s.length, s.replication]),
        [['part-0.lp', 'FILE', body.length, 1]],
      );

      const gone = await fetch(`${url}/webhdfs/v1${dir}/part.tmp?op=GETFILESTATUS&${USER}`);
      assert.equal(gone.status, 404);
      assert.equal(
        ((await json(gone)) as { RemoteException?: { exception?: string } }).RemoteException?.exception,
        'FileNotFoundException',
      );

      const del = await fetch(`${url}/webhdfs/v1${dir}?op=DELETE&recursive=true&${USER}`, {
        method: 'DELETE',
      });
      assert.deepEqual(await json(del), { boolean: true });
      const after = await fetch(`${url}/webhdfs/v1${dir}?op=GETFILESTATUS&${USER}`);
      await after.arrayBuffer();
      assert.equal(after.status, 404);
    } finally {
      await fetch(`${url}/webhdfs/v1${dir}?op=DELETE&recursive=true&${USER}`, { method: 'DELETE' }).catch(
        () => {},
      );
    }
  });
});

describe('Apache Spark 4 over Spark Connect', () => {
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'gpumon-spark-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('reads a Parquet file from HDFS and returns the exact count and sum', async () => {
    const url = await webhdfsUrl();
    const hdfs = hdfsRpcUrl();
    const spark = sparkConnectUrl();

    // 1000 rows, mem_used = 80 GiB + i: the sum (85_899_346_420_500) is exact only as a 64-bit integer
    const local = join(tmp, 'gpu.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    try {
      const connection = await instance.connect();
      await connection.run(
        `COPY (SELECT i AS id, 'node-' || (i % 4) AS host, (85899345920 + i)::BIGINT AS mem_used,
                      TIMESTAMPTZ '2026-11-20 00:00:00+00' + to_seconds(i) AS ts
               FROM range(1, 1001) t(i))
         TO '${local.replaceAll("'", "''")}' (FORMAT parquet)`,
      );
      connection.closeSync();
    } finally {
      instance.closeSync();
    }

    const dir = `/gpumon-smoke/${unique()}`;
    try {
      await create(url, `${dir}/day=2026-11-20/part-0.parquet`, await readFile(local));
      const { stdout } = await run(
        join(ROOT, 'scripts/services/spark-connect.sh'),
        ['check', 'parquet-sum', spark, `${hdfs}${dir}`, 'mem_used'],
        { timeout: 180_000 },
      );
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
      assert.deepEqual(result, {
        count: 1000,
        sum: String(1000n * 85899345920n + 500500n),
        spark: '4.0.1',
        timeZone: 'UTC',
      });
    } finally {
      await fetch(`${url}/webhdfs/v1${dir}?op=DELETE&recursive=true&${USER}`, { method: 'DELETE' }).catch(
        () => {},
      );
    }
  });
});
