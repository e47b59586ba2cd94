/**
 * The daily results in InfluxDB (analytics.writeInfluxdb), for Grafana's long-term views: each analysis of
 * src/analytics/queries is one measurement, each result row one point (docs/influxdb.md lists them with their
 * units). The rows are those of the day's Parquet results, whichever engine produced them, so both engines
 * write the same points.
 *
 * A rerun of a day replaces its points: the day's points of every measurement below are deleted first
 * (InfluxQL DELETE, InfluxDB 1.x), then the day is written. Any failure is ANALYTICS_INFLUXDB_WRITE_FAILED.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { encodePoint, type FieldValue, type Point } from '../metrics/line-protocol.ts';
import { InfluxClient, type InfluxDbOptions, quoteIdentifier } from '../sinks/influxdb/influx-client.ts';
import type { AnalysisName } from './analyses.ts';
import type { JsonRow } from './engine.ts';
import { sqlString, toJsonRow } from './engines/duckdb.ts';

/** One column of a result written as a field: its InfluxDB type and unit (for docs/influxdb.md). */
export interface ResultField {
  readonly column: string;
  readonly type: 'float' | 'integer' | 'string';
  readonly unit: string;
}

/** How the rows of one analysis become points of one measurement. */
export interface ResultMeasurement {
  readonly analysis: AnalysisName;
  readonly measurement: string;
  /** What the point's timestamp is, in words (docs/influxdb.md). */
  readonly time: string;
  /** The point's time, epoch ms, from its row and the day's midnight (UTC). */
  readonly timeOf: (row: JsonRow, dayStart: number) => number;
  /** Result columns written as tags, by tag name: `gpu` is the column gpu_index, as in gpu_metrics. */
  readonly tags: Readonly<Record<string, string>>;
  readonly fields: readonly ResultField[];
}

const GPU_TAGS = { host: 'host', gpu: 'gpu_index', uuid: 'uuid', model: 'model' } as const;
const SCOPED_TAGS = { scope: 'scope', ...GPU_TAGS } as const;
const HOST_TAGS = { host: 'host' } as const;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const theDay = (_row: JsonRow, dayStart: number) => dayStart;

const float = (column: string, unit: string): ResultField => ({ column, type: 'float', unit });
const integer = (column: string, unit: string): ResultField => ({ column, type: 'integer', unit });
const text = (column: string, unit: string): ResultField => ({ column, type: 'string', unit });

/** A temperature spike's fields, a GPU's or a host's: the rise between two consecutive readings. */
const SPIKE_FIELDS = [
  integer('previous_ts', 'epoch ms'),
  float('from_celsius', '°C'),
  float('to_celsius', '°C'),
  float('rise_celsius', '°C'),
  float('interval_seconds', 's'),
];

/** Every analysis of ANALYSES, as a measurement; the order in which they are written. */

