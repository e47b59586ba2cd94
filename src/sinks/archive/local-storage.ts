import { copyFile, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GpumonError } from '../../errors.ts';
import { type ArchiveStorage, isTemporaryName, temporaryName } from './storage.ts';

/** The archive on the local filesystem, under one root directory. */
export class LocalStorage implements ArchiveStorage {
  readonly root: string;
  readonly uri: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.uri = pathToFileURL(this.root).href;
  }

  async put(localFile: string, path: string): Promise<void> {
    const target = this.resolvePath(path);
    await mkdir(dirname(target), { recursive: true });
    try {
      // Same filesystem: one atomic rename. Elsewhere: copy to a hidden temporary name beside the target,
      // then rename, so a reader never sees a partial file.
      await rename(localFile, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') {
        throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot move ${localFile} to ${target}`, {
          cause: err,
        });
      }
      const tmp = join(dirname(target), temporaryName(basename(target)));
      try {
        await copyFile(localFile, tmp);
        await rename(tmp, target);
        await unlink(localFile);
      } catch (cause) {
        await rm(tmp, { force: true });
        throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot copy ${localFile} to ${target}`, { cause });
      }
    }
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await this.entries(dir)).filter((name) => !isTemporaryName(name)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new GpumonError('ARCHIVE_READ_FAILED', `cannot list ${this.resolvePath(dir)}`, { cause: err });
    }
  }

  async removeAbandoned(dir: string, olderThanMs: number): Promise<string[]> {
    const names = (await this.entries(dir).catch(() => [])).filter(isTemporaryName);
    const before = Date.now() - olderThanMs;
    const removed: string[] = [];
    for (const name of names) {
      const path = join(this.resolvePath(dir), name);
      const info = await stat(path).catch(() => null);
      if (info === null || !info.isFile() || info.mtimeMs >= before) continue;
      await rm(path, { force: true });
      removed.push(name);
    }
    return removed;
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(this.resolvePath(path));
      return true;
    } catch {
      return false;
    }
  }

  async remove(path: string): Promise<void> {
    await rm(this.resolvePath(path), { recursive: true, force: true });
  }

  async rename(from: string, to: string): Promise<void> {
    const target = this.resolvePath(to);
    if (await this.exists(to)) {
      throw new GpumonError('ARCHIVE_WRITE_FAILED', `cannot rename ${from} to ${to}: the target exists`);
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(this.resolvePath(from), target);
  }

  async localPath(path: string): Promise<string> {
    return this.resolvePath(path);
  }

  /** Every name under `dir`, the hidden temporary ones included. */
  private entries(dir: string): Promise<string[]> {
    return readdir(this.resolvePath(dir));
  }

  private resolvePath(path: string): string {
    if (isAbsolute(path) || path.split('/').includes('..')) {
      throw new GpumonError(
        'ARCHIVE_READ_FAILED',
        `archive path ${path} must be relative and stay under the root`,
      );
    }
    return join(this.root, path);
  }
}
