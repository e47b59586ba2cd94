/**
 * The Spark engine gives the same results as DuckDB: one simulated day with gaps, idle periods and spikes,
 * analysed by `gpumon analyze` (the bundle, as users run it) with each engine; every result file compared.
 * Needs the Spark Connect server of scripts/services/spark-connect.sh; fails without it.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ANALYSES } from '../../src/analytics/analyses.ts';
import { runGpumon, tempDir } from '../e2e/helpers.ts';
import { ANALYZE_ENV, assertSameRows, DATE, readParquet, sparkRemote, writeGappyDay } from './helpers.ts';

describe('gpumon analyze --engine spark', () => {
  const duckdbRoot = tempDir('parity-duckdb');
  const sparkRoot = tempDir('parity-spark');
  const results = (root: string) => join(root, 'gpu-analytics', `date=${DATE}`);
  let samples = 0;
  let sparkRun: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    const remote = sparkRemote();
    samples = await writeGappyDay([duckdbRoot, sparkRoot]);
    const duckdb = await runGpumon(['analyze', '--date', DATE, '--archive', duckdbRoot], ANALYZE_ENV);
    assert.equal(duckdb.code, 0, duckdb.stderr);
    sparkRun = await runGpumon(
      ['analyze', '--engine', 'spark', '--spark-remote', remote, '--date', DATE, '--archive', sparkRoot],
      ANALYZE_ENV,
    );
  });

  it('analyses the day and writes the same files as DuckDB', async () => {
    assert.equal(sparkRun.code, 0, sparkRun.stderr);
    assert.match(sparkRun.stdout, new RegExp(`${DATE}\\s+ok\\s+8\\s+${samples}\\s`));
    assert.deepEqual((await readdir(results(sparkRoot))).sort(), (await readdir(results(duckdbRoot))).sort());
    assert.deepEqual(
      (await readdir(results(sparkRoot))).sort(),
      [...ANALYSES.map((a) => `${a}.parquet`), 'summary.json'].sort(),
    );
  });

  it('covers gaps, idle time, memory held while idle, and temperature spikes', async () => {
    const summary = JSON.parse(await readFile(join(results(duckdbRoot), 'summary.json'), 'utf8'));
    assert.equal(summary.gpus, 8);
    assert.ok(samples < 8 * 4320, 'the day has gaps');
    assert.ok(summary.temperature_spikes > 10, `spikes: ${summary.temperature_spikes}`);
    assert.ok(summary.wasted_gpu_hours > 0, `wasted GPU hours: ${summary.wasted_gpu_hours}`);
    const idle = await readParquet(join(results(duckdbRoot), 'idle_time.parquet'));
    const fleet = idle.rows.find((r) => r.scope === 'fleet');
    assert.ok(Number(fleet?.idle_seconds) > 3600, `idle seconds: ${fleet?.idle_seconds}`);
    assert.ok(Number(fleet?.measured_seconds) < 8 * 86_400 - 8 * 600, 'gaps are not measured');
  });

  it('covers the hosts: each counted once per instant, CPU spikes, readings from the newer file only', async () => {
    const hosts = await readParquet(join(results(duckdbRoot), 'host_daily_stats.parquet'));
    assert.deepEqual(
      hosts.rows.map((r) => r.scope),
      ['fleet', 'host', 'host'],
    );
    const fleet = hosts.rows[0] ?? {};
    // At most one per host and instant (2 hosts, 4320 instants), not one per GPU sample; none read in minute 17.
    const count = Number(fleet.sample_count);
    assert.ok(count <= 2 * 4320 * (59 / 60) && count > 2 * 4320 * 0.9, `host samples: ${count}`);
    assert.ok(
      Number(fleet.alerts_cpu_temperature_spike) > 10,
      `CPU spikes: ${fleet.alerts_cpu_temperature_spike}`,
    );
    assert.ok(Number(fleet.alerts_high_cpu_temperature) > 10, `alerts: ${fleet.alerts_high_cpu_temperature}`);
    // GPUs 0 and 1 carry their host's CPU temperature; GPUs 2 and 3 are in the file without host columns.
    const correlations = await readParquet(join(results(duckdbRoot), 'correlations.parquet'));
    const gpus = correlations.rows.filter((r) => r.scope === 'gpu');
    assert.equal(gpus.length, 8);
    for (const r of gpus) {
      const r2 = r.corr_temperature_cpu_temperature;
      assert.equal(typeof r2, Number(r.gpu_index) < 2 ? 'number' : 'object', `${r.uuid}: r ${r2}`);
    }
  });

  it('covers pods of two namespaces, the time no pod held a GPU, and a file without the pod columns', async () => {
    const pods = (await readParquet(join(results(duckdbRoot), 'pod_usage.parquet'))).rows;
    const scoped = (scope: string) => pods.filter((r) => r.scope === scope);
    assert.deepEqual(
      scoped('namespace').map((r) => r.namespace),
      ['team-a', 'team-b', null],
    );
    assert.equal(scoped('pod').length, 16, '2 hosts x 2 GPUs x 4 pods of 6 hours');
    const free = scoped('namespace').find((r) => r.namespace === null);
    assert.ok(Number(free?.held_gpu_hours) > 4 * 20, `unattributed GPU-hours: ${free?.held_gpu_hours}`);
  });

  for (const analysis of ANALYSES) {
    it(`gives the rows of ${analysis} that DuckDB gives, with the same columns and types`, async () => {
      const duckdb = await readParquet(join(results(duckdbRoot), `${analysis}.parquet`));
      const spark = await readParquet(join(results(sparkRoot), `${analysis}.parquet`));
      assert.deepEqual(spark.columns, duckdb.columns);
      assert.ok(duckdb.rows.length > 0, `${analysis} has rows`);
      assertSameRows(duckdb.rows, spark.rows, analysis);
    });
  }

  it('writes the summary.json that DuckDB writes', async () => {
    const read = async (root: string) =>
      JSON.parse(await readFile(join(results(root), 'summary.json'), 'utf8')) as Record<string, unknown>;
    assertSameRows([await read(duckdbRoot)], [await read(sparkRoot)], 'summary.json');
  });
});
