import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { isGpumonError } from '../errors.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { ANALYSES } from './analyses.ts';
import { runDailyAnalytics } from './daily-job.ts';
import { sqlString, toJsonRow } from './engines/duckdb.ts';
import {
  filesForHour,
  hourWindow,
  lastClosedHour,
  PARTIALS_DIR,
  parseHour,
  partialPath,
  runHourlyPartial,
} from './hourly-job.ts';
import { readResult, readSummary } from './results.ts';
import {
  at,
  createTestArchive,
  GPU_A,
  GPU_B,
  series,
  sixHoursOf,
  type TestArchive,
  testConfig,
} from './testing.ts';

const DAY = '2026-01-15';
const GPU_C = { host: 'node-b', gpu_index: 0, uuid: 'GPU-cccc', model: 'Test GPU' };
const HOURS = Array.from({ length: 24 }, (_, h) => h);
const held = (pod: string) => ({ namespace: 'team-c', pod, container: 'main' });

/**
 * GPU_C's samples at the edges of hours: an interval and a spike across 13:00 (and a change of pod there), a
 * gap across 14:00, the first instant of the day, and the last seconds of the day (no interval crosses midnight).
 */
function edgesOfHours(): GpuSample[] {
  const c = (time: string, temperature: number, pod: string | null, power = 100) =>
    series(GPU_C, at(time, DAY), 1, [
      {
        gpu_temperature_celsius: temperature,
        gpu_power_draw_watts: power,
        gpu_utilization_percent: temperature > 50 ? 90 : 0,
        gpu_clock_throttle_reasons: temperature > 50 ? 0x20 : 0,
        ...(pod ? held(pod) : {}),
      },
    ]);
  return [
    ...c('00:00:00', 40, 'early'),
    ...c('00:00:20', 41, 'early'),
    ...c('12:59:40', 40, 'a'),
    ...c('12:59:55', 41, 'a', 150),
    ...c('13:00:05', 60, 'b', 250),
    ...c('13:00:25', 61, 'b', 260),
    ...c('13:59:50', 45, null),
    ...c('14:05:00', 47, null),
    ...c('14:05:20', 48, null),
    ...c('23:59:40', 44, 'late'),
    ...c('23:59:59', 70, 'late'),
  ];
}

const GPU_D = { host: 'node-b', gpu_index: 1, uuid: 'GPU-dddd', model: 'Test GPU' };

/**
 * GPU_D in hours 2 and 3: its SM clock constant within each hour but not over the two (1000, then 1500 MHz),
 * its memory used constant all along.
 */
function constantWithinHours(): GpuSample[] {
  const minutes = (hour: number, clock: number, base: number) =>
    series(
      GPU_D,
      at(`0${hour}:00:30`, DAY),
      60,
      Array.from({ length: 60 }, (_, i) => ({
        gpu_temperature_celsius: base + (i % 7) + (i % 3) * 0.5,
        gpu_sm_clock_mhz: clock,
        gpu_memory_used_bytes: 5 * 1024 ** 3,
      })),
    );
  return [...minutes(2, 1000, 40), ...minutes(3, 1500, 52)];
}

/** Pearson's r over the samples where both are known, two-pass; null when undefined. */
function pearson(samples: readonly GpuSample[], a: keyof GpuSample, b: keyof GpuSample): number | null {
  const pairs = samples
    .map((s) => [s[a], s[b]] as const)
    .filter((p): p is readonly [number, number] => typeof p[0] === 'number' && typeof p[1] === 'number');
  if (pairs.length < 2) return null;
  const mean = (i: 0 | 1) => pairs.reduce((n, p) => n + p[i], 0) / pairs.length;
  const [ma, mb] = [mean(0), mean(1)];
  let c = 0;
  let va = 0;
  let vb = 0;
  for (const [x, y] of pairs) {
    c += (x - ma) * (y - mb);
    va += (x - ma) ** 2;
    vb += (y - mb) ** 2;
  }
  return va === 0 || vb === 0 ? null : c / Math.sqrt(va * vb);
}

/** A day of four GPUs in four files, each named by its first sample as the archive writer names them. */
async function writeDay(archive: TestArchive): Promise<void> {
  const named = (first: number, tag: string) => `part-${first}-1-${tag}-abcdef.parquet`;
  await archive.addFile(DAY, sixHoursOf(GPU_A, DAY, 0), named(at('06:00:00', DAY), 'a'));
  await archive.addFile(DAY, sixHoursOf(GPU_B, DAY, 7), named(at('06:00:07', DAY), 'b'));
  await archive.addFile(DAY, edgesOfHours(), named(at('00:00:00', DAY), 'c'));
  await archive.addFile(DAY, constantWithinHours(), named(at('02:00:30', DAY), 'd'));
}

