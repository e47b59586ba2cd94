import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join, posix } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GpumonError } from '../../errors.ts';
import { ensureOwnDir, perUserTempPath } from './private-temp.ts';
import { type ArchiveStorage, isTemporaryName, temporaryName } from './storage.ts';

export interface WebHdfsOptions {
  /** The NameNode's HTTP address, e.g. `http://namenode:9870`. */
  url: string;
  /** Absolute HDFS directory under which the archive lives, e.g. `/gpumon`. */
  root: string;
  /** The user of simple authentication (`user.name`); Kerberos (SPNEGO) is not supported yet. */
  user: string;
  /**
   * Where `localPath` keeps copies of files for a local engine (default: `<TMPDIR>/gpumon-webhdfs-cache-<uid>`,
   * a directory of this user's, mode 0700, checked before use).
   */
  cacheDir?: string;
  /**
   * Timeout of one request (default 60 s); for the bodies of files read or written, the longest time without
   * progress (a big file may take longer in all, on a slow link or a busy machine, as long as it moves).
   */
  timeoutMs?: number;
}

interface FileStatus {
  pathSuffix: string;
  type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  length: number;
  modificationTime: number;
}

/**
 * The archive on HDFS, over the WebHDFS REST API (no Java in gpumon): files are created with the two-step
 * redirect (NameNode, then the DataNode it names) under a hidden temporary name, then renamed into place, so
 * a reader never sees half a file. The DataNode's half of a CREATE goes through node:http, which copes with
 * the `100 Continue` the DataNode always sends first (fetch does not).
 */
export class WebHdfsStorage implements ArchiveStorage {
  readonly uri: string;
  private readonly base: string;
  private readonly root: string;
  private readonly cacheDir: string;
  private cacheReady: Promise<string> | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: WebHdfsOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.root = `/${options.root.replace(/^\/+|\/+$/g, '')}`;
    // The root of the file system gives `webhdfs://host`, so that `${uri}/gpu-metrics` has one slash.
    this.uri = `webhdfs://${new URL(this.base).host}${this.root === '/' ? '' : this.root}`;
    this.cacheDir = options.cacheDir ?? perUserTempPath('gpumon-webhdfs-cache');
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * Uploads under a hidden temporary name beside the target (`.NAME.RANDOM.tmp`, never listed), then renames
   * it into place. On any failure (the NameNode or the DataNode unreachable, the DataNode gone mid-stream, a
   * refusal, a timeout) the temporary file is deleted and the promise rejects with ARCHIVE_WRITE_FAILED naming
   * the path; the local file stays, so the same `put` can be retried.
   */
  async put(localFile: string, path: string): Promise<void> {
    const target = this.absolute(path);
    const tmp = posix.join(posix.dirname(target), temporaryName(posix.basename(target)));
    try {
      const size = (await stat(localFile)).size;
      const created = await this.call(
        'PUT',
        tmp,
        { op: 'CREATE', overwrite: 'true' },
        { redirect: 'manual' },
      );
      const location = created.headers.get('location');
      if (created.status !== 307 || !location) {
        throw await this.failure('ARCHIVE_WRITE_FAILED', `CREATE ${tmp}`, created);
      }
      const written = await putToDataNode(location, localFile, size, this.timeoutMs).catch((cause) => {
        throw new GpumonError(
          'ARCHIVE_WRITE_FAILED',
          `WebHDFS CREATE ${tmp}: the DataNode at ${new URL(location).host}: ${(cause as Error).message}`,
          { cause },
        );
      });
      if (written.status !== 201) {
        throw new GpumonError(
          'ARCHIVE_WRITE_FAILED',
          `WebHDFS CREATE ${tmp}: the DataNode answered ${written.status}: ${remoteMessage(written.text)}`,
        );
      }
      await this.remove(path);
      await this.renameAbsolute(tmp, target);
    } catch (err) {
      const cleanup = await this.deleteQuietly(tmp);
      throw new GpumonError(
        'ARCHIVE_WRITE_FAILED',
        `cannot write ${this.uri}/${path} over WebHDFS: ${(err as Error).message}${cleanup}`,
        { cause: err },
      );
    }
    await rm(localFile, { force: true });
  }

