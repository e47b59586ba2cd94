/**
 * bench/server: the HTTP server of `gpumon up` under 1,000 concurrent result requests and 1,000 live-stream
 * clients, with its peak memory.
 *
 *   npx tsx bench/server/run.ts [--hosts 10] [--gpus 8] [--requests 1000] [--clients 1000] [--hold 10]
 *                               [--analysis hourly_patterns] [--keep DIR]
 *
 * 1. `gpumon simulate` writes one day (2026-11-25) of hosts x gpus GPUs at 1 Hz, `gpumon analyze` its results.
 * 2. `gpumon up --source sim` on that archive (the server and its live data flowing), default limits. Its
 *    memory is read from /proc/<pid>/status: VmRSS sampled every 50 ms, VmHWM (the peak) after each phase.
 *    - idle: the server started, one result request answered;
 *    - baseline: the same result request --requests times, one at a time (latency without contention);
 *    - burst: --requests requests at once, each answered once (200 or 503 SERVER_BUSY);
 *    - burst with retries: --requests at once, each retried after Retry-After until it is answered 200;
 *    - --clients live-stream clients at once (server.maxStreams, default 100: the rest get 503), held --hold s.
 * 3. `gpumon up` again with server.maxStreams = --clients: every client connected, held --hold s.
 * Prints latencies (p50, p99) against the baseline's and peak RSS against the idle server's.
 * Target (issue 11): 1,000 concurrent result requests keep the server under 500 MiB RSS.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, measureNode, simulateArchive, startGpumonUp, type UpServer } from '../harness.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '10' },
    gpus: { type: 'string', default: '8' },
    requests: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '1000' },
    hold: { type: 'string', default: '10' },
    analysis: { type: 'string', default: 'hourly_patterns' },
    keep: { type: 'string' },
  },
});
const hosts = Number(values.hosts);
const gpus = Number(values.gpus);
const requests = Number(values.requests);
const clients = Number(values.clients);
const holdMs = Number(values.hold) * 1000;
const date = '2026-11-25';
const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'gpumon-bench-server-'));
const GPUMON = ['bin/gpumon.js'];

type Server = UpServer;

/** `gpumon up --source sim` on the bench archive, on a free port; resolves once it prints its address. */
function startUp(env: Record<string, string> = {}): Promise<Server> {
  return startGpumonUp(dir, env);
}

function memoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

/** Samples VmRSS every 50 ms until stopped; `peak()` is the largest seen, MiB. */
function watchRss(pid: number) {
  let peak = memoryKiB(pid, 'VmRSS');
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, memoryKiB(pid, 'VmRSS'));
    } catch {}
  }, 50);
  return { peak: () => peak / 1024, stop: () => clearInterval(timer) };
}

interface Answer {
  status: number;
  ms: number;
  bytes: number;
  retryAfter: string | null;
}

async function get(url: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  return {
    status: res.status,
    ms: performance.now() - started,
    bytes: body.byteLength,
    retryAfter: res.headers.get('retry-after'),
  };
}

