import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isGpumonError } from '../../errors.ts';
import { countArchiveRows } from './archive-reader.ts';
import { LocalStorage } from './local-storage.ts';
import { createExclusive, ensureOwnDir, makePrivateDir } from './private-temp.ts';

const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gpumon-private-temp-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('private temporary files', () => {
  it('makes a directory of a random name that only this user can open', async () => {
    const base = await tempDir();
    const [a, b] = await Promise.all([makePrivateDir('gpumon-x-', base), makePrivateDir('gpumon-x-', base)]);
    assert.notEqual(a, b);
    assert.equal((await stat(a)).mode & 0o777, 0o700);
  });

  it('creates a file only where nothing is, a symlink included', async () => {
    const dir = await tempDir();
    await symlink(join(dir, 'target'), join(dir, 'planted'));
    await assert.rejects(
      createExclusive(join(dir, 'planted')),
      (err) => isGpumonError(err, 'TEMP_FILE_FAILED') && err.message.includes(join(dir, 'planted')),
    );
    await createExclusive(join(dir, 'fresh'));
    assert.equal((await stat(join(dir, 'fresh'))).size, 0);
  });

  it('keeps a per-user cache directory only when it is a real directory of this user, closed to others', async () => {
    const base = await tempDir();
    const made = await ensureOwnDir(join(base, 'cache'));
    assert.equal((await stat(made)).mode & 0o777, 0o700);
    assert.equal(await ensureOwnDir(made), made, 'an existing private one is kept');

    await mkdir(join(base, 'elsewhere'));
    await symlink(join(base, 'elsewhere'), join(base, 'planted'));
    await assert.rejects(
      ensureOwnDir(join(base, 'planted')),
      (err) => isGpumonError(err, 'TEMP_FILE_FAILED') && /planted is a symbolic link/.test(err.message),
    );
    await mkdir(join(base, 'open'));
    await chmod(join(base, 'open'), 0o777);
    await assert.rejects(
      ensureOwnDir(join(base, 'open')),
      (err) => isGpumonError(err, 'TEMP_FILE_FAILED') && /open to other users \(mode 777\)/.test(err.message),
    );
  });

  it('lets two processes write archives at once, under a TMPDIR where another user planted the old names', async () => {
    const tmp = await tempDir();
    const victim = await tempDir();
    // The old fixed staging directory, as another user would have planted it: a symlink to a place of theirs.
    await symlink(victim, join(tmp, 'gpumon-parquet'));
    // The old writer staged there and moved the files away at once: watch for any file appearing at all.
    const seen: string[] = [];
    const watcher = watch(victim, (_event, name) => seen.push(String(name)));
    const roots = [join(tmp, 'archive-1'), join(tmp, 'archive-2')];
    const runs = roots.map((out) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          MAIN,
          'simulate',
          '--days',
          '1',
          '--end',
          '2026-01-15',
          '--hosts',
          '1',
          '--gpus',
          '2',
          '--interval-ms',
          '10000',
          '--out',
          out,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: tmp } },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      return once(child, 'close').then(([code]) => ({ code, stderr }));
    });
    for (const { code, stderr } of await Promise.all(runs)) assert.equal(code, 0, stderr);
    for (const root of roots) assert.equal(await countArchiveRows(new LocalStorage(root)), 2 * 8640);
    watcher.close();
    assert.deepEqual(seen, [], "nothing went to the other user's directory, not even for a moment");
    assert.deepEqual(await readdir(victim), []);
    assert.deepEqual(
      (await readdir(tmp)).filter((e) => e.startsWith('gpumon-parquet-')),
      [],
      'each process removed its own staging directory',
    );
  });
});
