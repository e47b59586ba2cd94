import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { loadConfig } from '../config/load.ts';
import type { ConfigKey } from '../config/schema.ts';
import { type EmbeddedGpumon, startEmbedded } from '../embedded.ts';
import { silentLogger } from '../log.ts';
import { projectPath } from '../paths.ts';
import { dateOfTs } from '../sinks/archive/layout.ts';
import { LocalStorage } from '../sinks/archive/local-storage.ts';
import { ParquetWriter } from '../sinks/archive/parquet-writer.ts';
import { writeHistory } from '../sources/sim/history.ts';
import { launchBrowser } from '../testing/browser.ts';
import { OPEN_LOOPBACK } from './security.ts';

const DAY_MS = 86_400_000;

/** `gpumon up` in this process and Chromium on its page, as the browser tests use them. */
export interface Dashboard {
  gpumon: EmbeddedGpumon;
  /** The page's address, without the trailing slash. */
  url: string;
  browser: Awaited<ReturnType<typeof launchBrowser>>;
  /** The browser's first page, at the viewport asked for, not yet navigated. */
  page: Page;
  /** Closes the browser, then gpumon. */
  stop(): Promise<void>;
}

/** The fleet the browser tests simulate: hosts, GPUs per host, and a seed (the simulator's default without). */
export interface SimFleet {
  hosts: number;
  gpusPerHost: number;
  seed?: number;
}

/** `gpumon up`'s configuration flags for the simulated fleet `sim`, sampled every `intervalMs`. */
export function simulatorFlags(sim: SimFleet, intervalMs: number): Partial<Record<ConfigKey, unknown>> {
  return {
    'source.type': 'sim',
    'source.sim.hosts': sim.hosts,
    'source.sim.gpusPerHost': sim.gpusPerHost,
    ...(sim.seed === undefined ? {} : { 'source.sim.seed': sim.seed }),
    'source.intervalMs': intervalMs,
  };
}

/**
 * Starts `gpumon up` (the embedded server, open on loopback without TLS, schedule as `flags` say) with the
 * configuration `flags` (dotted keys: the simulator's fleet, the archive path, `server.port` 0...), then
 * Chromium with a page at `viewport`.
 */
export async function startDashboard(
  flags: Partial<Record<ConfigKey, unknown>>,
  viewport = { width: 1440, height: 900 },
): Promise<Dashboard> {
  const gpumon = await startEmbedded(loadConfig({ flags: { 'server.port': 0, ...flags } }), silentLogger(), {
    security: OPEN_LOOPBACK,
    tls: null,
    warning: null,
  });
  try {
    const browser = await launchBrowser();
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize(viewport);
    return {
      gpumon,
      url: gpumon.url.replace(/\/$/, ''),
      browser,
      page,
      async stop() {
        await browser.close();
        await gpumon.stop();
      },
    };
  } catch (err) {
    await gpumon.stop();
    throw err;
  }
}

/**
 * Writes the simulated fleet's history into a local archive at `archivePath`, as `gpumon simulate` would: the
 * `days` whole UTC days before today, every GPU sampled every `intervalMs`.
 */
export async function writeSimulatedArchive(
  archivePath: string,
  sim: Required<SimFleet>,
  days: number,
  intervalMs: number,
  /** Changes the writer before it writes (e.g. to leave samples out of each batch). */
  adapt?: (writer: ParquetWriter) => void,
): Promise<void> {
  const writer = new ParquetWriter({ storage: new LocalStorage(archivePath), threads: 1 });
  adapt?.(writer);
  try {
    await writeHistory({
      ...sim,
      firstDate: dateOfTs(Date.now() - days * DAY_MS),
      lastDate: dateOfTs(Date.now() - DAY_MS),
      intervalMs,
      writer,
    });
  } finally {
    await writer.close();
  }
}

/** Where the screenshots of each view and size go, for a person to look at. */
export const SCREENSHOTS = projectPath('.tmp', 'screenshots');

/** The widths every view is laid out at in the tests: a phone, a tablet, a laptop, a 4K screen at 150 %. */
export const LAYOUT_WIDTHS = [390, 768, 1440, 2560] as const;

/** The narrowest phone the page is made for (issue 13: "from 360 px phones to 4K"). */
export const SMALLEST_WIDTH = 360;

/** The widths a person looks at in the screenshots: a phone and a laptop. */
export const SCREENSHOT_WIDTHS: readonly number[] = [390, 1440];

/**
 * Saves the README's picture `docs/images/<name>.png` of the page as it stands (full page, at the viewport the
 * test set: 1440 x 900). The tests write it beside the screenshots (`readme-<name>.png`), so that a run does
 * not change a committed file; with `GPUMON_README_IMAGES=1` they write docs/images itself, to take the
 * README's pictures again after the page changed.
 */
export async function saveReadmeImage(page: Page, name: string): Promise<string> {
  const path =
    process.env.GPUMON_README_IMAGES === '1'
      ? projectPath('docs', 'images', `${name}.png`)
      : join(SCREENSHOTS, `readme-${name}.png`);
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Boxes of the visible elements of each selector that overlap another of the same list, as text. */
export async function overlaps(page: Page, selectors: string[]): Promise<string[]> {
  return page.evaluate((list) => {
    const found: string[] = [];
    for (const selector of list) {
      const boxes = [...document.querySelectorAll<HTMLElement>(selector)]
        .filter((el) => el.offsetParent !== null && el.getClientRects().length > 0)
        .map((el) => ({ el, r: el.getBoundingClientRect() }))
        .filter(({ r }) => r.width > 0 && r.height > 0);
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]?.r as DOMRect;
          const b = boxes[j]?.r as DOMRect;
          const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
          const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          if (w > 1 && h > 1) {
            found.push(`${selector}: "${boxes[i]?.el.textContent}" and "${boxes[j]?.el.textContent}"`);
          }
        }
      }
    }
    return found;
  }, selectors);
}

/**
 * At the page's current width: no horizontal scroll (`scrollWidth <= innerWidth`), none of the key elements of
 * a list over another of it; then a full-page screenshot `<name>-<width>.png` when `screenshot` is set.
 */
export async function checkLayout(
  page: Page,
  name: string,
  keyElements: string[],
  screenshot: boolean,
): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${name} at ${innerWidth} px: ${scrollWidth} px wide`);
  assert.deepEqual(await overlaps(page, keyElements), [], `${name} at ${innerWidth} px`);
  if (screenshot) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${innerWidth}.png`), fullPage: true });
  }
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** One accessibility rule broken on a page, as axe-core reports it. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * The serious and critical violations axe-core finds on the page as it stands (WCAG 2.1 A and AA, and axe's
 * best practices). axe is evaluated in the page through the DevTools protocol, which the page's CSP allows.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (
            ctx: Document,
            o: object,
          ) => Promise<{
            violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
          }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
