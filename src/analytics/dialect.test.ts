import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/load.ts';
import { isGpumonError } from '../errors.ts';
import { ANALYSES, analysisParams, dailyQueries, SHARED_RELATIONS } from './analyses.ts';
import { DUCKDB_DIALECT, renderSql, SPARK_DIALECT } from './dialect.ts';

const params = { 'alerts.highTempCelsius': 80, 'analytics.maxGapSeconds': 0.5, offset: -3 };

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

  it('refuses a malformed placeholder', () => {
    assert.throws(() => renderSql('{{ 1 + 1 }}', DUCKDB_DIALECT, params, 'q.sql'), /malformed placeholder/);
  });

  it('renders every shipped query for DuckDB and Spark with no placeholder left', () => {
    const all = analysisParams(loadConfig());
    for (const dialect of [DUCKDB_DIALECT, SPARK_DIALECT]) {
      const queries = dailyQueries(dialect, all);
      assert.equal(queries.length, SHARED_RELATIONS.length + ANALYSES.length);
      for (const query of queries) {
        assert.ok(!query.sql.includes('{{'), `${query.source} for ${dialect.name}`);
        assert.ok(!/;\s*$/.test(query.sql), `${query.source} must be one statement without a semicolon`);
      }
    }
  });
});
