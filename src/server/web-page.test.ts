import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { LiveState } from '../pipeline/live-state.ts';
import { launchBrowser } from '../testing/browser.ts';
import type { HealthCheck } from './api-types.ts';
import { createApp } from './app.ts';
import type { ResultsApi, RunsApi } from './deps.ts';
import { type RunningServer, startServer } from './serve.ts';
import { CountingLive, depsOf, sampleOf } from './test-support.ts';

const INTERVAL_MS = 200;
const GIB = 1024 ** 3;

/** 8 GPUs on 2 hosts, a new sample of each every 200 ms; GPU 0 of node-a always alerts high load. */
function feed(live: LiveState): () => void {
  let tick = 0;
  const step = () => {
    tick++;
    const now = Date.now();
    const samples = [];
    for (let i = 0; i < 8; i++) {
      samples.push(
        sampleOf(i < 4 ? 'node-a' : 'node-b', i % 4, now, {
          gpu_utilization_percent: i === 0 ? 95 : (tick * 7 + i * 13) % 100,
          gpu_temperature_celsius: 40 + ((tick + i) % 30),
          gpu_power_draw_watts: 300 + ((tick * 11) % 200),
          gpu_power_limit_watts: 700,
          gpu_memory_used_bytes: (10 + (i % 4)) * GIB,
          gpu_memory_total_bytes: 80 * GIB,
        }),
      );
    }
    const first = samples[0];
    const alerts = first
      ? [
          {
            ts: now,
            rule: 'high_load' as const,
            host: first.host,
            gpu_index: 0,
            uuid: first.uuid,
            model: first.model,
            value: 95,
            threshold: 90,
          },
        ]
      : [];
    live.apply(samples, alerts);
  };
  step();
  const timer = setInterval(step, INTERVAL_MS);
  return () => clearInterval(timer);
}

const runs: RunsApi = {
  list: async () => [{ id: 'run-7', status: 'succeeded', startedAt: Date.now() - 60_000, durationMs: 5300 }],
  trigger: async () => ({ started: false, reason: 'run run-8 is in progress' }),
  nextRunAt: () => Date.now() + 3_600_000,
};

const results: ResultsApi = {
  dates: async () => ['2025-01-14'],
  summary: async () => ({
    gpus: 8,
    load_avg_percent: 41.5,
    energy_kwh: 120.25,
    busiest_host: 'node-a',
    busiest_gpu_index: 3,
    busiest_load_avg_percent: 88,
  }),
  result: async () => null,
};

/** The archive is failing its writes: the page must say so. */
const health = async (): Promise<HealthCheck[]> => [
  { name: 'source', status: 'ok', detail: 'sim: last read 0.2 s ago' },
  { name: 'archive', status: 'degraded', detail: 'every write failing for 3.0 s' },
];

