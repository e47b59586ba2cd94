/**
 * The real-time dashboard: every metric of gpu_metrics (the catalog's), per GPU and for the fleet, the
 * current values, and the alerts of gpu_alerts as a table, as bars per rule and as annotations. The panels
 * follow the catalog: a metric is placed by its unit and name, and a metric no group takes gets a panel of
 * its own, so a new catalog field shows up without editing this file.
 */
import type { MetricDef } from '../metrics/catalog.ts';
import {
  type Annotation,
  DATASOURCE,
  type Dashboard,
  dashboard,
  type PanelSpec,
  type RowSpec,
  tagVariable,
} from './grafana.ts';
import {
  ALERT_FILTER,
  ALERT_MEASUREMENT,
  BUCKET,
  field,
  GPU_FILTER,
  grafanaUnit,
  metricsWhere,
  PER_GPU,
  q,
  SAMPLE_MEASUREMENT,
} from './influxql.ts';

const M = q(SAMPLE_MEASUREMENT);
const A = q(ALERT_MEASUREMENT);

/** A group of catalog metrics drawn in one panel. */
interface Group {
  title: string;
  description: string;
  takes: (m: MetricDef) => boolean;
  type?: 'timeseries' | 'state-timeline';
  /** The aggregate per bucket: mean for levels, max for counters, last for states. */
  aggregate?: 'mean' | 'max' | 'last';
  /** Per host only (host metrics), not per GPU. */
  perHost?: boolean;
}

const GROUPS: readonly Group[] = [
  {
    title: 'GPU and memory utilization',
    description: 'Percent of time a kernel ran / the memory was read or written, mean per interval.',
    takes: (m) =>
      m.name.startsWith('gpu_') && /utilization/.test(m.name) && !/encoder|decoder|jpeg|ofa/.test(m.name),
  },
  {
    title: 'Tensor core activity',
    description:
      'Percent of cycles the tensor pipes were active, mean per interval (DCGM profiling; dcgm-exporter scrapes carry it).',
    takes: (m) => /tensor/.test(m.name),
  },
  {
    title: 'Memory used of total',
    description: 'Frame buffer memory used, free and total, per GPU.',
    takes: (m) => m.name.startsWith('gpu_memory_') && m.unit === 'bytes',
  },
  {
    title: 'Temperatures',
    description:
      'Every GPU temperature the catalog has (GPU core, memory; hot spot where a source reads it).',
    takes: (m) => m.name.startsWith('gpu_') && m.unit === 'celsius',
  },
  {
    title: 'Power draw against the limit',
    description: 'Power drawn and the enforced power limit, W.',
    takes: (m) => m.name.startsWith('gpu_') && m.unit === 'watts',
  },
  {
    title: 'Clocks',
    description: 'Graphics, SM, memory and video clocks, MHz.',
    takes: (m) => m.unit === 'megahertz',
  },
  {
    title: 'Fan speed',
    description: 'Fan speed, percent of its maximum.',
    takes: (m) => /fan/.test(m.name),
  },
  {
    title: 'PCIe throughput',
    description: 'PCIe bytes sent (tx) and received (rx) per second.',
    takes: (m) => m.unit === 'bytes per second',
  },
  {
    title: 'PCIe link generation and width',
    description:
      'PCIe link generation and lanes, current and the most the GPU and its slot support; the generation drops ' +
      'at idle to save power, a width below its maximum under load is a badly seated card or a bad slot.',
    takes: (m) => m.unit === 'generation' || m.unit === 'lanes',
    aggregate: 'last',
  },
  {
    title: 'Video engines use: encoder, decoder, JPEG, OFA',
    description: 'Percent of time the video encoder / decoder / JPEG decoder / optical flow engine was busy.',
    takes: (m) => m.unit === 'percent' && /encoder|decoder|jpeg|ofa/.test(m.name),
  },
  {
    title: 'Encoder and frame capture sessions',
    description: 'Active NVENC encoder sessions and NvFBC frame buffer capture sessions.',
    takes: (m) => m.unit === 'sessions',
    aggregate: 'max',
  },
  {
    title: 'Encoder and frame capture frame rate',
    description: 'Average frames per second over the active encoder / frame capture sessions.',
    takes: (m) => m.unit === 'frames per second',
  },
  {
    title: 'Encoder and frame capture latency',
    description: 'Average latency over the active encoder / frame capture sessions, µs.',
    takes: (m) => m.unit === 'microseconds',
  },
  {
    title: 'P-state over time',
    description: 'Performance state (P0 fastest .. P15 slowest), the last of each interval.',
    takes: (m) => m.unit === 'pstate',
    type: 'state-timeline',
    aggregate: 'last',
  },
  {
    title: 'Throttle (clock event) reasons over time',
    description:
      'The bitmask of clock event reasons, the last of each interval: 0 none, 1 GPU idle, 4 SW power cap, ' +
      '8 HW slowdown, 32 SW thermal, 64 HW thermal, 128 HW power brake (sums when several hold).',
    takes: (m) => m.unit === 'bitmask',
    type: 'state-timeline',
    aggregate: 'last',
  },
  {
    title: 'ECC errors (volatile counters)',
    description: 'Corrected and uncorrected ECC errors since the driver loaded: a rise is an event.',
    takes: (m) => m.unit === 'errors',
    aggregate: 'max',
  },
  {
    title: 'XID errors: the last XID',
    description: 'The last XID error the driver reported (0: none since it loaded).',
    takes: (m) => m.unit === 'xid',
    type: 'state-timeline',
    aggregate: 'last',
  },
  {
    title: 'Memory repairs: remapped rows and retired pages',
    description:
      'Rows remapped (Ampere and later) and pages retired (before Ampere) over the GPU’s life: a rise of the ' +
      'uncorrectable ones, or rows pending, calls for a reset; many calls for a replacement.',
    takes: (m) => m.unit === 'rows' || m.unit === 'pages',
    aggregate: 'max',
  },
  {
    title: 'Energy counter',
    description: 'Energy consumed since the driver loaded, J (the rise over a range is its energy).',
    takes: (m) => m.unit === 'joules',
    aggregate: 'max',
  },
  {
    title: 'Host CPU temperature',
    description: 'Host CPU temperature (the hottest package), per host.',
    takes: (m) => m.name.startsWith('host_') && m.unit === 'celsius',
    perHost: true,
  },
  {
    title: 'Host CPU utilization',
    description: 'Host CPU utilization over all cores, per host, %.',
    takes: (m) => m.name.startsWith('host_') && m.unit === 'percent',
    perHost: true,
  },
  {
    title: 'Host system memory used of total',
    description: 'Host memory in use and installed, per host.',
    takes: (m) => m.name.startsWith('host_') && m.unit === 'bytes',
    perHost: true,
  },
];

