/**
 * The long-term analytics dashboard: the daily results that `gpumon analyze` writes to InfluxDB
 * (analytics.writeInfluxdb; docs/influxdb.md), over any range of days (the dashboard's time range). Field
 * names are checked against RESULT_MEASUREMENTS when generating.
 */
import { type Dashboard, dashboard, type PanelSpec, type RowSpec } from './grafana.ts';
import { GPU_FILTER, PER_GPU, q, resultField, resultFields } from './influxql.ts';
import { ALERT_ANNOTATION, gpuVariables } from './realtime.ts';

const STATS = 'gpu_daily_stats';
const HOURLY = 'gpu_hourly_patterns';
const SPIKES = 'gpu_temperature_spikes';
const CORR = 'gpu_correlations';
const IDLE = 'gpu_idle_time';
const SUMMARY = 'gpu_daily_summary';
const HOSTS = 'host_daily_stats';
const HOST_SPIKES = 'host_temperature_spikes';
const PODS = 'gpu_pod_usage';

const gpuScope = `"scope" = 'gpu' AND ${GPU_FILTER} AND $timeFilter`;
const f = resultField;

/** Each GPU's daily value of some columns, one series per GPU and column. */
function daily(measurement: string, columns: readonly [string, string][]): string {
  const select = columns.map(([c, as]) => `${f(measurement, c)} AS ${q(as)}`).join(', ');
  return `SELECT ${select} FROM ${q(measurement)} WHERE ${gpuScope} GROUP BY ${PER_GPU}`;
}

function dailyPanel(title: string, unit: string, columns: readonly [string, string][]): PanelSpec {
  return {
    type: 'timeseries',
    title,
    description: 'One point a day per GPU (the day’s 00:00 UTC).',
    w: 12,
    queries: [{ query: daily(STATS, columns), alias: '$tag_host/$tag_gpu $col' }],
    unit,
    custom: { drawStyle: 'line', showPoints: 'always', pointSize: 6 },
  };
}

const DAILY: readonly PanelSpec[] = [
  dailyPanel('Daily utilization per GPU: average, p95 and peak', 'percent', [
    ['load_avg_percent', 'avg'],
    ['load_p95_percent', 'p95'],
    ['load_max_percent', 'peak'],
  ]),
  dailyPanel('Daily temperature per GPU: average and peak', 'celsius', [
    ['temperature_avg_celsius', 'avg'],
    ['temperature_max_celsius', 'peak'],
  ]),
  dailyPanel('Daily power per GPU: average and peak', 'watt', [
    ['power_avg_watts', 'avg'],
    ['power_max_watts', 'peak'],
  ]),
  dailyPanel('Daily memory used per GPU: average and peak', 'bytes', [
    ['memory_used_avg_bytes', 'avg'],
    ['memory_used_max_bytes', 'peak'],
  ]),
];

/** A histogram of the hourly averages of one column over the range. */
function histogram(title: string, column: string, unit: string): PanelSpec {
  return {
    type: 'histogram',
    title,
    description: 'How the hourly averages of each GPU over the range spread (gpu_hourly_patterns).',
    w: 8,
    queries: [`SELECT ${f(HOURLY, column)} FROM ${q(HOURLY)} WHERE ${gpuScope}`],
    unit,
    options: { bucketCount: 20, combine: true },
  };
}

const DISTRIBUTIONS: readonly PanelSpec[] = [
  histogram('Distribution of utilization (hourly averages)', 'load_avg_percent', 'percent'),
  histogram('Distribution of temperature (hourly averages)', 'temperature_avg_celsius', 'celsius'),
  histogram('Distribution of power (hourly averages)', 'power_avg_watts', 'watt'),
  {
    type: 'table',
    title: 'Percentiles and extremes per GPU and day',
    description:
      'What gpu_daily_stats holds: utilization, temperature and power average, p50, p95, p99 and peak ' +
      '(continuous percentiles over the day’s samples); temperature and power minimum.',
    w: 24,
    h: 9,
    queries: [
      `SELECT "host", "gpu", "model", ${[
        'load_avg_percent',
        'load_p50_percent',
        'load_p95_percent',
        'load_p99_percent',
        'load_max_percent',
        'temperature_min_celsius',
        'temperature_avg_celsius',
        'temperature_p50_celsius',
        'temperature_p95_celsius',
        'temperature_p99_celsius',
        'temperature_max_celsius',
        'power_min_watts',
        'power_avg_watts',
        'power_p50_watts',
        'power_p95_watts',
        'power_p99_watts',
        'power_max_watts',
        'sample_count',
      ]
        .map((c) => f(STATS, c))
        .join(', ')} FROM ${q(STATS)} WHERE ${gpuScope}`,
    ],
  },
];

