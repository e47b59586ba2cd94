import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { runDailyAnalytics } from '../analytics/daily-job.ts';
import { testConfig } from '../analytics/testing.ts';
import { LiveState } from '../pipeline/live-state.ts';
import { dateOfTs } from '../sinks/archive/layout.ts';
import { LocalStorage } from '../sinks/archive/local-storage.ts';
import { launchBrowser } from '../testing/browser.ts';
import type { FleetEnergyResponse, GpusResponse, GpuView, HistoryResponse } from './api-types.ts';
import { createApp } from './app.ts';
import { type RunningServer, startServer } from './serve.ts';
import { depsOf } from './test-support.ts';
import {
  axeViolations,
  checkLayout,
  type Dashboard,
  LAYOUT_WIDTHS,
  SCREENSHOT_WIDTHS,
  SCREENSHOTS,
  SMALLEST_WIDTH,
  saveReadmeImage,
  simulatorFlags,
  startDashboard,
  writeSimulatedArchive,
} from './web-test-support.ts';

/** From the smallest phone to a 4K screen. */
const WIDTHS = [SMALLEST_WIDTH, ...LAYOUT_WIDTHS] as const;
/** The simulator samples this often: long enough to read the page and the API between two samples. */
const INTERVAL_MS = 2000;
/** 3 hosts of 4 GPUs, the simulator's default seed: the live fleet and yesterday's archive are the same GPUs. */
const SIM = { hosts: 3, gpusPerHost: 4, seed: 42 };
const DAY_MS = 86_400_000;
const GIB = 1024 ** 3;

type Browser = Awaited<ReturnType<typeof launchBrowser>>;

async function gpusOf(url: string): Promise<GpuView[]> {
  const res = await fetch(`${url}/api/gpus`);
  assert.equal(res.status, 200);
  return ((await res.json()) as GpusResponse).gpus;
}