export const RESULT_MEASUREMENTS: readonly ResultMeasurement[] = [
  {
    analysis: 'daily_stats',
    measurement: 'gpu_daily_stats',
    time: 'the day, 00:00 UTC',
    timeOf: theDay,
    tags: SCOPED_TAGS,
    fields: [
      integer('sample_count', 'samples'),
      float('temperature_avg_celsius', '°C'),
      float('temperature_min_celsius', '°C'),
      float('temperature_max_celsius', '°C'),
      float('temperature_stddev_celsius', '°C'),
      float('load_avg_percent', '%'),
      float('load_max_percent', '%'),
      float('load_p50_percent', '%'),
      float('load_p95_percent', '%'),
      float('load_p99_percent', '%'),
      float('power_avg_watts', 'W'),
      float('power_min_watts', 'W'),
      float('power_max_watts', 'W'),
      float('energy_kwh', 'kWh'),
      float('memory_used_avg_bytes', 'bytes'),
      integer('memory_used_max_bytes', 'bytes'),
      integer('alerts_high_temperature', 'samples'),
      integer('alerts_high_load', 'samples'),
      integer('alerts_high_power', 'samples'),
      integer('alerts_temperature_spike', 'spikes'),
      float('temperature_p50_celsius', '°C'),
      float('temperature_p95_celsius', '°C'),
      float('temperature_p99_celsius', '°C'),
      float('power_p50_watts', 'W'),
      float('power_p95_watts', 'W'),
      float('power_p99_watts', 'W'),
      float('throttle_measured_seconds', 's'),
      float('throttled_seconds', 's'),
      float('throttled_power_seconds', 's'),
      float('throttled_thermal_seconds', 's'),
      float('throttled_hw_slowdown_seconds', 's'),
      float('throttled_sync_boost_seconds', 's'),
    ],
  },
  {
    analysis: 'hourly_patterns',
    measurement: 'gpu_hourly_patterns',
    time: 'the start of the hour (UTC) of the day',
    timeOf: (row, dayStart) => dayStart + Number(row.hour_utc) * HOUR_MS,
    tags: SCOPED_TAGS,
    fields: [
      integer('hour_utc', 'hour of day 0..23'),
      float('load_avg_percent', '%'),
      float('temperature_avg_celsius', '°C'),
      float('power_avg_watts', 'W'),
      integer('sample_count', 'samples'),
    ],
  },
  {
    analysis: 'temperature_spikes',
    measurement: 'gpu_temperature_spikes',
    time: 'the sample that rose (ts)',
    timeOf: (row) => Number(row.ts),
    tags: GPU_TAGS,
    fields: SPIKE_FIELDS,
  },
  {
    analysis: 'correlations',
    measurement: 'gpu_correlations',
    time: 'the day, 00:00 UTC',
    timeOf: theDay,
    tags: SCOPED_TAGS,
    fields: [
      integer('sample_count', 'samples'),
      ...[
        'temperature_load',
        'temperature_power',
        'temperature_memory',
        'temperature_sm_clock',
        'load_power',
        'load_memory',
        'load_sm_clock',
        'power_memory',
        'power_sm_clock',
        'memory_sm_clock',
        'temperature_cpu_temperature',
      ].map((pair) => float(`corr_${pair}`, "Pearson's r, -1..1")),
    ],
  },
  {
    analysis: 'idle_time',
    measurement: 'gpu_idle_time',
    time: 'the day, 00:00 UTC',
    timeOf: theDay,
    tags: SCOPED_TAGS,
    fields: [
      float('measured_seconds', 's'),
      float('idle_seconds', 's'),
      float('idle_holding_memory_seconds', 's'),
      float('wasted_gpu_hours', 'GPU-hours'),
      float('idle_share', 'fraction 0..1'),
    ],
  },
  {
    analysis: 'pod_usage',
    measurement: 'gpu_pod_usage',
    time: 'the day, 00:00 UTC',
    timeOf: theDay,
    tags: { scope: 'scope', namespace: 'namespace', pod: 'pod' },
    fields: [
      integer('gpus', 'GPUs'),
      integer('containers', 'containers'),
      float('held_gpu_hours', 'GPU-hours'),
      float('measured_gpu_hours', 'GPU-hours'),
      float('idle_gpu_hours', 'GPU-hours'),
      float('idle_holding_memory_gpu_hours', 'GPU-hours'),
      float('idle_share', 'fraction 0..1'),
      float('energy_kwh', 'kWh'),
    ],
  },
  {
    analysis: 'host_temperature_spikes',
    measurement: 'host_temperature_spikes',
    time: 'the instant that rose (ts)',
    timeOf: (row) => Number(row.ts),
    tags: HOST_TAGS,
    fields: SPIKE_FIELDS,
  },
  {
    analysis: 'host_daily_stats',
    measurement: 'host_daily_stats',
    time: 'the day, 00:00 UTC',
    timeOf: theDay,
    tags: { scope: 'scope', ...HOST_TAGS },
    fields: [
      integer('sample_count', 'host samples'),
      float('cpu_temperature_avg_celsius', '°C'),
      float('cpu_temperature_min_celsius', '°C'),
      float('cpu_temperature_max_celsius', '°C'),
      float('cpu_temperature_stddev_celsius', '°C'),
      float('cpu_temperature_p50_celsius', '°C'),
      float('cpu_temperature_p95_celsius', '°C'),
      float('cpu_temperature_p99_celsius', '°C'),
      integer('alerts_high_cpu_temperature', 'host samples'),
      integer('alerts_cpu_temperature_spike', 'spikes'),
      float('cpu_utilization_avg_percent', '%'),
      float('cpu_utilization_max_percent', '%'),
      float('cpu_utilization_p95_percent', '%'),
      float('memory_used_avg_bytes', 'bytes'),
      integer('memory_used_max_bytes', 'bytes'),
      integer('memory_total_bytes', 'bytes'),
      float('memory_used_avg_share', 'fraction 0..1'),
      float('memory_used_max_share', 'fraction 0..1'),
    ],
  },
  {
    analysis: 'summary',
    measurement: 'gpu_daily_summary',
    time: 'the day, 00:00 UTC',
    timeOf: theDay,
    tags: {},
    fields: [
      integer('gpus', 'GPUs'),
      integer('sample_count', 'samples'),
      float('energy_kwh', 'kWh'),
      float('load_avg_percent', '%'),
      float('temperature_max_celsius', '°C'),
      integer('temperature_spikes', 'spikes'),
      float('wasted_gpu_hours', 'GPU-hours'),
      text('busiest_uuid', 'UUID'),
      text('busiest_host', 'host'),
      integer('busiest_gpu_index', 'index'),
      float('busiest_load_avg_percent', '%'),
      text('hottest_uuid', 'UUID'),
      text('hottest_host', 'host'),
      integer('hottest_gpu_index', 'index'),
      float('hottest_temperature_max_celsius', '°C'),
      integer('hosts', 'hosts'),
      float('cpu_temperature_max_celsius', '°C'),
      integer('cpu_temperature_spikes', 'spikes'),
      integer('alerts_high_cpu_temperature', 'host samples'),
    ],
  },
];

