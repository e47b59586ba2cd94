import { spawn } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  timedOut: boolean;
  /** Resolves when the process (and its pipes) are gone: a timed-out run may outlive its result. */
  exited: Promise<void>;
}

export interface CommandOptions {
  timeoutMs: number;
  /** Output beyond this many bytes (stdout) kills the process and fails the run (default 16 MiB). */
  maxBytes?: number;
}

/**
 * Runs a command with a deadline. On timeout the whole process group is killed (rocm-smi is a Python script
 * that may start children) and the result comes back at once with `timedOut`; `exited` tells when the
 * process is really gone. Rejects only when the command cannot be started (not found, not executable).
 */
export function runCommand(
  path: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    let timedOut = false;
    let markExited: () => void = () => {};
    const exited = new Promise<void>((done) => {
      markExited = done;
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const settle = (code: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        code,
        timedOut,
        exited,
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
      settle(null);
    }, options.timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        killGroup();
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64) stderr.push(chunk);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      markExited();
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
    child.on('close', (code) => {
      markExited();
      settle(code);
    });
  });
}