/** Resolves once the live buffer holds `count` samples of the GPU (its 15-minute history, a point a sample). */
async function waitForSamples(url: string, uuid: string, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(
      `${url}/api/gpus/${encodeURIComponent(uuid)}/history?metrics=gpu_power_draw_watts&range=15m&points=1500`,
    );
    assert.equal(res.status, 200);
    const history = (await res.json()) as HistoryResponse;
    const samples = history.series.gpu_power_draw_watts?.mean.filter((v) => v !== null).length ?? 0;
    if (samples >= count) return;
    assert.ok(Date.now() < deadline, `${samples} samples of ${uuid} after a minute`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The fleet's numbers as the page must show them, computed here from /api/gpus. */
function expectedAggregates(gpus: GpuView[]): Record<string, string> {
  const alerting = (g: GpuView) => g.alerts.temperature || g.alerts.load || g.alerts.power;
  const util = gpus.map((g) => g.gpu_utilization_percent).filter((v): v is number => v !== null);
  const power = gpus.map((g) => g.gpu_power_draw_watts).filter((v): v is number => v !== null);
  const calm = gpus.filter((g) => !alerting(g) && g.gpu_utilization_percent !== null);
  const idle = calm.filter((g) => (g.gpu_utilization_percent as number) < 5);
  const holding = idle.filter((g) => (g.gpu_memory_used_bytes ?? 0) > GIB);
  return {
    gpus: String(gpus.length),
    hosts: String(new Set(gpus.map((g) => g.host)).size),
    'mean-util': `${(util.reduce((a, b) => a + b, 0) / util.length).toFixed(1)} %`,
    busy: String(calm.length - idle.length),
    idle: String(idle.length - holding.length),
    holding: String(holding.length),
    alerting: String(gpus.filter(alerting).length),
    power: `${power.reduce((a, b) => a + b, 0).toFixed(0)} W`,
    alerts: String(
      gpus.reduce(
        (n, g) => n + Number(g.alerts.temperature) + Number(g.alerts.load) + Number(g.alerts.power),
        0,
      ),
    ),
  };
}

/** The key elements that must never cover each other, each list checked among its own members. */
const KEY_ELEMENTS = [
  '[data-testid="top"] > *',
  '[data-testid="fleet-summary"] > *',
  '[data-testid="analytics-summary"] .summary > *',
  '.filters > *',
  '[data-testid="gpu-card"]',
  '[data-testid="gpu-card"]:first-of-type .card-head > *',
  '[data-testid="chart-panel"]',
  '[data-testid="detail-now"] > *',
];

describe('the fleet page on gpumon up with the simulator, in a browser', () => {
  let dashboard: Dashboard | undefined;
  let page: Page;
  let dir: string;
  let url: string;
  const yesterday = dateOfTs(Date.now() - DAY_MS);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpumon-web-fleet-'));
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Yesterday in the archive and its daily analytics, as a fleet has them on its second day: the summary
    // under the fleet shows that day.
    const archivePath = join(dir, 'archive');
    await writeSimulatedArchive(archivePath, SIM, 1, 60_000);
    await runDailyAnalytics({
      config: testConfig({ 'archive.path': archivePath }),
      date: yesterday,
      storage: new LocalStorage(archivePath),
    });
    dashboard = await startDashboard({
      ...simulatorFlags(SIM, INTERVAL_MS),
      'archive.path': archivePath,
    });
    ({ url, page } = dashboard);
    // The page asks for the energy today once at its start, then a minute later: opened before the first
    // sample, it would show '—' for that minute. Opened once the API has every GPU, as a person would find it.
    const deadline = Date.now() + 30_000;
    while ((await gpusOf(url)).length < 12) {
      assert.ok(Date.now() < deadline, 'the simulator sampled its 12 GPUs within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url);
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="gpu-card"]').length === 12,
      null,
      { timeout: 30_000 },
    );
    assert.deepEqual(errors, []);
  });

  after(async () => {
    await dashboard?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('lists every GPU of /api/gpus, grouped by host in name order', async () => {
    const gpus = await gpusOf(url);
    const hosts = [...new Set(gpus.map((g) => g.host))].sort();
    const groups = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="host-group"]')].map((g) => ({
        host: g.dataset.host,
        uuids: [...g.querySelectorAll<HTMLElement>('[data-testid="gpu-card"]')].map((c) => c.dataset.uuid),
      })),
    );
    assert.deepEqual(
      groups.map((g) => g.host),
      hosts,
    );
    for (const group of groups) {
      const expected = gpus
        .filter((g) => g.host === group.host)
        .sort((a, b) => a.gpu_index - b.gpu_index)
        .map((g) => g.uuid);
      assert.deepEqual(group.uuids, expected, `the GPUs of ${group.host}`);
    }
  });

  test("shows the fleet's aggregates as /api/gpus gives them", async () => {
    // Compared where the page shows the very samples the API answers with (each tile's data-ts, rendered in the
    // same frame as the aggregates): on a loaded machine the page may show a sample a while after the API has
    // it, and a new sample may come between the two reads.
    const deadline = Date.now() + 30_000;
    let compared: { shown: Record<string, string>; expected: Record<string, string> } | null = null;
    while (!compared && Date.now() < deadline) {
      const gpus = await gpusOf(url);
      const { ts, aggregates } = await page.evaluate(() => ({
        ts: Object.fromEntries(
          [...document.querySelectorAll<HTMLElement>('[data-testid="gpu-card"]')].map((c) => [
            c.dataset.uuid,
            c.dataset.ts,
          ]),
        ),
        aggregates: Object.fromEntries(
          [...document.querySelectorAll<HTMLElement>('[data-testid^="agg-"]')].map((el) => [
            (el.dataset.testid ?? '').slice(4),
            el.querySelector('dd')?.textContent ?? '',
          ]),
        ),
      }));
      if (gpus.length === 0 || gpus.some((g) => ts[g.uuid] !== String(g.ts))) {
        await page.waitForTimeout(100);
        continue;
      }
      // The energy today is asked once a minute: checked on its own below.
      const { energy: _energy, ...shown } = aggregates;
      compared = { shown, expected: expectedAggregates(gpus) };
    }
    assert.ok(compared, 'the page showed the samples the API answered with');
    assert.deepEqual(compared.shown, compared.expected);
  });

  test("under the fleet: the latest day's analytics summary, in words and units", async () => {
    const summary = page.locator('[data-testid="analytics-summary"]');
    await summary.locator('h3').waitFor({ timeout: 15_000 });
    assert.equal(await summary.locator('h3').textContent(), `Latest day: ${yesterday}`);
    const figures = Object.fromEntries(
      await summary
        .locator('.summary-item')
        .evaluateAll((items) =>
          items.map((i) => [i.querySelector('dt')?.textContent, i.querySelector('dd')?.textContent]),
        ),
    );
    assert.equal(figures.GPUs, '12');
    assert.match(figures.Energy ?? '', /^\d+\.\d kWh$/);
    assert.match(figures['Mean utilization'] ?? '', /^\d+\.\d %$/);
    assert.match(figures['Busiest GPU'] ?? '', /^sim-node-\d+ · GPU \d, \d+ %$/);
  });

  test('the README picture of the fleet (1440 x 900, the full page), every figure shown', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForFunction(() =>
      /kWh$/.test(document.querySelector('[data-testid="agg-energy"] dd')?.textContent ?? ''),
    );
    await page.locator('[data-testid="analytics-summary"] h3').waitFor();
    await page.locator('[data-testid="latest-run"]', { hasText: /\S/ }).waitFor();
    await saveReadmeImage(page, 'fleet');
  });

  test("shows the fleet's energy today as /api/fleet/energy gives it", async () => {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    // The page asks for it on its own (at start, then every minute): '—' until the first answer.
    await page.waitForFunction(() =>
      /kWh$/.test(document.querySelector('[data-testid="agg-energy"] dd')?.textContent ?? ''),
    );
    const shown = Number.parseFloat(
      (await page.locator('[data-testid="agg-energy"] dd').textContent()) ?? '',
    );
    const res = await fetch(`${url}/api/fleet/energy?from=${midnight.getTime()}`);
    const body = (await res.json()) as FleetEnergyResponse;
    assert.equal(body.gpus, 12);
    // The page asked less than a minute ago: 12 GPUs of at most 700 W add under 0.15 kWh a minute.
    assert.ok(Math.abs(shown - body.kwh) <= 0.2, `page ${shown} kWh, API ${body.kwh} kWh`);
  });

  test('filters by host, then by state, with the filter in the address', async () => {
    const gpus = await gpusOf(url);
    const host = [...new Set(gpus.map((g) => g.host))].sort()[1] as string;
    await page.locator('[data-testid="filter-host"]').selectOption(host);
    await page.waitForFunction(
      (h) =>
        [...document.querySelectorAll<HTMLElement>('[data-testid="host-group"]')].every(
          (g) => g.dataset.host === h,
        ),
      host,
    );
    assert.equal(await page.locator('[data-testid="gpu-card"]').count(), 4);
    assert.match(decodeURIComponent(new URL(page.url()).hash), new RegExp(`host=${host}`));
    assert.equal(
      await page.locator('[data-testid="agg-gpus"] dd').textContent(),
      '12',
      'aggregates stay fleet-wide',
    );

    await page.locator('[data-testid="filter-state"]').selectOption('busy');
    await page.waitForFunction(() => /state=busy/.test(location.hash));
    const states = await page
      .locator('[data-testid="gpu-card"]')
      .evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.state));
    assert.ok(
      states.every((s) => s === 'busy'),
      `only busy GPUs: ${states.join(', ')}`,
    );

    await page.locator('[data-testid="filter-state"]').selectOption('');
    await page.locator('[data-testid="filter-host"]').selectOption('');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="gpu-card"]').length === 12);
  });

  test('filters by model', async () => {
    const model = (await gpusOf(url))[0]?.model as string;
    await page.locator('[data-testid="filter-model"]').selectOption(model);
    const models = await page.locator('[data-testid="gpu-card"] .model').allTextContents();
    assert.ok(models.length > 0 && models.every((m) => m === model), models.join(', '));
    await page.locator('[data-testid="filter-model"]').selectOption('');
  });

  test('sorts the GPUs of each host by utilization, highest first', async () => {
    await page.locator('[data-testid="sort"]').selectOption('utilization');
    await page.waitForFunction(() => /sort=utilization/.test(location.hash));
    const perHost = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="host-group"]')].map((g) =>
        [...g.querySelectorAll('[data-testid="gpu-util"]')].map((u) => Number(u.textContent)),
      ),
    );
    for (const utils of perHost) {
      assert.deepEqual(
        utils,
        [...utils].sort((a, b) => b - a),
      );
    }
    await page.locator('[data-testid="sort"]').selectOption('host');
  });

  test('says live in the title with the GPU count, and serves a favicon', async () => {
    await page.waitForFunction(() => document.title.startsWith('live · 12 GPUs'));
    const res = await fetch(`${url}/favicon.ico`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.match(await res.text(), /<svg/);
  });

  test('opens the detail of a clicked GPU: charts with time and value axes in the catalog units', async () => {
    const uuid = (await gpusOf(url)).sort((a, b) => a.host.localeCompare(b.host))[0]?.uuid as string;
    await page.locator(`[data-testid="gpu-card"][data-uuid="${uuid}"]`).click();
    await page.locator(`[data-testid="gpu-detail"][data-uuid="${uuid}"]`).waitFor({ timeout: 10_000 });
    assert.equal(decodeURIComponent(new URL(page.url()).hash), `#gpu=${uuid}`);
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="detail-chart"] canvas').length === 10,
    );
    const panels = await page.locator('[data-testid="chart-panel"] h3').allTextContents();
    assert.deepEqual(panels, [
      'Utilization (%)',
      'Memory (GiB)',
      'Temperature (°C)',
      'Power against the limit (W)',
      'Clocks (MHz)',
      'Fan (%)',
      'PCIe (MB/s)',
      'Host CPU (%)',
      'Host CPU temperature (°C)',
      'Host memory (GiB)',
    ]);
    // uPlot draws the axes on its canvas: room is kept for them left of (values) and below (time) the plot.
    const axes = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="detail-chart"]')].map((c) => {
        const wrap = c.querySelector('.u-wrap')?.getBoundingClientRect();
        const over = c.querySelector('.u-over')?.getBoundingClientRect();
        return {
          unit: c.dataset.unit,
          valueAxis: wrap && over ? over.left - wrap.left >= 40 : false,
          timeAxis: wrap && over ? wrap.bottom - over.bottom >= 20 : false,
          axes: c.querySelectorAll('.u-axis').length,
        };
      }),
    );
    assert.deepEqual(
      axes.map((a) => a.unit),
      ['%', 'GiB', '°C', 'W', 'MHz', '%', 'MB/s', '%', '°C', 'GiB'],
    );
    assert.ok(
      axes.every((a) => a.axes === 2 && a.valueAxis && a.timeAxis),
      JSON.stringify(axes),
    );
    assert.match((await page.locator('[data-testid="detail-title"]').textContent()) ?? '', /· GPU \d+$/);
    // The simulated H100 has no fan: its chart says so, the others have readings.
    await page.locator('[data-panel="fan"] [data-testid="no-reading"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="no-reading"]:visible').count(), 1);
    await page.waitForFunction(() => /^live · .+ GPU \d+ · gpumon$/.test(document.title), null, {
      timeout: 10_000,
    });
  });

  test('shows the exact time and value under the cursor in the legend', async () => {
    // Away from the chart, the legend shows the latest points once there are some.
    await page.mouse.move(0, 0);
    await page.waitForFunction(() =>
      /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d.*GPU\s*\d+ %/.test(
        document.querySelector('[data-panel="utilization"] .u-legend')?.textContent ?? '',
      ),
    );
    // Then hover the utilization chart near its right end.
    const over = page.locator('[data-panel="utilization"] .u-over');
    const box = await over.boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2);
    const legend = page.locator('[data-panel="utilization"] .u-legend');
    await page.waitForFunction(() =>
      /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(
        document.querySelector('[data-panel="utilization"] .u-legend')?.textContent ?? '',
      ),
    );
    assert.match((await legend.textContent()) ?? '', /GPU\s*\d+ %/);
  });

  test('zooms into a time range dragged across a chart, and back out on a double click', async () => {
    // A chart zooms no closer than 4 samples: a drag across 80 % of it must span more, so the GPU must have been
    // sampled 7 times; 10, for the stream to bring the page the last ones a moment after the API has them.
    const uuid = new URLSearchParams(new URL(page.url()).hash.slice(1)).get('gpu') as string;
    await waitForSamples(url, uuid, 10);
    const chart = page.locator('[data-panel="power"] [data-testid="detail-chart"]');
    // The mouse acts on the viewport: the chart must be on screen wherever the layout puts it.
    await chart.locator('.u-over').scrollIntoViewIfNeeded();
    const box = await chart.locator('.u-over').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    assert.equal(await chart.getAttribute('data-zoomed'), 'true');
    await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
    assert.equal(await chart.getAttribute('data-zoomed'), null);
  });

  test('keeps the GPU in view after a reload (the address carries it)', async () => {
    const hash = new URL(page.url()).hash;
    await page.reload();
    await page.locator('[data-testid="gpu-detail"]').waitFor({ timeout: 10_000 });
    assert.equal(new URL(page.url()).hash, hash);
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="detail-chart"] canvas').length === 10,
    );
    await page.locator('[data-testid="back-to-fleet"]').click();
    await page.locator('[data-testid="fleet"]').waitFor();
  });

  for (const width of WIDTHS) {
    test(`at ${width} px: no horizontal scroll, no key element over another, screenshots`, async () => {
      await page.setViewportSize({ width, height: 900 });
      const uuid = (await gpusOf(url))[0]?.uuid as string;
      for (const view of ['fleet', 'gpu'] as const) {
        await page.goto(`${url}/${view === 'fleet' ? '' : `#gpu=${encodeURIComponent(uuid)}`}`);
        if (view === 'fleet') {
          await page.waitForFunction(
            () => document.querySelectorAll('[data-testid="gpu-card"]').length === 12,
          );
          // Laid out in full: the energy today and the analytics under the fleet are asked after the tiles.
          await page.waitForFunction(() =>
            /kWh$/.test(document.querySelector('[data-testid="agg-energy"] dd')?.textContent ?? ''),
          );
          await page.locator('[data-testid="analytics-summary"] h3').waitFor();
        } else {
          await page.locator('[data-testid="gpu-detail"][data-points]').waitFor();
          await page.waitForFunction(
            () => document.querySelectorAll('[data-testid="detail-chart"] canvas').length === 10,
          );
        }
        await checkLayout(page, view, KEY_ELEMENTS, width !== 768);
      }
    });
  }
  test("follows the system's dark theme", async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    const brightness = (rgb: string) =>
      (rgb.match(/\d+/g) ?? []).slice(0, 3).reduce((a, v) => a + Number(v), 0);
    assert.ok(brightness(light) > 600 && brightness(dark) < 150, `light ${light}, dark ${dark}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'gpu-1440-dark.png'), fullPage: true });
    await page.goto(`${url}/`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="gpu-card"]').length === 12);
    await page.screenshot({ path: join(SCREENSHOTS, 'fleet-1440-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  });
});

describe('the page of a server without a live source (gpumon serve without serve.live)', () => {
  let server: RunningServer;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    const app = createApp(depsOf(new LiveState(15 * 60_000), { sources: () => [] }));
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('says "no live source", not live, in the badge, the fleet and the title', async () => {
    await page
      .locator('[data-testid="stream-status"][data-status="none"]', { hasText: 'no live source' })
      .waitFor({ timeout: 10_000 });
    const empty = page.locator('[data-testid="fleet-empty"][data-reason="no-live-source"]');
    await empty.waitFor({ timeout: 5000 });
    assert.match((await empty.textContent()) ?? '', /^No live source/);
    assert.match(await page.title(), /^no live source · gpumon$/);
    assert.deepEqual(await axeViolations(page), [], 'no serious or critical accessibility violation');
  });

  test('passes the accessibility audit in the dark theme too', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      assert.deepEqual(await axeViolations(page), []);
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
  });

  for (const width of WIDTHS) {
    test(`at ${width} px: no horizontal scroll, nothing over another${SCREENSHOT_WIDTHS.includes(width) ? ', a screenshot' : ''}`, async () => {
      await page.setViewportSize({ width, height: 800 });
      await page.locator('[data-testid="fleet-empty"][data-reason="no-live-source"]').waitFor();
      await checkLayout(
        page,
        'no-live-source',
        ['[data-testid="top"] > *', '[data-testid="views"] > *'],
        SCREENSHOT_WIDTHS.includes(width),
      );
    });
  }
});
