/**
 * The Spark engine writes the same points to InfluxDB as DuckDB (analytics.writeInfluxdb): one day analysed
 * by each engine into a database of its own, every measurement compared point by point. Needs the Spark
 * Connect server and InfluxDB of scripts/services/all.sh; fails without them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runDailyAnalytics } from '../../src/analytics/daily-job.ts';
import { SparkEngine } from '../../src/analytics/engines/spark/spark-engine.ts';
import { RESULT_MEASUREMENTS } from '../../src/analytics/influx-results.ts';
import {
  createTestArchive,
  GPU_A,
  GPU_B,
  sixHoursOf,
  type TestArchive,
  testConfig,
} from '../../src/analytics/testing.ts';
import { influxQuery, influxUrl } from '../../src/testing/services.ts';
import { assertSameRows, sparkRemote } from './helpers.ts';

const DAY = '2026-01-15';

describe('the Spark engine with analytics.writeInfluxdb', () => {
  let archive: TestArchive;
  let url: string;
  const databases = {
    duckdb: `gpumon_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
    spark: `gpumon_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
  };
  const written: Record<string, Record<string, number> | undefined> = {};

  before(async () => {
    url = await influxUrl();
    archive = await createTestArchive();
    await archive.addFile(DAY, [...sixHoursOf(GPU_A, DAY, 0), ...sixHoursOf(GPU_B, DAY, 3)]);
    for (const engine of ['duckdb', 'spark'] as const) {
      const config = testConfig({
        'analytics.writeInfluxdb': true,
        'influxdb.url': url,
        'influxdb.database': databases[engine],
      });
      const result = await runDailyAnalytics({
        config,
        date: DAY,
        storage: archive.storage,
        ...(engine === 'spark' ? { engine: new SparkEngine({ remote: sparkRemote() }) } : {}),
      });
      written[engine] = result.influxdb;
    }
  });
  after(async () => {
    await archive?.cleanup();
    for (const db of Object.values(databases)) await influxQuery(url, `DROP DATABASE "${db}"`);
  });

  /** Every point of a measurement, ordered by time and series. */
  async function points(database: string, measurement: string): Promise<Record<string, unknown>[]> {
    const [result] = await influxQuery(url, `SELECT * FROM "${measurement}"`, database);
    const s = result?.series?.[0];
    const rows = (s?.values ?? []).map((v) =>
      Object.fromEntries((s?.columns ?? []).map((c, i) => [c, v[i]])),
    );
    const key = (r: Record<string, unknown>) =>
      [r.time, r.scope, r.host, r.gpu, r.uuid].map((x) => String(x ?? '')).join('\0');
    return rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  it('writes as many points of each measurement as DuckDB', () => {
    assert.ok(written.spark, 'the Spark run wrote to InfluxDB');
    assert.deepEqual(written.spark, written.duckdb);
    assert.ok((written.spark.gpu_temperature_spikes ?? 0) > 10);
  });

  for (const m of RESULT_MEASUREMENTS) {
    it(`writes the points of ${m.measurement} that DuckDB writes, with the same values`, async () => {
      const duckdb = await points(databases.duckdb, m.measurement);
      const spark = await points(databases.spark, m.measurement);
      assert.ok(duckdb.length > 0, `${m.measurement} has points`);
      assertSameRows(duckdb, spark, m.measurement);
    });
  }
});