  /** Deletes a temporary file after a failed put; '' when done, else a note for the error message. */
  private async deleteQuietly(absolutePath: string): Promise<string> {
    try {
      const res = await this.call('DELETE', absolutePath, { op: 'DELETE' });
      if (res.ok || res.status === 404) return '';
      return `; the temporary file ${absolutePath} is left (DELETE answered ${res.status})`;
    } catch (err) {
      return `; the temporary file ${absolutePath} may be left (${(err as Error).message})`;
    }
  }

  async list(dir: string): Promise<string[]> {
    return (await this.listStatus(dir))
      .map((s) => s.pathSuffix)
      .filter((name) => !isTemporaryName(name))
      .sort();
  }

  async removeAbandoned(dir: string, olderThanMs: number): Promise<string[]> {
    const before = Date.now() - olderThanMs;
    const abandoned = (await this.listStatus(dir))
      .filter((s) => s.type === 'FILE' && isTemporaryName(s.pathSuffix) && s.modificationTime < before)
      .map((s) => s.pathSuffix);
    for (const name of abandoned) await this.remove(posix.join(dir, name));
    return abandoned.sort();
  }

  async exists(path: string): Promise<boolean> {
    return (await this.status(path)) !== null;
  }

  async remove(path: string): Promise<void> {
    const res = await this.call('DELETE', this.absolute(path), { op: 'DELETE', recursive: 'true' });
    if (!res.ok && res.status !== 404)
      throw await this.failure('ARCHIVE_WRITE_FAILED', `DELETE ${path}`, res);
  }

