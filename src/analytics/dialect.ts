import { GpumonError } from '../errors.ts';

/**
 * What differs between the SQL engines that run src/analytics/queries. The queries are written once, in SQL
 * that DuckDB and Apache Spark 4 both accept, and name the few engine-specific pieces with placeholders:
 *
 * - `{{name}}`: a parameter (a threshold from the configuration), by its configuration key, e.g.
 *   `{{alerts.highTempCelsius}}`. Only finite numbers are substituted, so a parameter can never inject SQL.
 * - `{{macro(sql)}}`: one of `MACROS` below, expanded per engine, e.g. `{{p95(gpu_utilization_percent)}}`
 *   (the percentiles p50, p95 and p99). `{{p50_p95_p99(x)}}` is the list of all three from one aggregate
 *   (one copy of the values per group instead of three: a third of the memory and less time);
 *   `{{item1(list)}}`..`{{item3(list)}}` take its items (lists are 1-based in DuckDB, 0-based in Spark).
 *   The argument is SQL and must not contain `)}}`.
 *
 * - `{{in_part(expr)}}`: whether a row belongs to the part of a relation built in parts (`renderSql`'s `part`),
 *   by a hash of `expr` (the same value, the same part; which part differs between engines, what a part
 *   computes does not); `TRUE` when the relation is built whole.
 * - `{{opening_in_hours(expr)}}`, `{{sample_in_hours(expr)}}`, `{{sample_near_hours(expr)}}`: for a relation
 *   computed for some hours of a day (`renderSql`'s `hours`): whether `expr`, epoch microseconds, falls in
 *   those hours; whether `expr`, a timestamp, does; whether `expr`, a timestamp, falls in them or in the
 *   `tailMs` after each (never past the day's end). `TRUE` for a whole day.
 *
 * Anything else between `{{` and `}}` is an error that names the query file and the placeholder.
 */
export const MACROS = [
  'p50',
  'p95',
  'p99',
  'p50_p95_p99',
  'item1',
  'item2',
  'item3',
  'epoch_micros',
  'timestamp_micros',
  'utc_hour',
] as const;
export type MacroName = (typeof MACROS)[number];

export interface Dialect {
  readonly name: string;
  /** One function per macro: the SQL text of its argument in, the engine's SQL out. */
  readonly macros: Readonly<Record<MacroName, (arg: string) => string>>;
  /** The part (0 .. count - 1) of a row whose `expr` is the SQL given, as an SQL integer expression. */
  readonly partOf: (expr: string, count: number) => string;
}

/** Which part of a relation built in parts a rendering is for: `index` of `count`, 0-based. */
export interface Part {
  readonly index: number;
  readonly count: number;
}

/**
 * Some hours of one UTC day, for the relations computed hour by hour (gpu_interval_hours): `hours` (0-23, any
 * order; none is none), the day's first instant `dayStartMs`, and `tailMs`, how far past an hour a relation
 * reads samples to close what the hour opened (`analytics.maxGapSeconds`).
 */
