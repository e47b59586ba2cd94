import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { METRICS } from '../../src/metrics/catalog.ts';
import { ROOT, runGpumon, tempDir } from '../e2e/helpers.ts';

const DATE = '2026-11-20';

/** Real Apache Spark 4 (pyspark from PyPI, local mode): scripts/setup/spark.sh installs it, never skipped. */
function sparkPython(): string {
  return execFileSync(join(ROOT, 'scripts/setup/spark.sh'), { encoding: 'utf8' }).trim();
}

describe('the Parquet archive', () => {
  it('is read by Apache Spark with the same schema, rows and values as DuckDB reads', async () => {
    const archive = tempDir('spark');
    const sim = await runGpumon([
      'simulate',
      '--days',
      '1',
      '--end',
      DATE,
      '--interval-ms',
      '60000',
      '--out',
      archive,
    ]);
    assert.equal(sim.code, 0, sim.stderr);
    const analyze = await runGpumon(['analyze', '--date', DATE, '--archive', archive], {
      GPUMON_LOG_LEVEL: 'warn',
    });
    assert.equal(analyze.code, 0, analyze.stderr);

    const spark = JSON.parse(
      execFileSync(sparkPython(), [join(ROOT, 'test/integration/spark_read.py'), archive, DATE], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, PYSPARK_PYTHON: sparkPython() },
      })
        .trim()
        .split('\n')
        .pop() as string,
    ) as {
      schema: Record<string, string>;
      rows: number;
      hourly: [number, number, number, number, number][];
      dailyStatsRows: number;
      dailyStatsColumns: string[];
    };

    // Archive format 2 (docs/archive.md): ts is UTC-adjusted, a float64 metric an exact decimal where one fits.
    assert.equal(spark.schema.ts, 'timestamp', 'ts is an instant (UTC-adjusted), not a wall-clock time');
    for (const m of METRICS) {
      const type = spark.schema[m.name] ?? '';
      if (m.type === 'int64') assert.equal(type, 'bigint', m.name);
      else assert.match(type, /^(double|decimal\(\d+,\d+\))$/, m.name);
    }
    assert.equal(spark.rows, 8 * 24 * 60);

    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const duck = (
      await conn.runAndReadAll(
        `SELECT hour(ts)::INTEGER, count(*)::INTEGER, avg(gpu_utilization_percent), sum(gpu_memory_used_bytes)::DOUBLE,
                count(gpu_fan_speed_percent)::INTEGER
         FROM read_parquet('${archive}/gpu-metrics/date=${DATE}/*.parquet') GROUP BY 1 ORDER BY 1`,
      )
    ).getRows();
    conn.closeSync();
    assert.equal(spark.hourly.length, 24);
    spark.hourly.forEach(([hour, n, load, memory, fans], i) => {
      const [dHour, dN, dLoad, dMemory, dFans] = duck[i] as [number, number, number, number, number];
      assert.deepEqual([hour, n, fans], [dHour, dN, dFans], `hour ${hour}`);
      assert.ok(Math.abs(load - dLoad) <= 1e-9 * Math.abs(dLoad), `hour ${hour} load ${load} vs ${dLoad}`);
      assert.equal(memory, dMemory, `hour ${hour} memory`);
    });
    assert.equal(spark.dailyStatsRows, 9, 'daily_stats: 8 GPUs and the fleet');
    assert.ok(spark.dailyStatsColumns.includes('energy_kwh'));
  });
});