/** One query per hour of day: the mean over the selected GPUs of that hour's average, per day. */
const HEATMAP: PanelSpec = {
  type: 'heatmap',
  title: 'Utilization by hour of day (rows) and day (columns)',
  description:
    'The mean of the selected GPUs’ hourly average utilization (gpu_hourly_patterns), one cell per hour (UTC) ' +
    'and day.',
  w: 24,
  h: 10,
  queries: Array.from({ length: 24 }, (_, hour) => ({
    query:
      `SELECT mean(${f(HOURLY, 'load_avg_percent')}) AS ${q(String(hour).padStart(2, '0'))} FROM ${q(HOURLY)} ` +
      `WHERE ${f(HOURLY, 'hour_utc')} = ${hour} AND ${gpuScope} GROUP BY time(1d) fill(none)`,
    alias: String(hour).padStart(2, '0'),
  })),
  unit: 'percent',
  transformations: [{ id: 'joinByField', options: { byField: 'Time', mode: 'outer' } }],
  options: {
    calculate: false,
    yAxis: { axisLabel: 'hour of day (UTC)' },
    rowsFrame: { layout: 'auto' },
    color: { mode: 'scheme', scheme: 'Oranges', steps: 64 },
    cellGap: 1,
  },
};

const idleShares = (by: string) =>
  `SELECT (sum(${f(IDLE, 'measured_seconds')}) - sum(${f(IDLE, 'idle_seconds')})) / sum("measured_seconds") * 100 ` +
  `AS "under load", (sum("idle_seconds") - sum(${f(IDLE, 'idle_holding_memory_seconds')})) / ` +
  `sum("measured_seconds") * 100 AS "idle", sum("idle_holding_memory_seconds") / sum("measured_seconds") * 100 ` +
  `AS "idle holding memory" FROM ${q(IDLE)} WHERE ${gpuScope}${by}`;

const USE: readonly PanelSpec[] = [
  {
    type: 'bargauge',
    title: 'Shares of time per GPU: under load, idle, idle holding memory',
    description:
      'Percent of the measured time of the range (gpu_idle_time; analytics.idleLoadPercent and ' +
      'analytics.idleMemoryBytes decide idle and holding memory).',
    w: 12,
    h: 9,
    queries: [{ query: idleShares(` GROUP BY ${PER_GPU}`), alias: '$tag_host/$tag_gpu $col' }],
    unit: 'percent',
    min: 0,
    max: 100,
    options: {
      displayMode: 'basic',
      orientation: 'horizontal',
      reduceOptions: { calcs: ['lastNotNull'], values: false },
    },
  },
  {
    type: 'piechart',
    title: 'Shares of time, the selected GPUs together',
    w: 6,
    h: 9,
    queries: [idleShares('')],
    unit: 'percent',
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false }, pieType: 'donut' },
  },
  {
    type: 'stat',
    title: 'Wasted GPU-hours in the range',
    description: 'Hours the selected GPUs were idle while holding memory.',
    w: 6,
    h: 9,
    queries: [`SELECT sum(${f(IDLE, 'wasted_gpu_hours')}) AS "GPU-hours" FROM ${q(IDLE)} WHERE ${gpuScope}`],
    unit: 'none',
    decimals: 2,
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false } },
  },
  {
    type: 'timeseries',
    title: 'Wasted GPU-hours per day',
    w: 12,
    queries: [
      `SELECT sum(${f(IDLE, 'wasted_gpu_hours')}) AS "GPU-hours" FROM ${q(IDLE)} WHERE ${gpuScope} GROUP BY time(1d) fill(0)`,
    ],
    unit: 'none',
    custom: { drawStyle: 'bars', fillOpacity: 80 },
  },
  {
    type: 'timeseries',
    title: 'Energy per day (kWh)',
    description: 'The selected GPUs’ energy per day, from their power samples (gpu_daily_stats).',
    w: 12,
    queries: [
      `SELECT sum(${f(STATS, 'energy_kwh')}) AS "kWh" FROM ${q(STATS)} WHERE ${gpuScope} GROUP BY time(1d) fill(0)`,
    ],
    unit: 'kwatth',
    custom: { drawStyle: 'bars', fillOpacity: 80 },
  },
];

