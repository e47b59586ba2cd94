import { randomBytes } from 'node:crypto';

/**
 * Where archive files live: the local filesystem now, HDFS (WebHDFS) later. Paths are relative to the storage
 * root and use '/' (e.g. `gpu-metrics/date=2026-11-25/part-....parquet`).
 *
 * Writers produce a complete local file first; `put` makes it visible atomically (temporary name, then rename),
 * so readers never see half a file. Implementations are safe for concurrent calls on different paths.
 */
export interface ArchiveStorage {
  /** A URI for people and logs (file:///..., hdfs://...). */
  readonly uri: string;
  /** Moves or uploads a finished local file to `path`, atomically; replaces an existing file. */
  put(localFile: string, path: string): Promise<void>;
  /** Names of the entries directly under `dir` (files and directories); [] if it does not exist. */
  list(dir: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Deletes a file or a directory tree; no error if absent. */
  remove(path: string): Promise<void>;
  /** Renames a file or directory; the target must not exist. */
  rename(from: string, to: string): Promise<void>;
  /**
   * A path a local engine (DuckDB) can read, for a storage path; for remote storage, a local cached copy or
   * a URL the engine understands.
   */
  localPath(path: string): Promise<string>;
  /**
   * Deletes the hidden temporary files directly under `dir` that `put` left behind (a process killed during a
   * put; a DataNode that finished writing after the put had given up on it), last modified more than
   * `olderThanMs` ago; resolves with their names.
   */
  removeAbandoned(dir: string, olderThanMs: number): Promise<string[]>;
}

/** A hidden name beside `name` for `put` to write under before renaming into place: `.NAME.RANDOM.tmp`. */
export function temporaryName(name: string): string {
  return `.${name}.${randomBytes(4).toString('hex')}.tmp`;
}

/** Whether a name is one of `put`'s temporary names (never listed). */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
