import { lstat, mkdir, mkdtemp, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpumonError } from '../../errors.ts';

/**
 * Private temporary files. A shared temporary directory (/tmp) is writable by every user: a name there that
 * another user can guess may already be theirs (a directory, or a symlink to somewhere of theirs). So gpumon
 * never writes to a fixed name under it: each process makes its own directory with `mkdtemp` (a random name,
 * mode 0700: no one else can enter it), and creates its files there exclusively.
 */

/** Makes `<base>/<prefix>XXXXXX`, mode 0700, for this process alone; TEMP_FILE_FAILED names `base` if it cannot. */
export async function makePrivateDir(prefix: string, base: string = tmpdir()): Promise<string> {
  try {
    await mkdir(base, { recursive: true });
    return await mkdtemp(join(base, prefix));
  } catch (cause) {
    throw new GpumonError(
      'TEMP_FILE_FAILED',
      `cannot make a private temporary directory under ${base} (TMPDIR): ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** Creates `path` empty, failing if anything (a file, a symlink) is there already; TEMP_FILE_FAILED names it. */
export async function createExclusive(path: string): Promise<void> {
  try {
    await (await open(path, 'wx', 0o600)).close();
  } catch (cause) {
    throw new GpumonError(
      'TEMP_FILE_FAILED',
      `cannot create the temporary file ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * A directory of this user's that lasts between processes (a cache): made with mode 0700 if absent, else
 * checked to be a real directory (not a symlink) owned by this user that no one else can open. Throws
 * TEMP_FILE_FAILED naming the path and what is wrong with it.
 */
export async function ensureOwnDir(path: string): Promise<string> {
  const refuse = (why: string, cause?: unknown) =>
    new GpumonError('TEMP_FILE_FAILED', `the temporary directory ${path} ${why}`, { cause });
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw refuse(`cannot be made: ${(err as Error).message}`, err);
  }
  const info = await lstat(path).catch((err: unknown) => {
    throw refuse(`cannot be read: ${(err as Error).message}`, err);
  });
  if (info.isSymbolicLink()) throw refuse('is a symbolic link, not a directory of this user: remove it');
  if (!info.isDirectory()) throw refuse('is not a directory: remove it');
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid)
    throw refuse(`belongs to uid ${info.uid}, not to this user (${uid})`);
  if ((info.mode & 0o077) !== 0) {
    throw refuse(`is open to other users (mode ${(info.mode & 0o777).toString(8)}); it must be 700`);
  }
  return path;
}

/** `<tmpdir>/<name>-<uid>`: a per-user name for `ensureOwnDir` (just `<name>` where there are no uids). */
export function perUserTempPath(name: string, base: string = tmpdir()): string {
  const uid = process.getuid?.();
  return join(base, uid === undefined ? name : `${name}-${uid}`);
}
