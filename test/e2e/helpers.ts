import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GPUMON = join(ROOT, 'bin', 'gpumon.js');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gpumon-${prefix}-`));
}

/**
 * Makes an archive refuse every write of samples, for root as well: its samples folder (gpu-metrics) is set
 * aside and a regular file takes its place. The function returned puts the folder back.
 */
export function breakArchive(archive: string): () => void {
  const samples = join(archive, 'gpu-metrics');
  const aside = `${samples}.aside`;
  renameSync(samples, aside);
  writeFileSync(samples, 'not a directory\n');
  return () => {
    rmSync(samples);
    renameSync(aside, samples);
  };
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `gpumon ARGS` as a child process, capturing its output. */
export function startGpumon(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [GPUMON, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs `gpumon ARGS` to completion. */
/** Waits for the exit (no signal sent); a process still running after `timeoutMs` is killed and the wait fails. */
export async function exitOf(run: Running, timeoutMs: number): Promise<{ code: number | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  const outcome = await Promise.race([run.exited, late]);
  clearTimeout(timer);
  if (outcome !== 'late') return outcome;
  run.child.kill('SIGKILL');
  throw new Error(`still running ${timeoutMs} ms after SIGTERM; stderr:\n${run.stderr()}`);
}

/**
 * Sends SIGTERM and waits for the exit; asserts that it came within `boundMs` (plus 1.5 s for the process to
 * end), and gives the exit status.
 */
export async function terminateWithin(
  run: Running,
  boundMs: number,
  t: { diagnostic(message: string): void },
): Promise<number | null> {
  const signalled = Date.now();
  run.child.kill('SIGTERM');
  const { code } = await exitOf(run, boundMs + 10_000);
  const took = Date.now() - signalled;
  t.diagnostic(`stopped ${took} ms after SIGTERM`);
  assert.ok(took < boundMs + 1500, `stopped ${took} ms after SIGTERM (bound ${boundMs} ms)`);
  return code;
}

export async function runGpumon(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startGpumon(args, env);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Waits until `probe` returns a value, polling; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Sends SIGINT (Ctrl-C) and waits for the exit. A process still running after `timeoutMs` is killed and the
 * wait fails, naming what it printed: a stop that hangs is a defect, not something to wait out.
 */
export async function interrupt(
  run: Running,
  timeoutMs = 30_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([run.exited, late]);
    if (outcome !== 'late') return outcome;
    run.child.kill('SIGKILL');
    await run.exited;
    throw new Error(`still running ${timeoutMs} ms after SIGINT; stderr:\n${run.stderr()}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a flag that takes a fixed port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** GETs `url` until `accept` takes the response (status and body), or fails after `timeoutMs`. */
export async function pollHttp(
  url: string,
  accept: (status: number, body: string) => boolean,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(url);
      const body = await res.text();
      if (accept(res.status, body)) return { status: res.status, body };
      last = `${res.status} ${body}`;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms on ${url}; last: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
