/**
 * gpumon serve on a simulated month of archive, no live source: the real commands (`gpumon simulate`,
 * `gpumon analyze`, `gpumon serve --live none`) as a person runs them, then every view of the page in Chromium,
 * its values checked against the API.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type {
  AnalyticsDatesResponse,
  AnalyticsResultResponse,
  GpuProcessesResponse,
  HistoryResponse,
  ThrottleResponse,
} from '../../src/server/api-types.ts';
import { NO_LIVE_SOURCE } from '../../src/server/processes.ts';
import {
  axeViolations,
  checkLayout,
  LAYOUT_WIDTHS,
  SCREENSHOT_WIDTHS,
} from '../../src/server/web-test-support.ts';
import { dateOfTs } from '../../src/sinks/archive/layout.ts';
import { buildFleet } from '../../src/sources/sim/fleet.ts';
import { launchBrowser } from '../../src/testing/browser.ts';
import { exitOf, interrupt, type Running, startGpumon, tempDir, waitFor } from './helpers.ts';

const DAY = 86_400_000;
/** A month of one host of 4 GPUs, a sample every 5 minutes: 34,560 samples, written in seconds. */
const SIM = { hosts: 1, gpus: 4, seed: 3, days: 30, intervalMs: 300_000 };
/** The days analysed: the last three of the month. */
const ANALYSED = 3;

type Browser = Awaited<ReturnType<typeof launchBrowser>>;