async function allResults(archive: TestArchive): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = { 'summary.json': await readSummary(archive.storage, DAY) };
  for (const analysis of ANALYSES) results[analysis] = await readResult(archive.storage, DAY, analysis);
  return results;
}

function summaryOf(results: Record<string, unknown>): { sample_count: number; temperature_spikes: number } {
  return results['summary.json'] as { sample_count: number; temperature_spikes: number };
}

/** Deep equality, numbers within 1e-9 relative (sums of the hours add in another order than the day's). */
function assertSameResults(actual: unknown, expected: unknown, where = 'results'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tolerance = 1e-9 * Math.max(1, Math.abs(expected));
    assert.ok(Math.abs(actual - expected) <= tolerance, `${where}: ${actual} vs ${expected}`);
    return;
  }
  if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    const keys = Object.keys(expected);
    assert.deepEqual(Object.keys(actual), keys, `${where}: keys`);
    for (const key of keys) {
      assertSameResults(
        (actual as Record<string, unknown>)[key],
        (expected as Record<string, unknown>)[key],
        `${where}.${key}`,
      );
    }
    return;
  }
  assert.deepEqual(actual, expected, where);
}

async function hourly(archive: TestArchive, hours: readonly number[], flags = {}) {
  const config = testConfig(flags);
  const results = [];
  for (const hour of hours) {
    results.push(await runHourlyPartial({ config, date: DAY, hour, storage: archive.storage }));
  }
  return results;
}

