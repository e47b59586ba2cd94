import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ANALYTICS_TABS } from '../../web/route.ts';
import { runDailyAnalytics } from '../analytics/daily-job.ts';
import { ResultReader } from '../analytics/results.ts';
import { testConfig } from '../analytics/testing.ts';
import { LiveState } from '../pipeline/live-state.ts';
import { dateOfTs } from '../sinks/archive/layout.ts';
import { LocalStorage } from '../sinks/archive/local-storage.ts';
import { buildFleet } from '../sources/sim/fleet.ts';
import { launchBrowser } from '../testing/browser.ts';
import { resultsApi } from '../wiring.ts';
import type {
  AlertEpisodesResponse,
  AnalyticsResultResponse,
  GpusResponse,
  GpuView,
  HistoryResponse,
  RunsResponse,
} from './api-types.ts';
import { createApp } from './app.ts';
import { archiveHistory } from './archive-history.ts';
import type { RunsApi } from './deps.ts';
import { type RunningServer, startServer } from './serve.ts';
import { depsOf } from './test-support.ts';
import {
  axeViolations,
  checkLayout,
  type Dashboard,
  LAYOUT_WIDTHS,
  saveReadmeImage,
  simulatorFlags,
  startDashboard,
  writeSimulatedArchive,
} from './web-test-support.ts';

const DAY = 86_400_000;
/** The live simulator's interval; the archive's history is sampled every minute. */
const INTERVAL_MS = 2000;
const ARCHIVE_INTERVAL_MS = 60_000;
const SIM = { hosts: 2, gpusPerHost: 2, seed: 7 };
const IDLE = { loadPercent: 30, memoryBytes: 8 * 1024 ** 3 };

type Browser = Awaited<ReturnType<typeof launchBrowser>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * gpumon up on the simulator, over an archive that already holds the two days before today of the same
 * simulated fleet (same seed: same GPUs): the detail's ranges reach from the live buffer into the archive.
 */
