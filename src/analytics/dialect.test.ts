import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/load.ts';
import { isGpumonError } from '../errors.ts';
import {
  ANALYSES,
  analysisParams,
  dailyQueries,
  hourlyQueries,
  PARTIAL_RELATIONS,
  partCount,
  SHARED_RELATIONS,
} from './analyses.ts';
import { DUCKDB_DIALECT, renderSql, SPARK_DIALECT } from './dialect.ts';

const params = { 'alerts.highTempCelsius': 80, 'analytics.maxGapSeconds': 0.5, offset: -3 };
const DAY_START = Date.parse('2026-11-25T00:00:00Z');

describe('the SQL dialect layer', () => {
  it('substitutes named parameters as number literals', () => {
    const sql = renderSql(
      't >= {{alerts.highTempCelsius}} AND gap <= {{ analytics.maxGapSeconds }}',
      DUCKDB_DIALECT,
      params,
      'q.sql',
    );
    assert.equal(sql, 't >= 80 AND gap <= 0.5');
  });

  it('puts negative numbers in parentheses so that "a -{{x}}" cannot turn into a comment', () => {
    assert.equal(renderSql('a -{{offset}}', DUCKDB_DIALECT, params, 'q.sql'), 'a -(-3)');
  });

  it('takes p50, p95 and p99 from one percentile aggregate, and its items 1-based in DuckDB, 0-based in Spark', () => {
    const template = '{{item1(p)}}, {{item3(p)}} FROM (SELECT {{p50_p95_p99(load)}} AS p)';
    assert.equal(
      renderSql(template, DUCKDB_DIALECT, params, 'q.sql'),
      '(p)[1], (p)[3] FROM (SELECT quantile_cont(load, [0.5, 0.95, 0.99]) AS p)',
    );
    assert.equal(
      renderSql(template, SPARK_DIALECT, params, 'q.sql'),
      '(p)[0], (p)[2] FROM (SELECT percentile(load, array(0.5, 0.95, 0.99)) AS p)',
    );
  });

  it('expands the percentile, time and hour macros per engine', () => {
    const template =
      '{{p50(load)}}, {{p95(load)}}, {{p99(load)}}, {{epoch_micros(s.ts)}}, {{timestamp_micros(t_us)}}, {{utc_hour(ts)}}';
    assert.equal(
      renderSql(template, DUCKDB_DIALECT, params, 'q.sql'),
      'quantile_cont(load, 0.5), quantile_cont(load, 0.95), quantile_cont(load, 0.99), epoch_us(s.ts), make_timestamp(t_us), CAST(hour(ts) AS INTEGER)',
    );
    assert.equal(
      renderSql(template, SPARK_DIALECT, params, 'q.sql'),
      'percentile(load, 0.5), percentile(load, 0.95), percentile(load, 0.99), unix_micros(s.ts), timestamp_micros(t_us), hour(ts)',
    );
  });

  it('expands parameters inside macro arguments', () => {
    assert.equal(
      renderSql(
        '{{p95(CASE WHEN t > {{alerts.highTempCelsius}} THEN t END)}}',
        DUCKDB_DIALECT,
        params,
        'q.sql',
      ),
      'quantile_cont(CASE WHEN t > 80 THEN t END, 0.95)',
    );
  });

  it('rejects an unknown parameter, naming the query file and the placeholder', () => {
    assert.throws(
      () => renderSql('x > {{alerts.highTemp}}', DUCKDB_DIALECT, params, 'queries/x.sql'),
      (err) =>
        isGpumonError(err, 'ANALYTICS_QUERY_FAILED') &&
        /queries\/x\.sql.*\{\{alerts\.highTemp\}\}/.test(err.message),
    );
  });

  it('rejects an unknown macro', () => {
    assert.throws(
      () => renderSql('{{median(x)}}', DUCKDB_DIALECT, params, 'queries/x.sql'),
      (err) => isGpumonError(err, 'ANALYTICS_QUERY_FAILED') && err.message.includes('{{median(x)}}'),
    );
  });

  it('substitutes numbers only: a string or NaN parameter is refused', () => {
    for (const value of ['1; DROP TABLE samples', Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => renderSql('{{x}}', DUCKDB_DIALECT, { x: value as number }, 'q.sql'),
        (err) => isGpumonError(err, 'ANALYTICS_QUERY_FAILED') && err.message.includes('parameter x'),
      );
    }
  });

  it('selects the rows of one part by a hash of the expression, and every row when built whole', () => {
    const template = 'WHERE uuid IS NOT NULL AND {{in_part(uuid)}}';
    assert.equal(renderSql(template, DUCKDB_DIALECT, params, 'q.sql'), 'WHERE uuid IS NOT NULL AND TRUE');
    assert.equal(
      renderSql(template, DUCKDB_DIALECT, params, 'q.sql', { index: 0, count: 1 }),
      'WHERE uuid IS NOT NULL AND TRUE',
    );
    assert.equal(
      renderSql(template, DUCKDB_DIALECT, params, 'q.sql', { index: 2, count: 3 }),
      'WHERE uuid IS NOT NULL AND hash(uuid) % 3 = 2',
    );
    assert.equal(
      renderSql(template, SPARK_DIALECT, params, 'q.sql', { index: 0, count: 4 }),
      'WHERE uuid IS NOT NULL AND pmod(xxhash64(uuid), 4) = 0',
    );
  });

  it('refuses a part that does not exist, naming the query file', () => {
    for (const part of [
      { index: 3, count: 3 },
      { index: -1, count: 2 },
      { index: 0, count: 0 },
      { index: 0.5, count: 2 },
    ]) {
      assert.throws(
        () => renderSql('{{in_part(uuid)}}', DUCKDB_DIALECT, params, 'q.sql', part),
        (err: unknown) => isGpumonError(err, 'ANALYTICS_QUERY_FAILED') && /^q\.sql: .*part/.test(err.message),
        JSON.stringify(part),
      );
    }
  });

  it('builds a partitioned relation in parts, then as their union under its own name', () => {
    const all = analysisParams(loadConfig());
    const query = dailyQueries(DUCKDB_DIALECT, all).find((q) => q.name === 'gpu_power_percentiles');
    assert.ok(query?.parts, 'gpu_power_percentiles is built in parts');
    assert.deepEqual(
      query.parts(1).map((q) => q.sql),
      [query.sql],
    );
    const three = query.parts(3);
    assert.deepEqual(
      three.map((q) => q.name),
      [
        'gpu_power_percentiles_part0',
        'gpu_power_percentiles_part1',
        'gpu_power_percentiles_part2',
        'gpu_power_percentiles',
      ],
    );
    for (const [i, q] of three.slice(0, 3).entries())
      assert.match(q.sql, new RegExp(`hash\\(uuid\\) % 3 = ${i}`));
    assert.equal(
      three[3]?.sql,
      'SELECT * FROM gpu_power_percentiles_part0\nUNION ALL\nSELECT * FROM gpu_power_percentiles_part1\nUNION ALL\nSELECT * FROM gpu_power_percentiles_part2',
    );
    assert.equal(dailyQueries(DUCKDB_DIALECT, all).find((q) => q.name === 'daily_stats')?.parts, undefined);
  });

  it('sizes the parts by the samples of the day, never more parts than GPUs', () => {
    assert.equal(partCount(86_400_000, 1000, 25_000_000), 4);
    assert.equal(partCount(25_000_000, 1000, 25_000_000), 1);
    assert.equal(partCount(25_000_001, 1000, 25_000_000), 2);
    assert.equal(partCount(10_500, 7, 2000), 6);
    assert.equal(partCount(1_000_000, 3, 1000), 3, 'a GPU is never split');
    assert.equal(partCount(0, 0, 1000), 1);
    const byDefault = loadConfig().analytics.percentilePartSamples;
    assert.equal(
      partCount(86_400_000, 1000, byDefault),
      2,
      '1,000 GPUs x 1 day at 1 Hz: two parts by default',
    );
  });

  it('refuses a malformed placeholder', () => {
    assert.throws(() => renderSql('{{ 1 + 1 }}', DUCKDB_DIALECT, params, 'q.sql'), /malformed placeholder/);
  });

  it('renders every shipped query for DuckDB and Spark with no placeholder left', () => {
    const all = analysisParams(loadConfig());
    for (const dialect of [DUCKDB_DIALECT, SPARK_DIALECT]) {
      const queries = [
        ...dailyQueries(dialect, all),
        ...dailyQueries(dialect, all, { hours: { dayStartMs: DAY_START, hours: [3, 4], tailMs: 5000 } }),
        ...hourlyQueries(dialect, all, { dayStartMs: DAY_START, hours: [23], tailMs: 5000 }),
      ];
      const names = (plan = {}) => dailyQueries(dialect, all, plan).map((q) => q.name);
      const whole = names();
      assert.equal(
        whole.length,
        SHARED_RELATIONS.length - 1 + PARTIAL_RELATIONS.length - 1 + ANALYSES.length,
        'a whole day: the kept hours built empty, no correlation_hours (corr() straight from the samples)',
      );
      assert.ok(!whole.includes('correlation_hours') && !whole.includes('stored_correlation_hours'));
      const stored = PARTIAL_RELATIONS.map((p) => p.stored);
      const hours = { dayStartMs: DAY_START, hours: [5], tailMs: 0 };
      const kept = dailyQueries(dialect, all, { hours, stored });
      assert.equal(kept.length, SHARED_RELATIONS.length + ANALYSES.length, 'hours kept: every relation read');
      assert.equal(kept.find((q) => q.name === 'correlations')?.source, 'queries/correlations_merged.sql');
      assert.equal(
        dailyQueries(dialect, all).find((q) => q.name === 'correlations')?.source,
        'queries/correlations.sql',
      );
      for (const query of queries) {
        assert.ok(!query.sql.includes('{{'), `${query.source} for ${dialect.name}`);
        assert.ok(!/;\s*$/.test(query.sql), `${query.source} must be one statement without a semicolon`);
      }
    }
  });

  it('renders the hours of a day as ranges of epoch microseconds, consecutive hours joined', () => {
    const scope = { dayStartMs: DAY_START, hours: [5, 3, 4, 9], tailMs: 0 };
    const us = (hour: number) => (DAY_START + hour * 3_600_000) * 1000;
    assert.equal(
      renderSql('{{opening_in_hours(t)}}', DUCKDB_DIALECT, params, 'q.sql', undefined, scope),
      `((t >= ${us(3)} AND t < ${us(6)}) OR (t >= ${us(9)} AND t < ${us(10)}))`,
    );
  });

  it('reads samples past each hour by the tail, never past the end of the day', () => {
    const scope = { dayStartMs: DAY_START, hours: [22, 23], tailMs: 30_000 };
    const us = (ms: number) => ms * 1000;
    assert.equal(
      renderSql('{{sample_near_hours(ts)}}', SPARK_DIALECT, params, 'q.sql', undefined, scope),
      `((ts >= timestamp_micros(${us(DAY_START + 22 * 3_600_000)}) AND ts < timestamp_micros(${us(DAY_START + 86_400_000)})))`,
    );
    assert.equal(
      renderSql('{{sample_near_hours(ts)}}', DUCKDB_DIALECT, params, 'q.sql', undefined, {
        ...scope,
        hours: [1],
      }),
      `((ts >= make_timestamp(${us(DAY_START + 3_600_000)}) AND ts < make_timestamp(${us(DAY_START + 7_230_000)})))`,
    );
  });

  it('renders a whole day as TRUE, no hour as FALSE, and no scope as TRUE', () => {
    const all = Array.from({ length: 24 }, (_, h) => h);
    const render = (hours?: number[]) =>
      renderSql(
        '{{opening_in_hours(t)}} {{sample_near_hours(ts)}}',
        DUCKDB_DIALECT,
        params,
        'q.sql',
        undefined,
        hours && { dayStartMs: DAY_START, hours, tailMs: 60_000 },
      );
    assert.equal(render(all), 'TRUE TRUE');
    assert.equal(render([]), 'FALSE FALSE');
    assert.equal(render(), 'TRUE TRUE');
  });

  it('refuses an hour outside 0-23, a day that does not start at midnight, and a negative tail', () => {
    const render = (scope: { dayStartMs: number; hours: number[]; tailMs: number }) =>
      renderSql('{{opening_in_hours(t)}}', DUCKDB_DIALECT, params, 'queries/x.sql', undefined, scope);
    assert.throws(
      () => render({ dayStartMs: DAY_START, hours: [24], tailMs: 0 }),
      /queries\/x\.sql: bad hours \[24\]/,
    );
    assert.throws(() => render({ dayStartMs: DAY_START, hours: [1.5], tailMs: 0 }), /bad hours/);
    assert.throws(() => render({ dayStartMs: DAY_START + 1000, hours: [1], tailMs: 0 }), /bad hours/);
    assert.throws(() => render({ dayStartMs: DAY_START, hours: [1], tailMs: -1 }), /bad tail -1 ms/);
  });
});
