/**
 * InfluxQL pieces of the dashboards' queries, and the Grafana unit of each catalog unit. Field names come
 * from the metric catalog (gpu_metrics) and from RESULT_MEASUREMENTS (the analytics measurements): a name
 * that is not there throws, so a renamed field fails the generator instead of leaving an empty panel.
 */
import { RESULT_MEASUREMENTS } from '../analytics/influx-results.ts';
import { METRICS, type MetricDef, type MetricName, metricDef } from '../metrics/catalog.ts';
import { SAMPLE_MEASUREMENT } from '../metrics/line-protocol.ts';
import { ALERT_MEASUREMENT } from '../sinks/influxdb/alert-sink.ts';

export { ALERT_MEASUREMENT, SAMPLE_MEASUREMENT };

/**
 * Grafana's unit for each unit of the catalog. A catalog unit missing here is drawn without a unit ('none'):
 * the metric still gets its panel, and the generator's test names the unit to add.
 */
const GRAFANA_UNITS: Readonly<Record<string, string>> = {
  percent: 'percent',
  bytes: 'bytes',
  celsius: 'celsius',
  watts: 'watt',
  joules: 'joule',
  megahertz: 'suffix: MHz',
  pstate: 'none',
  bitmask: 'none',
  'bytes per second': 'Bps',
  errors: 'short',
  xid: 'none',
  sessions: 'short',
  'frames per second': 'suffix: fps',
  microseconds: 'µs',
  generation: 'none',
  lanes: 'none',
  rows: 'short',
  pages: 'short',
};

export function grafanaUnit(def: MetricDef): string {
  return GRAFANA_UNITS[def.unit] ?? 'none';
}

/** The catalog's units that have a Grafana unit. */
export const KNOWN_UNITS: readonly string[] = Object.keys(GRAFANA_UNITS);

/** `"name"`: an InfluxQL identifier. */
export const q = (name: string) => `"${name.replaceAll('"', '\\"')}"`;

/** The InfluxDB field of a catalog metric, quoted. */
export function field(name: MetricName): string {
  return q(metricDef(name).influx);
}

/** The catalog metrics for which `test` holds, in catalog order. */
export function metricsWhere(test: (m: MetricDef) => boolean): MetricDef[] {
  return (METRICS as readonly MetricDef[]).filter(test);
}

/** A field of an analytics measurement, quoted; throws when RESULT_MEASUREMENTS has no such column. */
export function resultField(measurement: string, column: string): string {
  const m = RESULT_MEASUREMENTS.find((r) => r.measurement === measurement);
  if (!m) throw new Error(`no analytics measurement ${measurement}`);
  if (!m.fields.some((f) => f.column === column)) throw new Error(`${measurement} has no field ${column}`);
  return q(column);
}

/** The columns of an analytics measurement whose name matches `pattern`. */
export function resultFields(measurement: string, pattern: RegExp): string[] {
  const m = RESULT_MEASUREMENTS.find((r) => r.measurement === measurement);
  if (!m) throw new Error(`no analytics measurement ${measurement}`);
  return m.fields.filter((f) => pattern.test(f.column)).map((f) => f.column);
}

/** The template variables' filter on a measurement tagged host, gpu and model. */
export const GPU_FILTER = `"host" =~ /^$host$/ AND "gpu" =~ /^$gpu$/ AND "model" =~ /^$model$/`;
/** gpu_alerts is tagged host, gpu and model like the samples: the same filter. */
export const ALERT_FILTER = GPU_FILTER;
export const PER_GPU = `"host", "gpu"`;
export const BUCKET = 'time($__interval)';