/** Runs `gpumon ARGS` to its end; fails with its stderr unless it exits 0. */
async function gpumon(args: string[], timeoutMs: number): Promise<string> {
  const run = startGpumon(args, { GPUMON_LOG_LEVEL: 'warn' });
  const { code } = await exitOf(run, timeoutMs);
  assert.equal(code, 0, `gpumon ${args.join(' ')}: ${run.stderr()}`);
  return run.stdout();
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${await res.clone().text()}`);
  return (await res.json()) as T;
}

describe('gpumon serve on a simulated month of archive, without a live source, in a browser', () => {
  const dir = tempDir('serve-month');
  const archive = join(dir, 'archive');
  const config = join(dir, 'gpumon.yaml');
  const last = dateOfTs(Date.now() - DAY);
  const first = dateOfTs(Date.now() - SIM.days * DAY);
  const analysed = Array.from({ length: ANALYSED }, (_, i) => dateOfTs(Date.now() - (ANALYSED - i) * DAY));
  const uuids = buildFleet({ hosts: SIM.hosts, gpusPerHost: SIM.gpus, seed: SIM.seed }).map((g) => g.uuid);
  let serve: Running | undefined;
  let url = '';
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    // Samples 5 minutes apart are not gaps to the analytics (their default bound is a minute).
    writeFileSync(config, 'analytics:\n  maxGapSeconds: 600\n');
    const wrote = await gpumon(
      [
        'simulate',
        ...['--days', String(SIM.days), '--hosts', String(SIM.hosts), '--gpus', String(SIM.gpus)],
        ...['--seed', String(SIM.seed), '--interval-ms', String(SIM.intervalMs), '--out', archive],
      ],
      180_000,
    );
    assert.match(wrote, new RegExp(`wrote 34560 samples .* ${first}\\.\\.${last}`));
    await gpumon(
      ['analyze', '-c', config, '--from', analysed[0] as string, '--to', last, '--archive', archive],
      180_000,
    );
    serve = startGpumon(['serve', '-c', config, '--port', '0', '--archive', archive, '--live', 'none'], {
      GPUMON_LOG_LEVEL: 'warn',
    });
    const running = serve;
    url = await waitFor(
      'serve to print its address',
      () => {
        if (running.child.exitCode !== null) throw new Error(`serve exited: ${running.stderr()}`);
        return /dashboard at (https?:\/\/\S+?) /.exec(running.stdout())?.[1];
      },
      90_000,
    );
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  /**
   * The page as it stands at a phone's, a tablet's, a laptop's and a 4K screen's width: no horizontal scroll,
   * none of `keyElements` over another; screenshots at the phone's and the laptop's. Back at 1440 px after.
   */
  async function checkEveryWidth(name: string, keyElements: string[]): Promise<void> {
    for (const width of LAYOUT_WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await checkLayout(page, name, keyElements, SCREENSHOT_WIDTHS.includes(width));
    }
    await page.setViewportSize({ width: 1440, height: 900 });
  }

  after(async () => {
    await browser?.close();
    if (serve) await interrupt(serve);
    await rm(dir, { recursive: true, force: true });
  });

  test('the fleet says there is no live source, not a false "live" or an empty fleet', async () => {
    await page.goto(`${url}/`);
    await page.locator('[data-testid="stream-status"][data-status="none"]').waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('[data-testid="stream-status"]').textContent(), 'no live source');
    await page.locator('[data-testid="fleet-empty"][data-reason="no-live-source"]').waitFor();
    await page.waitForFunction(() => document.title === 'no live source · gpumon');
    await checkEveryWidth('serve-month-fleet', ['[data-testid="top"] > *']);
    assert.deepEqual(await axeViolations(page), []);
  });

  /** Opens a GPU's detail over `range`; resolves once its history, throttle reasons and processes are shown. */
  async function openDetail(uuid: string, range: string): Promise<void> {
    await page.goto(`${url}/#gpu=${encodeURIComponent(uuid)}&range=${range}`);
    await page.locator(`[data-testid="range-${range}"][aria-current="true"]`).waitFor();
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="throttle-legend"][data-key]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="processes"][data-state]').waitFor({ timeout: 15_000 });
  }

  /** The detail shows the archive's buckets of the API: their width, their count, the latest values. */
  async function checkDetailAgainstApi(uuid: string, range: '7d' | '30d'): Promise<HistoryResponse> {
    const api = await json<HistoryResponse>(
      `${url}/api/gpus/${encodeURIComponent(uuid)}/history?metrics=gpu_utilization_percent,gpu_temperature_celsius&range=${range}&points=1500`,
    );
    const detail = page.locator('[data-testid="gpu-detail"]');
    assert.equal(await detail.getAttribute('data-sources'), 'archive');
    assert.equal(Number(await detail.getAttribute('data-bucket-ms')), api.bucketMs);
    const points = Number(await detail.getAttribute('data-points'));
    assert.ok(Math.abs(points - api.ts.length) <= 1, `page ${points} points, API ${api.ts.length}`);
    assert.ok(points > 0 && points <= 1500 + 2, `${points} points per series: bounded by the 1,500 asked`);
    // Away from the chart, its legend shows the last point: the API's last bucket of the archive.
    const lastOf = (values: (number | null)[] | undefined) => values?.findLast((v) => v !== null) as number;
    const legend = async (panel: string) =>
      page.locator(`[data-panel="${panel}"] .u-legend .u-series`).nth(1).locator('.u-value').textContent();
    assert.equal(
      await legend('utilization'),
      `${lastOf(api.series.gpu_utilization_percent?.mean).toFixed(0)} %`,
    );
    assert.equal(
      await legend('temperature'),
      `${lastOf(api.series.gpu_temperature_celsius?.mean).toFixed(0)} °C`,
    );
    assert.match(
      (await page.locator('[data-testid="detail-missing"]').textContent()) ?? '',
      /is not in the live fleet: its charts come from the archive/,
    );
    return api;
  }

  test("a GPU's 7 days from the archive alone: the API's buckets and values, its processes need a live source", async () => {
    const uuid = uuids[0] as string;
    await openDetail(uuid, '7d');
    const api = await checkDetailAgainstApi(uuid, '7d');
    // 7 days / 1,500 points: 404-second buckets, at most one 5-minute sample each.
    assert.equal(api.bucketMs, 404_000);
    assert.equal(await page.locator('[data-testid="processes"]').getAttribute('data-state'), 'unavailable');
    assert.equal(await page.locator('[data-testid="processes-status"]').textContent(), NO_LIVE_SOURCE);
    assert.equal(await page.locator('[data-testid="processes-table"]').count(), 0);
    const processes = await json<GpuProcessesResponse>(
      `${url}/api/gpus/${encodeURIComponent(uuid)}/processes`,
    );
    assert.equal(processes.unavailable, NO_LIVE_SOURCE);
    await checkEveryWidth('serve-month-gpu-7d', [
      '[data-testid="chart-panel"]',
      '[data-testid="detail-now"] > *',
    ]);
    assert.deepEqual(await axeViolations(page), []);
  });

  test("30 days: a click on the range, the month's buckets, each throttle reason of the archive marked", async () => {
    // The GPU the archive has most throttle reasons for.
    const answers = await Promise.all(
      uuids.map((u) =>
        json<ThrottleResponse>(`${url}/api/gpus/${encodeURIComponent(u)}/throttle?range=30d&points=1500`),
      ),
    );
    const activeIn = (a: ThrottleResponse) => a.reasons.filter((r) => (a.totals.active[r.key] ?? 0) > 0);
    const throttled = answers.reduce((a, b) => (activeIn(b).length > activeIn(a).length ? b : a));
    assert.ok(activeIn(throttled).length > 0, 'a month of 4 simulated GPUs holds some throttling');
    await openDetail(throttled.uuid, '7d');
    await page.locator('[data-testid="range-30d"]').click();
    await page.waitForFunction(() => /range=30d/.test(location.hash));
    await openDetail(throttled.uuid, '30d');
    const api = await checkDetailAgainstApi(throttled.uuid, '30d');
    assert.equal(api.bucketMs, 1_728_000, '30 days / 1,500 points: 28.8-minute buckets');
    assert.match(
      (await page.locator('[data-testid="range-note"]').textContent()) ?? '',
      /each point the mean of 28\.8 min · from the archive$/,
    );
    const legend = page.locator('[data-testid="throttle-legend"]');
    assert.equal(
      await legend.getAttribute('data-reasons'),
      activeIn(throttled)
        .map((r) => r.key)
        .join(','),
    );
    assert.deepEqual(
      await legend.locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('title'))),
      activeIn(throttled).map((r) => r.help),
    );
    await page.waitForFunction(
      (n) =>
        [
          ...document.querySelectorAll<HTMLElement>('[data-panel="clocks"] [data-testid="detail-chart"]'),
        ].every((c) => c.dataset.lanes === String(n) && Number(c.dataset.laneMarks) > 0),
      activeIn(throttled).length,
    );
    await checkEveryWidth('serve-month-gpu-30d', ['[data-testid="chart-panel"]', '.range-bar > *']);
  });

  test('the alerts view says this server keeps no alert episodes (none without a live source)', async () => {
    await page.goto(`${url}/#view=alerts`);
    await page
      .locator('[data-testid="episodes-empty"][data-reason="no-live-source"]')
      .waitFor({ timeout: 15_000 });
    assert.equal(
      await page.locator('[data-testid="episodes-empty"]').textContent(),
      'No live source: this server keeps no alert episodes.',
    );
    assert.equal((await fetch(`${url}/api/alerts/episodes`)).status, 404);
    await checkEveryWidth('serve-month-alerts', ['[data-testid="top"] > *']);
  });

  async function fleetRow(date: string, analysis: string): Promise<Record<string, number>> {
    const body = await json<AnalyticsResultResponse>(`${url}/api/analytics/${date}/${analysis}`);
    return body.rows.find((r) => r.scope === 'fleet') as Record<string, number>;
  }

  async function openAnalytics(tab: string): Promise<void> {
    await page.goto(`${url}/#view=analytics&tab=${tab}&from=${analysed[0]}&to=${last}`);
    await page.locator(`[data-testid="analytics-view"][data-loaded="${tab}"]`).waitFor({ timeout: 30_000 });
  }

  test('the analytics of the days analysed, each page against the API, "Run now" replaced by the reason', async () => {
    assert.deepEqual(
      (await json<AnalyticsDatesResponse>(`${url}/api/analytics`)).dates,
      [...analysed].reverse(),
    );
    await openAnalytics('daily');
    const rows = await page
      .locator('[data-testid="daily-table"] tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) =>
          Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.label, td.textContent])),
        ),
      );
    assert.deepEqual(
      rows.map((r) => r.Date),
      analysed,
    );
    for (const [i, date] of analysed.entries()) {
      const api = await fleetRow(date, 'daily_stats');
      assert.equal(rows[i]?.['Energy (kWh)'], api.energy_kwh?.toFixed(2), date);
      assert.equal(rows[i]?.['Utilization, mean (%)'], api.load_avg_percent?.toFixed(1), date);
      assert.equal(rows[i]?.['Temperature, max (°C)'], api.temperature_max_celsius?.toFixed(0), date);
    }
    await openAnalytics('energy');
    const kwh = await Promise.all(
      analysed.map(async (d) => (await fleetRow(d, 'daily_stats')).energy_kwh ?? 0),
    );
    assert.equal(
      await page.locator('[data-testid="energy-total"]').textContent(),
      `The fleet used ${kwh.reduce((a, b) => a + b, 0).toFixed(1)} kWh over ${ANALYSED} days.`,
    );
    await openAnalytics('idle');
    const idle = await fleetRow(last, 'idle_time');
    assert.equal(
      await page
        .locator('[data-testid="idle-table"] tbody tr')
        .nth(ANALYSED - 1)
        .locator('td[data-label="Wasted (GPU-h)"]')
        .textContent(),
      idle.wasted_gpu_hours?.toFixed(1),
    );
    await openAnalytics('throttle');
    const stats = await fleetRow(last, 'daily_stats');
    assert.equal(
      await page
        .locator('[data-testid="throttle-table"] tbody tr')
        .nth(ANALYSED - 1)
        .locator('td[data-label="Throttled (h)"]')
        .textContent(),
      ((stats.throttled_seconds ?? 0) / 3600).toFixed(2),
    );
    for (const tab of ['heatmap', 'spikes', 'correlations', 'runs']) {
      await openAnalytics(tab);
      const text = (await page.locator('[data-testid="analytics-page"]').textContent()) ?? '';
      assert.doesNotMatch(
        text,
        /_(percent|celsius|watts|kwh|bytes|seconds|share)\b|[{}]|\bnull\b|undefined/,
        tab,
      );
      await checkEveryWidth(`serve-month-analytics-${tab}`, ['[data-testid="top"] > *']);
    }
    // On the runs page: gpumon serve runs no analytics, and says so instead of offering "Run now".
    assert.match(
      (await page.locator('[data-testid="analytics-page"]').textContent()) ?? '',
      /gpumon serve does not run analytics/,
    );
    assert.equal(await page.getByRole('button', { name: 'Run now' }).count(), 0);
  });

  test('keyboard: Tab reaches the views, Enter opens the analytics; in a detail Tab and Enter pick a range', async () => {
    const focused = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        const style = el ? getComputedStyle(el) : null;
        return {
          testid: el?.dataset.testid ?? '',
          text: el?.textContent ?? '',
          outline: style ? Number.parseFloat(style.outlineWidth) * Number(style.outlineStyle !== 'none') : 0,
        };
      });
    const tabUntil = async (match: (f: { testid: string; text: string }) => boolean, most = 80) => {
      for (let presses = 1; presses <= most; presses++) {
        await page.keyboard.press('Tab');
        const f = await focused();
        if (match(f)) return f;
      }
      assert.fail(`never focused in ${most} presses of Tab`);
    };
    await page.goto(`${url}/`);
    await page.locator('[data-testid="stream-status"][data-status="none"]').waitFor({ timeout: 15_000 });
    const analytics = await tabUntil((f) => f.text === 'Analytics');
    assert.ok(analytics.outline >= 2, 'the focus is drawn');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="analytics-view"][data-loaded]').waitFor({ timeout: 30_000 });
    await openDetail(uuids[1] as string, '7d');
    const range = await tabUntil((f) => f.testid === 'range-24h');
    assert.ok(range.outline >= 2);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /range=24h/.test(location.hash));
    await page.locator('[data-testid="range-24h"][aria-current="true"]').waitFor();
  });
});
