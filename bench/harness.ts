import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NoiseMeter } from './noise.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Measured {
  seconds: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
}

/**
 * Makes sure `bin/gpumon.js` runs the bundle (dist/, scripts/build.mjs) and not the sources through tsx: builds
 * it now, outside any timing, when it is missing or older than a source (as bin/gpumon.js itself would, inside
 * the timed run). Call it before each timed run of gpumon: other work may change a source meanwhile.
 */
export function ensureBundle(root = ROOT): void {
  const run = spawnSync(process.execPath, ['bin/gpumon.js', '--version'], { cwd: root, encoding: 'utf8' });
  if (run.status !== 0 || !existsSync(join(root, 'dist', 'main.js'))) {
    throw new Error(`cannot build the gpumon bundle (npm run build): ${run.stderr}`);
  }
}

/**
 * Runs a Node program as a child (through tsx unless `tsx` is false), measuring its wall time and peak RSS.
 * `nodeFlags` go to node itself; `stopAfterSeconds` sends SIGINT then, for programs that run until stopped;
 * `meter` is told the child's pid, so that its CPU counts as the step's own, and `onSpawn` gets it. Throws if
 * it fails.
 */
export async function measureNode(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  {
    tsx = true,
    nodeFlags = [],
    stopAfterSeconds,
    meter,
    onSpawn,
  }: {
    tsx?: boolean;
    nodeFlags?: string[];
    stopAfterSeconds?: number;
    meter?: NoiseMeter;
    onSpawn?: (pid: number | undefined) => void;
  } = {},
): Promise<Measured> {
  const started = process.hrtime.bigint();
  const loader = tsx ? ['--import', 'tsx'] : [];
  const child = spawn(
    process.execPath,
    [...nodeFlags, ...loader, '--import', './bench/peak-rss.mjs', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  meter?.track(child.pid);
  onSpawn?.(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.BENCH_VERBOSE) process.stderr.write(d);
  });
  const stop =
    stopAfterSeconds === undefined
      ? undefined
      : setTimeout(() => child.kill('SIGINT'), stopAfterSeconds * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(stop);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}:\n${stderr.slice(-4000)}`);
  const kb = Number(/PEAK_RSS_KB=(\d+)/.exec(stderr)?.[1] ?? Number.NaN);
  return { seconds, peakRssMiB: kb / 1024, stdout, stderr };
}

/**
 * Writes a simulated archive with the bundled gpumon, as deployed: `days` (1) UTC days ending with `end` of
 * `hosts` x `gpus` GPUs, into `out`. The archive the benches measure on, made one way.
 */
export function simulateArchive(o: {
  end: string;
  hosts: number;
  gpus: number;
  out: string;
  days?: number;
}): Promise<Measured> {
  ensureBundle();
  const args = ['--days', String(o.days ?? 1), '--end', o.end, '--hosts', String(o.hosts)];
  return measureNode(
    ['bin/gpumon.js', 'simulate', ...args, '--gpus', String(o.gpus), '--out', o.out],
    {},
    { tsx: false },
  );
}

export function fmt(n: number, digits = 2): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A bundled `gpumon up` started by a bench. */
export interface UpServer {
  /** The dashboard's address, without a trailing slash. */
  url: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM, then waits for the exit. */
  stop: () => Promise<void>;
}

/**
 * The bundled `gpumon up --source sim` on `archive`, on a free loopback port, warn-level logs and no schedule
 * (`env` adds to or overrides them); resolves once it prints the dashboard's address, rejects with its output
 * if it exits first.
 */
export async function startGpumonUp(archive: string, env: Record<string, string> = {}): Promise<UpServer> {
  const child = spawn(
    process.execPath,
    ['bin/gpumon.js', 'up', '--source', 'sim', '--archive', archive, '--port', '0', '--host', '127.0.0.1'],
    {
      cwd: ROOT,
      env: { ...process.env, GPUMON_LOG_LEVEL: 'warn', GPUMON_SCHEDULE_ENABLED: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /dashboard at (http:\/\/\S+?)[\s(]/.exec(out);
      if (m?.[1]) resolve(m[1].replace(/\/$/, ''));
    });
    child.once('exit', (code) => reject(new Error(`gpumon up exited ${code}:\n${out}\n${err}`)));
  });
  return {
    url,
    pid: child.pid as number,
    child,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
