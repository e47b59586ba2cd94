/**
 * The daily analytics written to the real InfluxDB 1.x (analytics.writeInfluxdb): every point equals its row
 * of the Parquet results, a rerun replaces the day (same points, a vanished row gone, other days kept). Each
 * test has a database of its own, dropped at the end. Fails, never skips, without InfluxDB.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { AnalysisName } from '../../src/analytics/analyses.ts';
import { runDailyAnalytics } from '../../src/analytics/daily-job.ts';
import type { JsonRow } from '../../src/analytics/engine.ts';
import { RESULT_MEASUREMENTS } from '../../src/analytics/influx-results.ts';
import { readResult } from '../../src/analytics/results.ts';
import {
  at,
  createTestArchive,
  GPU_A,
  GPU_B,
  sixHoursOf,
  type TestArchive,
  type TestGpu,
  testConfig,
} from '../../src/analytics/testing.ts';
import type { ConfigKey } from '../../src/config/schema.ts';
import { isGpumonError } from '../../src/errors.ts';
import { influxQuery, influxUrl, influxWrite } from '../../src/testing/services.ts';

const DAY = '2026-01-15';
const NEXT_DAY = '2026-01-16';
const GPU_C: TestGpu = { host: 'node-b', gpu_index: 0, uuid: 'GPU-cccc', model: 'Other GPU' };
const databases: string[] = [];

after(async () => {
  const url = await influxUrl();
  for (const db of databases) await influxQuery(url, `DROP DATABASE "${db}"`);
});

interface InfluxRow {
  time: number;
  [column: string]: unknown;
}

describe('gpumon analyze with analytics.writeInfluxdb against InfluxDB 1.x', () => {
  let archive: TestArchive;
  let url: string;
  let database: string;

  beforeEach(async () => {
    archive = await createTestArchive();
    url = await influxUrl();
    database = `gpumon_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    databases.push(database);
  });
  afterEach(async () => {
    await archive.cleanup();
  });

  const flags = (): Partial<Record<ConfigKey, unknown>> => ({
    'analytics.writeInfluxdb': true,
    'influxdb.url': url,
    'influxdb.database': database,
  });

  const run = (date: string) =>
    runDailyAnalytics({ config: testConfig(flags()), date, storage: archive.storage });

  async function points(measurement: string): Promise<InfluxRow[]> {
    const [result] = await influxQuery(url, `SELECT * FROM "${measurement}"`, database);
    const s = result?.series?.[0];
    if (!s) return [];
    return s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) as InfluxRow);
  }

  async function pointCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const m of RESULT_MEASUREMENTS) counts[m.measurement] = (await points(m.measurement)).length;
    return counts;
  }

  /** When a row's point should be: stated here again, not taken from the code under test. */
  function expectedTime(analysis: AnalysisName, row: JsonRow, date: string): number {
    const midnight = Date.parse(`${date}T00:00:00Z`);
    if (analysis === 'hourly_patterns') return midnight + Number(row.hour_utc) * 3_600_000;
    if (analysis === 'temperature_spikes' || analysis === 'host_temperature_spikes') return Number(row.ts);
    return midnight;
  }

  /** Asserts that InfluxDB holds one point per Parquet row of each analysis of `date`, with its values. */
  async function assertPointsEqualParquet(date: string): Promise<void> {
    const dayStart = Date.parse(`${date}T00:00:00Z`);
    for (const m of RESULT_MEASUREMENTS) {
      const rows = (await readResult(archive.storage, date, m.analysis)) ?? [];
      assert.ok(rows.length > 0, `${m.analysis} of ${date} has rows`);
      const inDay = (await points(m.measurement)).filter(
        (p) => p.time >= dayStart && p.time < dayStart + 86_400_000,
      );
      assert.equal(inDay.length, rows.length, `${m.measurement}: one point per row of ${m.analysis}`);
      for (const row of rows) {
        const time = expectedTime(m.analysis, row, date);
        const tag = (v: unknown) => (v === null || v === undefined ? null : String(v));
        const point = inDay.find(
          (p) =>
            p.time === time &&
            tag(p.scope) === tag(row.scope) &&
            tag(p.host) === tag(row.host) &&
            tag(p.gpu) === tag(row.gpu_index) &&
            tag(p.uuid) === tag(row.uuid) &&
            tag(p.model) === tag(row.model),
        );
        assert.ok(point, `${m.measurement}: no point for ${JSON.stringify(row)}`);
        for (const [column, value] of Object.entries(row)) {
          if (['scope', 'host', 'gpu_index', 'uuid', 'model', 'ts'].includes(column)) continue;
          // A NULL is left out of the point (a tag or a field alike): InfluxDB gives it back absent.
          const actual: unknown = point[column] === undefined ? null : point[column];
          assert.deepEqual(actual, value, `${m.measurement}.${column} of ${JSON.stringify(row)}`);
        }
      }
    }
  }

  it('writes every result row of the day as a point with the values of the Parquet results', async () => {
    await archive.addFile(DAY, [
      ...sixHoursOf(GPU_A, DAY, 0),
      ...sixHoursOf(GPU_B, DAY, 3),
      ...sixHoursOf(GPU_C, DAY, 7),
    ]);
    const result = await run(DAY);
    await assertPointsEqualParquet(DAY);

    const counts = await pointCounts();
    assert.deepEqual(result.influxdb, counts);
    assert.equal(counts.gpu_daily_stats, 4); // three GPUs and the fleet
    assert.equal(counts.gpu_hourly_patterns, 4 * 6);
    assert.ok((counts.gpu_temperature_spikes ?? 0) >= 30, `spikes: ${counts.gpu_temperature_spikes}`);
    const [summary] = await points('gpu_daily_summary');
    assert.equal(summary?.partial, false);
    assert.equal(summary?.gpus, 3);
    assert.equal(summary?.hosts, 2);
    assert.equal(counts.host_daily_stats, 3); // two hosts and the fleet
    assert.ok((counts.host_temperature_spikes ?? 0) >= 6, `CPU spikes: ${counts.host_temperature_spikes}`);
    const [fleet] = (await points('gpu_idle_time')).filter((p) => p.scope === 'fleet');
    assert.ok(Number(fleet?.wasted_gpu_hours) > 2.9, `wasted GPU hours ${fleet?.wasted_gpu_hours}`);
  });

  it('replaces the day on a rerun: the same points, none twice', async () => {
    await archive.addFile(DAY, [...sixHoursOf(GPU_A, DAY, 0), ...sixHoursOf(GPU_B, DAY, 3)]);
    await run(DAY);
    const first = await pointCounts();
    await run(DAY);
    assert.deepEqual(await pointCounts(), first);
    await assertPointsEqualParquet(DAY);
  });

  it('drops the points of rows that a rerun no longer has, and keeps the other days', async () => {
    const dayFile = await archive.addFile(DAY, [...sixHoursOf(GPU_A, DAY, 0), ...sixHoursOf(GPU_C, DAY, 7)]);
    await archive.addFile(NEXT_DAY, [...sixHoursOf(GPU_A, NEXT_DAY, 1), ...sixHoursOf(GPU_C, NEXT_DAY, 2)]);
    await run(DAY);
    await run(NEXT_DAY);
    const cOnDay = async () =>
      (await points('gpu_daily_stats')).filter(
        (p) => p.uuid === GPU_C.uuid && p.time === at('00:00:00', DAY),
      );
    assert.equal((await cOnDay()).length, 1);

    // GPU C's samples of DAY vanish from the archive (say they were misfiled), and DAY is analysed again.
    await rm(dayFile);
    await archive.addFile(DAY, sixHoursOf(GPU_A, DAY, 0));
    await run(DAY);

    assert.deepEqual(await cOnDay(), []);
    for (const m of RESULT_MEASUREMENTS) {
      const onDay = (await points(m.measurement)).filter(
        (p) => p.time >= at('00:00:00', DAY) && p.time < at('00:00:00', NEXT_DAY),
      );
      assert.ok(!onDay.some((p) => p.uuid === GPU_C.uuid), `${m.measurement} still has GPU C on ${DAY}`);
    }
    await assertPointsEqualParquet(DAY);
    await assertPointsEqualParquet(NEXT_DAY);
  });

  it('fails the day with ANALYTICS_INFLUXDB_WRITE_FAILED when InfluxDB refuses points, the Parquet results published', async () => {
    await archive.addFile(DAY, sixHoursOf(GPU_A, DAY, 0));
    // A string where the results write an integer, in the same shard (7 days from Thursday 2026-01-15).
    await influxQuery(url, `CREATE DATABASE "${database}"`);
    await influxWrite(
      url,
      database,
      `gpu_daily_stats,scope=fleet sample_count="many" ${at('00:00:00', NEXT_DAY)}`,
    );
    await assert.rejects(run(DAY), (err) => {
      assert.ok(isGpumonError(err, 'ANALYTICS_INFLUXDB_WRITE_FAILED'), String(err));
      assert.match(err.message, /points refused: .*field type conflict/);
      return true;
    });
    assert.equal((await readResult(archive.storage, DAY, 'daily_stats'))?.length, 2);
  });

  it('writes nothing when analytics.writeInfluxdb is off', async () => {
    await archive.addFile(DAY, sixHoursOf(GPU_A, DAY, 0));
    const result = await runDailyAnalytics({
      config: testConfig({ ...flags(), 'analytics.writeInfluxdb': false }),
      date: DAY,
      storage: archive.storage,
    });
    assert.equal(result.influxdb, undefined);
    const [dbs] = await influxQuery(url, 'SHOW DATABASES');
    assert.ok(!JSON.stringify(dbs).includes(database), 'the database was not even created');
    assert.deepEqual(
      (await readResult(archive.storage, DAY, 'daily_stats'))?.map((r) => r.scope),
      ['fleet', 'gpu'],
    );
  });
});
