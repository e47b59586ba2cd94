import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { ANALYSES, PARTIAL_RELATIONS, SHARED_RELATIONS } from './analyses.ts';

/** The shared relations of a whole day, and the kept hours built empty; no correlation_hours (corr() instead). */
const WHOLE_DAY_RELATIONS = SHARED_RELATIONS.length - 1 + PARTIAL_RELATIONS.length - 1;

import { analyzeDates, runDailyAnalytics } from './daily-job.ts';
import type { Engine, EngineInput } from './engine.ts';
import { DuckDbEngine } from './engines/duckdb.ts';
import { listResultDates, readResult, readSummary } from './results.ts';
import { at, createTestArchive, GPU_A, GPU_B, series, type TestArchive, testConfig } from './testing.ts';

const DAY = '2026-01-15';
const OTHER_DAY = '2026-01-16';

function dayOfSamples(date: string) {
  const metrics = (i: number) => ({
    gpu_temperature_celsius: 50 + (i % 4) * 3,
    gpu_utilization_percent: (i * 37) % 100,
    gpu_power_draw_watts: 150 + i,
    gpu_power_limit_watts: 300,
    gpu_memory_used_bytes: 1000 * i,
    gpu_sm_clock_mhz: 1000 + 10 * i,
  });
  const values = Array.from({ length: 30 }, (_, i) => metrics(i));
  return [
    ...series(GPU_A, at('08:00:00', date), 5, values),
    ...series(GPU_B, at('09:00:00', date), 5, values),
  ];
}

async function allResults(archive: TestArchive, date: string) {
  const results: Record<string, unknown> = { summary: await readSummary(archive.storage, date) };
  for (const analysis of ANALYSES) results[analysis] = await readResult(archive.storage, date, analysis);
  return results;
}

