/**
 * Hourly partials on Spark: hours kept by `gpumon analyze --hour` (on Spark, and one on DuckDB), then the
 * night on Spark reading them and computing the other hours, give the results of DuckDB's whole-day run.
 * Needs the Spark Connect server of scripts/services/spark-connect.sh; fails without it.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ANALYSES } from '../../src/analytics/analyses.ts';
import { runGpumon, tempDir } from '../e2e/helpers.ts';
import { ANALYZE_ENV, assertSameRows, DATE, readParquet, sparkRemote, writeGappyDay } from './helpers.ts';

describe('gpumon analyze --hour, then the night, on Spark', () => {
  const duckdbRoot = tempDir('hourly-duckdb');
  const sparkRoot = tempDir('hourly-spark');
  const results = (root: string) => join(root, 'gpu-analytics', `date=${DATE}`);
  let hourly: { code: number | null; stdout: string; stderr: string };
  let night: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    const spark = ['--engine', 'spark', '--spark-remote', sparkRemote()];
    await writeGappyDay([duckdbRoot, sparkRoot]);
    const whole = await runGpumon(['analyze', '--date', DATE, '--archive', duckdbRoot], ANALYZE_ENV);
    assert.equal(whole.code, 0, whole.stderr);
    // Hours with a gap of each GPU (3), a host away (9), pods changing (4, 6 -> hour 6 starts new pods), the
    // day's end (23); hour 12 by DuckDB, which the night on Spark reads as well.
    const hours = [3, 4, 6, 9, 23].map((h) => `${DATE}T${String(h).padStart(2, '0')}`);
    hourly = await runGpumon(['analyze', ...spark, '--hour', ...hours, '--archive', sparkRoot], ANALYZE_ENV);
    const byDuckdb = await runGpumon(
      ['analyze', '--hour', `${DATE}T12`, '--archive', sparkRoot],
      ANALYZE_ENV,
    );
    assert.equal(byDuckdb.code, 0, byDuckdb.stderr);
    night = await runGpumon(['analyze', ...spark, '--date', DATE, '--archive', sparkRoot], ANALYZE_ENV);
  });

  it('keeps a partial of each hour asked for', async () => {
    assert.equal(hourly.code, 0, hourly.stderr);
    const rows = hourly.stdout.trim().split('\n').slice(1);
    assert.equal(rows.length, 5);
    for (const row of rows) assert.match(row, /^\d{4}-\d{2}-\d{2}T\d{2}\s+ok\s+2\s+[1-9]\d*\s/);
    const kept = await readdir(join(sparkRoot, 'gpu-analytics', 'partials', `date=${DATE}`));
    assert.deepEqual(kept.sort(), ['hour=03', 'hour=04', 'hour=06', 'hour=09', 'hour=12', 'hour=23']);
  });

  it('reads the six kept hours at night and computes the other eighteen', () => {
    assert.equal(night.code, 0, night.stderr);
    const [, row] = night.stdout.trim().split('\n');
    assert.match(row ?? '', new RegExp(`^${DATE}\\s+ok\\s+8\\s.*\\s6$`));
  });

  for (const analysis of ANALYSES) {
    it(`gives the rows of ${analysis} of DuckDB's whole-day run`, async () => {
      const duckdb = await readParquet(join(results(duckdbRoot), `${analysis}.parquet`));
      const spark = await readParquet(join(results(sparkRoot), `${analysis}.parquet`));
      assert.deepEqual(spark.columns, duckdb.columns);
      assert.ok(duckdb.rows.length > 0, `${analysis} has rows`);
      assertSameRows(duckdb.rows, spark.rows, analysis);
    });
  }

  it('writes the summary.json of the whole-day run', async () => {
    const read = async (root: string) =>
      JSON.parse(await readFile(join(results(root), 'summary.json'), 'utf8')) as Record<string, unknown>;
    assertSameRows([await read(duckdbRoot)], [await read(sparkRoot)], 'summary.json');
  });
});