/** One query of a metric per GPU (or host) and interval. */
function seriesQuery(m: MetricDef, aggregate: string, perHost: boolean): string {
  const by = perHost ? `"host"` : PER_GPU;
  return (
    `SELECT ${aggregate}(${q(m.influx)}) AS ${q(m.influx)} FROM ${M} WHERE ${GPU_FILTER} AND $timeFilter ` +
    `GROUP BY ${BUCKET}, ${by} fill(null)`
  );
}

function groupPanel(g: Group, metrics: MetricDef[]): PanelSpec {
  const units = new Set(metrics.map(grafanaUnit));
  const type = g.type ?? 'timeseries';
  return {
    type,
    title: g.title,
    description: g.description,
    queries: metrics.map((m) => ({
      query: seriesQuery(m, g.aggregate ?? 'mean', g.perHost ?? false),
      alias: g.perHost ? `$tag_host ${m.influx}` : `$tag_host/$tag_gpu ${m.influx}`,
    })),
    ...(units.size === 1 ? { unit: [...units][0] as string } : {}),
    ...(type === 'state-timeline'
      ? { options: { showValue: 'auto', mergeValues: true, rowHeight: 0.8 } }
      : {}),
  };
}

/** The groups' panels, and a panel of its own for every metric no group takes. */
export function metricPanels(): { panels: PanelSpec[]; placed: Map<string, string> } {
  const placed = new Map<string, string>();
  const panels: PanelSpec[] = [];
  for (const g of GROUPS) {
    const metrics = metricsWhere((m) => !placed.has(m.name) && g.takes(m));
    if (metrics.length === 0) continue;
    for (const m of metrics) placed.set(m.name, g.title);
    panels.push(groupPanel(g, metrics));
  }
  for (const m of metricsWhere((m) => !placed.has(m.name))) {
    const title = `${m.name} (${m.unit})`;
    placed.set(m.name, title);
    panels.push(
      groupPanel(
        { title, description: m.help, takes: () => true, aggregate: m.kind === 'counter' ? 'max' : 'mean' },
        [m],
      ),
    );
  }
  return { panels, placed };
}

/** The last value of each GPU in the range. */
function lastPerGpu(expr: string, as: string): string {
  return `SELECT ${expr} AS ${q(as)} FROM ${M} WHERE ${GPU_FILTER} AND $timeFilter GROUP BY ${PER_GPU}`;
}

