/**
 * An HDFS of one test file's own (scripts/services/hdfs.sh in a temporary GPUMON_SERVICES_DIR, every port 0),
 * for tests that stop its DataNode: the shared instance (GPUMON_TEST_WEBHDFS) is never touched.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HDFS_SH = join(ROOT, 'scripts', 'services', 'hdfs.sh');

export class OwnHdfs {
  readonly dir = mkdtempSync(join(tmpdir(), 'gpumon-own-hdfs-'));
  /** WebHDFS base URL, once started. */
  webhdfs = '';

  /** `hdfs.sh ARGS` on this instance; resolves with its stdout, rejects with its output on failure. */
  script(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        HDFS_SH,
        args,
        {
          cwd: ROOT,
          timeout: 180_000,
          env: {
            ...process.env,
            GPUMON_SERVICES_DIR: this.dir,
            GPUMON_HDFS_PORT: '0',
            GPUMON_HDFS_HTTP_PORT: '0',
            GPUMON_HDFS_DATANODE_PORT: '0',
            GPUMON_HDFS_DATANODE_HTTP_PORT: '0',
            GPUMON_HDFS_DATANODE_IPC_PORT: '0',
          },
        },
        (err, stdout, stderr) =>
          err
            ? reject(new Error(`hdfs.sh ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`))
            : resolve(stdout),
      );
    });
  }

  async start(): Promise<this> {
    const out = await this.script('start');
    const url = /^GPUMON_TEST_WEBHDFS=(\S+)$/m.exec(out)?.[1];
    if (!url) throw new Error(`hdfs.sh start printed no GPUMON_TEST_WEBHDFS: ${out}`);
    this.webhdfs = url;
    return this;
  }

  /** The DataNode's pid (for SIGSTOP/SIGCONT: a DataNode that hangs rather than dies). */
  datanodePid(): number {
    return Number(readFileSync(join(this.dir, 'hdfs', 'datanode.pid'), 'utf8').trim());
  }

  /** Names directly under an absolute HDFS directory, hidden ones included (raw LISTSTATUS); [] if absent. */
  async rawList(absoluteDir: string): Promise<string[]> {
    const res = await fetch(`${this.webhdfs}/webhdfs/v1${absoluteDir}?op=LISTSTATUS&user.name=gpumon`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status === 404) return [];
    if (!res.ok) throw new Error(`LISTSTATUS ${absoluteDir}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { FileStatuses: { FileStatus: { pathSuffix: string }[] } };
    return body.FileStatuses.FileStatus.map((s) => s.pathSuffix).sort();
  }

  /** Stops both daemons and removes the data. */
  async stop(): Promise<void> {
    try {
      const pid = this.datanodePid();
      process.kill(pid, 'SIGCONT');
    } catch {}
    await this.script('stop').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