  async rename(from: string, to: string): Promise<void> {
    if (await this.exists(to)) {
      throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot rename ${from} to ${to}: the target exists`);
    }
    await this.renameAbsolute(this.absolute(from), this.absolute(to));
  }

  /** Downloads the file into the local cache (again only when it changed) and returns the copy's path. */
  async localPath(path: string): Promise<string> {
    const status = await this.status(path);
    if (!status) throw new GpumonError('ARCHIVE_READ_FAILED', `${this.uri}/${path} does not exist`);
    this.cacheReady ??= ensureOwnDir(this.cacheDir).catch((err: unknown) => {
      this.cacheReady = undefined;
      throw err;
    });
    await this.cacheReady;
    const local = join(this.cacheDir, this.absolute(path));
    const stamp = `${local}.${status.modificationTime}-${status.length}`;
    try {
      await stat(stamp);
      return stamp;
    } catch {}
    await mkdir(dirname(local), { recursive: true, mode: 0o700 });
    const idle = idleTimeout(this.timeoutMs);
    const tmp = `${stamp}.${randomBytes(4).toString('hex')}.part`;
    try {
      const res = await this.call('GET', this.absolute(path), { op: 'OPEN' }, { signal: idle.signal });
      if (!res.ok || !res.body) throw await this.failure('ARCHIVE_READ_FAILED', `OPEN ${path}`, res);
      const progress = new Transform({
        transform(chunk, _encoding, done) {
          idle.touch();
          done(null, chunk);
        },
      });
      try {
        await pipeline(
          Readable.fromWeb(res.body as never),
          progress,
          createWriteStream(tmp, { flags: 'wx', mode: 0o600 }),
        );
        await rename(tmp, stamp);
      } catch (err) {
        await rm(tmp, { force: true });
        if (err instanceof GpumonError) throw err;
        const why = idle.signal.aborted ? (idle.signal.reason as Error).message : (err as Error).message;
        throw new GpumonError(
          idle.signal.aborted ? 'ARCHIVE_READ_FAILED' : 'TEMP_FILE_FAILED',
          `cannot copy ${this.uri}/${path} to the local cache ${tmp}: ${why}`,
          { cause: err },
        );
      }
    } finally {
      idle.clear();
    }
    return stamp;
  }

  /** The entries directly under `dir`, temporary ones included; [] if it does not exist. */
  private async listStatus(dir: string): Promise<FileStatus[]> {
    const res = await this.call('GET', this.absolute(dir), { op: 'LISTSTATUS' });
    if (res.status === 404) return [];
    if (!res.ok) throw await this.failure('ARCHIVE_READ_FAILED', `LISTSTATUS ${dir}`, res);
    return ((await res.json()) as { FileStatuses: { FileStatus: FileStatus[] } }).FileStatuses.FileStatus;
  }

  private async status(path: string): Promise<FileStatus | null> {
    const res = await this.call('GET', this.absolute(path), { op: 'GETFILESTATUS' });
    if (res.status === 404) return null;
    if (!res.ok) throw await this.failure('ARCHIVE_READ_FAILED', `GETFILESTATUS ${path}`, res);
    return ((await res.json()) as { FileStatus: FileStatus }).FileStatus;
  }

  private async renameAbsolute(from: string, to: string): Promise<void> {
    const parent = posix.dirname(to);
    const made = await this.call('PUT', parent, { op: 'MKDIRS' });
    if (!made.ok) throw await this.failure('ARCHIVE_WRITE_FAILED', `MKDIRS ${parent}`, made);
    const res = await this.call('PUT', from, { op: 'RENAME', destination: to });
    const ok = res.ok && ((await res.json()) as { boolean: boolean }).boolean;
    if (!ok) throw new GpumonError('ARCHIVE_WRITE_FAILED', `WebHDFS RENAME ${from} to ${to} was refused`);
  }

  /** One WebHDFS request, given up after timeoutMs in all unless `init.signal` says otherwise. */
  private call(
    method: string,
    absolutePath: string,
    params: Record<string, string>,
    init: { redirect?: RequestRedirect; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const query = new URLSearchParams({ ...params, 'user.name': this.options.user });
    const path = absolutePath.split('/').map(encodeURIComponent).join('/');
    return fetch(`${this.base}/webhdfs/v1${path}?${query}`, {
      method,
      signal: AbortSignal.timeout(this.timeoutMs),
      ...init,
    }).catch((cause) => {
      throw new GpumonError(
        method === 'GET' ? 'ARCHIVE_READ_FAILED' : 'ARCHIVE_WRITE_FAILED',
        `WebHDFS ${params.op} ${absolutePath} at ${this.base}: ${(cause as Error).message}`,
        { cause },
      );
    });
  }

  private async failure(code: 'ARCHIVE_READ_FAILED' | 'ARCHIVE_WRITE_FAILED', what: string, res: Response) {
    return new GpumonError(
      code,
      `WebHDFS ${what} at ${this.uri}: ${res.status} ${remoteMessage(await res.text())}`,
    );
  }

  private absolute(path: string): string {
    if (path.startsWith('/') || path.split('/').includes('..')) {
      throw new GpumonError(
        'ARCHIVE_READ_FAILED',
        `archive path ${path} must be relative and stay under the root`,
      );
    }
    return path === '' ? this.root : posix.join(this.root, path);
  }
}

/** The message of a WebHDFS RemoteException, or the text as it is. */
function remoteMessage(text: string): string {
  try {
    const remote = (JSON.parse(text) as { RemoteException?: { exception?: string; message?: string } })
      .RemoteException;
    if (remote) return `${remote.exception}: ${remote.message}`;
  } catch {}
  return text.slice(0, 300);
}

/**
 * The DataNode half of a CREATE: node:http, which takes the DataNode's unasked `100 Continue` in its stride.
 * Settles exactly once: with the DataNode's answer (even one sent before the whole body was read, such as a
 * 403), or with the first error (the connection refused or reset, the file unreadable, no byte moving either
 * way for `timeoutMs`); the file stream and the socket are closed either way.
 */
function putToDataNode(
  location: string,
  file: string,
  size: number,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const body = createReadStream(file);
    const req = request(location, {
      method: 'PUT',
      timeout: timeoutMs,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size },
    });
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      body.destroy();
      req.destroy();
      reject(err);
    };
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        body.destroy();
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('close', () => fail(new Error('the connection closed in the middle of the answer')));
    });
    req.on('timeout', () => fail(new Error(`no progress for ${timeoutMs} ms (timed out)`)));
    // Once the DataNode answers, a failure to send the rest of the body (EPIPE) is not the story: its answer is.
    req.on('error', (err) => (answered ? undefined : fail(err)));
    body.on('error', fail);
    body.pipe(req);
  });
}

/**
 * An abort signal that fires once `ms` pass without a `touch()`: a download that keeps moving is never cut, one
 * that stalls is, with a reason that says so. `clear()` when done.
 */
function idleTimeout(ms: number): { signal: AbortSignal; touch(): void; clear(): void } {
  const controller = new AbortController();
  const fire = () => controller.abort(new Error(`no progress for ${ms} ms (timed out)`));
  let timer = setTimeout(fire, ms);
  return {
    signal: controller.signal,
    touch() {
      clearTimeout(timer);
      timer = setTimeout(fire, ms);
    },
    clear() {
      clearTimeout(timer);
    },
  };
}
