import { join } from 'node:path';
import { isRemoteArchive, parseHdfsLocation } from '../../config/archive-uri.ts';
import type { Config } from '../../config/schema.ts';
import { LocalStorage } from './local-storage.ts';
import type { ArchiveStorage } from './storage.ts';
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
