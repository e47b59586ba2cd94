/**
 * bench/web: the page of `gpumon up` in Chromium, at 64 and at 1,000 simulated GPUs (issue 13 point 7).
 *
 *   npm run build && npx tsx bench/web/run.ts [--runs 5] [--minutes 5] [--every 10] [--latency-seconds 30]
 *
 * Two bundled servers (bin/gpumon.js up --source sim, samples every second): 8 hosts x 8 GPUs and 125 hosts x
 * 8 GPUs, both running throughout. Debian's Chromium (/usr/bin/chromium, never a downloaded browser) through
 * playwright-core, a fresh browser context (no cache) per page load, 1440 x 900.
 *
 * (a) Time to usable: navigation start -> the first tiles show values -> the page has answered a filter input
 *     (the state filter set to "busy": the address changed and only busy GPUs are shown). Measured in the page
 *     (performance.now(), whose origin is the navigation start) by a script run before the page's own. --runs
 *     interleaved loads of each (64, 1,000, 64, ...): median and spread, and the 1,000 one as a ratio of the 64
 *     one of the same pair. Targets: 1 s at 64 GPUs, 2 s at 1,000.
 * (b) Live-update latency on the 1,000-GPU page: each tile carries its sample's time (`data-ts`); a
 *     MutationObserver notes, as each changes, now - the sample's time (the DOM is written in an animation
 *     frame, painted at its end). p50 / p99 / max over --latency-seconds. Target: 1 s.
 * (c) Memory over live updates, the 1,000-GPU page left open --minutes: every --every s a garbage collection
 *     (CDP HeapProfiler.collectGarbage), then the JS heap used and the DOM nodes (CDP Performance.getMetrics),
 *     and the page scrolled to another tenth of the fleet (so tiles are recycled too). The heap's slope (least
 *     squares, MiB/hour) and peak; the browser's RSS (all its processes, sampled every second) and the
 *     server's peak RSS (VmHWM). Target: flat.
 * Each step records the machine's CPU (bench/noise.ts) and is flagged DISTURBED under other load.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM } from '../../src/testing/browser.ts';
import { ensureBundle, fmt, startGpumonUp } from '../harness.ts';
import { describeNoise, describeSpread, interleave, NoiseMeter, spread } from '../noise.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    minutes: { type: 'string', default: '5' },
    every: { type: 'string', default: '10' },
    'latency-seconds': { type: 'string', default: '30' },
  },
});
const runs = Number(values.runs);
const minutes = Number(values.minutes);
const everySeconds = Number(values.every);
const latencySeconds = Number(values['latency-seconds']);
const INTERVAL_MS = 1000;
const VIEWPORT = { width: 1440, height: 900 };
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];
const MiB = 1024 * 1024;

interface Server {
  url: string;
  pid: number;
  child: ChildProcess;
  dir: string;
  stop: () => Promise<void>;
}

/** The bundled `gpumon up --source sim` with hosts x gpus GPUs, on a free port, in an archive of its own. */
async function startUp(hosts: number, gpus: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'gpumon-bench-web-'));
  const up = await startGpumonUp(dir, {
    GPUMON_SOURCE_SIM_HOSTS: String(hosts),
    GPUMON_SOURCE_SIM_GPUS_PER_HOST: String(gpus),
    GPUMON_SOURCE_INTERVAL_MS: String(INTERVAL_MS),
  });
  return {
    ...up,
    dir,
    stop: async () => {
      await up.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** `pid` and all its descendants, from /proc. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {}
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** The browser's processes: this process's descendants but the servers' (Chromium is started by this one). */
function browserPids(servers: Server[]): number[] {
  const skip = new Set([process.pid, ...servers.flatMap((s) => processTree(s.pid))]);
  return processTree(process.pid).filter((p) => !skip.has(p));
}

/** The browser's RSS (all its processes), sampled every second; `peak()` in MiB. */
function watchBrowserRss(pids: () => number[]) {
  let peak = 0;
  let last = 0;
  const read = () => {
    last = pids().reduce((kib, p) => kib + statusKiB(p, 'VmRSS'), 0) / 1024;
    peak = Math.max(peak, last);
  };
  read();
  const timer = setInterval(read, 1000);
  return { peak: () => peak, last: () => last, stop: () => clearInterval(timer) };
}

/**
 * Run in the page before its own scripts: each animation frame, looks for a tile with a value; then sets the
 * state filter to "busy" as a person would and notes when the page shows the filtered fleet. (Plain text: the
 * TypeScript loader would name a function's inner functions with a helper the page lacks.)
 */
const USABLE_PROBE = `(() => {
  const b = (window.__bench = {});
  function filtered() {
    if (!/state=busy/.test(location.hash)) return false;
    for (const c of document.querySelectorAll('[data-testid="gpu-card"]')) if (c.dataset.state !== 'busy') return false;
    return true;
  }
  function tick() {
    if (b.values === undefined) {
      const util = document.querySelector('[data-testid="gpu-util"]');
      const state = document.querySelector('[data-testid="filter-state"]');
      if (util && /^\\d/.test(util.textContent || '') && state) {
        b.values = performance.now();
        state.value = 'busy';
        state.dispatchEvent(new Event('change', { bubbles: true }));
      }
    } else if (filtered()) {
      b.usable = performance.now();
      return;
    }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
})();`;

/** Run in the page before its own scripts: notes now - the sample's time as each tile's `data-ts` changes. */
const LATENCY_PROBE = `(() => {
  window.__lat = [];
  const observer = new MutationObserver((records) => {
    const now = Date.now();
    if (window.__lat === null) return;
    for (const r of records) {
      const ts = Number(r.target.dataset.ts);
      if (r.oldValue !== null && ts > 0) window.__lat.push(now - ts);
    }
  });
  document.addEventListener('DOMContentLoaded', () =>
    observer.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-ts'], attributeOldValue: true }),
  );
})();`;

async function timeToUsable(browser: Browser, url: string): Promise<{ values: number; usable: number }> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    await context.addInitScript({ content: USABLE_PROBE });
    const page = await context.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(
      () => (window as unknown as { __bench?: { usable?: number } }).__bench?.usable !== undefined,
      null,
      { timeout: 60_000, polling: 100 },
    );
    return await page.evaluate(
      () => (window as unknown as { __bench: { values: number; usable: number } }).__bench,
    );
  } finally {
    await context.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return den > 0 ? num / den : 0;
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

ensureBundle();
console.log(`bench/web: ${new Date().toISOString()}, load average ${load()}`);
const small = await startUp(8, 8);
const large = await startUp(125, 8);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
const rss = watchBrowserRss(() => browserPids([small, large]));
try {
  // Both servers have their fleet before the first load.
  for (const s of [small, large]) {
    for (let i = 0; i < 100; i++) {
      const body = (await (await fetch(`${s.url}/api/gpus`)).json()) as { gpus: unknown[] };
      if (body.gpus.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // A load of each first, not counted: the servers bundle the page on the first request.
  await timeToUsable(browser, small.url);
  await timeToUsable(browser, large.url);

  // (a)
  console.log(`\n(a) time to usable, ${runs} interleaved loads of each (64, 1,000, ...), ms`);
  const track = (meter: NoiseMeter) => {
    meter.track(small.pid);
    meter.track(large.pid);
    for (const p of browserPids([small, large])) meter.track(p);
  };
  const valuesAt: Record<'a' | 'b', number[]> = { a: [], b: [] };
  const result = await interleave(
    runs,
    async (meter) => {
      track(meter);
      const t = await timeToUsable(browser, small.url);
      valuesAt.a.push(t.values);
      return t.usable;
    },
    async (meter) => {
      track(meter);
      const t = await timeToUsable(browser, large.url);
      valuesAt.b.push(t.values);
      return t.usable;
    },
    (side, i, step) =>
      console.log(
        `  ${side === 'a' ? '64' : '1,000'} GPUs #${i + 1}: usable at ${fmt(step.value, 0)} ms; ${describeNoise(step.noise)}`,
      ),
  );
  console.log(`  64 GPUs, first values: ${describeSpread(spread(valuesAt.a), 0)}`);
  console.log(`  64 GPUs, usable:       ${describeSpread(result.a.all, 0)}  (target 1,000 ms)`);
  console.log(`  1,000 GPUs, first values: ${describeSpread(spread(valuesAt.b), 0)}`);
  console.log(`  1,000 GPUs, usable:       ${describeSpread(result.b.all, 0)}  (target 2,000 ms)`);
  console.log(`  1,000 / 64 of each pair: ${describeSpread(result.pairRatio)}`);
  console.log(`  ${result.disturbed} of ${result.steps} loads disturbed by other load`);

  // (b) and (c) on one page of the 1,000-GPU fleet.
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.addInitScript({ content: LATENCY_PROBE });
  const page = await context.newPage();
  await page.goto(large.url);
  await page.locator('[data-testid="gpu-card"]').first().waitFor({ timeout: 60_000 });

  console.log(
    `\n(b) live-update latency, 1,000 GPUs, ${latencySeconds} s: sample time -> value in the DOM, ms`,
  );
  await page.evaluate(() => {
    (window as unknown as { __lat: number[] }).__lat = [];
  });
  const meterB = new NoiseMeter().start();
  track(meterB);
  await page.waitForTimeout(latencySeconds * 1000);
  const lat = (await page.evaluate(() => (window as unknown as { __lat: number[] }).__lat)).sort(
    (a, b) => a - b,
  );
  const noiseB = meterB.stop();
  // The latencies stop being kept: over --minutes they would grow the heap that (c) watches.
  await page.evaluate(() => {
    (window as unknown as { __lat: number[] | null }).__lat = null;
  });
  const tilesShown = await page.locator('[data-testid="gpu-card"]').count();
  console.log(
    `  ${lat.length} tile updates (${tilesShown} tiles in the page): p50 ${percentile(lat, 50)}, p99 ${percentile(lat, 99)}, max ${lat.at(-1)} (target 1,000); ${describeNoise(noiseB)}`,
  );

  console.log(`\n(c) memory over live updates, 1,000 GPUs, ${minutes} min, a sample every ${everySeconds} s`);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const heap: { x: number; y: number }[] = [];
  const started = performance.now();
  const meterC = new NoiseMeter().start();
  track(meterC);
  let peakHeap = 0;
  let peakNodes = 0;
  for (let k = 0; performance.now() - started < minutes * 60_000; k++) {
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? Number.NaN;
    const used = get('JSHeapUsedSize') / MiB;
    const nodes = get('Nodes');
    const hours = (performance.now() - started) / 3_600_000;
    heap.push({ x: hours, y: used });
    peakHeap = Math.max(peakHeap, used);
    peakNodes = Math.max(peakNodes, nodes);
    if (k % Math.max(1, Math.round(60 / everySeconds)) === 0) {
      console.log(
        `  ${fmt(hours * 60, 1)} min: JS heap ${fmt(used)} MiB, ${nodes} DOM nodes, browser RSS ${fmt(rss.last() ?? Number.NaN, 0)} MiB`,
      );
    }
    await page.evaluate(
      (share) => window.scrollTo(0, share * document.documentElement.scrollHeight),
      (k % 10) / 10,
    );
    await page.waitForTimeout(everySeconds * 1000);
  }
  const noiseC = meterC.stop();
  const first = heap[0]?.y ?? Number.NaN;
  const last = heap.at(-1)?.y ?? Number.NaN;
  console.log(
    `  JS heap after GC: first ${fmt(first)} MiB, last ${fmt(last)} MiB, peak ${fmt(peakHeap)} MiB, slope ${fmt(slope(heap))} MiB/hour over ${heap.length} samples; DOM nodes peak ${peakNodes}; ${describeNoise(noiseC)}`,
  );
  await context.close();
  console.log(
    `\npeak RSS: browser (all processes) ${fmt(rss.peak() ?? Number.NaN, 0)} MiB; server 64 GPUs ${fmt(statusKiB(small.pid, 'VmHWM') / 1024, 0)} MiB, server 1,000 GPUs ${fmt(statusKiB(large.pid, 'VmHWM') / 1024, 0)} MiB`,
  );
  console.log(`load average at the end: ${load()}`);
} finally {
  rss.stop();
  await browser.close();
  await small.stop();
  await large.stop();
}
