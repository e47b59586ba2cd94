import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import { projectPath } from '../paths.ts';
import { type Dialect, type HourScope, renderSql, type SqlParams } from './dialect.ts';

/**
 * The analyses of the daily job, in the order they run: each reads `samples` (one day of the archive), the
 * shared relations, and the analyses before it. Each has its SQL in queries/<name>.sql and its result in
 * gpu-analytics/date=D/<name>.parquet.
 */
export const ANALYSES = [
  'temperature_spikes',
  'idle_time',
  'daily_stats',
  'hourly_patterns',
  'correlations',
  'pod_usage',
  'host_temperature_spikes',
  'host_daily_stats',
  'summary',
] as const;
export type AnalysisName = (typeof ANALYSES)[number];

/** The analyses whose rows are GPUs' (a `uuid` column): not the hosts', the pods' (pod_usage) nor the summary. */
export function hasGpuRows(analysis: string): boolean {
  return (
    (ANALYSES as readonly string[]).includes(analysis) &&
    analysis !== 'summary' &&
    analysis !== 'pod_usage' &&
    !analysis.startsWith('host_')
  );
}

/**
 * Relations built before the analyses and shared by them (queries/shared/<name>.sql); not written out.
 * `gpus` and `pods` key the GPUs and the pods by small integers; `gpu_power_percentiles` holds each GPU's exact
 * power percentiles (built in parts: `PARTITIONED_RELATIONS`); `gpu_interval_hours` the one window pass (the
 * costly step) over the hours of the day that have no partial kept by an hourly run, and `gpu_intervals` the
 * day's intervals, those hours and the kept ones (`stored_interval_hours`) merged; `correlation_hours` and
 * `hourly_pattern_hours` the mergeable state of correlations and hourly_patterns over the same hours (merged
 * with the kept ones by those analyses); `host_samples` the hosts' readings, each counted once (not once per GPU).
 */
export const SHARED_RELATIONS = [
  'gpus',
  'pods',
  'gpu_interval_hours',
  'gpu_intervals',
  'correlation_hours',
  'hourly_pattern_hours',
  'host_samples',
  'gpu_power_percentiles',
] as const;
export type SharedRelationName = (typeof SHARED_RELATIONS)[number];

/**
 * Relations built over parts of the GPUs, each part its own statement, then put together: an exact percentile
 * aggregate holds every value of its group until its statement ends, so the parts bound what is held at once.
 */
export const PARTITIONED_RELATIONS: readonly SharedRelationName[] = ['gpu_power_percentiles'];

/**
 * The relations an hourly run keeps as its hour's partial (gpu-analytics/partials/, hourly-job.ts), each with
 * the relation under which the night reads the kept hours (handed to the engine as files,
 * `EngineInput.tables`; built empty when none is read) beside the hours it computes itself.
 */
export const PARTIAL_RELATIONS = [
  { name: 'gpu_interval_hours', stored: 'stored_interval_hours' },
  { name: 'correlation_hours', stored: 'stored_correlation_hours' },
  { name: 'hourly_pattern_hours', stored: 'stored_pattern_hours' },
] as const;
export type PartialRelationName = (typeof PARTIAL_RELATIONS)[number]['name'];
export type StoredRelationName = (typeof PARTIAL_RELATIONS)[number]['stored'];

/** The relations an hourly run computes for its hour, in order: what the partials need, then the partials. */
export const HOURLY_RELATIONS = [
  'gpus',
  'pods',
  'gpu_interval_hours',
  'correlation_hours',
  'hourly_pattern_hours',
] as const;

/** A relation's name, or one part of a relation built in parts. */
export type RelationName =
  | AnalysisName
  | SharedRelationName
  | StoredRelationName
  | `${SharedRelationName}_part${number}`;

/** A query ready for one engine: the relation it builds and its SQL, placeholders expanded. */
export interface Query {
  readonly name: RelationName;
  /** The template it came from, for messages (e.g. `queries/daily_stats.sql`). */
  readonly source: string;
  /** The SQL that builds the whole relation in one statement. */
  readonly sql: string;
  /** Whether the order of its rows matters (results, sorted by their ORDER BY) or not (shared relations). */
  readonly ordered: boolean;
  /** For a relation of `PARTITIONED_RELATIONS`: the statements that build it in `count` parts, in order. */
  readonly parts?: (count: number) => Query[];
}

/** The configuration values the queries use, named `{{key}}` in the SQL by their configuration key. */
export function analysisParams(config: Config): SqlParams {
  return {
    'alerts.highTempCelsius': config.alerts.highTempCelsius,
    'alerts.highCpuTempCelsius': config.alerts.highCpuTempCelsius,
    'alerts.highLoadPercent': config.alerts.highLoadPercent,
    'alerts.highPowerPercent': config.alerts.highPowerPercent,
    'alerts.tempSpikeCelsius': config.alerts.tempSpikeCelsius,
    'analytics.maxGapSeconds': config.analytics.maxGapSeconds,
    'analytics.idleLoadPercent': config.analytics.idleLoadPercent,
    'analytics.idleMemoryBytes': config.analytics.idleMemoryBytes,
  };
}

