import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { GpusResponse, GpuView } from './api-types.ts';
import {
  axeViolations,
  checkLayout,
  type Dashboard,
  LAYOUT_WIDTHS,
  SCREENSHOTS,
  SMALLEST_WIDTH,
  simulatorFlags,
  startDashboard,
} from './web-test-support.ts';

/** 125 simulated hosts of 8 GPUs: the 1,000 GPUs issue 13 asks the fleet view to carry. */
const HOSTS = 125;
const GPUS_PER_HOST = 8;
const GPUS = HOSTS * GPUS_PER_HOST;
/** Long enough to read the page and the API between two samples. */
const INTERVAL_MS = 5000;
/** The page renders the tiles within a screen and a half of the viewport: a few screenfuls, not the fleet. */
const MOST_TILES_IN_PAGE = 200;

async function gpusOf(url: string): Promise<GpuView[]> {
  const res = await fetch(`${url}/api/gpus`);
  assert.equal(res.status, 200);
  return ((await res.json()) as GpusResponse).gpus;
}

const byIdentity = (a: GpuView, b: GpuView) => a.host.localeCompare(b.host) || a.gpu_index - b.gpu_index;

/** The GPUs in the page now: host group by host group, each tile's uuid. */
function tilesInPage(page: Page): Promise<{ host: string; uuids: string[] }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('[data-testid="host-group"]')].map((g) => ({
      host: g.dataset.host ?? '',
      uuids: [...g.querySelectorAll<HTMLElement>('[data-testid="gpu-card"]')].map(
        (c) => c.dataset.uuid ?? '',
      ),
    })),
  );
}

const tileCount = (page: Page) => page.locator('[data-testid="gpu-card"]').count();

/**
 * Resolves after the page has drawn two more frames: a scroll's event has run and the fleet has placed the tiles
 * of the new window (it places them in the frame after a scroll or resize), however loaded the machine is.
 */
const placed = (page: Page) =>
  page.evaluate(
    () => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
  );

