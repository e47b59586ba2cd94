import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { loadConfig } from '../config/load.ts';
import { type EmbeddedGpumon, startEmbedded } from '../embedded.ts';
import { silentLogger } from '../log.ts';
import { dateOfTs } from '../sinks/archive/layout.ts';
import { LocalStorage } from '../sinks/archive/local-storage.ts';
import { ParquetWriter } from '../sinks/archive/parquet-writer.ts';
import { writeHistory } from '../sources/sim/history.ts';
import { launchBrowser } from '../testing/browser.ts';
import type { AlertEpisodesResponse, GpusResponse, HistoryResponse } from './api-types.ts';
import { OPEN_LOOPBACK } from './security.ts';
import { checkLayout, LAYOUT_WIDTHS } from './web-test-support.ts';

const DAY = 86_400_000;
/** The live simulator's interval; the archive's history is sampled every minute. */
const INTERVAL_MS = 2000;
const ARCHIVE_INTERVAL_MS = 60_000;
const SIM = { hosts: 2, gpusPerHost: 2, seed: 7 };

type Browser = Awaited<ReturnType<typeof launchBrowser>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * gpumon up on the simulator, over an archive that already holds the two days before today of the same
 * simulated fleet (same seed: same GPUs): the detail's ranges reach from the live buffer into the archive.
 */
describe("a GPU's history beyond the live window, in a browser on gpumon up with an archive", () => {
  let gpumon: EmbeddedGpumon;
  let browser: Browser | undefined;
  let page: Page;
  let dir: string;
  let url: string;
  let uuid = '';
  const yesterday = dateOfTs(Date.now() - DAY);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpumon-web-archive-'));
    const archivePath = join(dir, 'archive');
    const writer = new ParquetWriter({ storage: new LocalStorage(archivePath), threads: 1 });
    try {
      await writeHistory({
        ...SIM,
        firstDate: dateOfTs(Date.now() - 2 * DAY),
        lastDate: yesterday,
        intervalMs: ARCHIVE_INTERVAL_MS,
        writer,
      });
    } finally {
      await writer.close();
    }
    const config = loadConfig({
      flags: {
        'source.type': 'sim',
        'source.sim.hosts': SIM.hosts,
        'source.sim.gpusPerHost': SIM.gpusPerHost,
        'source.sim.seed': SIM.seed,
        'source.intervalMs': INTERVAL_MS,
        'archive.path': archivePath,
        'server.port': 0,
        'schedule.enabled': false,
        // Any rise of the temperature is a spike: episodes start and end every few samples.
        'alerts.tempSpikeCelsius': 0.1,
      },
    });
    gpumon = await startEmbedded(config, silentLogger(), {
      security: OPEN_LOOPBACK,
      tls: null,
      warning: null,
    });
    url = gpumon.url.replace(/\/$/, '');
    for (let tries = 0; !uuid && tries < 50; tries++) {
      const gpus = ((await (await fetch(`${url}/api/gpus`)).json()) as GpusResponse).gpus;
      uuid = gpus[0]?.uuid as string;
      if (!uuid) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(uuid, 'the simulator sampled its GPUs');
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  after(async () => {
    await browser?.close();
    await gpumon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openDetail(hash: string): Promise<void> {
    await page.goto(`${url}/${hash}`);
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 15_000 });
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="detail-chart"] canvas').length === 7,
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

  test('a click on "1 h" puts the range in the address and shows the live hour', async () => {
    await page.locator('[data-testid="range-1h"]').click();
    await page.waitForFunction(() => /range=1h/.test(location.hash));
    await page.waitForFunction(() =>
      /from the live buffer/.test(document.querySelector('[data-testid="range-note"]')?.textContent ?? ''),
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
      new Date(ended.start).toLocaleString('en-US', { hour12: false }),
      new Date(ended.end).toLocaleString('en-US', { hour12: false }),
      row?.cells[4],
      `+${ended.peak.toFixed(1)} °C in one sample`,
    ]);
    assert.match(row?.cells[4] ?? '', /^\d+(\.\d)? (s|min)$/);
    assert.match(await page.title(), /· alerts · gpumon$/);
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
