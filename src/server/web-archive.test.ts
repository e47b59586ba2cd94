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
import type { GpusResponse, HistoryResponse } from './api-types.ts';
import { OPEN_LOOPBACK } from './security.ts';
import { checkLayout, LAYOUT_WIDTHS } from './web-test-support.ts';

const DAY = 86_400_000;
/** The live simulator's interval; the archive's history is sampled every minute. */
const INTERVAL_MS = 2000;
const ARCHIVE_INTERVAL_MS = 60_000;
const SIM = { hosts: 2, gpusPerHost: 2, seed: 7 };

type Browser = Awaited<ReturnType<typeof launchBrowser>>;

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
