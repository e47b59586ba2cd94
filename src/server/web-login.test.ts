import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { LiveState } from '../pipeline/live-state.ts';
import { launchBrowser } from '../testing/browser.ts';
import { createApp } from './app.ts';
import { OPEN_LOOPBACK } from './security.ts';
import { type RunningServer, startServer } from './serve.ts';
import { CountingLive, depsOf, sampleOf } from './test-support.ts';
import {
  axeViolations,
  checkLayout,
  LAYOUT_WIDTHS,
  SCREENSHOT_WIDTHS,
  SMALLEST_WIDTH,
} from './web-test-support.ts';

const TOKEN = 'a5d8e0c3b6f94e2d8c1a7b3e5f9d0c2a';
/** The token form's key elements: the header's and the form's, none over another of its list. */
const LOGIN_ELEMENTS = ['[data-testid="top"] > *', '[data-testid="login"] > *'];

describe('the page of a server with a token, in a browser', () => {
  let server: RunningServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let page: Page;
  let live: CountingLive;

  before(async () => {
    live = new CountingLive(new LiveState(15 * 60_000));
    live.state.apply([sampleOf('node-a', 0, Date.now()), sampleOf('node-a', 1, Date.now())]);
    const app = createApp(depsOf(live), { security: { ...OPEN_LOOPBACK, token: TOKEN } });
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('asks for the token and shows no GPU before it', async () => {
    await page.locator('[data-testid="login"]').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="gpu-card"]').count(), 0);
    assert.equal(live.subscribers, 0, 'no live stream without the token');
  });

  for (const width of [SMALLEST_WIDTH, ...LAYOUT_WIDTHS]) {
    test(`the token form at ${width} px: no horizontal scroll, nothing over another${SCREENSHOT_WIDTHS.includes(width) ? ', a screenshot' : ''}`, async () => {
      await page.setViewportSize({ width, height: 800 });
      await checkLayout(page, 'login', LOGIN_ELEMENTS, SCREENSHOT_WIDTHS.includes(width));
      // The field takes the width it is given, up to the screen's.
      const field = await page.locator('#login-token').boundingBox();
      assert.ok(field && field.x >= 0 && field.x + field.width <= width, JSON.stringify(field));
    });
  }

  for (const scheme of ['light', 'dark'] as const) {
    test(`the token form passes the accessibility audit at 390 and 1440 px, ${scheme} theme`, async () => {
      await page.emulateMedia({ colorScheme: scheme });
      try {
        for (const width of [390, 1440]) {
          await page.setViewportSize({ width, height: 800 });
          assert.deepEqual(await axeViolations(page), [], `at ${width} px`);
        }
      } finally {
        await page.emulateMedia({ colorScheme: 'light' });
      }
    });
  }

  test('says so when the token is wrong, the message beside the form even on a small phone', async () => {
    await page.setViewportSize({ width: SMALLEST_WIDTH, height: 800 });
    await page.locator('#login-token').fill('not-the-token-of-this-server');
    await page.locator('[data-testid="login-submit"]').click();
    await page
      .locator('[data-testid="login-message"]', { hasText: 'not the token' })
      .waitFor({ timeout: 5000 });
    await checkLayout(page, 'login-wrong-token', LOGIN_ELEMENTS, true);
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  test('with the right token shows the GPUs and streams them live, the cookie out of scripts reach', async () => {
    await page.locator('#login-token').fill(TOKEN);
    await page.locator('[data-testid="login-submit"]').click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="gpu-card"]').length === 2,
      null,
      { timeout: 10_000 },
    );
    await page.waitForFunction(
      () => document.querySelector('[data-testid="stream-status"]')?.textContent === 'live',
      null,
      { timeout: 10_000 },
    );
    assert.equal(live.subscribers, 1);
    assert.equal(await page.locator('[data-testid="login"]').isVisible(), false);
    assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is HttpOnly');
    const cookies = await browser?.context.cookies(server.url);
    assert.equal(cookies?.find((c) => c.name === 'gpumon_session')?.sameSite, 'Strict');
  });

  test('a new page of the same browser opens without asking again', async () => {
    const second = await browser?.context.newPage();
    assert.ok(second);
    await second.goto(server.url);
    await second.waitForFunction(
      () => document.querySelectorAll('[data-testid="gpu-card"]').length === 2,
      null,
      { timeout: 10_000 },
    );
    assert.equal(await second.locator('[data-testid="login"]').isVisible(), false);
    await second.close();
  });
});