const QUERIES_DIR = projectPath('src', 'analytics', 'queries');
const templates = new Map<string, string>();

function template(source: string): string {
  let text = templates.get(source);
  if (text === undefined) {
    text = readFileSync(join(QUERIES_DIR, source.replace(/^queries\//, '')), 'utf8');
    templates.set(source, text);
  }
  return text;
}

/** The SQL source file of a relation, relative to src/analytics. */
export function querySource(name: AnalysisName | SharedRelationName): string {
  return (SHARED_RELATIONS as readonly string[]).includes(name)
    ? `queries/shared/${name}.sql`
    : `queries/${name}.sql`;
}

/** Which hours the nightly job computes from the samples, and which kept ones it reads. */
export interface DayPlan {
  /** The hours to compute (the PARTIAL_RELATIONS); absent: the whole day. */
  readonly hours?: HourScope;
  /** The stored relations the engine was given files of (EngineInput.tables); the others are built empty. */
  readonly stored?: readonly StoredRelationName[];
}

/**
 * Analyses with a second template, which merges the partial relation `reads` of the hours computed and kept:
 * used when the night reads kept hours (`plan.hours`). A whole day is computed by the first template straight
 * from the samples, at a fraction of the cost of the mergeable state (correlations: 11 corr() aggregates
 * against 110 for count, means, deviations, co-moment and extremes of each pair; measured in
 * docs/benchmarks.md, "Hourly partials"), and `reads` is then not computed at all.
 */
const MERGING_TEMPLATES: Partial<Record<AnalysisName, { source: string; reads: SharedRelationName }>> = {
  correlations: { source: 'queries/correlations_merged.sql', reads: 'correlation_hours' },
};

/**
 * Every query of the nightly job, shared relations first, rendered for `dialect`. Each stored relation the
 * plan has no files of is built empty right after the relation it stands beside.
 */
export function dailyQueries(dialect: Dialect, params: SqlParams, plan: DayPlan = {}): Query[] {
  const merging = Object.entries(MERGING_TEMPLATES);
  const names = [...SHARED_RELATIONS, ...ANALYSES].filter(
    (name) => plan.hours || !merging.some(([, m]) => m.reads === name),
  );
  const sourceOf = (name: AnalysisName | SharedRelationName) =>
    (plan.hours ? MERGING_TEMPLATES[name as AnalysisName]?.source : undefined) ?? querySource(name);
  const queries: Query[] = [];
  for (const query of relationQueries(names, dialect, params, plan.hours, sourceOf)) {
    queries.push(query);
    const partial = PARTIAL_RELATIONS.find((p) => p.name === query.name);
    if (partial && !plan.stored?.includes(partial.stored)) {
      queries.push({
        name: partial.stored,
        source: query.source,
        sql: `SELECT * FROM ${partial.name} WHERE 1 = 0`,
        ordered: false,
      });
    }
  }
  return queries;
}

/** The queries of an hourly run (`HOURLY_RELATIONS`) for the hour in `hours`. */
export function hourlyQueries(dialect: Dialect, params: SqlParams, hours: HourScope): Query[] {
  return relationQueries(HOURLY_RELATIONS, dialect, params, hours, querySource);
}

function relationQueries(
  names: readonly (AnalysisName | SharedRelationName)[],
  dialect: Dialect,
  params: SqlParams,
  hours: HourScope | undefined,
  sourceOf: (name: AnalysisName | SharedRelationName) => string,
): Query[] {
  return names.map((name) => {
    const source = sourceOf(name);
    const ordered = (ANALYSES as readonly string[]).includes(name);
    const sql = renderSql(template(source), dialect, params, source, undefined, hours);
    if (!PARTITIONED_RELATIONS.includes(name as SharedRelationName)) return { name, source, ordered, sql };
    const parts = (count: number): Query[] => {
      if (count === 1) return [{ name, source, ordered, sql }];
      const each = Array.from({ length: count }, (_, index): Query => {
        const part = { index, count };
        return {
          name: `${name as SharedRelationName}_part${index}`,
          source,
          ordered,
          sql: renderSql(template(source), dialect, params, source, part),
        };
      });
      const union = each.map((q) => `SELECT * FROM ${q.name}`).join('\nUNION ALL\n');
      return [...each, { name, source, ordered, sql: union }];
    };
    return { name, source, ordered, sql, parts };
  });
}

/**
 * How many parts a relation of `PARTITIONED_RELATIONS` is built in, for a day of `samples` samples of `gpus`
 * GPUs: enough that each holds about `partSamples` (`analytics.percentilePartSamples`) at most, and no more
 * than the GPUs (a GPU's samples are never split); 1 for a day that size or less.
 */
export function partCount(samples: number, gpus: number, partSamples: number): number {
  if (!(samples > 0 && gpus >= 1 && partSamples >= 1)) return 1;
  return Math.min(gpus, Math.max(1, Math.ceil(samples / partSamples)));
}