describe('the page in a browser', () => {
  let server: RunningServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let page: Page;
  let live: CountingLive;
  let stopFeed: () => void;

  before(async () => {
    live = new CountingLive(new LiveState(15 * 60_000));
    stopFeed = feed(live.state);
    const app = createApp(depsOf(live, { runs, results, health }), { sampleIntervalMs: INTERVAL_MS });
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
    const context = browser.context;
    page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(server.url);
    assert.deepEqual(errors, []);
  });

  after(async () => {
    stopFeed?.();
    await browser?.close();
    await server?.close();
  });

  test('shows a card for each of the 8 GPUs within 10 s', async () => {
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="gpu-card"]').length === 8,
      null,
      {
        timeout: 10_000,
      },
    );
    const hosts = await page.locator('[data-testid="gpu-host"]').allTextContents();
    assert.deepEqual(hosts, ['node-a', 'node-a', 'node-a', 'node-a', 'node-b', 'node-b', 'node-b', 'node-b']);
    assert.equal(await page.locator('[data-testid="gpu-count"]').textContent(), '8 GPUs');
  });

  test("shows the server's health as a badge, with the reasons as its tooltip", async () => {
    const badge = page.locator('[data-testid="health"][data-health="degraded"]');
    await badge.waitFor({ timeout: 5000 });
    assert.equal(await badge.textContent(), 'degraded: archive: every write failing for 3.0 s');
    assert.equal(await badge.getAttribute('title'), 'archive: every write failing for 3.0 s');
  });

  test('says that the GPUs are simulated', async () => {
    await page
      .locator('[data-testid="source-notice"]', { hasText: 'simulated GPUs' })
      .waitFor({ timeout: 5000 });
  });

  test('updates the utilization of a card live, without reloading', async () => {
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
    const util = page.locator('[data-uuid="GPU-node-a-1"] [data-testid="gpu-util"]');
    await page.waitForFunction(
      () =>
        /^\d+$/.test(
          document.querySelector('[data-uuid="GPU-node-a-1"] [data-testid="gpu-util"]')?.textContent ?? '',
        ),
      null,
      { timeout: 5000 },
    );
    const first = await util.textContent();
    await page.waitForFunction(
      (before) =>
        document.querySelector('[data-uuid="GPU-node-a-1"] [data-testid="gpu-util"]')?.textContent !== before,
      first,
      { timeout: 5000 },
    );
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42);
    assert.equal(await page.locator('[data-testid="stream-status"]').textContent(), 'live');
  });

  test('shows power, memory and the alert badge of a GPU in alert', async () => {
    const card = page.locator('[data-uuid="GPU-node-a-0"]');
    await card.locator('[data-testid="alert-load"]').waitFor({ timeout: 5000 });
    assert.match((await card.locator('[data-testid="gpu-power"]').textContent()) ?? '', /^\d+ \/ 700$/);
    assert.equal(await card.locator('[data-testid="gpu-memory"]').textContent(), '10.0 / 80.0');
    assert.equal(await page.locator('[data-uuid="GPU-node-a-1"] [data-testid="alert-load"]').count(), 0);
  });

  test("opens a GPU's detail with its charts, and comes back to the fleet", async () => {
    await page.locator('[data-uuid="GPU-node-a-1"]').click();
    await page.locator('[data-testid="gpu-detail"][data-uuid="GPU-node-a-1"]').waitFor({ timeout: 5000 });
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="detail-chart"] canvas').length === 10,
      null,
      { timeout: 5000 },
    );
    assert.equal(await page.locator('[data-testid="detail-title"]').textContent(), 'node-a · GPU 1');
    await page.locator('[data-testid="back-to-fleet"]').click();
    await page.locator('[data-testid="fleet"]').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('[data-testid="gpu-card"]').count(), 8);
  });

  test('closes the live stream while the page is hidden and reopens it when visible', async () => {
    await page.waitForFunction(
      () => document.querySelector('[data-testid="stream-status"]')?.textContent === 'live',
    );
    assert.equal(live.subscribers, 1);
    // A string, not a function: tsx would wrap the getters in a helper the page does not have.
    const setHidden = (hidden: boolean) =>
      page.evaluate(`
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${hidden} });
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${hidden ? 'hidden' : 'visible'}' });
        document.dispatchEvent(new Event('visibilitychange'));
      `);
    await setHidden(true);
    assert.equal(await page.locator('[data-testid="stream-status"]').textContent(), 'paused');
    for (let i = 0; i < 100 && live.subscribers > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(live.subscribers, 0, 'the server unsubscribed once the page closed its stream');
    await setHidden(false);
    await page.waitForFunction(
      () => document.querySelector('[data-testid="stream-status"]')?.textContent === 'live',
      null,
      {
        timeout: 5000,
      },
    );
    assert.equal(live.subscribers, 1);
  });

  test('says the latest run and the latest day in words and units, no result keys', async () => {
    await page
      .locator('[data-testid="latest-run"]', { hasText: 'Latest run: succeeded' })
      .waitFor({ timeout: 5000 });
    const summary = page.locator('[data-testid="analytics-summary"]');
    await summary.getByText('Latest day: 2025-01-14').waitFor({ timeout: 5000 });
    const items = await summary
      .locator('.summary-item')
      .evaluateAll((els) =>
        els.map((el) => `${el.querySelector('dt')?.textContent}: ${el.querySelector('dd')?.textContent}`),
      );
    assert.deepEqual(items, [
      'GPUs: 8',
      'Energy: 120.3 kWh',
      'Mean utilization: 41.5 %',
      'Busiest GPU: node-a · GPU 3, 88 %',
    ]);
    assert.doesNotMatch((await page.locator('[data-testid="analytics"]').textContent()) ?? '', /_|[{}]/);
  });

  test('tells why a run could not start', async () => {
    await page.locator('[data-testid="run-now"]').click();
    await page
      .locator('[data-testid="run-message"]', { hasText: 'run run-8 is in progress' })
      .waitFor({ timeout: 5000 });
  });
});
