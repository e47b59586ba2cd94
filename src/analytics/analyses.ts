import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import { projectPath } from '../paths.ts';
import { type Dialect, renderSql, type SqlParams } from './dialect.ts';

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
 * `gpus` and `pods` key the GPUs and the pods by small integers; `gpu_intervals` holds the one window pass over
 * the day (the costly step); `host_samples` the hosts' readings, each counted once (not once per GPU).
 */
export const SHARED_RELATIONS = ['gpus', 'pods', 'gpu_intervals', 'host_samples'] as const;
export type SharedRelationName = (typeof SHARED_RELATIONS)[number];

/** A query ready for one engine: the relation it builds and its SQL, placeholders expanded. */
export interface Query {
  readonly name: AnalysisName | SharedRelationName;
  /** The template it came from, for messages (e.g. `queries/daily_stats.sql`). */
  readonly source: string;
  readonly sql: string;
  /** Whether the order of its rows matters (results, sorted by their ORDER BY) or not (shared relations). */
  readonly ordered: boolean;
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

/** Every query of the job, shared relations first, rendered for `dialect`. */
export function dailyQueries(dialect: Dialect, params: SqlParams): Query[] {
  return [...SHARED_RELATIONS, ...ANALYSES].map((name) => {
    const source = querySource(name);
    const ordered = (ANALYSES as readonly string[]).includes(name);
    return { name, source, ordered, sql: renderSql(template(source), dialect, params, source) };
  });
}