/** Sum over the GPUs of each GPU's `aggregate` per interval. */
function fleetSum(metric: Parameters<typeof field>[0], as: string): string {
  return (
    `SELECT sum(${q(as)}) AS ${q(as)} FROM (SELECT mean(${field(metric)}) AS ${q(as)} FROM ${M} ` +
    `WHERE ${GPU_FILTER} AND $timeFilter GROUP BY ${BUCKET}, ${PER_GPU}) WHERE $timeFilter GROUP BY ${BUCKET} fill(null)`
  );
}

const NOW: readonly PanelSpec[] = [
  {
    type: 'stat',
    title: 'GPUs reporting',
    description: 'GPUs with a sample in the range.',
    w: 4,
    h: 5,
    queries: [
      `SELECT count(${q('u')}) AS ${q('gpus')} FROM (SELECT last(${field('gpu_utilization_percent')}) AS ${q('u')} ` +
        `FROM ${M} WHERE ${GPU_FILTER} AND $timeFilter GROUP BY ${PER_GPU})`,
    ],
    unit: 'none',
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false } },
  },
  {
    type: 'stat',
    title: 'Fleet power draw now',
    description: "The sum of each GPU's last power draw in the range.",
    w: 4,
    h: 5,
    queries: [
      `SELECT sum(${q('p')}) AS ${q('watts')} FROM (SELECT last(${field('gpu_power_draw_watts')}) AS ${q('p')} ` +
        `FROM ${M} WHERE ${GPU_FILTER} AND $timeFilter GROUP BY ${PER_GPU})`,
    ],
    unit: 'watt',
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false } },
  },
  {
    type: 'gauge',
    title: 'Utilization now',
    w: 4,
    h: 5,
    queries: [
      {
        query: lastPerGpu(`last(${field('gpu_utilization_percent')})`, 'utilization'),
        alias: '$tag_host/$tag_gpu',
      },
    ],
    unit: 'percent',
    min: 0,
    max: 100,
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false } },
  },
  {
    type: 'gauge',
    title: 'Memory used of total now',
    w: 4,
    h: 5,
    queries: [
      {
        query: lastPerGpu(
          `last(${field('gpu_memory_used_bytes')}) / last(${field('gpu_memory_total_bytes')}) * 100`,
          'memory',
        ),
        alias: '$tag_host/$tag_gpu',
      },
    ],
    unit: 'percent',
    min: 0,
    max: 100,
    thresholds: [
      { value: null, color: 'green' },
      { value: 90, color: 'red' },
    ],
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false } },
  },
  {
    type: 'gauge',
    title: 'GPU temperature now',
    description: 'The GPU (edge) temperature and, where the source reads it, the hot spot.',
    w: 4,
    h: 5,
    queries: [
      {
        query: lastPerGpu(`last(${field('gpu_temperature_celsius')})`, 'temperature'),
        alias: '$tag_host/$tag_gpu',
      },
      {
        query: lastPerGpu(`last(${field('gpu_hotspot_temperature_celsius')})`, 'hot spot'),
        alias: '$tag_host/$tag_gpu hot spot',
      },
    ],
    unit: 'celsius',
    min: 0,
    max: 100,
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false } },
  },
  {
    type: 'gauge',
    title: 'Power draw of the limit now',
    w: 4,
    h: 5,
    queries: [
      {
        query: lastPerGpu(
          `last(${field('gpu_power_draw_watts')}) / last(${field('gpu_power_limit_watts')}) * 100`,
          'power',
        ),
        alias: '$tag_host/$tag_gpu',
      },
    ],
    unit: 'percent',
    min: 0,
    max: 100,
    options: { reduceOptions: { calcs: ['lastNotNull'], values: false } },
  },
];

const FLEET: readonly PanelSpec[] = [
  {
    type: 'timeseries',
    title: 'Fleet: mean utilization',
    description: 'The mean of every selected GPU’s samples per interval.',
    w: 8,
    queries: [
      `SELECT mean(${field('gpu_utilization_percent')}) AS ${q('utilization')} FROM ${M} WHERE ${GPU_FILTER} ` +
        `AND $timeFilter GROUP BY ${BUCKET} fill(null)`,
    ],
    unit: 'percent',
  },
  {
    type: 'timeseries',
    title: 'Fleet: power draw and limit',
    description: 'The sum over the selected GPUs of each GPU’s mean power draw and limit per interval.',
    w: 8,
    queries: [fleetSum('gpu_power_draw_watts', 'draw'), fleetSum('gpu_power_limit_watts', 'limit')],
    unit: 'watt',
  },
  {
    type: 'timeseries',
    title: 'Fleet: memory used of total',
    description: 'The sum over the selected GPUs of each GPU’s mean memory used and total per interval.',
    w: 8,
    queries: [fleetSum('gpu_memory_used_bytes', 'used'), fleetSum('gpu_memory_total_bytes', 'total')],
    unit: 'bytes',
  },
];