describe('the fleet page with 1,000 simulated GPUs, in a browser', () => {
  let dashboard: Dashboard | undefined;
  let page: Page;
  let dir: string;
  let url: string;
  const errors: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpumon-web-fleet-large-'));
    dashboard = await startDashboard({
      ...simulatorFlags({ hosts: HOSTS, gpusPerHost: GPUS_PER_HOST }, INTERVAL_MS),
      'archive.path': join(dir, 'archive'),
    });
    ({ url, page } = dashboard);
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url);
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid="agg-gpus"] dd')?.textContent === String(n),
      GPUS,
      { timeout: 30_000 },
    );
  });

  after(async () => {
    await dashboard?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('counts all 1,000 GPUs in the aggregates but holds only the tiles near the viewport', async () => {
    assert.equal(await page.locator('[data-testid="agg-hosts"] dd').textContent(), String(HOSTS));
    const tiles = await tileCount(page);
    assert.ok(tiles > 0 && tiles <= MOST_TILES_IN_PAGE, `${tiles} tiles in the page`);
    // The first tiles are the first hosts' GPUs in host and GPU index order, with values.
    const expected = (await gpusOf(url)).sort(byIdentity).map((g) => g.uuid);
    const shown = (await tilesInPage(page)).flatMap((g) => g.uuids);
    assert.deepEqual(shown, expected.slice(0, shown.length));
    assert.match((await page.locator('[data-testid="gpu-util"]').first().textContent()) ?? '', /^\d+$/);
    // The page is as tall as the whole fleet: its padding stands for the groups not in it.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    assert.ok(height > 20 * 900, `the page is ${height} px tall`);
    assert.deepEqual(errors, []);
  });

  test("scrolled to the end, shows the last host's GPUs, still few tiles", async () => {
    const gpus = (await gpusOf(url)).sort(byIdentity);
    const lastHost = gpus.at(-1)?.host as string;
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForFunction(
      (h) => document.querySelector(`[data-testid="host-group"][data-host="${h}"] [data-testid="gpu-card"]`),
      lastHost,
    );
    const groups = await tilesInPage(page);
    const last = groups.find((g) => g.host === lastHost);
    assert.deepEqual(
      last?.uuids,
      gpus.filter((g) => g.host === lastHost).map((g) => g.uuid),
    );
    // The last tile is on screen, not below an empty stretch.
    const box = await page
      .locator(`[data-testid="gpu-card"][data-uuid="${gpus.at(-1)?.uuid}"]`)
      .boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 900 + 1, JSON.stringify(box));
    assert.ok((await tileCount(page)) <= MOST_TILES_IN_PAGE);
    // Scrolled through the middle: each screen shows the GPUs that belong there.
    for (const share of [0.25, 0.5, 0.75]) {
      await page.evaluate((s) => window.scrollTo(0, s * document.documentElement.scrollHeight), share);
      await placed(page);
      const shown = (await tilesInPage(page)).flatMap((g) => g.uuids);
      const at = gpus.findIndex((g) => g.uuid === shown[0]);
      assert.ok(at > 0, `at ${share}: the first tile in the page is a GPU of the fleet`);
      assert.deepEqual(
        shown,
        gpus.slice(at, at + shown.length).map((g) => g.uuid),
        `at ${share}: the tiles follow the fleet's order`,
      );
      const visible = await page.evaluate(() =>
        [...document.querySelectorAll('[data-testid="gpu-card"]')].some((c) => {
          const r = c.getBoundingClientRect();
          return r.top >= 0 && r.bottom <= window.innerHeight;
        }),
      );
      assert.ok(visible, `at ${share}: a tile is on screen`);
    }
    await page.evaluate(() => window.scrollTo(0, 0));
  });

  test('filters by host and by model: the GPUs of /api/gpus that match, with their count', async () => {
    const gpus = (await gpusOf(url)).sort(byIdentity);
    const host = gpus[GPUS / 2]?.host as string;
    await page.locator('[data-testid="filter-host"]').selectOption(host);
    await page.waitForFunction(
      (h) => /host=/.test(location.hash) && document.querySelector(`[data-host="${h}"]`),
      host,
    );
    assert.deepEqual(await tilesInPage(page), [
      { host, uuids: gpus.filter((g) => g.host === host).map((g) => g.uuid) },
    ]);
    assert.equal(
      await page.locator('[data-testid="fleet-shown"]').textContent(),
      `${GPUS_PER_HOST} of ${GPUS} GPUs shown`,
    );
    await page.locator('[data-testid="filter-host"]').selectOption('');

    const models = [...new Set(gpus.map((g) => g.model))].sort();
    assert.ok(models.length > 1, `the simulator's fleet mixes models: ${models.join(', ')}`);
    const model = models[models.length - 1] as string;
    const ofModel = gpus.filter((g) => g.model === model);
    await page.locator('[data-testid="filter-model"]').selectOption(model);
    await page.waitForFunction(() => /model=/.test(location.hash));
    assert.equal(
      await page.locator('[data-testid="fleet-shown"]').textContent(),
      `${ofModel.length} of ${GPUS} GPUs shown`,
    );
    const shown = (await tilesInPage(page)).flatMap((g) => g.uuids);
    assert.ok(shown.length > 0 && shown.length <= MOST_TILES_IN_PAGE);
    assert.deepEqual(
      shown,
      ofModel.slice(0, shown.length).map((g) => g.uuid),
    );
    await page.locator('[data-testid="filter-model"]').selectOption('');
  });

  test('filters by state: every tile in the page is in that state', async () => {
    await page.locator('[data-testid="filter-state"]').selectOption('busy');
    await page.waitForFunction(() => /state=busy/.test(location.hash));
    const states = await page
      .locator('[data-testid="gpu-card"]')
      .evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.state));
    assert.ok(states.length > 0 && states.every((s) => s === 'busy'), states.join(', '));
    await page.locator('[data-testid="filter-state"]').selectOption('');
  });

  test('sorts each host by temperature, hottest first, as /api/gpus orders them', async () => {
    await page.locator('[data-testid="sort"]').selectOption('temperature');
    await page.waitForFunction(() => /sort=temperature/.test(location.hash));
    // Read between two samples: the API before and after the page agree, so the page shows those values.
    let compared = false;
    for (let attempt = 0; attempt < 6 && !compared; attempt++) {
      const before = (await gpusOf(url)).sort(byIdentity);
      await page.waitForTimeout(300);
      const groups = await tilesInPage(page);
      const afterwards = (await gpusOf(url)).sort(byIdentity);
      if (before.some((g, i) => g.ts !== afterwards[i]?.ts)) continue;
      for (const group of groups.filter((g) => g.uuids.length === GPUS_PER_HOST)) {
        const expected = before
          .filter((g) => g.host === group.host)
          .sort(
            (a, b) =>
              (b.gpu_temperature_celsius ?? -1) - (a.gpu_temperature_celsius ?? -1) ||
              a.gpu_index - b.gpu_index,
          )
          .map((g) => g.uuid);
        assert.deepEqual(group.uuids, expected, `the GPUs of ${group.host}, hottest first`);
      }
      compared = true;
    }
    assert.ok(compared, 'the page and the API were read between two samples');
    await page.locator('[data-testid="sort"]').selectOption('host');
    await page.waitForFunction(() => !/sort=/.test(location.hash));
  });

  test('keyboard: one tile in the Tab order; End, Home and the arrows move the focus across the fleet', async () => {
    const gpus = (await gpusOf(url)).sort(byIdentity);
    await page.evaluate(() => window.scrollTo(0, 0));
    assert.equal(await page.locator('[data-testid="gpu-card"][tabindex="0"]').count(), 1);
    await page.locator('[data-testid="gpu-card"][tabindex="0"]').focus();
    const focused = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.uuid);
    assert.equal(await focused(), gpus[0]?.uuid);
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), gpus[1]?.uuid);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('End');
    assert.equal(await focused(), gpus.at(-1)?.uuid, 'End: the last GPU of the last host');
    const box = await page.locator(':focus').boundingBox();
    assert.ok(
      box && box.y >= 0 && box.y + box.height <= 900 + 1,
      `the focused tile is on screen: ${JSON.stringify(box)}`,
    );
    await page.keyboard.press('ArrowUp');
    const upUuid = await focused();
    const up = gpus.find((g) => g.uuid === upUuid);
    assert.ok(up && up.host === gpus.at(-1)?.host && up.gpu_index < GPUS_PER_HOST - 1, JSON.stringify(up));
    await page.keyboard.press('Home');
    assert.equal(await focused(), gpus[0]?.uuid, 'Home: the first GPU');
    assert.ok((await tileCount(page)) <= MOST_TILES_IN_PAGE);
  });

  for (const width of [SMALLEST_WIDTH, ...LAYOUT_WIDTHS]) {
    test(`at ${width} px: no horizontal scroll, no tile over another, few tiles, screenshots`, async () => {
      await page.setViewportSize({ width, height: 900 });
      await page.evaluate(() => window.scrollTo(0, 0));
      await placed(page);
      await checkLayout(
        page,
        'fleet-1000',
        ['[data-testid="gpu-card"]', '[data-testid="host-group"]'],
        false,
      );
      const tiles = await tileCount(page);
      assert.ok(tiles > 0 && tiles <= MOST_TILES_IN_PAGE, `${tiles} tiles in the page at ${width} px`);
      // Screenshot of the viewport (a full-page one would be mostly the padding of the groups not in it).
      await page.evaluate(() => window.scrollTo(0, 600));
      await placed(page);
      await checkLayout(
        page,
        'fleet-1000',
        ['[data-testid="gpu-card"]', '[data-testid="host-group"]'],
        false,
      );
      if (width !== 768 && width !== SMALLEST_WIDTH) {
        mkdirSync(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: join(SCREENSHOTS, `fleet-1000-${width}.png`) });
      }
    });
  }

  test('passes the accessibility audit with 1,000 GPUs', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    assert.deepEqual(await axeViolations(page), [], 'no serious or critical accessibility violation');
    assert.deepEqual(errors, []);
  });
});
