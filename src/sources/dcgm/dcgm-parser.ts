import { dcgmFields, METRICS, type MetricDef, type MetricName, metricDef } from '../../metrics/catalog.ts';
import { legacyMigUuid, migId, migModel } from '../../metrics/mig.ts';
import { type GpuSample, nullIdentity, nullMetrics, parseSample } from '../../metrics/sample.ts';
import { cudaVersionText } from '../cuda-version.ts';
import type { GpuDevice } from '../source.ts';
import { type PromSample, readPrometheusText } from './prometheus-text.ts';

/**
 * Parser of a dcgm-exporter scrape (Prometheus text) onto the metric catalog, through the catalog's `dcgm`
 * column. One sample per GPU (per host, `gpu` index, `UUID` and MIG instance); identity from the labels. A
 * DCGM field the catalog does not name is kept in `unmapped`, never silently dropped. Never throws: every line
 * or value it cannot use is counted in `errors`. See README.md for the field table and units.
 */

export const DCGM_ISSUES = [
  'malformed-line',
  'no-gpu-labels',
  'bad-gpu-label',
  'duplicate-series',
  'not-a-number',
  'out-of-range',
  'invalid-sample',
] as const;
export type DcgmIssueReason = (typeof DCGM_ISSUES)[number];

export interface DcgmIssue {
  reason: DcgmIssueReason;
  /** 1-based line in the scrape, where one line is at fault. */
  line?: number;
  detail: string;
}

/** A series whose DCGM field has no catalog metric (e.g. `DCGM_FI_DEV_PCIE_REPLAY_COUNTER`). */
export interface DcgmUnmapped {
  field: string;
  /** The sample's UUID it belongs to, or null when the line names no GPU. */
  uuid: string | null;
  value: number;
  line: number;
}

export interface DcgmParseOptions {
  /** Epoch ms every sample is stamped with. */
  now: number;
  /** Host name for series without a `Hostname` label (dcgm-exporter `--no-hostname`). */
  host: string;
}

/**
 * The Kubernetes workload dcgm-exporter names on a GPU's series (its `namespace`, `pod` and `container` labels,
 * set where it runs with the kubelet's pod-resources socket). Kept beside the samples: `GpuSample` has no place
 * for them yet.
 */
export interface DcgmWorkload {
  uuid: string;
  namespace: string | null;
  pod: string;
  container: string | null;
}

export interface DcgmParseResult {
  samples: GpuSample[];
  /** The GPUs (and MIG instances), same order as `samples`. */
  devices: GpuDevice[];
  /** The pod holding each GPU whose series carry a `pod` label. */
  workloads: DcgmWorkload[];
  errors: DcgmIssue[];
  unmapped: DcgmUnmapped[];
}

/**
 * DCGM field -> catalog metric and the factor to its unit, from the catalog's `dcgm` column: the primary
 * field of each metric, then the fields of other DCGM versions for the same quantity (`also`), used only when
 * the primary field is absent.
 */
const FIELDS = dcgmFields();
const SCALE: ReadonlyMap<string, number> = new Map(FIELDS.map(({ field }) => [field.field, field.scale]));

/** Every DCGM field the parser maps, with its metric, primary fields first. */
export const DCGM_FIELDS: ReadonlyMap<string, MetricName> = new Map(
  FIELDS.map(({ metric, field }) => [field.field, metric.name as MetricName]),
);

interface GpuSeries {
  labels: Record<string, string>;
  uuid: string;
  index: number;
  fields: Map<string, PromSample>;
}