/** ECC errors new in the range (the rise of each volatile counter) and the last XID, per GPU. */
function eccAndXid(): PanelSpec {
  const counters = metricsWhere((m) => m.unit === 'errors');
  const xids = metricsWhere((m) => m.unit === 'xid');
  const select = [
    ...counters.map((m) => `spread(${q(m.influx)}) AS ${q(`${m.influx} new`)}`),
    ...xids.map((m) => `last(${q(m.influx)}) AS ${q(m.influx)}`),
  ].join(', ');
  return {
    type: 'table',
    title: 'ECC and XID events per GPU in the range',
    description:
      'ECC errors counted in the range (the rise of each volatile counter; a driver reload resets them) and ' +
      'the last XID error (0: none).',
    w: 24,
    h: 7,
    queries: [`SELECT ${select} FROM ${M} WHERE ${GPU_FILTER} AND $timeFilter GROUP BY ${PER_GPU}`],
  };
}

const ALERTS: readonly PanelSpec[] = [
  {
    type: 'table',
    title: 'Alerts',
    description:
      'Alert episodes that gpumon consume wrote to gpu_alerts: one row when a rule starts to fire on a GPU, ' +
      'then one every alerts.repeatSeconds while it fires. Value and threshold in the rule’s unit.',
    w: 14,
    h: 9,
    queries: [
      `SELECT "rule", "host", "gpu", "uuid", "value", "threshold" FROM ${A} WHERE ${ALERT_FILTER} AND $timeFilter ` +
        'ORDER BY time DESC LIMIT 1000',
    ],
  },
  {
    type: 'timeseries',
    title: 'Alerts per rule',
    description: 'Alerts written per rule in each interval (not over the whole range).',
    w: 10,
    h: 9,
    queries: [
      {
        query: `SELECT count("value") AS "alerts" FROM ${A} WHERE ${ALERT_FILTER} AND $timeFilter GROUP BY ${BUCKET}, "rule" fill(0)`,
        alias: '$tag_rule',
      },
    ],
    unit: 'short',
    custom: { drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal', group: 'A' } },
  },
];

/** The alerts as annotations on every time series: the rule, and the host and GPU as its tags. */
export const ALERT_ANNOTATION: Annotation = {
  name: 'gpumon alerts',
  datasource: DATASOURCE,
  enable: true,
  iconColor: 'red',
  query: `SELECT "rule", "host", "gpu", "value", "threshold" FROM ${A} WHERE ${ALERT_FILTER} AND $timeFilter`,
  titleColumn: 'rule',
  textColumn: 'rule',
  tagsColumn: 'host,gpu,rule',
};

/** host, GPU and model of one measurement, each filtered by the ones before it. */
export function gpuVariables(measurement: string) {
  const from = q(measurement);
  return [
    tagVariable('host', 'Host', `SHOW TAG VALUES FROM ${from} WITH KEY = "host"`),
    tagVariable('gpu', 'GPU', `SHOW TAG VALUES FROM ${from} WITH KEY = "gpu" WHERE "host" =~ /^$host$/`),
    tagVariable(
      'model',
      'Model',
      `SHOW TAG VALUES FROM ${from} WITH KEY = "model" WHERE "host" =~ /^$host$/ AND "gpu" =~ /^$gpu$/`,
    ),
  ];
}

export function realtimeRows(): RowSpec[] {
  return [
    { row: 'Now: the last sample of each GPU in the range', panels: NOW },
    { row: 'Per GPU (gpu_metrics, every sample)', panels: [...metricPanels().panels, eccAndXid()] },
    { row: 'Fleet: the selected GPUs together', panels: FLEET },
    { row: 'Alerts (gpu_alerts)', panels: ALERTS },
  ];
}

export function realtimeDashboard(): Dashboard {
  return dashboard({
    uid: 'gpumon-fleet',
    title: 'gpumon: real-time',
    description:
      'Live samples of every GPU (gpu_metrics, written by gpumon consume) and its alerts (gpu_alerts). ' +
      'Generated by src/dashboards (npm run dashboards): edit the generator, not this JSON.',
    tags: ['gpumon', 'gpu', 'real-time'],
    time: { from: 'now-1h', to: 'now' },
    refresh: '10s',
    variables: gpuVariables(SAMPLE_MEASUREMENT),
    annotations: [ALERT_ANNOTATION],
    rows: realtimeRows(),
  });
}