export interface HourScope {
  readonly dayStartMs: number;
  readonly hours: readonly number[];
  readonly tailMs: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The hours as ranges of epoch ms [from, to), consecutive hours joined, each end extended by `tailMs`. */
function hourRanges(scope: HourScope, tailMs: number): { from: number; to: number }[] {
  const hours = [...new Set(scope.hours)].sort((a, b) => a - b);
  const dayEnd = scope.dayStartMs + DAY_MS;
  const ranges: { from: number; to: number }[] = [];
  for (const hour of hours) {
    const from = scope.dayStartMs + hour * HOUR_MS;
    const to = Math.min(from + HOUR_MS + tailMs, dayEnd);
    const last = ranges.at(-1);
    if (last && from <= last.to) last.to = Math.max(last.to, to);
    else ranges.push({ from, to });
  }
  return ranges;
}

function checkHourScope(scope: HourScope, where: string): void {
  const bad = scope.hours.find((h) => !(Number.isInteger(h) && h >= 0 && h <= 23));
  if (bad !== undefined || !Number.isInteger(scope.dayStartMs) || scope.dayStartMs % DAY_MS !== 0) {
    throw new GpumonError(
      'ANALYTICS_QUERY_FAILED',
      `${where}: bad hours ${JSON.stringify(scope.hours)} of the day starting at ${scope.dayStartMs}`,
    );
  }
  if (!(Number.isFinite(scope.tailMs) && scope.tailMs >= 0)) {
    throw new GpumonError('ANALYTICS_QUERY_FAILED', `${where}: bad tail ${scope.tailMs} ms after each hour`);
  }
}

/** The placeholders of `HourScope`: what their argument is (epoch µs or a timestamp), and with the tail or not. */
const HOUR_PLACEHOLDERS = {
  opening_in_hours: { timestamp: false, tail: false },
  sample_in_hours: { timestamp: true, tail: false },
  sample_near_hours: { timestamp: true, tail: true },
} as const;
type HourPlaceholder = keyof typeof HOUR_PLACEHOLDERS;

/** The SQL predicate of an `HOUR_PLACEHOLDERS` placeholder. */
function inHours(expr: string, dialect: Dialect, scope: HourScope, kind: HourPlaceholder): string {
  const { timestamp, tail } = HOUR_PLACEHOLDERS[kind];
  const ranges = hourRanges(scope, tail ? scope.tailMs : 0);
  if (ranges.length === 0) return 'FALSE';
  if (
    ranges.length === 1 &&
    ranges[0]?.from === scope.dayStartMs &&
    ranges[0].to === scope.dayStartMs + DAY_MS
  ) {
    return 'TRUE';
  }
  const bound = timestamp
    ? (ms: number) => dialect.macros.timestamp_micros(String(ms * 1000))
    : (ms: number) => String(ms * 1000);
  return `(${ranges.map((r) => `(${expr} >= ${bound(r.from)} AND ${expr} < ${bound(r.to)})`).join(' OR ')})`;
}

/**
 * DuckDB. Timestamps are TIMESTAMP (no zone, UTC by convention), so `epoch_us` and `hour` read them as UTC
 * whatever the session time zone.
 */
export const DUCKDB_DIALECT: Dialect = {
  name: 'duckdb',
  macros: {
    p50: (arg) => `quantile_cont(${arg}, 0.5)`,
    p95: (arg) => `quantile_cont(${arg}, 0.95)`,
    p99: (arg) => `quantile_cont(${arg}, 0.99)`,
    p50_p95_p99: (arg) => `quantile_cont(${arg}, [0.5, 0.95, 0.99])`,
    item1: (arg) => `(${arg})[1]`,
    item2: (arg) => `(${arg})[2]`,
    item3: (arg) => `(${arg})[3]`,
    epoch_micros: (arg) => `epoch_us(${arg})`,
    timestamp_micros: (arg) => `make_timestamp(${arg})`,
    utc_hour: (arg) => `CAST(hour(${arg}) AS INTEGER)`,
  },
  partOf: (expr, count) => `hash(${expr}) % ${count}`,
};

/**
 * Apache Spark 4 SQL, for the Spark engine (engines/spark), which runs it with
 * `spark.sql.session.timeZone=UTC`.
 * `percentile` interpolates linearly between the closest ranks, as DuckDB's `quantile_cont` does.
 */
export const SPARK_DIALECT: Dialect = {
  name: 'spark',
  macros: {
    p50: (arg) => `percentile(${arg}, 0.5)`,
    p95: (arg) => `percentile(${arg}, 0.95)`,
    p99: (arg) => `percentile(${arg}, 0.99)`,
    p50_p95_p99: (arg) => `percentile(${arg}, array(0.5, 0.95, 0.99))`,
    item1: (arg) => `(${arg})[0]`,
    item2: (arg) => `(${arg})[1]`,
    item3: (arg) => `(${arg})[2]`,
    epoch_micros: (arg) => `unix_micros(${arg})`,
    timestamp_micros: (arg) => `timestamp_micros(${arg})`,
    utc_hour: (arg) => `hour(${arg})`,
  },
  partOf: (expr, count) => `pmod(xxhash64(${expr}), ${count})`,
};

/** Parameter values by name (the configuration key they come from). */
export type SqlParams = Readonly<Record<string, number>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.]*)\s*(?:\(([\s\S]*?)\)\s*)?\}\}/g;

/**
 * Expands the placeholders of a query template for one engine. `where` names the template (its file) in
 * error messages; `part`, for a relation built in parts, which part this rendering computes. Throws
 * ANALYTICS_QUERY_FAILED on an unknown placeholder, a parameter that is not a finite number or a bad part.
 */
export function renderSql(
  template: string,
  dialect: Dialect,
  params: SqlParams,
  where: string,
  part?: Part,
  hours?: HourScope,
): string {
  if (part && !(Number.isInteger(part.count) && part.count >= 1 && Number.isInteger(part.index))) {
    throw new GpumonError('ANALYTICS_QUERY_FAILED', `${where}: bad part ${part.index} of ${part.count}`);
  }
  if (part && (part.index < 0 || part.index >= part.count)) {
    throw new GpumonError(
      'ANALYTICS_QUERY_FAILED',
      `${where}: part ${part.index} of ${part.count} does not exist`,
    );
  }
  if (hours) checkHourScope(hours, where);
  const sql = template.replace(PLACEHOLDER, (whole, name: string, arg: string | undefined) => {
    if (arg !== undefined) {
      if (Object.hasOwn(HOUR_PLACEHOLDERS, name)) {
        if (!hours) return 'TRUE';
        return inHours(renderSql(arg, dialect, params, where), dialect, hours, name as HourPlaceholder);
      }
      if (name === 'in_part') {
        if (!part || part.count === 1) return 'TRUE';
        return `${dialect.partOf(renderSql(arg, dialect, params, where), part.count)} = ${part.index}`;
      }
      if (!(MACROS as readonly string[]).includes(name)) {
        throw new GpumonError(
          'ANALYTICS_QUERY_FAILED',
          `${where}: unknown macro ${whole}; known macros: ${[...MACROS, 'in_part', ...Object.keys(HOUR_PLACEHOLDERS)].join(', ')}`,
        );
      }
      return dialect.macros[name as MacroName](renderSql(arg, dialect, params, where));
    }
    if (!Object.hasOwn(params, name)) {
      throw new GpumonError(
        'ANALYTICS_QUERY_FAILED',
        `${where}: unknown parameter ${whole}; known parameters: ${Object.keys(params).join(', ')}`,
      );
    }
    return sqlNumber(params[name], `${where}: parameter ${name}`);
  });
  const left = sql.indexOf('{{');
  if (left >= 0) {
    throw new GpumonError(
      'ANALYTICS_QUERY_FAILED',
      `${where}: malformed placeholder near ${JSON.stringify(sql.slice(left, left + 40))}`,
    );
  }
  return sql;
}

/** A number as an SQL literal; negative numbers in parentheses, so `a -{{x}}` cannot become a comment. */
export function sqlNumber(value: unknown, what: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new GpumonError('ANALYTICS_QUERY_FAILED', `${what} must be a finite number, got ${String(value)}`);
  }
  const text = String(value);
  return value < 0 ? `(${text})` : text;
}
