import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from '../e2e/helpers.ts';

/**
 * A real Prometheus for the tests: Debian's `prometheus` package (scripts/setup/prometheus.sh), started by
 * hand on 127.0.0.1 and a free port with a generated configuration and a temporary data directory.
 */

const SETUP = 'install it with scripts/setup/prometheus.sh (Debian package prometheus; scripts/test does)';

/** The path of `prometheus` or `promtool`; throws, naming the setup script, when it is not installed. */
export function prometheusBinary(name: 'prometheus' | 'promtool'): string {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} is not installed: ${SETUP}`);
}

export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

export interface RunningPrometheus {
  url: string;
  /** An instant query at `time` (epoch ms; default now) through the HTTP API (/api/v1/query). */
  query(expr: string, time?: number): Promise<VectorSample[]>;
  /** The values of a label among the series that `match` selects (/api/v1/label/<name>/values). */
  labelValues(label: string, match: string): Promise<string[]>;
  log(): string;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (host:port, path /metrics) every `scrapeIntervalS` seconds. */
export async function startPrometheus(
  targets: readonly string[],
  options: { job: string; scrapeIntervalS?: number; rules?: readonly string[] } = { job: 'gpumon' },
): Promise<RunningPrometheus> {
  const binary = prometheusBinary('prometheus');
  const dir = tempDir('prometheus');
  const port = await freePort();
  const every = `${options.scrapeIntervalS ?? 1}s`;
  const config = [
    'global:',
    `  scrape_interval: ${every}`,
    `  evaluation_interval: ${every}`,
    ...(options.rules?.length
      ? ['rule_files:', ...options.rules.map((r) => `  - ${JSON.stringify(r)}`)]
      : []),
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(options.job)}`,
    '    static_configs:',
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const running: RunningPrometheus = {
    url,
    query: async (expr, time = Date.now()) => {
      const q = new URLSearchParams({ query: expr, time: String(time / 1000) });
      const data = await api<{
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      }>(`/api/v1/query?${q}`);
      if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    labelValues: (label, match) =>
      api<string[]>(
        `/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match })}`,
      ),
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited at start:\n${log}`);
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) return running;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`prometheus was not ready within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
