import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { projectPath } from '../paths.ts';

/** Where the screenshots of each view and size go, for a person to look at. */
export const SCREENSHOTS = projectPath('.tmp', 'screenshots');

/** The widths every view is laid out at in the tests: a phone, a tablet, a laptop, a 4K screen at 150 %. */
export const LAYOUT_WIDTHS = [390, 768, 1440, 2560] as const;

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