const SPIKE_ROWS: readonly PanelSpec[] = [
  {
    type: 'timeseries',
    title: 'Temperature spikes per day',
    description: 'Rises of more than alerts.tempSpikeCelsius between consecutive samples of a GPU.',
    w: 12,
    queries: [
      {
        query: `SELECT count(${f(SPIKES, 'rise_celsius')}) AS "spikes" FROM ${q(SPIKES)} WHERE ${GPU_FILTER} AND $timeFilter GROUP BY time(1d), ${PER_GPU} fill(0)`,
        alias: '$tag_host/$tag_gpu',
      },
    ],
    unit: 'short',
    custom: { drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal', group: 'A' } },
  },
  {
    type: 'table',
    title: 'Top temperature spikes',
    description: 'The 20 largest rises in the range.',
    w: 12,
    queries: [
      `SELECT top(${f(SPIKES, 'rise_celsius')}, 20) AS "rise_celsius", ${f(SPIKES, 'from_celsius')}, ${f(SPIKES, 'to_celsius')}, ` +
        `${f(SPIKES, 'interval_seconds')}, "host", "gpu", "model" FROM ${q(SPIKES)} WHERE ${GPU_FILTER} AND $timeFilter`,
    ],
  },
];

const CORRELATIONS: readonly PanelSpec[] = [
  {
    type: 'table',
    title: 'Correlation matrix per GPU (mean over the range)',
    description:
      "Pearson's r of each pair of temperature, load, power, memory and SM clock, and of the GPU temperature " +
      "with its host's CPU temperature, over each day's samples, averaged over the days of the range " +
      '(gpu_correlations).',
    w: 24,
    h: 9,
    queries: [
      `SELECT ${resultFields(CORR, /^corr_/)
        .map((c) => `mean(${f(CORR, c)}) AS ${q(c.replace(/^corr_/, ''))}`)
        .join(', ')} FROM ${q(CORR)} WHERE ${gpuScope} GROUP BY ${PER_GPU}`,
    ],
    decimals: 2,
    min: -1,
    max: 1,
  },
];

/** Throttle time (gpu_daily_stats): seconds by kind per GPU and day, and the share throttled over the range. */
const THROTTLE: readonly PanelSpec[] = [
  {
    ...dailyPanel('Throttle time per GPU and day, by kind', 's', [
      ['throttled_seconds', 'any'],
      ['throttled_power_seconds', 'power'],
      ['throttled_thermal_seconds', 'thermal'],
      ['throttled_hw_slowdown_seconds', 'HW slowdown'],
      ['throttled_sync_boost_seconds', 'sync boost'],
    ]),
    description:
      'Seconds of the day whose opening sample reports throttle (clock event) reasons: any of 0xFC, power ' +
      '(0x4, 0x80), thermal (0x20, 0x40), HW slowdown (0x8), sync boost (0x10). One point a day per GPU.',
  },
  {
    type: 'bargauge',
    title: 'Share of the measured time throttled per GPU in the range',
    description:
      'sum(throttled_seconds) / sum(throttle_measured_seconds) over the range, in percent (gpu_daily_stats).',
    w: 12,
    queries: [
      {
        query:
          `SELECT sum(${f(STATS, 'throttled_seconds')}) / sum(${f(STATS, 'throttle_measured_seconds')}) * 100 ` +
          `AS "throttled" FROM ${q(STATS)} WHERE ${gpuScope} GROUP BY ${PER_GPU}`,
        alias: '$tag_host/$tag_gpu',
      },
    ],
    unit: 'percent',
    min: 0,
    max: 100,
    options: {
      displayMode: 'basic',
      orientation: 'horizontal',
      reduceOptions: { calcs: ['lastNotNull'], values: false },
    },
  },
];

const hostScope = `"scope" = 'host' AND "host" =~ /^$host$/ AND $timeFilter`;

/** Each host's daily value of some columns of host_daily_stats, one series per host and column. */
function hostDailyPanel(title: string, unit: string, columns: readonly [string, string][]): PanelSpec {
  const select = columns.map(([c, as]) => `${f(HOSTS, c)} AS ${q(as)}`).join(', ');
  return {
    type: 'timeseries',
    title,
    description:
      'One point a day per host (the day’s 00:00 UTC); each host reading counted once, not per GPU.',
    w: 12,
    queries: [
      {
        query: `SELECT ${select} FROM ${q(HOSTS)} WHERE ${hostScope} GROUP BY "host"`,
        alias: '$tag_host $col',
      },
    ],
    unit,
    custom: { drawStyle: 'line', showPoints: 'always', pointSize: 6 },
  };
}

/** The hosts' CPU temperature and system memory (host_daily_stats, host_temperature_spikes). */
const HOST_PANELS: readonly PanelSpec[] = [
  hostDailyPanel('Daily CPU temperature per host: average, p95 and peak', 'celsius', [
    ['cpu_temperature_avg_celsius', 'avg'],
    ['cpu_temperature_p95_celsius', 'p95'],
    ['cpu_temperature_max_celsius', 'peak'],
  ]),
  hostDailyPanel('Daily system memory used per host: average and peak share of installed', 'percentunit', [
    ['memory_used_avg_share', 'avg'],
    ['memory_used_max_share', 'peak'],
  ]),
  {
    type: 'timeseries',
    title: 'High-CPU-temperature samples and CPU temperature spikes per host and day',
    description:
      'Host samples at or above alerts.highCpuTempCelsius, and rises of more than alerts.tempSpikeCelsius ' +
      'between consecutive samples of a host (host_daily_stats).',
    w: 12,
    queries: [
      {
        query:
          `SELECT ${f(HOSTS, 'alerts_high_cpu_temperature')} AS "high", ` +
          `${f(HOSTS, 'alerts_cpu_temperature_spike')} AS "spikes" FROM ${q(HOSTS)} WHERE ${hostScope} GROUP BY "host"`,
        alias: '$tag_host $col',
      },
    ],
    unit: 'short',
    custom: { drawStyle: 'bars', fillOpacity: 80 },
  },
  {
    type: 'table',
    title: 'Top CPU temperature spikes',
    description: 'The 20 largest rises of a host’s CPU temperature in the range.',
    w: 12,
    queries: [
      `SELECT top(${f(HOST_SPIKES, 'rise_celsius')}, 20) AS "rise_celsius", ${f(HOST_SPIKES, 'from_celsius')}, ` +
        `${f(HOST_SPIKES, 'to_celsius')}, ${f(HOST_SPIKES, 'interval_seconds')}, "host" FROM ${q(HOST_SPIKES)} ` +
        'WHERE "host" =~ /^$host$/ AND $timeFilter',
    ],
  },
];

/** Which namespaces (teams) held the GPUs and left them idle (gpu_pod_usage; not filtered by host or GPU). */
const POD_PANELS: readonly PanelSpec[] = [
  {
    type: 'timeseries',
    title: 'GPU-hours held and idle per Kubernetes namespace per day',
    description:
      'gpu_pod_usage: the GPU time each namespace’s pods held, and of it the time idle (below ' +
      'analytics.idleLoadPercent); the series without a namespace is the time no pod held the GPUs. Not ' +
      'filtered by host, GPU or model.',
    w: 24,
    queries: [
      {
        query:
          `SELECT sum(${f(PODS, 'held_gpu_hours')}) AS "held", sum(${f(PODS, 'idle_gpu_hours')}) AS "idle" ` +
          `FROM ${q(PODS)} WHERE "scope" = 'namespace' AND $timeFilter GROUP BY time(1d), "namespace" fill(none)`,
        alias: '$tag_namespace $col',
      },
    ],
    unit: 'none',
    custom: { drawStyle: 'bars', fillOpacity: 80 },
  },
];

const FLEET_SUMMARY: readonly PanelSpec[] = [
  {
    type: 'table',
    title: 'Fleet summary per day',
    description: 'gpu_daily_summary: one row a day for the whole fleet (not filtered by host, GPU or model).',
    w: 24,
    h: 8,
    queries: [
      `SELECT ${[
        'gpus',
        'sample_count',
        'energy_kwh',
        'load_avg_percent',
        'temperature_max_celsius',
        'temperature_spikes',
        'wasted_gpu_hours',
        'busiest_host',
        'busiest_gpu_index',
        'hottest_host',
        'hottest_gpu_index',
      ]
        .map((c) => f(SUMMARY, c))
        .join(', ')} FROM ${q(SUMMARY)} WHERE $timeFilter`,
    ],
  },
];

export function analyticsRows(): RowSpec[] {
  return [
    { row: 'Daily averages and peaks per GPU (gpu_daily_stats)', panels: DAILY },
    { row: 'Distributions and percentiles', panels: DISTRIBUTIONS },
    { row: 'Hour of day x day (gpu_hourly_patterns)', panels: [HEATMAP] },
    { row: 'Idle, load and waste (gpu_idle_time), energy', panels: USE },
    { row: 'Temperature spikes (gpu_temperature_spikes)', panels: SPIKE_ROWS },
    { row: 'Correlations (gpu_correlations)', panels: CORRELATIONS },
    { row: 'Throttle time (gpu_daily_stats)', panels: THROTTLE },
    { row: 'Hosts: CPU temperature and system memory (host_daily_stats)', panels: HOST_PANELS },
    { row: 'Kubernetes: GPUs held by namespace (gpu_pod_usage)', panels: POD_PANELS },
    { row: 'Fleet (gpu_daily_summary)', panels: FLEET_SUMMARY },
  ];
}

export function analyticsDashboard(): Dashboard {
  return dashboard({
    uid: 'gpumon-analytics',
    title: 'gpumon: long-term analytics',
    description:
      'The daily results of gpumon analyze (analytics.writeInfluxdb), any range of days. Generated by ' +
      'src/dashboards (npm run dashboards): edit the generator, not this JSON.',
    tags: ['gpumon', 'gpu', 'analytics'],
    time: { from: 'now-30d', to: 'now' },
    refresh: '1h',
    variables: gpuVariables(STATS),
    annotations: [ALERT_ANNOTATION],
    rows: analyticsRows(),
  });
}