/** Field of gpu_daily_summary not in the Parquet results: the day was analysed without a corrupt file. */
export const PARTIAL_FIELD = 'partial';

/** The points of one analysis's rows of the day `date` (YYYY-MM-DD). */
export function resultPoints(m: ResultMeasurement, rows: readonly JsonRow[], date: string): Point[] {
  const dayStart = Date.parse(`${date}T00:00:00Z`);
  return rows.map((row) => {
    const tags: Point['tags'] = {};
    for (const [tag, column] of Object.entries(m.tags)) {
      const value = row[column];
      tags[tag] = value === null || value === undefined ? null : String(value);
    }
    const fields: Point['fields'] = {};
    for (const f of m.fields) fields[f.column] = fieldValue(f, row[f.column]);
    return { measurement: m.measurement, tags, fields, ts: m.timeOf(row, dayStart) };
  });
}

function fieldValue(field: ResultField, value: JsonRow[string] | undefined): FieldValue | null {
  if (value === null || value === undefined) return null;
  if (field.type === 'string') return { type: 'string', value: String(value) };
  return { type: field.type, value: Number(value) };
}

/** The day's results, by analysis, as the job hands them over. */
export type DayResults = ReadonlyMap<AnalysisName, readonly JsonRow[]>;

/** Reads the rows of local Parquet result files (the job's scratch copies), by analysis. */
export async function readResultFiles(files: ReadonlyMap<AnalysisName, string>): Promise<DayResults> {
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await db.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    const out = new Map<AnalysisName, JsonRow[]>();
    for (const [analysis, file] of files) {
      const reader = await connection.runAndReadAll(
        `SELECT * FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`,
      );
      out.set(analysis, reader.getRowObjectsJS().map(toJsonRow));
    }
    return out;
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

export interface InfluxResultsOptions {
  influxdb: InfluxDbOptions;
  date: string;
  results: DayResults;
  /** The day was analysed without some unreadable files: gpu_daily_summary's `partial` is true. */
  partial: boolean;
  /** Where the Parquet results are, for the message of a failure. */
  resultsUri: string;
  logger?: Logger;
}

/** What was written: points per measurement. */
export type InfluxResultsWritten = Record<string, number>;

/**
 * Replaces the day's points of every result measurement by the points of `results`: deletes those of
 * [date, date + 1 day) (a row that a rerun no longer has goes too), then writes. Throws
 * ANALYTICS_INFLUXDB_WRITE_FAILED naming the URL and database when InfluxDB cannot be reached, refuses the
 * delete, or refuses any point.
 */
export async function writeResultsToInfluxdb(options: InfluxResultsOptions): Promise<InfluxResultsWritten> {
  const { influxdb, date, results } = options;
  const lines: string[] = [];
  const written: InfluxResultsWritten = {};
  for (const m of RESULT_MEASUREMENTS) {
    const points = resultPoints(m, results.get(m.analysis) ?? [], date);
    if (m.analysis === 'summary') {
      for (const p of points) p.fields[PARTIAL_FIELD] = { type: 'boolean', value: options.partial };
    }
    let count = 0;
    for (const point of points) {
      const line = encodePoint(point);
      if (line !== null) {
        lines.push(line);
        count++;
      }
    }
    written[m.measurement] = count;
  }

  const client = new InfluxClient(influxdb, options.logger);
  const fail = (why: string, cause?: unknown) =>
    new GpumonError(
      'ANALYTICS_INFLUXDB_WRITE_FAILED',
      `cannot write the results of ${date} to InfluxDB ${influxdb.url} (database ${influxdb.database}): ${why}; ` +
        `the Parquet results are published at ${options.resultsUri}, run the date again to retry`,
      cause === undefined ? undefined : { cause },
    );
  const refused: GpumonError[] = [];
  try {
    await client.ensureDatabase();
    await client.query(deleteDayStatements(date));
    const result = await client.writeLines(lines, (err) => refused.push(err));
    if (result.rejected > 0) {
      throw fail(`${result.rejected} of ${lines.length} points refused: ${refused[0]?.message}`, refused[0]);
    }
  } catch (err) {
    if (err instanceof GpumonError && err.code === 'ANALYTICS_INFLUXDB_WRITE_FAILED') throw err;
    throw fail(err instanceof Error ? err.message : String(err), err);
  }
  return written;
}

/** InfluxQL deleting the points of [date, date + 1 day) of every result measurement. */
export function deleteDayStatements(date: string): string {
  const start = Date.parse(`${date}T00:00:00Z`);
  const iso = (ms: number) => new Date(ms).toISOString();
  return RESULT_MEASUREMENTS.map(
    (m) =>
      `DELETE FROM ${quoteIdentifier(m.measurement)} WHERE time >= '${iso(start)}' AND time < '${iso(start + DAY_MS)}'`,
  ).join('; ');
}
