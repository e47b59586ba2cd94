/**
 * Helpers of the tests that run on the test suite's own Kubernetes cluster (scripts/k8s/cluster.sh): its built
 * kubectl, shell commands as a user types them (kubectl on PATH, KUBECONFIG set), polling, port-forwards.
 * They fail, never skip, when the cluster is not running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { requiredEnv } from '../../src/testing/services.ts';

const START = 'the test cluster: run scripts/k8s/cluster.sh start and export the KEY=value lines it prints';

/**
 * Fails unless the cluster's node address is on this machine (cluster.sh puts it on a bridge of its own and
 * removes it at stop): with the cluster stopped, kubectl's connections to it would otherwise go to the
 * default route, off the machine.
 */
export function assertClusterUp(): void {
  const nodeIp = requiredEnv('GPUMON_TEST_K8S_NODE_IP', START);
  const local = Object.values(networkInterfaces())
    .flat()
    .some((a) => a?.address === nodeIp);
  if (!local) throw new Error(`the test cluster is not running (no interface has ${nodeIp}): ${START}`);
}

/**
 * The cluster's kubeconfig and bin directory (kubectl, crictl, ...), from scripts/k8s/cluster.sh; fails when
 * the cluster is not up (assertClusterUp).
 */
export function cluster(): { kubeconfig: string; bin: string; kubectl: string } {
  const kubeconfig = requiredEnv('GPUMON_TEST_KUBECONFIG', START);
  const bin = requiredEnv('GPUMON_TEST_K8S_BIN', START);
  assertClusterUp();
  return { kubeconfig, bin, kubectl: join(bin, 'kubectl') };
}

/** The environment of a user of the cluster: the built kubectl first on PATH, KUBECONFIG set. */
export function userEnv(): NodeJS.ProcessEnv {
  const { kubeconfig, bin } = cluster();
  return { ...process.env, KUBECONFIG: kubeconfig, PATH: `${bin}:${process.env.PATH ?? ''}` };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `file args` to its end (killed after `timeoutMs`), with `input` on stdin. */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? userEnv(), stdio: 'pipe', cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits before reading its input (a fast failure) closes the pipe: its exit status and
    // stderr tell why, not the EPIPE of writing to it.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** kubectl ARGS; resolves to stdout, rejects naming the command and its stderr when it fails. */
export async function kubectl(args: string[], input?: string, timeoutMs = 120_000): Promise<string> {
  const r = await run(cluster().kubectl, args, { ...(input !== undefined ? { input } : {}), timeoutMs });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A command line as a person types it, run by bash with the cluster's kubectl on PATH. */
export function sh(command: string, timeoutMs = 120_000): Promise<Ran> {
  return run('bash', ['-c', command], { timeoutMs });
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 2000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const got = await probe();
      if (got !== undefined) return got;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `waited ${timeoutMs / 1000} s for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface PortForward {
  /** The local port on 127.0.0.1. */
  port: number;
  stop(): void;
}

/**
 * `kubectl port-forward -n NS TARGET :REMOTE` (a free local port on 127.0.0.1); resolves once kubectl says
 * where it forwards from.
 */
export function portForward(ns: string, target: string, remotePort: number): Promise<PortForward> {
  const child: ChildProcess = spawn(
    cluster().kubectl,
    ['port-forward', '-n', ns, '--address', '127.0.0.1', target, `:${remotePort}`],
    { env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubectl port-forward ${target} did not start in 30 s: ${out}`));
    }, 30_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), stop: () => child.kill('SIGTERM') });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward ${target} exited (${code}): ${out}`));
    });
  });
}