describe("a GPU's history beyond the live window, in a browser on gpumon up with an archive", () => {
  let dashboard: Dashboard | undefined;
  let page: Page;
  let dir: string;
  let url: string;
  let uuid = '';
  const yesterday = dateOfTs(Date.now() - DAY);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpumon-web-archive-'));
    const archivePath = join(dir, 'archive');
    await writeSimulatedArchive(archivePath, SIM, 2, ARCHIVE_INTERVAL_MS);
    // The daily analytics of the two archived days, as gpumon analyze would write them.
    for (const date of [dateOfTs(Date.now() - 2 * DAY), yesterday]) {
      await runDailyAnalytics({
        config: testConfig({ 'archive.path': archivePath }),
        date,
        storage: new LocalStorage(archivePath),
      });
    }
    dashboard = await startDashboard({
      ...simulatorFlags(SIM, INTERVAL_MS),
      'archive.path': archivePath,
      'schedule.enabled': false,
      // Any rise of the temperature is a spike: episodes start and end every few samples.
      'alerts.tempSpikeCelsius': 0.1,
      // Not the defaults: the page must take the server's idle thresholds.
      'analytics.idleLoadPercent': IDLE.loadPercent,
      'analytics.idleMemoryBytes': IDLE.memoryBytes,
    });
    ({ url, page } = dashboard);
    for (let tries = 0; !uuid && tries < 50; tries++) {
      const gpus = ((await (await fetch(`${url}/api/gpus`)).json()) as GpusResponse).gpus;
      uuid = gpus[0]?.uuid as string;
      if (!uuid) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(uuid, 'the simulator sampled its GPUs');
  });

  after(async () => {
    await dashboard?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openDetail(hash: string): Promise<void> {
    await page.goto(`${url}/${hash}`);
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 15_000 });
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="detail-chart"] canvas').length === 10,
    );
  }

  test('7 days: the archive, then the live buffer, in the buckets the API gives, the range marked', async () => {
    await openDetail(`#gpu=${encodeURIComponent(uuid)}&range=7d`);
    const api = (await (
      await fetch(`${url}/api/gpus/${uuid}/history?metrics=gpu_utilization_percent&range=7d&points=1500`)
    ).json()) as HistoryResponse;
    const detail = page.locator('[data-testid="gpu-detail"]');
    assert.equal(await detail.getAttribute('data-sources'), 'archive,live');
    assert.equal(Number(await detail.getAttribute('data-bucket-ms')), api.bucketMs);
    const points = Number(await detail.getAttribute('data-points'));
    // Two days at one sample a minute, in 404-second buckets (7 days / 1,500): 428, the gap to today, the live ones.
    assert.ok(points > 428 && points <= 1500, `${points} points`);
    assert.ok(Math.abs(points - api.ts.length) <= 2, `page ${points}, API ${api.ts.length}`);
    assert.equal(await page.locator('[data-testid="range-7d"]').getAttribute('aria-current'), 'true');
    assert.match(
      (await page.locator('[data-testid="range-note"]').textContent()) ?? '',
      /each point the mean of 6\.7 min · from the archive and the live buffer/,
    );
  });

  test('the detail says the energy the GPU used today, from its energy counter', async () => {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const energy = page.locator('[data-testid="now-energy"] dd');
    await page.waitForFunction(() =>
      /kWh$/.test(document.querySelector('[data-testid="now-energy"] dd')?.textContent ?? ''),
    );
    // Just after midnight today holds only the samples of this run, maybe a few in one bucket: ask until the
    // counter has risen by a sample or two.
    let first = Number.NaN;
    let last = Number.NaN;
    let tries = 0;
    for (; tries < 20 && !(last > first); tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
      const api = (await (
        await fetch(
          `${url}/api/gpus/${uuid}/history?metrics=gpu_energy_joules_total&from=${midnight.getTime()}&to=${Date.now() + 1}&points=10`,
        )
      ).json()) as HistoryResponse;
      const counter = api.series.gpu_energy_joules_total;
      first = counter?.min.find((v) => v !== null) as number;
      last = counter?.max.findLast((v) => v !== null) as number;
    }
    assert.ok(last > first, 'the counter rose today');
    // The page asked a moment earlier: a sample of a 700 W GPU (2 s, 0.0004 kWh) more per try in between.
    const shown = Number.parseFloat((await energy.textContent()) ?? '');
    assert.ok(Math.abs(shown - (last - first) / 3_600_000) <= 0.006 + 0.0004 * tries, `${shown} kWh`);
  });

  test('a click on "1 h" puts the range in the address and shows the live hour', async () => {
    await page.locator('[data-testid="range-1h"]').click();
    await page.waitForFunction(() => /range=1h/.test(location.hash));
    await page.waitForFunction(() =>
      / live buffer$/.test(document.querySelector('[data-testid="range-note"]')?.textContent ?? ''),
    );
    assert.equal(await page.locator('[data-testid="range-1h"]').getAttribute('aria-current'), 'true');
    assert.equal(await page.locator('[data-testid="range-7d"]').getAttribute('aria-current'), null);
  });

  test('a custom range of yesterday morning: from the archive alone, one point per archived minute', async () => {
    await page.locator('[data-testid="range-from"]').fill(`${yesterday}T06:00`);
    await page.locator('[data-testid="range-to"]').fill(`${yesterday}T12:00`);
    await page.locator('[data-testid="range-apply"]').click();
    await page.waitForFunction(() => /from=.*&to=/.test(location.hash));
    const hash = decodeURIComponent(new URL(page.url()).hash);
    // The tests run in UTC (TZ=UTC): the local times typed are the UTC times in the address.
    assert.match(hash, new RegExp(`from=${yesterday}T06:00:00.000Z&to=${yesterday}T12:00:00.000Z`));
    await page.waitForFunction(() =>
      /from the archive$/.test(document.querySelector('[data-testid="range-note"]')?.textContent ?? ''),
    );
    assert.equal(await page.locator('[data-testid="gpu-detail"]').getAttribute('data-points'), '360');
    assert.equal(await page.locator('[data-testid="range-apply"]').getAttribute('aria-current'), 'true');
    // A reload keeps the range.
    await page.reload();
    await page.waitForFunction(() =>
      /from the archive$/.test(document.querySelector('[data-testid="range-note"]')?.textContent ?? ''),
    );
  });

  test('a custom range that ends before it starts is refused with a reason, the address unchanged', async () => {
    const before = page.url();
    await page.locator('[data-testid="range-from"]').fill(`${yesterday}T12:00`);
    await page.locator('[data-testid="range-to"]').fill(`${yesterday}T06:00`);
    await page.locator('[data-testid="range-apply"]').click();
    await page
      .locator('[data-testid="range-message"]', { hasText: 'The end must be after the start.' })
      .waitFor();
    assert.equal(page.url(), before);
  });

  test("the fleet's GPU states follow the server's idle thresholds, not the defaults", async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${url}/`);
    await page.locator('[data-testid="gpu-card"]').first().waitFor({ timeout: 10_000 });
    const expected = (g: GpuView) => {
      if (g.alerts.temperature || g.alerts.load || g.alerts.power) return 'alerting';
      if (g.gpu_utilization_percent === null) return 'unknown';
      if (g.gpu_utilization_percent >= IDLE.loadPercent) return 'busy';
      return (g.gpu_memory_used_bytes ?? 0) > IDLE.memoryBytes ? 'holding' : 'idle';
    };
    // Compared where the page shows the very samples the API answers with (each card's data-ts): on a loaded
    // machine the page may render a sample a while after the API has it.
    let checked = false;
    for (let attempt = 0; attempt < 40 && !checked; attempt++) {
      const api = ((await (await fetch(`${url}/api/gpus`)).json()) as GpusResponse).gpus;
      const shown: Record<string, { ts?: string; state?: string }> = await page
        .locator('[data-testid="gpu-card"]')
        .evaluateAll((cards) =>
          Object.fromEntries(
            cards.map((c) => {
              const d = (c as HTMLElement).dataset;
              return [d.uuid, { ts: d.ts, state: d.state }];
            }),
          ),
        );
      if (api.length === 0 || api.some((g) => shown[g.uuid]?.ts !== String(g.ts))) {
        await sleep(250);
        continue;
      }
      assert.deepEqual(
        Object.fromEntries(Object.entries(shown).map(([uuid, card]) => [uuid, card.state])),
        Object.fromEntries(api.map((g) => [g.uuid, expected(g)])),
      );
      checked = true;
    }
    assert.ok(checked, 'the page showed the samples the API answered with');
  });

  async function episodesOf(query = ''): Promise<AlertEpisodesResponse> {
    const res = await fetch(`${url}/api/alerts/episodes?limit=1000${query}`);
    assert.equal(res.status, 200);
    return (await res.json()) as AlertEpisodesResponse;
  }

  test('the alerts view lists the episodes of the API: rule, GPU, start, end, peak in human words', async () => {
    // Wait for an episode that has ended.
    const spikes = '&state=ended&rule=temperature_spike';
    for (let i = 0; i < 60 && !(await episodesOf(spikes)).total; i++) await sleep(500);
    assert.ok((await episodesOf(spikes)).total > 0, 'a spike episode ended');
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${url}/#view=alerts`);
    await page.locator('[data-testid="alerts-view"][data-loaded]').waitFor({ timeout: 10_000 });
    const rows = await page.locator('[data-testid="episode"]').evaluateAll((trs) =>
      trs.map((tr) => ({
        key: `${(tr as HTMLElement).dataset.uuid} ${(tr as HTMLElement).dataset.rule} ${(tr as HTMLElement).dataset.start}`,
        cells: [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''),
      })),
    );
    const api = await episodesOf();
    const known = new Set(api.episodes.map((e) => `${e.uuid} ${e.rule} ${e.start}`));
    assert.ok(rows.length > 0 && rows.every((r) => known.has(r.key)), 'every row is an episode of the API');
    const ended = api.episodes.find(
      (e) => e.ended && rows.some((r) => r.key === `${e.uuid} ${e.rule} ${e.start}`),
    );
    assert.ok(ended, 'an ended episode is shown');
    const row = rows.find((r) => r.key === `${ended.uuid} ${ended.rule} ${ended.start}`);
    assert.deepEqual(row?.cells, [
      'Temperature spike',
      `${ended.host} · GPU ${ended.gpu_index}`,
      new Date(ended.start).toLocaleString('en-US', { hourCycle: 'h23' }),
      new Date(ended.end).toLocaleString('en-US', { hourCycle: 'h23' }),
      row?.cells[4],
      `+${ended.peak.toFixed(1)} °C in one sample`,
    ]);
    assert.match(row?.cells[4] ?? '', /^\d+(\.\d)? (s|min)$/);
    assert.match(await page.title(), /· alerts · gpumon$/);
  });

  test('filters the episodes by rule: the episodes of /api/alerts/episodes of that rule, the rule in the address', async () => {
    const rule = 'temperature_spike';
    await page.locator('[data-testid="filter-rule"]').selectOption(rule);
    await page.waitForFunction((r) => new URLSearchParams(location.hash.slice(1)).get('rule') === r, rule);
    await page.waitForFunction(
      (r) => {
        const rows = [...document.querySelectorAll<HTMLElement>('[data-testid="episode"]')];
        return rows.length > 0 && rows.every((row) => row.dataset.rule === r);
      },
      rule,
      { timeout: 15_000 },
    );
    const rows = await page
      .locator('[data-testid="episode"]')
      .evaluateAll((trs) =>
        trs.map((tr) => `${(tr as HTMLElement).dataset.uuid} ${(tr as HTMLElement).dataset.start}`),
      );
    // Asked after the page: every episode the page shows is one of the API's for that rule.
    const api = await episodesOf(`&rule=${rule}`);
    assert.ok(api.episodes.every((e) => e.rule === rule));
    const known = new Set(api.episodes.map((e) => `${e.uuid} ${e.start}`));
    assert.deepEqual(
      rows.filter((r) => !known.has(r)),
      [],
      'every row is an episode of the API for that rule',
    );
    assert.match(
      (await page.locator('[data-testid="episodes-shown"]').textContent()) ?? '',
      /^(\d+ episodes?|latest \d+ of \d+ episodes)$/,
    );
    // A reload keeps the filter: it is in the address.
    await page.reload();
    await page.locator('[data-testid="alerts-view"][data-loaded]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="filter-rule"]').inputValue(), rule);
    await page.locator('[data-testid="filter-rule"]').selectOption('');
    await page.waitForFunction(() => !new URLSearchParams(location.hash.slice(1)).has('rule'));
  });

  test('filters the episodes by state and host, with the filter in the address', async () => {
    await page.locator('[data-testid="filter-episode-state"]').selectOption('ended');
    await page.waitForFunction(() => /view=alerts&state=ended/.test(location.hash));
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="episode"]')].every(
        (r) => r.dataset.ended === 'true',
      ),
    );
    const host = (await episodesOf('&state=ended')).episodes[0]?.host as string;
    await page.locator('[data-testid="filter-episode-host"]').selectOption(host);
    await page.waitForFunction((h) => new URLSearchParams(location.hash.slice(1)).get('host') === h, host);
    await page.waitForFunction(
      (h) =>
        [...document.querySelectorAll('[data-testid="episode"] td:nth-child(2)')].every((td) =>
          (td.textContent ?? '').startsWith(`${h} ·`),
        ),
      host,
    );
    assert.ok((await page.locator('[data-testid="episode"]').count()) > 0);
  });

  test("an episode's GPU link opens the GPU's charts around that moment", async () => {
    const link = page.locator('[data-testid="episode-link"]').first();
    const start = Number(await page.locator('[data-testid="episode"]').first().getAttribute('data-start'));
    await link.click();
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 10_000 });
    const params = new URLSearchParams(new URL(page.url()).hash.slice(1));
    const from = Date.parse(params.get('from') ?? '');
    const to = Date.parse(params.get('to') ?? '');
    assert.ok(from < start && start < to, `${params} around ${new Date(start).toISOString()}`);
    assert.ok(Number(await page.locator('[data-testid="gpu-detail"]').getAttribute('data-points')) > 0);
  });

  test("the GPU's charts mark its alert episodes behind the lines", async () => {
    const episode = (await episodesOf('&rule=temperature_spike')).episodes[0];
    assert.ok(episode, 'an episode');
    await page.goto(`${url}/#gpu=${encodeURIComponent(episode.uuid)}`);
    await page.locator('[data-testid="gpu-detail"][data-episodes]').waitFor({ timeout: 10_000 });
    const shown = Number(await page.locator('[data-testid="gpu-detail"]').getAttribute('data-episodes'));
    const api = (await episodesOf(`&uuid=${encodeURIComponent(episode.uuid)}`)).total;
    assert.ok(shown > 0 && shown <= api, `${shown} episodes on the page, ${api} in the API`);
    // Episodes of the last 15 minutes are drawn on every chart.
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="detail-chart"]')].every(
        (c) => Number(c.dataset.marks) > 0,
      ),
    );
  });

  const twoDaysAgo = dateOfTs(Date.now() - 2 * DAY);

  async function rowsOf(date: string, analysis: string): Promise<Record<string, unknown>[]> {
    const res = await fetch(`${url}/api/analytics/${date}/${analysis}`);
    assert.equal(res.status, 200);
    return ((await res.json()) as AnalyticsResultResponse).rows;
  }
  const fleetRow = async (date: string, analysis: string) =>
    (await rowsOf(date, analysis)).find((r) => r.scope === 'fleet') as Record<string, number>;

  async function openAnalytics(hash: string, tab: string): Promise<void> {
    await page.goto(`${url}/#view=analytics${hash}`);
    await page.locator(`[data-testid="analytics-view"][data-loaded="${tab}"]`).waitFor({ timeout: 15_000 });
  }

  /** Text a person reads must not show result keys or JSON. */
  async function assertNoRawKeys(): Promise<void> {
    const text = (await page.locator('[data-testid="analytics-page"]').textContent()) ?? '';
    assert.doesNotMatch(
      text,
      /_(percent|celsius|watts|kwh|bytes|seconds|share)\b|[{}]|\bnull\b|undefined/,
      text.slice(0, 400),
    );
  }

  test('daily statistics: a row per day of the fleet, equal to the API, sortable, and per GPU', async () => {
    await openAnalytics('', 'daily');
    assert.equal(await page.locator('[data-testid="tab-daily"]').getAttribute('aria-current'), 'page');
    const table = page.locator('[data-testid="daily-table"]');
    const cells = async () =>
      table
        .locator('tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) =>
            Object.fromEntries(
              [...tr.querySelectorAll('td')].map((td) => [td.dataset.label, td.textContent]),
            ),
          ),
        );
    const rows = await cells();
    assert.deepEqual(
      rows.map((r) => r.Date),
      [twoDaysAgo, yesterday],
    );
    const api = await fleetRow(yesterday, 'daily_stats');
    const shown = rows[1] as Record<string, string>;
    assert.equal(shown.GPU, 'Fleet');
    assert.equal(shown['Energy (kWh)'], api.energy_kwh?.toFixed(2));
    assert.equal(shown['Utilization, mean (%)'], `${api.load_avg_percent?.toFixed(1)}`);
    assert.equal(shown['Temperature, max (°C)'], `${api.temperature_max_celsius?.toFixed(0)}`);
    assert.equal(
      shown['Memory used, max (GiB)'],
      `${((api.memory_used_max_bytes ?? 0) / 1024 ** 3).toFixed(1)}`,
    );
    await assertNoRawKeys();
    // A click on a heading sorts by it, highest first; again, lowest first.
    const energy = table.locator('th[data-key="energy_kwh"]');
    await energy.locator('button').click();
    assert.equal(await energy.getAttribute('aria-sort'), 'descending');
    const sorted = (await cells()).map((r) => Number.parseFloat(r['Energy (kWh)'] ?? ''));
    assert.deepEqual(
      sorted,
      [...sorted].sort((a, b) => b - a),
    );
    await energy.locator('button').click();
    assert.equal(await energy.getAttribute('aria-sort'), 'ascending');
    await page.locator('[data-testid="daily-scope"]').selectOption('gpu');
    assert.equal(await table.locator('tbody tr').count(), 2 * SIM.hosts * SIM.gpusPerHost);
  });

  test('any range of days: one day in the address shows that day alone', async () => {
    await page.locator('[data-testid="analytics-from"]').fill(yesterday);
    await page.locator('[data-testid="analytics-to"]').fill(yesterday);
    await page.locator('[data-testid="analytics-apply"]').click();
    await page.waitForFunction((d) => location.hash.includes(`from=${d}&to=${d}`), yesterday);
    await page.locator('[data-testid="analytics-view"][data-loaded="daily"]').waitFor();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="daily-table"] tbody tr').length === 1,
    );
    assert.match(
      (await page.locator('[data-testid="analytics-range"]').textContent()) ?? '',
      /^1 day with results \(of 2/,
    );
  });

  test('the hour-of-day heatmap: a row per day, a cell per UTC hour, the fleet means of the API', async () => {
    await openAnalytics('&tab=heatmap', 'heatmap');
    const grid = page.locator('[data-testid="heatmap"]');
    assert.equal(await grid.locator('tbody tr').count(), 2);
    assert.equal(await grid.locator('tbody tr').first().locator('td').count(), 24);
    const hour5 = (await rowsOf(yesterday, 'hourly_patterns')).find(
      (r) => r.scope === 'fleet' && r.hour_utc === 5,
    );
    assert.ok(hour5, 'the fleet row of 05:00');
    const cell = grid.locator('tbody tr').nth(1).locator('td').nth(5);
    assert.equal(await cell.textContent(), (hour5.load_avg_percent as number).toFixed(0));
    await page.setViewportSize({ width: 1440, height: 900 });
    await saveReadmeImage(page, 'analytics-heatmap');
    await page.locator('[data-testid="heatmap-metric"]').selectOption('temperature_avg_celsius');
    assert.equal(await cell.textContent(), (hour5.temperature_avg_celsius as number).toFixed(0));
    await assertNoRawKeys();
  });

  test('temperature spikes: every spike of the days, each linked to its GPU chart at that moment', async () => {
    await openAnalytics('&tab=spikes', 'spikes');
    const expected =
      (await rowsOf(twoDaysAgo, 'temperature_spikes')).length +
      (await rowsOf(yesterday, 'temperature_spikes')).length;
    assert.ok(expected > 0, 'the simulator has spikes');
    assert.equal(
      await page.locator('[data-testid="spikes-table"] tbody tr').count(),
      Math.min(expected, 200),
    );
    assert.match(
      (await page.locator('[data-testid="spikes-count"]').textContent()) ?? '',
      new RegExp(`^${expected} spikes`),
    );
    // The latest first.
    const latest = Math.max(
      ...[
        ...(await rowsOf(twoDaysAgo, 'temperature_spikes')),
        ...(await rowsOf(yesterday, 'temperature_spikes')),
      ].map((r) => r.ts as number),
    );
    assert.equal(
      await page
        .locator('[data-testid="spikes-table"] tbody tr')
        .first()
        .locator('td[data-label="Time"]')
        .textContent(),
      new Date(latest).toLocaleString('en-US', { hourCycle: 'h23' }),
    );
    await assertNoRawKeys();
    // The first row is the latest spike: its link opens that GPU's charts on a window around its time.
    const spike = [
      ...(await rowsOf(twoDaysAgo, 'temperature_spikes')),
      ...(await rowsOf(yesterday, 'temperature_spikes')),
    ].find((r) => r.ts === latest) as Record<string, unknown>;
    const first = page.locator('[data-testid="spike-link"]').first();
    await first.click();
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="gpu-detail"]').getAttribute('data-sources'), 'archive');
    assert.equal(await page.locator('[data-testid="gpu-detail"]').getAttribute('data-uuid'), spike.uuid);
    const params = new URLSearchParams(new URL(page.url()).hash.slice(1));
    assert.equal(params.get('gpu'), spike.uuid);
    const from = Date.parse(params.get('from') ?? '');
    const to = Date.parse(params.get('to') ?? '');
    assert.ok(
      from < latest && latest < to && to - from <= 30 * 60_000,
      `${params} around the spike at ${new Date(latest).toISOString()}`,
    );
    assert.ok(Number(await page.locator('[data-testid="gpu-detail"]').getAttribute('data-points')) > 0);
  });

  test('the correlation matrix of the latest day, symmetric, with the values of the API', async () => {
    await openAnalytics('&tab=correlations', 'correlations');
    const api = await fleetRow(yesterday, 'correlations');
    const pair = async (a: string, b: string) =>
      page.locator(`[data-testid="corr-matrix"] td[data-pair="${a} ${b}"]`).textContent();
    assert.equal(await pair('temperature', 'load'), api.corr_temperature_load?.toFixed(2));
    assert.equal(await pair('load', 'temperature'), api.corr_temperature_load?.toFixed(2));
    assert.equal(await pair('power', 'power'), '1.00');
    assert.match(
      (await page.locator('[data-testid="corr-cpu"]').textContent()) ?? '',
      new RegExp(`CPU temperature: ${api.corr_temperature_cpu_temperature?.toFixed(2)}`),
    );
    await assertNoRawKeys();
  });

  test('idle and wasted GPU-hours, energy per day and throttle time, as the API gives them', async () => {
    await openAnalytics('&tab=idle', 'idle');
    const idle = await fleetRow(yesterday, 'idle_time');
    const idleRow = page.locator('[data-testid="idle-table"] tbody tr').nth(1);
    assert.equal(
      await idleRow.locator('td[data-label="Wasted (GPU-h)"]').textContent(),
      idle.wasted_gpu_hours?.toFixed(1),
    );
    assert.equal(
      await idleRow.locator('td[data-label="Idle share (%)"]').textContent(),
      ((idle.idle_share ?? 0) * 100).toFixed(1),
    );
    assert.equal(
      await page.locator('[data-testid="idle-gpus-table"] tbody tr').count(),
      SIM.hosts * SIM.gpusPerHost,
    );
    await assertNoRawKeys();

    await openAnalytics('&tab=energy', 'energy');
    const kwh = [
      (await fleetRow(twoDaysAgo, 'daily_stats')).energy_kwh ?? 0,
      (await fleetRow(yesterday, 'daily_stats')).energy_kwh ?? 0,
    ];
    assert.equal(
      await page.locator('[data-testid="energy-total"]').textContent(),
      `The fleet used ${kwh.reduce((a, b) => a + b, 0).toFixed(1)} kWh over 2 days.`,
    );
    assert.deepEqual(
      await page
        .locator('[data-testid="energy-bars"] li')
        .evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.date)),
      [twoDaysAgo, yesterday],
    );
    await assertNoRawKeys();

    await openAnalytics('&tab=throttle', 'throttle');
    const stats = await fleetRow(yesterday, 'daily_stats');
    const throttled = page
      .locator('[data-testid="throttle-table"] tbody tr')
      .nth(1)
      .locator('td[data-label="Throttled (h)"]');
    assert.equal(await throttled.textContent(), ((stats.throttled_seconds ?? 0) / 3600).toFixed(2));
    await assertNoRawKeys();
  });

  test('runs: "Run now" on gpumon up starts a run; the page follows it until its record shows, in words', async () => {
    await openAnalytics('&tab=runs', 'runs');
    const button = page.locator('[data-testid="run-start"]');
    assert.equal(await button.isEnabled(), true);
    await button.click();
    await page
      .locator('[data-testid="runs-table"] td[data-label="Status"]', { hasText: 'Succeeded' })
      .first()
      .waitFor({ timeout: 60_000 });
    // Its record shown, the page stops following it: no progress bar, "Run now" again.
    assert.equal(await page.locator('[data-testid="run-progress"]').count(), 0);
    assert.equal(await button.isEnabled(), true);
    const runs = ((await (await fetch(`${url}/api/runs`)).json()) as RunsResponse).runs as {
      status: string;
    }[];
    assert.equal(runs[0]?.status, 'succeeded');
    const row = page.locator('[data-testid="runs-table"] tbody tr').first();
    assert.equal(await row.locator('td[data-label="Started by"]').textContent(), 'Run now');
    assert.equal(await row.locator('td[data-label="Day analysed"]').textContent(), yesterday);
    assert.match(
      (await row.locator('td[data-label="Duration"]').textContent()) ?? '',
      /^\d+(\.\d)? (s|min)$/,
    );
    await assertNoRawKeys();
  });

  /** Every view of the page, with what shows it is ready. */
  const VIEWS = (): [string, string, string][] => [
    ['fleet', '', '[data-testid="gpu-card"]'],
    ['gpu-15m', `#gpu=${encodeURIComponent(uuid)}`, '[data-testid="gpu-detail"][data-points]'],
    ['gpu-30d', `#gpu=${encodeURIComponent(uuid)}&range=30d`, '[data-testid="gpu-detail"][data-points]'],
    ['alerts', '#view=alerts', '[data-testid="alerts-view"][data-loaded]'],
    ...['daily', 'heatmap', 'spikes', 'correlations', 'idle', 'energy', 'throttle', 'runs'].map(
      (tab): [string, string, string] => [
        `analytics-${tab}`,
        `#view=analytics&tab=${tab}`,
        `[data-testid="analytics-view"][data-loaded="${tab}"]`,
      ],
    ),
  ];

  /** The views audited on a phone too, where tables turn into cards and the filters wrap. */
  const PHONE_VIEWS = [
    'fleet',
    'gpu-15m',
    'alerts',
    'analytics-daily',
    'analytics-heatmap',
    'analytics-runs',
  ];

  for (const scheme of ['light', 'dark'] as const) {
    test(`axe-core at 390 px (a phone) finds no serious or critical violation, ${scheme} theme`, async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.emulateMedia({ colorScheme: scheme });
      const found: string[] = [];
      for (const [name, hash, ready] of VIEWS().filter(([name]) => PHONE_VIEWS.includes(name))) {
        await page.goto(`${url}/${hash}`);
        await page.locator(ready).first().waitFor({ timeout: 15_000 });
        for (const v of await axeViolations(page)) {
          found.push(`${name}: ${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
        }
      }
      await page.emulateMedia({ colorScheme: 'light' });
      await page.setViewportSize({ width: 1440, height: 900 });
      assert.deepEqual(found, []);
    });

    test(`axe-core finds no serious or critical violation on any view, ${scheme} theme`, async () => {
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.emulateMedia({ colorScheme: scheme });
      const found: string[] = [];
      for (const [name, hash, ready] of VIEWS()) {
        await page.goto(`${url}/${hash}`);
        await page.locator(ready).first().waitFor({ timeout: 15_000 });
        for (const v of await axeViolations(page)) {
          found.push(`${name}: ${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
        }
      }
      await page.emulateMedia({ colorScheme: 'light' });
      assert.deepEqual(found, []);
    });
  }

  /** The element that has the focus: its test id, tag and outline (the visible focus). */
  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      const style = el ? getComputedStyle(el) : null;
      return {
        testid: el?.dataset.testid ?? el?.closest<HTMLElement>('[data-testid]')?.dataset.testid ?? '',
        tag: el?.tagName ?? '',
        outline: style ? Number.parseFloat(style.outlineWidth) * Number(style.outlineStyle !== 'none') : 0,
      };
    });

  async function tabUntil(testid: string, most = 60): Promise<number> {
    for (let presses = 1; presses <= most; presses++) {
      await page.keyboard.press('Tab');
      if ((await focused()).testid === testid) return presses;
    }
    assert.fail(`${testid} never took the focus in ${most} presses of Tab`);
  }

  test('keyboard: Tab reaches the views, the filters and a GPU tile, with a visible focus; Enter opens it', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${url}/`);
    await page.locator('[data-testid="gpu-card"]').first().waitFor();
    await tabUntil('home');
    assert.ok((await focused()).outline >= 2, 'the focus is drawn');
    await tabUntil('filter-host');
    await tabUntil('gpu-card');
    const tile = await focused();
    assert.ok(tile.outline >= 2, `a focused tile has an outline: ${JSON.stringify(tile)}`);
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 10_000 });
    // In the detail: Tab to a range, Enter shows it.
    await tabUntil('range-6h');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /range=6h/.test(location.hash));
  });

  test('keyboard: an analytics table sorts from its heading with Enter; the tabs are links', async () => {
    await page.goto(`${url}/#view=analytics`);
    await page.locator('[data-testid="analytics-view"][data-loaded="daily"]').waitFor();
    await tabUntil('tab-heatmap');
    assert.ok((await focused()).outline >= 2);
    await page.locator('th[data-key="energy_kwh"] button').focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('th[data-key="energy_kwh"]').getAttribute('aria-sort'), 'descending');
  });

  for (const width of LAYOUT_WIDTHS) {
    test(`every analytics page at ${width} px: no horizontal scroll, nothing over another, screenshots`, async () => {
      await page.setViewportSize({ width, height: 900 });
      for (const tab of ANALYTICS_TABS) {
        await openAnalytics(`&tab=${tab}`, tab);
        await checkLayout(
          page,
          `analytics-${tab}`,
          [
            '[data-testid="top"] > *',
            '[data-testid="analytics-tabs"] > *',
            '.range-custom > *',
            '.filters > *',
            '.bars li > *',
          ],
          width === 390 || width === 1440,
        );
      }
    });
  }

  for (const width of LAYOUT_WIDTHS) {
    test(`the alerts view at ${width} px: no horizontal scroll, nothing over another, a screenshot`, async () => {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${url}/#view=alerts`);
      await page.locator('[data-testid="alerts-view"][data-loaded]').waitFor({ timeout: 10_000 });
      await checkLayout(
        page,
        'alerts',
        ['[data-testid="top"] > *', '.filters > *', '[data-testid="views"] > *'],
        width === 390 || width === 1440,
      );
    });
  }

  for (const width of LAYOUT_WIDTHS) {
    test(`the 30-day detail at ${width} px: no horizontal scroll, the range bar clear, a screenshot`, async () => {
      await page.setViewportSize({ width, height: 900 });
      await openDetail(`#gpu=${encodeURIComponent(uuid)}&range=30d`);
      await checkLayout(
        page,
        'gpu-30d',
        ['.ranges > *', '.range-custom > *', '[data-testid="range-bar"] > *', '[data-testid="chart-panel"]'],
        width === 390 || width === 1440,
      );
    });
  }
});

