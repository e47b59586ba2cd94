import { GpumonError } from '../errors.ts';

/** An HDFS archive location parsed from `archive.path`. */
export interface HdfsLocation {
  scheme: 'webhdfs' | 'hdfs';
  hostname: string;
  /** The port in the URI, or null. */
  port: number | null;
  /** The absolute HDFS directory of the archive. */
  root: string;
}

/** Whether `archive.path` names HDFS rather than a local directory. */
export function isRemoteArchive(path: string): boolean {
  return /^(webhdfs|hdfs):\/\//i.test(path);
}

/**
 * Parses `webhdfs://namenode:httpport/dir` or `hdfs://namenode:rpcport/dir` (`/` for the file system's root,
 * where the samples are `/gpu-metrics` and the results `/gpu-analytics`); throws CONFIG_INVALID naming
 * `archive.path` when it is not such a URI with a host and a directory.
 */
export function parseHdfsLocation(path: string): HdfsLocation {
  let url: URL | undefined;
  try {
    url = new URL(path);
  } catch {}
  if (!url?.hostname || url.pathname === '') {
    throw new GpumonError(
      'CONFIG_INVALID',
      `config key archive.path: ${JSON.stringify(path)} must name a host and a directory, e.g. webhdfs://namenode:9870/gpumon, or / for the root (/gpu-metrics, /gpu-analytics)`,
    );
  }
  return {
    scheme: url.protocol === 'webhdfs:' ? 'webhdfs' : 'hdfs',
    hostname: url.hostname,
    port: url.port ? Number(url.port) : null,
    root: decodeURIComponent(url.pathname),
  };
}
