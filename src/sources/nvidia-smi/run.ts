import { execFile } from 'node:child_process';

/** The output of one nvidia-smi command that ran to its end. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `path args` once and collects its output; rejects when it cannot start or runs past `timeoutMs` (then
 * it is killed). A non-zero exit is a result, not a rejection: nvidia-smi explains itself on stdout.
 */
export function runSmi(path: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      path,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        if (err && (typeof err.code !== 'number' || err.killed)) {
          reject(err);
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * True when `path -L` runs and lists at least one GPU within `timeoutMs` (default 3 s). Never rejects: a missing
 * command, a driver/library mismatch or a hung driver all answer false.
 */
export async function nvidiaSmiAvailable(path = 'nvidia-smi', timeoutMs = 3000): Promise<boolean> {
  try {
    const result = await runSmi(path, ['-L'], timeoutMs);
    return result.code === 0 && /^GPU \d+:/m.test(result.stdout);
  } catch {
    return false;
  }
}
