import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { lastClosedHour, partialPath } from './analytics/hourly-job.ts';
import { createTestArchive, GPU_A, series, type TestArchive, testConfig } from './analytics/testing.ts';
import { silentLogger } from './log.ts';
import { HOURLY_JOB_NAME, hourlyAnalyticsJob } from './wiring.ts';

describe('the hourly partials job of gpumon up', () => {
  let archive: TestArchive;
  beforeEach(async () => {
    archive = await createTestArchive();
  });
  afterEach(async () => {
    await archive.cleanup();
  });

  it('computes the partial of the last closed UTC hour when it runs', async () => {
    const { date, hour } = lastClosedHour(Date.now());
    const start = Date.parse(`${date}T${String(hour).padStart(2, '0')}:00:00Z`);
    const samples = series(GPU_A, start + 600_000, 10, [
      { gpu_power_draw_watts: 100 },
      { gpu_power_draw_watts: 300 },
    ]);
    await archive.addFile(date, samples, `part-${start + 600_000}-1-1-abcdef.parquet`);
    const job = hourlyAnalyticsJob(testConfig(), archive.storage, silentLogger());
    try {
      const run = await job.trigger();
      assert.ok(run.started);
      const record = await run.done;
      assert.equal(record.status, 'succeeded', record.error ?? '');
      assert.match(record.id, new RegExp(`^${HOURLY_JOB_NAME}-`));
      assert.deepEqual(record.result, {
        date,
        hour,
        rows: { gpu_interval_hours: 1, correlation_hours: 1, hourly_pattern_hours: 1 },
        inputFiles: 1,
      });
    } finally {
      await job.stop();
    }
    const manifest = JSON.parse(
      await readFile(join(archive.root, partialPath(date, hour), 'inputs.json'), 'utf8'),
    );
    assert.equal(manifest.hour, hour);
    assert.deepEqual(manifest.rows, { gpu_interval_hours: 1, correlation_hours: 1, hourly_pattern_hours: 1 });
  });

  it('runs at minute 5 of every hour by default, in UTC', async () => {
    const config = testConfig();
    assert.equal(config.schedule.hourly, true);
    const job = hourlyAnalyticsJob(config, archive.storage, silentLogger());
    await job.start();
    try {
      const next = job.nextRunAt();
      assert.ok(next !== undefined && next > Date.now() && next - Date.now() <= 3_600_000, String(next));
      assert.equal(new Date(next).getUTCMinutes(), 5);
      assert.equal(new Date(next).getUTCSeconds(), 0);
    } finally {
      await job.stop();
    }
  });
});
