import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { launchBrowser } from '../../src/testing/browser.ts';
import { runGpumon, startGpumon, tempDir, waitFor } from './helpers.ts';

async function countArchivedRows(archive: string): Promise<number> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const reader = await conn.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM read_parquet('${join(archive, 'gpu-metrics', '**', '*.parquet')}')`,
  );
  const n = Number(reader.getRowObjects()[0]?.n);
  conn.closeSync();
  return n;
}

describe('gpumon up', () => {
  it('serves a page showing 8 simulated GPUs updating live, and on Ctrl-C archives every sample emitted', async () => {
    const archive = tempDir('up');
    const up = startGpumon(['up', '--port', '0', '--archive', archive], {
      GPUMON_SCHEDULE_ENABLED: 'false',
      GPUMON_LOG_LEVEL: 'warn',
    });
    try {
      const url = await waitFor(
        'the dashboard address',
        () => /http:\/\/127\.0\.0\.1:\d+/.exec(up.stdout())?.[0],
        20_000,
      );
      const startedAt = Date.now();
      const browser = await launchBrowser();
      try {
        const page = await browser.context.newPage();
        await page.goto(url);
        await page.waitForFunction(
          () => document.querySelectorAll('[data-testid="gpu-card"]').length === 8,
          null,
          {
            timeout: 10_000,
          },
        );
        assert.ok(Date.now() - startedAt < 10_000 + 5_000, 'the page showed the GPUs within 10 s of loading');
        assert.match(
          (await page.textContent('body')) ?? '',
          /simulated/i,
          'the page says the GPUs are simulated',
        );
        const before = await page.locator('[data-testid="gpu-card"]').allTextContents();
        await page.waitForFunction(
          (first) =>
            [...document.querySelectorAll('[data-testid="gpu-card"]')].map((e) => e.textContent).join('|') !==
            first,
          before.join('|'),
          { timeout: 10_000 },
        );
      } finally {
        await browser.close();
      }
    } finally {
      up.child.kill('SIGINT');
    }
    const { code } = await up.exited;
    assert.equal(code, 0, `exit status 0 after Ctrl-C; stderr: ${up.stderr()}`);
    const summary = /(\d+) samples emitted, (\d+) rows archived/.exec(up.stdout());
    assert.ok(summary, `a shutdown summary on stdout: ${up.stdout()}`);
    const emitted = Number(summary[1]);
    assert.ok(emitted >= 8, `sampled at least one round of 8 GPUs, got ${emitted}`);
    assert.equal(Number(summary[2]), emitted);
    assert.equal(
      await countArchivedRows(archive),
      emitted,
      'rows in the Parquet archive equal samples emitted',
    );
  });

  it('exits with status 2 and names the key when a configuration value is bad', async () => {
    const result = await runGpumon(['up', '--port', '70000']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /server\.port/);
    assert.match(result.stderr, /0\.\.65535/);
  });

  it('exits with status 2 and names the variable when an environment value is bad', async () => {
    const result = await runGpumon(['up'], { GPUMON_ALERTS_HIGH_TEMP_CELSIUS: 'hot' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /alerts\.highTempCelsius \(from env GPUMON_ALERTS_HIGH_TEMP_CELSIUS\)/);
  });
});