/** GETs `url` until it is answered 200, waiting Retry-After between tries; the time to the 200, ms. */
async function getUntilServed(url: string): Promise<{ ms: number; tries: number }> {
  const started = performance.now();
  for (let tries = 1; ; tries++) {
    const a = await get(url);
    if (a.status === 200) return { ms: performance.now() - started, tries };
    if (a.status !== 503) throw new Error(`${url}: HTTP ${a.status}`);
    await new Promise((r) => setTimeout(r, Number(a.retryAfter ?? '1') * 1000));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function latencies(ms: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

function countBy<T>(items: T[], key: (t: T) => string | number): string {
  const counts = new Map<string | number, number>();
  for (const i of items) counts.set(key(i), (counts.get(key(i)) ?? 0) + 1);
  return [...counts.entries()].map(([k, n]) => `${n} x ${k}`).join(', ');
}

/** Opens `n` live streams at once; resolves with their statuses once each answered, and a close for all. */
async function openStreams(url: string, n: number) {
  const { hostname, port } = new URL(url);
  let bytes = 0;
  const reqs: ReturnType<typeof request>[] = [];
  const statuses = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<number>((resolve) => {
          const req = request({ host: hostname, port, path: '/api/stream', agent: false }, (res) => {
            res.on('data', (d: Buffer) => {
              bytes += d.length;
            });
            res.on('error', () => {});
            resolve(res.statusCode ?? 0);
          });
          req.on('error', () => resolve(-1));
          req.end();
          reqs.push(req);
        }),
    ),
  );
  return {
    statuses,
    bytes: () => bytes,
    close: () => {
      for (const r of reqs) r.destroy();
    },
  };
}

const rows: string[][] = [];
const row = (...cells: string[]) => {
  rows.push(cells);
  console.log(cells.join(' | '));
};

console.log(
  `bench/server: ${hosts} hosts x ${gpus} GPUs, ${requests} result requests, ${clients} stream clients`,
);
console.log(`archive: ${dir}\n`);

const simulate = await simulateArchive({ end: date, hosts, gpus, out: dir });
const analyze = await measureNode(
  [...GPUMON, 'analyze', '--date', date, '--archive', dir],
  { GPUMON_LOG_LEVEL: 'warn' },
  { tsx: false },
);
console.log(`simulate ${fmt(simulate.seconds)} s, analyze ${fmt(analyze.seconds)} s\n`);

const server = await startUp();
const resultUrl = `${server.url}/api/analytics/${date}/${values.analysis}`;
try {
  const first = await get(resultUrl);
  if (first.status !== 200) throw new Error(`${resultUrl}: HTTP ${first.status}`);
  const idleMiB = memoryKiB(server.pid, 'VmHWM') / 1024;
  console.log(`one response: ${first.bytes.toLocaleString('en-US')} bytes\n`);
  row('phase', 'answers', 'p50', 'p99', 'vs baseline p99', 'peak RSS (VmHWM)', 'vs idle');
  row('idle, one request answered', '1 x 200', '', '', '', `${fmt(idleMiB, 1)} MiB`, '1x');

  const sequential: number[] = [];
  for (let i = 0; i < requests; i++) sequential.push((await get(resultUrl)).ms);
  const base = latencies(sequential);
  const baseHwm = memoryKiB(server.pid, 'VmHWM') / 1024;
  row(
    `baseline: ${requests} one at a time`,
    `${requests} x 200`,
    `${fmt(base.p50, 1)} ms`,
    `${fmt(base.p99, 1)} ms`,
    '1x',
    `${fmt(baseHwm, 1)} MiB`,
    `${fmt(baseHwm / idleMiB)}x`,
  );

  const burst = await Promise.all(Array.from({ length: requests }, () => get(resultUrl)));
  const all = latencies(burst.map((a) => a.ms));
  const served = latencies(burst.filter((a) => a.status === 200).map((a) => a.ms));
  const burstHwm = memoryKiB(server.pid, 'VmHWM') / 1024;
  row(
    `${requests} at once`,
    countBy(burst, (a) => a.status),
    `${fmt(all.p50, 1)} ms`,
    `${fmt(all.p99, 1)} ms (200s: ${fmt(served.p99, 1)} ms)`,
    `${fmt(all.p99 / base.p99)}x`,
    `${fmt(burstHwm, 1)} MiB`,
    `${fmt(burstHwm / idleMiB)}x`,
  );

  const retried = await Promise.all(Array.from({ length: requests }, () => getUntilServed(resultUrl)));
  const toServed = latencies(retried.map((r) => r.ms));
  const retriedHwm = memoryKiB(server.pid, 'VmHWM') / 1024;
  row(
    `${requests} at once, retried after Retry-After until 200`,
    `${requests} x 200 (${retried.reduce((n, r) => n + r.tries, 0)} tries)`,
    `${fmt(toServed.p50, 1)} ms`,
    `${fmt(toServed.p99, 1)} ms`,
    `${fmt(toServed.p99 / base.p99)}x`,
    `${fmt(retriedHwm, 1)} MiB`,
    `${fmt(retriedHwm / idleMiB)}x`,
  );

  const streams = await openStreams(server.url, clients);
  await new Promise((r) => setTimeout(r, holdMs));
  const streamsHwm = memoryKiB(server.pid, 'VmHWM') / 1024;
  row(
    `${clients} live-stream clients at once, held ${values.hold} s (default server.maxStreams)`,
    countBy(streams.statuses, (s) => s),
    '',
    '',
    '',
    `${fmt(streamsHwm, 1)} MiB`,
    `${fmt(streamsHwm / idleMiB)}x`,
  );
  streams.close();
  const health = (await (await fetch(`${server.url}/api/health`)).json()) as {
    status: string;
    reasons: string[];
  };
  console.log(`health after the load: ${health.status} ${health.reasons.join('; ')}`);
} finally {
  await server.stop();
}

const wide = await startUp({ GPUMON_SERVER_MAX_STREAMS: String(clients) });
try {
  const idle = memoryKiB(wide.pid, 'VmHWM') / 1024;
  const rss = watchRss(wide.pid);
  const streams = await openStreams(wide.url, clients);
  await new Promise((r) => setTimeout(r, holdMs));
  rss.stop();
  const hwm = memoryKiB(wide.pid, 'VmHWM') / 1024;
  row(
    `${clients} live-stream clients, server.maxStreams=${clients}, held ${values.hold} s`,
    `${countBy(streams.statuses, (s) => s)}; ${(streams.bytes() / 1e6).toFixed(1)} MB received`,
    '',
    '',
    '',
    `${fmt(hwm, 1)} MiB`,
    `${fmt(hwm / idle)}x (idle ${fmt(idle, 1)} MiB)`,
  );
  streams.close();
} finally {
  await wide.stop();
}

console.log('\nMarkdown:\n');
const [head, ...body] = rows;
console.log(`| ${head?.join(' | ')} |`);
console.log(`|${head?.map(() => '---').join('|')}|`);
for (const r of body) console.log(`| ${r.join(' | ')} |`);
