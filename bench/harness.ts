import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Measured {
  seconds: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Node program as a child (through tsx unless `tsx` is false), measuring its wall time and peak RSS.
 * `nodeFlags` go to node itself; `stopAfterSeconds` sends SIGINT then, for programs that run until stopped.
 * Throws if it fails.
 */
export async function measureNode(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  {
    tsx = true,
    nodeFlags = [],
    stopAfterSeconds,
  }: { tsx?: boolean; nodeFlags?: string[]; stopAfterSeconds?: number } = {},
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

export function fmt(n: number, digits = 2): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