describe('the daily analytics job', () => {
  let archive: TestArchive;
  beforeEach(async () => {
    archive = await createTestArchive();
  });
  afterEach(async () => {
    await archive.cleanup();
  });

  it('writes every analysis as Parquet and the summary as JSON under gpu-analytics/date=D', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    const steps: string[] = [];
    const result = await runDailyAnalytics({
      config: testConfig(),
      date: DAY,
      storage: archive.storage,
      onProgress: (step, done, total) => steps.push(`${step} ${done}/${total}`),
    });
    assert.equal(result.path, `gpu-analytics/date=${DAY}`);
    assert.equal(result.inputFiles, 1);
    assert.deepEqual(result.rows, {
      temperature_spikes: 0,
      idle_time: 3,
      daily_stats: 3,
      hourly_patterns: 4, // A at 08:xx, B at 09:xx, and the fleet in each hour
      correlations: 3,
      pod_usage: 2, // the fleet, and namespace NULL: no sample names a pod
      host_temperature_spikes: 0,
      host_daily_stats: 0, // the samples carry no host readings
      summary: 1,
    });
    assert.equal(result.summary.date, DAY);
    assert.equal(result.summary.sample_count, 60);
    assert.deepEqual(
      (await readdir(join(archive.root, 'gpu-analytics', `date=${DAY}`))).sort(),
      [...ANALYSES.map((a) => `${a}.parquet`), 'summary.json'].sort(),
    );
    assert.deepEqual(
      JSON.parse(await readFile(join(archive.root, result.path, 'summary.json'), 'utf8')),
      result.summary,
    );
    // open, one step per shared relation, the kept hours (none: built empty) and each analysis, write, publish.
    const total = 1 + WHOLE_DAY_RELATIONS + ANALYSES.length + 2;
    assert.equal(steps.at(0), `open 1/${total}`);
    assert.equal(steps.at(-1), `publish ${total}/${total}`);
  });

  it('replaces the results of a date exactly when run again, leaving no temporary directory', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    const config = testConfig();
    await runDailyAnalytics({ config, date: DAY, storage: archive.storage });
    const first = await allResults(archive, DAY);
    const firstJson = await readFile(
      join(archive.root, 'gpu-analytics', `date=${DAY}`, 'summary.json'),
      'utf8',
    );
    await runDailyAnalytics({ config, date: DAY, storage: archive.storage });
    assert.deepEqual(await allResults(archive, DAY), first);
    assert.equal(
      await readFile(join(archive.root, 'gpu-analytics', `date=${DAY}`, 'summary.json'), 'utf8'),
      firstJson,
    );
    assert.deepEqual(await readdir(join(archive.root, 'gpu-analytics')), [`date=${DAY}`]);
  });

  it('removes what an interrupted run of the date left behind, and nothing of other dates', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    const leftovers = [
      `.date=${DAY}.tmp-crashed`,
      `.date=${DAY}.old-crashed`,
      `.date=${OTHER_DAY}.tmp-running`,
    ];
    for (const dir of leftovers) await mkdir(join(archive.root, 'gpu-analytics', dir), { recursive: true });
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.deepEqual((await readdir(join(archive.root, 'gpu-analytics'))).sort(), [
      `.date=${OTHER_DAY}.tmp-running`,
      `date=${DAY}`,
    ]);
  });

  it('fails with ANALYTICS_NO_DATA naming the date and the path looked at when the date has no files', async () => {
    await assert.rejects(
      runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage }),
      (err) =>
        isGpumonError(err, 'ANALYTICS_NO_DATA') &&
        err.message.includes(DAY) &&
        err.message.includes(`${archive.storage.uri}/gpu-metrics/date=${DAY}/`),
    );
    assert.deepEqual(await listResultDates(archive.storage), []);
  });

  it('fails with ANALYTICS_NO_DATA when the files of the date hold no samples', async () => {
    await archive.addFile(DAY, []);
    await assert.rejects(
      runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage }),
      (err) => isGpumonError(err, 'ANALYTICS_NO_DATA') && err.message.includes('no samples'),
    );
  });

  it('fails a date with a garbage .parquet file naming the file, keeps its previous results, and runs other dates', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    await archive.addFile(OTHER_DAY, dayOfSamples(OTHER_DAY));
    const config = testConfig();
    await runDailyAnalytics({ config, date: DAY, storage: archive.storage });
    const before = await allResults(archive, DAY);

    await writeFile(
      join(archive.root, 'gpu-metrics', `date=${DAY}`, 'part-broken.parquet'),
      'not parquet at all',
    );
    const outcomes = await analyzeDates(config, [DAY, OTHER_DAY], silentLogger(), undefined, {
      storage: archive.storage,
    });
    const [failed, succeeded] = outcomes;
    assert.equal(failed?.ok, false);
    assert.ok(
      failed &&
        !failed.ok &&
        isGpumonError(failed.error, 'ARCHIVE_FILE_CORRUPT') &&
        failed.error.message.includes(`gpu-metrics/date=${DAY}/part-broken.parquet`),
      String(failed && !failed.ok && failed.error),
    );
    assert.equal(succeeded?.ok, true);
    assert.deepEqual(await allResults(archive, DAY), before);
    assert.deepEqual(await listResultDates(archive.storage), [DAY, OTHER_DAY]);
    assert.deepEqual((await readdir(join(archive.root, 'gpu-analytics'))).sort(), [
      `date=${DAY}`,
      `date=${OTHER_DAY}`,
    ]);
  });

  it('names the file whose pages are corrupt although its footer is sound', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    const file = await archive.addFile(DAY, dayOfSamples(DAY).slice(0, 20), 'part-pages.parquet');
    // Scramble everything between the magic bytes and the footer (length in the last 8 bytes).
    const bytes = await readFile(file);
    const end = bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8);
    for (let i = 4; i < end; i++) bytes[i] = ((bytes[i] ?? 0) * 31 + 7) & 0xff;
    await writeFile(file, bytes);
    await assert.rejects(
      runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage }),
      (err) => isGpumonError(err, 'ARCHIVE_FILE_CORRUPT') && err.message.includes('part-pages.parquet'),
    );
  });

  it('reads files of an older catalog that lack a column, as if the column were null', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY), 'part-old.parquet', ['gpu_sm_clock_mhz', 'gpu_xid_last']);
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    const [fleet] = (await readResult(archive.storage, DAY, 'correlations')) ?? [];
    assert.equal(fleet?.corr_temperature_sm_clock, null);
    assert.equal(typeof fleet?.corr_temperature_power, 'number');
  });

  it('stops with ANALYTICS_DEADLINE_EXCEEDED when its signal aborts, leaving the previous results', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    const config = testConfig();
    await runDailyAnalytics({ config, date: DAY, storage: archive.storage });
    const before = await allResults(archive, DAY);

    const controller = new AbortController();
    await assert.rejects(
      runDailyAnalytics({
        config,
        date: DAY,
        storage: archive.storage,
        signal: controller.signal,
        onProgress: (step) => {
          if (step === 'gpus') controller.abort(new Error('deadline of 1 s passed'));
        },
      }),
      (err) =>
        isGpumonError(err, 'ANALYTICS_DEADLINE_EXCEEDED') &&
        err.message.includes(DAY) &&
        err.message.includes('deadline of 1 s passed'),
    );
    assert.deepEqual(await allResults(archive, DAY), before);
    assert.deepEqual(await readdir(join(archive.root, 'gpu-analytics')), [`date=${DAY}`]);
  });

  it('refuses a date that is not a calendar date', async () => {
    await assert.rejects(
      runDailyAnalytics({ config: testConfig(), date: '2026-02-30', storage: archive.storage }),
      (err) => isGpumonError(err, 'USAGE') && err.message.includes('2026-02-30'),
    );
  });
});

