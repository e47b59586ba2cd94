/**
 * The health of a real `gpumon up`: ok while it samples and archives; degraded, with the archive named as the
 * reason, once the archive refuses its writes; ok again when the archive is back. /readyz stays 200 while
 * degraded (the samples are kept and retried), /healthz 200 throughout.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HealthResponse } from '../../src/server/api-types.ts';
import { breakArchive, interrupt, pollHttp, startGpumon, tempDir, waitFor } from './helpers.ts';

describe('gpumon up: its health', () => {
  it('says degraded with the archive as the reason while archive writes fail, and ok once they succeed', async () => {
    const archive = tempDir('up-health');
    const up = startGpumon(['up', '--port', '0', '--source', 'sim', '--archive', archive], {
      GPUMON_SCHEDULE_ENABLED: 'false',
      GPUMON_LOG_LEVEL: 'fatal',
      GPUMON_SOURCE_INTERVAL_MS: '200',
      GPUMON_ARCHIVE_FLUSH_INTERVAL_MS: '300',
    });
    try {
      const url = await waitFor(
        'the dashboard address',
        () => /http:\/\/127\.0\.0\.1:\d+/.exec(up.stdout())?.[0],
        30_000,
      );
      const healthIs = (status: string) => (code: number, body: string) =>
        code === 200 && (JSON.parse(body) as HealthResponse).status === status;
      await pollHttp(`${url}/api/health`, healthIs('ok'), 20_000);
      await waitFor(
        'a first write to the archive',
        () => existsSync(join(archive, 'gpu-metrics')) || null,
        20_000,
      );

      // The metrics folder becomes a file: every write of a batch fails (ENOTDIR), and is retried.
      const restore = breakArchive(archive);
      const degraded = await pollHttp(`${url}/api/health`, healthIs('degraded'), 20_000);
      const body = JSON.parse(degraded.body) as HealthResponse;
      assert.equal(body.reasons.length, 1, body.reasons.join('; '));
      assert.match(body.reasons[0] ?? '', /^archive: every write failing for [\d.]+ s/);
      assert.equal((await fetch(`${url}/readyz`)).status, 200, 'degraded is still ready');
      assert.equal((await fetch(`${url}/healthz`)).status, 200);

      restore();
      await pollHttp(`${url}/api/health`, healthIs('ok'), 30_000);
    } finally {
      await interrupt(up);
    }
  });
});