describe('the runs page of a server that cannot run analytics (gpumon serve)', () => {
  let server: RunningServer;
  let browser: Browser | undefined;
  let page: Page;
  const reason =
    'gpumon serve does not run analytics: run `gpumon analyze` (or a CronJob), or use `gpumon up`';
  const started = Date.parse('2026-12-01T02:00:00Z');

  before(async () => {
    const runs: RunsApi = {
      list: async () => [
        {
          id: 'analytics-schedule-1',
          trigger: 'schedule',
          scheduledAt: started,
          startedAt: started,
          finishedAt: started + 95_000,
          status: 'failed',
          attempts: [{ startedAt: started }, { startedAt: started + 60_000 }],
          error: 'no samples for 2026-11-30 in the archive',
        },
      ],
      trigger: async () => ({ started: false, refusal: 'RUNS_NOT_AVAILABLE', reason }),
      nextRunAt: () => null,
      cannotRun: reason,
    };
    server = await startServer(createApp(depsOf(new LiveState(60_000), { sources: () => [], runs })), {
      host: '127.0.0.1',
      port: 0,
    });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize({ width: 390, height: 800 });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('says why there is no "Run now", and shows a failed run with its error text and duration', async () => {
    await page.goto(`${server.url}#view=analytics&tab=runs`);
    await page.locator('[data-testid="analytics-view"][data-loaded="runs"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="run-start"]').count(), 0);
    assert.equal(await page.locator('[data-testid="cannot-run"]').textContent(), reason);
    const row = page.locator('[data-testid="runs-table"] tbody tr').first();
    const cell = (label: string) => row.locator(`td[data-label="${label}"]`).textContent();
    assert.equal(await cell('Status'), 'Failed');
    assert.equal(await cell('Started by'), 'Schedule');
    assert.equal(await cell('Duration'), '1.6 min');
    assert.equal(await cell('Attempts'), '2');
    assert.equal(await cell('Error'), 'no samples for 2026-11-30 in the archive');
    await checkLayout(page, 'analytics-runs-serve', ['[data-testid="analytics-tabs"] > *'], true);
  });
});

/**
 * A run started with "Run now" that ends when the test says: the runs page shows its progress while it runs
 * (attempt after attempt) and its outcome once its record is done. The server's runs are a stand-in of the
 * RunsApi, so the run is neither too fast to see nor dependent on the machine's load.
 */
describe('the runs page following a run started with "Run now" until it ends', () => {
  let server: RunningServer;
  let browser: Browser | undefined;
  let page: Page;
  const runs: Record<string, unknown>[] = [];
  let triggered = 0;

  before(async () => {
    const api: RunsApi = {
      list: async () => runs.map((r) => ({ ...r })),
      trigger: async () => {
        triggered++;
        const startedAt = Date.now();
        const run = {
          id: `analytics-manual-${startedAt}`,
          trigger: 'manual',
          scheduledAt: startedAt,
          startedAt,
          status: 'running',
          attempts: [{ startedAt }],
        };
        runs.unshift(run);
        return { started: true, run };
      },
      nextRunAt: () => null,
    };
    server = await startServer(createApp(depsOf(new LiveState(60_000), { sources: () => [], runs: api })), {
      host: '127.0.0.1',
      port: 0,
    });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize({ width: 390, height: 844 });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('shows a progress bar while the run runs, its attempt, then the outcome and no progress', async () => {
    await page.goto(`${server.url}#view=analytics&tab=runs`);
    await page.locator('[data-testid="analytics-view"][data-loaded="runs"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="runs-empty"]').textContent(), 'No runs yet.');
    assert.equal(await page.locator('[data-testid="run-progress"]').count(), 0);
    await page.locator('[data-testid="run-start"]').click();

    const progress = page.locator('[data-testid="run-progress"]');
    await progress.waitFor({ timeout: 10_000 });
    assert.equal(triggered, 1);
    assert.equal(await progress.locator('progress').getAttribute('aria-label'), 'Analytics run in progress');
    await page.locator('[data-testid="run-progress"]', { hasText: /running for .+, attempt 1$/ }).waitFor();
    assert.equal(await page.locator('[data-testid="run-start"]').isDisabled(), true, 'one run at a time');
    await checkLayout(page, 'analytics-run-progress', ['.toolbar > *', '[data-testid="top"] > *'], true);

    // A second attempt: the page keeps following it.
    const run = runs[0] as { startedAt: number; attempts: unknown[] } & Record<string, unknown>;
    run.attempts = [...run.attempts, { startedAt: Date.now() }];
    await page
      .locator('[data-testid="run-progress"]', { hasText: /attempt 2$/ })
      .waitFor({ timeout: 10_000 });
    const row = page.locator('[data-testid="runs-table"] tbody tr').first();
    assert.equal(await row.locator('td[data-label="Status"]').textContent(), 'Running');

    // It fails: the record shows the outcome, the error, and the progress bar goes away.
    Object.assign(run, {
      status: 'failed',
      finishedAt: run.startedAt + 95_000,
      error: 'no samples for 2026-12-01 in the archive',
    });
    await page.locator('[data-testid="run-progress"]').waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await row.locator('td[data-label="Status"]').textContent(), 'Failed');
    assert.equal(await row.locator('td[data-label="Started by"]').textContent(), 'Run now');
    assert.equal(await row.locator('td[data-label="Duration"]').textContent(), '1.6 min');
    assert.equal(await row.locator('td[data-label="Attempts"]').textContent(), '2');
    assert.equal(
      await row.locator('td[data-label="Error"]').textContent(),
      'no samples for 2026-12-01 in the archive',
    );
    assert.equal(await page.locator('[data-testid="run-start"]').isEnabled(), true, 'Run now again');
  });
});

describe('the GPU detail on a server without a live source, over an archive (as gpumon serve)', () => {
  let server: RunningServer;
  let browser: Browser | undefined;
  let page: Page;
  let dir: string;
  let reader: ResultReader;
  const uuid = buildFleet(SIM)[0]?.uuid as string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpumon-web-serve-'));
    const storage = new LocalStorage(dir);
    await writeSimulatedArchive(dir, SIM, 3, ARCHIVE_INTERVAL_MS);
    reader = new ResultReader(storage, { connections: 2 });
    const app = createApp(
      depsOf(new LiveState(60_000), {
        sources: () => [],
        archive: archiveHistory(storage, reader),
        results: resultsApi(storage, reader),
      }),
      { sampleIntervalMs: ARCHIVE_INTERVAL_MS },
    );
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await reader?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('7 days of a GPU come from the archive alone, and the page says it is not live', async () => {
    await page.goto(`${server.url}#gpu=${encodeURIComponent(uuid)}&range=7d`);
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 15_000 });
    const detail = page.locator('[data-testid="gpu-detail"]');
    assert.equal(await detail.getAttribute('data-sources'), 'archive');
    // Three days of minutes in 404-second buckets.
    const points = Number(await detail.getAttribute('data-points'));
    assert.ok(points >= 640 && points <= 645, `${points} points`);
    await page
      .locator('[data-testid="detail-missing"]', {
        hasText: 'is not in the live fleet: its charts come from the archive',
      })
      .waitFor({ timeout: 10_000 });
    assert.match((await page.locator('[data-testid="range-note"]').textContent()) ?? '', /from the archive$/);
    assert.deepEqual(await axeViolations(page), []);
    await checkLayout(page, 'gpu-7d-archive-only', ['[data-testid="chart-panel"]'], true);
  });
});