/** Parses one scrape. Never throws. */
export function parseDcgmMetrics(text: string, options: DcgmParseOptions): DcgmParseResult {
  const result: DcgmParseResult = { samples: [], devices: [], workloads: [], errors: [], unmapped: [] };
  const gpus = new Map<string, GpuSeries>();

  for (const entry of readPrometheusText(text)) {
    if (!entry.ok) {
      result.errors.push({ reason: 'malformed-line', line: entry.line, detail: entry.detail });
      continue;
    }
    const s = entry.sample;
    const mapped = DCGM_FIELDS.has(s.name);
    const { gpu: gpuLabel, UUID: uuidLabel } = s.labels;
    if (gpuLabel === undefined || !uuidLabel) {
      if (mapped)
        result.errors.push({
          reason: 'no-gpu-labels',
          line: s.line,
          detail: `${s.name} has no gpu/UUID label`,
        });
      else result.unmapped.push({ field: s.name, uuid: null, value: s.value, line: s.line });
      continue;
    }
    if (!/^\d{1,5}$/.test(gpuLabel) || Number(gpuLabel) > 65535) {
      result.errors.push({
        reason: 'bad-gpu-label',
        line: s.line,
        detail: `gpu="${gpuLabel}" is not a GPU index`,
      });
      continue;
    }
    // A MIG instance (GPU_I_ID): dcgm-exporter names no MIG UUID and no compute instance, only the GPU
    // instance of the GPU (UUID): MIG-<GPU uuid>/<GI> (docs/metrics.md, "MIG instances").
    const instance = s.labels.GPU_I_ID;
    if (instance && migId(instance) === null) {
      result.errors.push({
        reason: 'bad-gpu-label',
        line: s.line,
        detail: `GPU_I_ID="${instance}" is not a GPU instance id`,
      });
      continue;
    }
    const uuid = instance ? legacyMigUuid(uuidLabel, migId(instance), null) : uuidLabel;
    const key = JSON.stringify([s.labels.Hostname ?? '', gpuLabel, uuid]);
    let gpu = gpus.get(key);
    if (!gpu) {
      gpu = { labels: { ...s.labels }, uuid, index: Number(gpuLabel), fields: new Map() };
      gpus.set(key, gpu);
    } else {
      for (const [k, v] of Object.entries(s.labels)) if (!(k in gpu.labels)) gpu.labels[k] = v;
    }
    if (!mapped) {
      result.unmapped.push({ field: s.name, uuid, value: s.value, line: s.line });
      continue;
    }
    const first = gpu.fields.get(s.name);
    if (first) {
      result.errors.push({
        reason: 'duplicate-series',
        line: s.line,
        detail: `${s.name} of ${uuid} already on line ${first.line}; the first is kept`,
      });
      continue;
    }
    gpu.fields.set(s.name, s);
  }

  for (const gpu of gpus.values()) {
    const device = deviceOf(gpu);
    const workload = workloadOf(gpu);
    const sample = {
      ...nullIdentity(),
      namespace: workload?.namespace ?? null,
      pod: workload?.pod ?? null,
      container: workload?.container ?? null,
      ts: options.now,
      host: gpu.labels.Hostname || options.host,
      gpu_index: gpu.index,
      uuid: gpu.uuid,
      model: device.model,
      pci_bus_id: device.pciBusId,
      driver_version: device.driverVersion,
      vbios_version: device.vbiosVersion,
      cuda_version: cudaVersionText(gpu.labels.DCGM_FI_CUDA_DRIVER_VERSION),
      parent_uuid: device.parentUuid,
      mig_gpu_instance_id: device.parentUuid === null ? null : migId(gpu.labels.GPU_I_ID),
      ...metricsOf(gpu, result.errors),
    };
    try {
      result.samples.push(parseSample(sample, `dcgm ${gpu.uuid}`));
      result.devices.push(device);
      if (workload) result.workloads.push(workload);
    } catch (err) {
      result.errors.push({ reason: 'invalid-sample', detail: (err as Error).message });
    }
  }
  result.errors.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return result;
}

function metricsOf(gpu: GpuSeries, errors: DcgmIssue[]) {
  const values = nullMetrics();
  for (const def of METRICS as readonly MetricDef[]) {
    if (def.dcgm === null) continue;
    for (const field of [def.dcgm.field, ...(def.dcgm.also ?? []).map((f) => f.field)]) {
      const s = gpu.fields.get(field);
      if (!s) continue;
      const value = convert(def.name as MetricName, s, errors);
      if (value !== null) {
        values[def.name as MetricName] = value;
        break;
      }
    }
  }
  return values;
}

/** The value in the catalog's unit, or null (counted) when it is not a finite number in range. */
function convert(metric: MetricName, s: PromSample, errors: DcgmIssue[]): number | null {
  if (!Number.isFinite(s.value)) {
    errors.push({ reason: 'not-a-number', line: s.line, detail: `${s.name} is ${s.value}` });
    return null;
  }
  let value = s.value / (SCALE.get(s.name) ?? 1);
  const def = metricDef(metric);
  if (def.type === 'int64') value = Math.round(value);
  if (value < def.min || value > def.max) {
    errors.push({
      reason: 'out-of-range',
      line: s.line,
      detail: `${s.name} ${s.value} is ${value} ${def.unit}, outside ${def.min}..${def.max}`,
    });
    return null;
  }
  return value;
}

function workloadOf(gpu: GpuSeries): DcgmWorkload | null {
  const text = (v: string | undefined) => (v && v.trim() !== '' ? v.trim() : null);
  const pod = text(gpu.labels.pod);
  if (pod === null) return null;
  return {
    uuid: gpu.uuid,
    namespace: text(gpu.labels.namespace),
    pod,
    container: text(gpu.labels.container),
  };
}

function deviceOf(gpu: GpuSeries): GpuDevice {
  const l = gpu.labels;
  const text = (v: string | undefined) => (v && v.trim() !== '' ? v.trim() : null);
  const model = text(l.modelName) ?? text(l.DCGM_FI_DEV_NAME) ?? 'NVIDIA GPU';
  return {
    uuid: gpu.uuid,
    index: gpu.index,
    model: l.GPU_I_ID ? migModel(model, text(l.GPU_I_PROFILE)) : model,
    pciBusId: text(l.pci_bus_id),
    serial: text(l.DCGM_FI_DEV_SERIAL),
    vbiosVersion: text(l.DCGM_FI_DEV_VBIOS_VERSION),
    driverVersion: text(l.DCGM_FI_DRIVER_VERSION),
    parentUuid: l.GPU_I_ID ? (l.UUID ?? null) : null,
    migProfile: l.GPU_I_ID ? text(l.GPU_I_PROFILE) : null,
  };
}