async function partialRows(archive: TestArchive, hour: number) {
  const file = join(archive.root, partialPath(DAY, hour), 'gpu_interval_hours.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet(${sqlString(file)}) ORDER BY uuid, pod NULLS FIRST, spike_t_us NULLS FIRST`,
    );
    return reader.getRowObjectsJS().map(toJsonRow);
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

describe('hourly partials of the window pass', () => {
  let archive: TestArchive;
  let wholeDay: Record<string, unknown>;
  beforeEach(async () => {
    archive = await createTestArchive();
    await writeDay(archive);
    const result = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(result.keptHours, 0, 'no partial yet: the whole day computed');
    wholeDay = await allResults(archive);
  });
  afterEach(async () => {
    await archive.cleanup();
  });

  it('give the night the results of a whole-day run when every hour is kept', async () => {
    await hourly(archive, HOURS);
    const night = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 24);
    assert.ok(Number(night.summary.temperature_spikes) > 5, `spikes: ${night.summary.temperature_spikes}`);
    assertSameResults(await allResults(archive), wholeDay);
  });

  it("merge each GPU's correlations to Pearson's r of its day, NULL where a metric never varied", async () => {
    await hourly(archive, HOURS);
    const night = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 24);
    const rows = (await readResult(archive.storage, DAY, 'correlations')) ?? [];
    const close = (actual: unknown, expected: number | null, what: string) => {
      if (expected === null) return assert.equal(actual, null, what);
      assert.ok(
        typeof actual === 'number' && Math.abs(actual - expected) < 1e-12,
        `${what}: ${actual} vs ${expected}`,
      );
    };
    const a = sixHoursOf(GPU_A, DAY, 0);
    const rowA = rows.find((r) => r.uuid === GPU_A.uuid);
    close(
      rowA?.corr_temperature_load,
      pearson(a, 'gpu_temperature_celsius', 'gpu_utilization_percent'),
      'A t/load',
    );
    close(rowA?.corr_power_sm_clock, pearson(a, 'gpu_power_draw_watts', 'gpu_sm_clock_mhz'), 'A power/clock');
    close(
      rowA?.corr_temperature_cpu_temperature,
      pearson(a, 'gpu_temperature_celsius', 'host_cpu_temperature_celsius'),
      'A t/cpu t',
    );
    // Constant within each of its hours, not over the two: r is defined, as over the day.
    const d = constantWithinHours();
    const rowD = rows.find((r) => r.uuid === GPU_D.uuid);
    const expected = pearson(d, 'gpu_temperature_celsius', 'gpu_sm_clock_mhz');
    assert.ok(expected !== null && expected > 0.5, String(expected));
    close(rowD?.corr_temperature_sm_clock, expected, 'D t/clock');
    assert.equal(rowD?.corr_temperature_memory, null, 'memory never varied');
    assert.equal(rowD?.corr_temperature_load, null, 'load never read');
    assert.equal(rowD?.sample_count, 120);
  });

  it('give the same results when only some hours are kept and the night computes the others', async () => {
    await hourly(archive, [0, 6, 7, 12, 13, 23]);
    const night = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 6);
    assertSameResults(await allResults(archive), wholeDay);
  });

  it('count an interval in the hour of its opening sample, across the hour and its pod change', async () => {
    await hourly(archive, [12, 13, 23]);
    const c12 = (await partialRows(archive, 12)).filter((r) => r.uuid === GPU_C.uuid);
    const c13 = (await partialRows(archive, 13)).filter((r) => r.uuid === GPU_C.uuid);
    // Hour 12: 12:59:40 -> 12:59:55 -> 13:00:05, both opened in pod a; the second is the spike 41 -> 60 at
    // 13:00:05, on a row of its own. The GPU's sums are those of its rows.
    const sum = (rows: typeof c12, key: string) => rows.reduce((n, r) => n + Number(r[key] ?? 0), 0);
    assert.deepEqual(
      c12.map((r) => r.pod),
      ['a', 'a'],
    );
    assert.deepEqual([sum(c12, 'intervals'), sum(c12, 'valid_seconds')], [2, 25]);
    assert.equal(sum(c12, 'energy_joules'), ((100 + 150) / 2) * 15 + ((150 + 250) / 2) * 10);
    const spike = c12.find((r) => r.spike_t_us !== null);
    assert.equal(spike?.spike_t_us, at('13:00:05', DAY) * 1000);
    assert.equal(spike?.spike_previous_t_us, at('12:59:55', DAY) * 1000);
    assert.deepEqual([spike?.spike_from_celsius, spike?.spike_to_celsius], [41, 60]);
    // Hour 13: 13:00:05 -> 13:00:25 in pod b; 13:00:25 -> 13:59:50 and 13:59:50 -> 14:05:00 are gaps.
    assert.deepEqual(
      c13.map((r) => [r.pod, r.intervals, r.valid_seconds, r.throttled_thermal_seconds]),
      [
        [null, 0, null, null],
        ['b', 1, 20, 20],
      ],
    );
    // Hour 23: 23:59:40 -> 23:59:59 (a spike); the day's last sample opens no interval (none crosses midnight).
    const c23 = (await partialRows(archive, 23)).filter((r) => r.uuid === GPU_C.uuid);
    assert.deepEqual(
      c23.map((r) => [r.pod, r.intervals, r.spike_t_us]),
      [
        ['late', 0, null],
        ['late', 1, at('23:59:59', DAY) * 1000],
      ],
    );
  });

  it('keep an hour without samples as an empty partial the night uses', async () => {
    const [result] = await hourly(archive, [4]);
    assert.deepEqual(result?.rows, { gpu_interval_hours: 0, correlation_hours: 0, hourly_pattern_hours: 0 });
    assert.deepEqual(await readdir(join(archive.root, partialPath(DAY, 4))), ['inputs.json']);
    const manifest = JSON.parse(
      await readFile(join(archive.root, partialPath(DAY, 4), 'inputs.json'), 'utf8'),
    );
    assert.deepEqual(manifest.files, [
      `part-${at('00:00:00', DAY)}-1-c-abcdef.parquet`,
      `part-${at('02:00:30', DAY)}-1-d-abcdef.parquet`,
    ]);
    const night = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 1);
    assertSameResults(await allResults(archive), wholeDay);
  });

  it('read only the files that may hold samples of their hour, by the time in their names', () => {
    const names = ['part-2000-1-1-a.parquet', 'part-1000-1-1-a.parquet', 'imported.parquet'];
    const start = Date.parse(`${DAY}T00:00:00Z`);
    const late = `part-${start + 3_600_000 + 60_000}-1-1-b.parquet`;
    const early = `part-${start + 3_600_000 + 59_999}-1-1-b.parquet`;
    assert.deepEqual(
      filesForHour([...names, late, early], DAY, 0, 60),
      ['imported.parquet', 'part-1000-1-1-a.parquet', 'part-2000-1-1-a.parquet', early].sort(),
    );
    assert.deepEqual(hourWindow(DAY, 23, 60), { fromMs: start + 23 * 3_600_000, toMs: start + 86_400_000 });
  });

  it('are computed again at night when a late file may hold samples of their hour', async () => {
    await hourly(archive, HOURS);
    const late = series(GPU_C, at('07:30:00', DAY), 10, [
      { gpu_temperature_celsius: 50, gpu_power_draw_watts: 120 },
      { gpu_temperature_celsius: 58, gpu_power_draw_watts: 130 },
    ]);
    await archive.addFile(DAY, late, `part-${at('07:30:00', DAY)}-2-1-fedcba.parquet`);
    const night = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 7, 'hours 0-6 kept; 7-23 may hold the late samples');
    const merged = await allResults(archive);
    await archive.storage.remove(PARTIALS_DIR);
    const fresh = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(fresh.keptHours, 0);
    assert.equal(fresh.summary.sample_count, summaryOf(wholeDay).sample_count + 2);
    assertSameResults(merged, await allResults(archive));
  });

  it('are not used when the thresholds they were computed with have changed', async () => {
    await hourly(archive, HOURS);
    const config = testConfig({ 'alerts.tempSpikeCelsius': 15 });
    const night = await runDailyAnalytics({ config, date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 0);
    const merged = await allResults(archive);
    await archive.storage.remove(PARTIALS_DIR);
    await runDailyAnalytics({ config, date: DAY, storage: archive.storage });
    assertSameResults(merged, await allResults(archive));
    assert.ok(
      summaryOf(merged).temperature_spikes < summaryOf(wholeDay).temperature_spikes,
      'fewer spikes with the higher threshold',
    );
  });

  it('are not used when their manifest is of another format or unreadable', async () => {
    await hourly(archive, [1, 2]);
    const manifest = (hour: number) => join(archive.root, partialPath(DAY, hour), 'inputs.json');
    const one = JSON.parse(await readFile(manifest(1), 'utf8'));
    await writeFile(manifest(1), JSON.stringify({ ...one, format: 99 }));
    await writeFile(manifest(2), '{ not json');
    const night = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 0);
    assertSameResults(await allResults(archive), wholeDay);
  });

  it('are computed again at night when their Parquet file cannot be read', async () => {
    await hourly(archive, [6, 7]);
    await writeFile(join(archive.root, partialPath(DAY, 7), 'gpu_interval_hours.parquet'), 'truncated');
    const night = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    assert.equal(night.keptHours, 1, 'hour 6 read, hour 7 computed');
    assertSameResults(await allResults(archive), wholeDay);
  });

  it('leave no partial of their hour when the run fails on a corrupt file, naming it', async () => {
    await hourly(archive, [8]);
    const bad = `part-${at('08:10:00', DAY)}-3-1-badbad.parquet`;
    await writeFile(join(archive.root, 'gpu-metrics', `date=${DAY}`, bad), 'not parquet');
    await assert.rejects(hourly(archive, [8]), (err: unknown) => {
      assert.ok(isGpumonError(err, 'ARCHIVE_FILE_CORRUPT'), String(err));
      assert.match((err as Error).message, /badbad/);
      return true;
    });
    assert.deepEqual((await readdir(join(archive.root, partialPath(DAY, 8)))).sort(), [
      'correlation_hours.parquet',
      'gpu_interval_hours.parquet',
      'hourly_pattern_hours.parquet',
    ]);
  });
});

describe('the hour of `gpumon analyze --hour`', () => {
  it('is read as YYYY-MM-DDTHH, UTC', () => {
    assert.deepEqual(parseHour('2026-11-25T13'), { date: '2026-11-25', hour: 13 });
    assert.deepEqual(parseHour('2026-11-25T00:00Z'), { date: '2026-11-25', hour: 0 });
  });

  it('is refused naming the text when it is not an hour of a calendar day', () => {
    for (const text of ['2026-11-25T24', '2026-11-25 13', '2026-02-30T01', 'yesterday', '2026-11-25T13:30']) {
      assert.throws(
        () => parseHour(text),
        (err: unknown) =>
          isGpumonError(err, 'USAGE') && (err as Error).message.includes(text.split('T')[0] ?? text),
        text,
      );
    }
  });

  it('`last` is the hour before the current one, across midnight', () => {
    assert.deepEqual(lastClosedHour(Date.parse('2026-11-25T13:05:00Z')), { date: '2026-11-25', hour: 12 });
    assert.deepEqual(lastClosedHour(Date.parse('2026-11-26T00:00:00Z')), { date: '2026-11-25', hour: 23 });
  });
});
