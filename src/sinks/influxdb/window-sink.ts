import { metricDef } from '../../metrics/catalog.ts';
import { fieldType, type Point, sampleTags } from '../../metrics/line-protocol.ts';
import { type GpuWindow, WINDOW_METRICS } from '../../pipeline/windows.ts';

/** The measurement of windows of `windowSeconds`: `gpu_metrics_30s` for the default 30 s. */
export function windowMeasurement(windowSeconds: number): string {
  return `gpu_metrics_${windowSeconds}s`;
}

/**
 * One closed window as a point: the tags of `gpu_metrics`, timestamp = the window's start (as InfluxQL's
 * GROUP BY time labels its buckets), fields `<influx>_avg` (float), `<influx>_min` and `<influx>_max` (the
 * metric's own type: memory in integer bytes), and `samples` (integer). A metric null in every sample of the
 * window has no fields.
 */
export function windowPoint(window: GpuWindow): Point {
  const fields: Point['fields'] = { samples: { type: 'integer', value: window.samples } };
  for (const metric of WINDOW_METRICS) {
    const stat = window.stats[metric];
    if (!stat) continue;
    const def = metricDef(metric);
    fields[`${def.influx}_avg`] = { type: 'float', value: stat.avg };
    fields[`${def.influx}_min`] = { type: fieldType(def.type), value: stat.min };
    fields[`${def.influx}_max`] = { type: fieldType(def.type), value: stat.max };
  }
  return {
    measurement: windowMeasurement(window.sizeMs / 1000),
    tags: sampleTags(window),
    fields,
    ts: window.start,
  };
}
