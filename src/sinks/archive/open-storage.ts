import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRemoteArchive, parseHdfsLocation } from '../../config/archive-uri.ts';
import type { Config } from '../../config/schema.ts';
import { GpumonError } from '../../errors.ts';
import { METRICS_DATASET } from './layout.ts';
import { LocalStorage } from './local-storage.ts';
import { type ArchiveStorage, temporaryName } from './storage.ts';
import { WebHdfsStorage } from './webhdfs-storage.ts';

/**
 * The archive storage `archive.path` names: `webhdfs://namenode:httpport/dir` or `hdfs://namenode:rpcport/dir`
 * (WebHDFS on `archive.webhdfsPort`) for HDFS, anything else a local directory.
 */
export function openStorage(config: Config): ArchiveStorage {
  const path = config.archive.path;
  if (!isRemoteArchive(path)) return new LocalStorage(path);
  const location = parseHdfsLocation(path);
  const port = location.scheme === 'webhdfs' ? (location.port ?? 9870) : config.archive.webhdfsPort;
  return new WebHdfsStorage({
    url: `http://${location.hostname}:${port}`,
    root: location.root,
    user: config.archive.hdfsUser,
  });
}

/** Where local state lives: `archive.statePath`, else `<archive.path>/state`, else (HDFS) `./state`. */
export function statePath(config: Config): string {
  if (config.archive.statePath) return config.archive.statePath;
  return isRemoteArchive(config.archive.path) ? 'state' : join(config.archive.path, 'state');
}

/** Where `gpumon up` keeps the samples not yet in the archive: `archive.spoolPath`, else `<state>/archive-spool`. */
export function archiveSpoolPath(config: Config): string {
  return config.archive.spoolPath || join(statePath(config), 'archive-spool');
}

/**
 * Checks, at start, that the archive takes files the way the archive writer puts them: a small file is
 * written locally, put under `gpu-metrics/` with a hidden temporary name (never listed) and removed again.
 * Throws ARCHIVE_NOT_WRITABLE naming the archive and why (a file where a directory should be, a read-only
 * or full file system, HDFS refusing the user).
 */
export async function checkArchiveWritable(storage: ArchiveStorage): Promise<void> {
  const local = await mkdtemp(join(tmpdir(), 'gpumon-check-'));
  const target = `${METRICS_DATASET}/${temporaryName('write-check')}`;
  try {
    const probe = join(local, 'probe');
    await writeFile(probe, 'gpumon: archive write check\n', { flag: 'wx' });
    try {
      await storage.put(probe, target);
      await storage.remove(target);
    } catch (cause) {
      throw new GpumonError(
        'ARCHIVE_NOT_WRITABLE',
        `the archive ${storage.uri} cannot be written (checked at start by putting a file under ` +
          `${METRICS_DATASET}/); check archive.path (--archive)`,
        { cause },
      );
    }
  } finally {
    await rm(local, { recursive: true, force: true });
  }
}