describe('reading results back', () => {
  let archive: TestArchive;
  beforeEach(async () => {
    archive = await createTestArchive();
  });
  afterEach(async () => {
    await archive.cleanup();
  });

  it('gives JSON-safe rows: 64-bit integers as numbers, timestamps as epoch milliseconds', async () => {
    const samples = series(GPU_A, at('10:00:00'), 1, [
      { gpu_temperature_celsius: 40, gpu_memory_used_bytes: 2 ** 40 },
      { gpu_temperature_celsius: 50, gpu_memory_used_bytes: 2 ** 40 },
    ]);
    await archive.addFile(DAY, samples);
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    const [spike] = (await readResult(archive.storage, DAY, 'temperature_spikes')) ?? [];
    assert.equal(spike?.ts, at('10:00:01'));
    assert.equal(spike?.previous_ts, at('10:00:00'));
    const stats = (await readResult(archive.storage, DAY, 'daily_stats')) ?? [];
    assert.equal(stats[1]?.memory_used_max_bytes, 2 ** 40);
    assert.equal(stats[1]?.sample_count, 2);
    assert.doesNotThrow(() => JSON.stringify(stats));
    assert.equal((await readSummary(archive.storage, DAY))?.gpus, 1);
  });

  it('reads the rows of one GPU, and at most a given number', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    const rows = (await readResult(archive.storage, DAY, 'hourly_patterns', { uuid: GPU_B.uuid })) ?? [];
    assert.deepEqual(
      rows.map((r) => [r.uuid, r.hour_utc]),
      [[GPU_B.uuid, 9]],
    );
    assert.equal((await readResult(archive.storage, DAY, 'daily_stats', { limit: 1 }))?.[0]?.scope, 'fleet');
    assert.equal((await readResult(archive.storage, DAY, 'daily_stats', { limit: 2 }))?.length, 2);
  });

  it('lists the dates with results, not runs in progress', async () => {
    await archive.addFile(DAY, dayOfSamples(DAY));
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    await writeFile(join(archive.root, 'gpu-analytics', 'notes.txt'), '');
    await archive.storage.put(
      join(archive.root, 'gpu-analytics', 'notes.txt'),
      `gpu-analytics/.date=${OTHER_DAY}.tmp-x/a`,
    );
    assert.deepEqual(await listResultDates(archive.storage), [DAY]);
  });

  it('gives null for a date or an analysis without results, and refuses a malformed date', async () => {
    assert.equal(await readResult(archive.storage, DAY, 'daily_stats'), null);
    assert.equal(await readSummary(archive.storage, DAY), null);
    await archive.addFile(DAY, dayOfSamples(DAY));
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(await readResult(archive.storage, DAY, 'nonsense'), null);
    await assert.rejects(
      readResult(archive.storage, '15.01.2026', 'daily_stats'),
      (err) => isGpumonError(err, 'USAGE') && err.message.includes('"15.01.2026"'),
    );
  });

  describe('with skipCorrupt', () => {
    /** Writes a good file and a copy of it cut short (no footer) into the day; returns the cut file's path. */
    async function goodAndTruncated(): Promise<string> {
      await archive.addFile(DAY, dayOfSamples(DAY), 'part-good.parquet');
      const cut = await archive.addFile(DAY, dayOfSamples(DAY).slice(0, 20), 'part-cut.parquet');
      const bytes = await readFile(cut);
      await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
      return cut;
    }

    /** The DuckDB engine, remembering the files each session was opened with. */
    function recordingEngine(opened: string[][]): Engine {
      const engine = new DuckDbEngine({ memoryLimit: '512MB', threads: 1 });
      return {
        name: engine.name,
        dialect: engine.dialect,
        open: (input: EngineInput) => {
          opened.push(input.files.map((f) => f.name));
          return engine.open(input);
        },
      };
    }

    it('moves a truncated file to quarantine before the engine reads, and marks the day partial', async () => {
      await goodAndTruncated();
      const opened: string[][] = [];
      const result = await runDailyAnalytics({
        config: testConfig({ 'analytics.skipCorrupt': true }),
        date: DAY,
        storage: archive.storage,
        engine: recordingEngine(opened),
      });
      const uri = archive.storage.uri;
      assert.deepEqual(opened, [[`${uri}/gpu-metrics/date=${DAY}/part-good.parquet`]]);
      assert.equal(result.inputFiles, 1);
      assert.deepEqual(
        result.quarantined.map((q) => [q.file, q.movedTo]),
        [
          [
            `${uri}/gpu-metrics/date=${DAY}/part-cut.parquet`,
            `${uri}/quarantine/date=${DAY}/part-cut.parquet`,
          ],
        ],
      );
      assert.match(result.quarantined[0]?.reason ?? '', /part-cut\.parquet/);
      assert.deepEqual(await readdir(join(archive.root, 'gpu-metrics', `date=${DAY}`)), [
        'part-good.parquet',
      ]);
      assert.deepEqual(await readdir(join(archive.root, 'quarantine', `date=${DAY}`)), ['part-cut.parquet']);
      const summary = JSON.parse(
        await readFile(join(archive.root, 'gpu-analytics', `date=${DAY}`, 'summary.json'), 'utf8'),
      );
      assert.equal(summary.partial, true);
      assert.equal(summary.quarantined_files, `${uri}/gpu-metrics/date=${DAY}/part-cut.parquet`);
      assert.equal(summary.sample_count, dayOfSamples(DAY).length);
    });

    it('without it, fails the day naming the truncated file and leaves the file where it is', async () => {
      const cut = await goodAndTruncated();
      await assert.rejects(
        runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage }),
        (err) => isGpumonError(err, 'ARCHIVE_FILE_CORRUPT') && err.message.includes('part-cut.parquet'),
      );
      assert.ok(
        (await readdir(join(archive.root, 'gpu-metrics', `date=${DAY}`))).includes('part-cut.parquet'),
      );
      assert.equal(await readFile(cut).then(() => true), true);
      assert.deepEqual(await readdir(archive.root).then((e) => e.includes('quarantine')), false);
    });

    it('sets aside a file whose pages are corrupt once the engine names it, and runs the day again', async () => {
      await archive.addFile(DAY, dayOfSamples(DAY), 'part-good.parquet');
      const file = await archive.addFile(DAY, dayOfSamples(DAY).slice(0, 20), 'part-pages.parquet');
      const bytes = await readFile(file);
      const end = bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8);
      for (let i = 4; i < end; i++) bytes[i] = ((bytes[i] ?? 0) * 31 + 7) & 0xff;
      await writeFile(file, bytes);
      const opened: string[][] = [];
      const result = await runDailyAnalytics({
        config: testConfig({ 'analytics.skipCorrupt': true }),
        date: DAY,
        storage: archive.storage,
        engine: recordingEngine(opened),
      });
      assert.equal(opened.length, 2, 'the day runs again without the file');
      assert.deepEqual(
        result.quarantined.map((q) => q.movedTo.split('/').slice(-3).join('/')),
        [`quarantine/date=${DAY}/part-pages.parquet`],
      );
      assert.equal(result.summary.partial, true);
      assert.equal(result.summary.sample_count, dayOfSamples(DAY).length);
    });

    it('fails with ANALYTICS_NO_DATA naming the quarantine when no file of the day can be read', async () => {
      await archive.addFile(DAY, dayOfSamples(DAY), 'part-1.parquet');
      await writeFile(join(archive.root, 'gpu-metrics', `date=${DAY}`, 'part-1.parquet'), 'not parquet');
      await assert.rejects(
        runDailyAnalytics({
          config: testConfig({ 'analytics.skipCorrupt': true }),
          date: DAY,
          storage: archive.storage,
        }),
        (err) => isGpumonError(err, 'ANALYTICS_NO_DATA') && err.message.includes(`quarantine/date=${DAY}`),
      );
    });
  });
});
