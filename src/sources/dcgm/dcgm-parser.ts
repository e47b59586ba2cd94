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
  /** NaN where the exporter wrote no number (`ERROR - FAILED TO CONVERT TO STRING`). */
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
  /** A GPU in MIG mode built from its instances' series: dcgm-exporter wrote no line of the GPU itself. */
  fromInstances: boolean;
  /** Fields this GPU holds from an instance's line (a line of the GPU itself takes their place). */
  instanceFields: Set<string>;
}

/**
 * The DCGM fields a GPU instance has of its own: its framebuffer (DCGM 3.1.3+) and the profiling activity DCGM
 * measures per instance. dcgm-exporter writes the others (power, energy, temperatures, clocks, XID) on every
 * instance too, with the GPU's value: the A800 capture (testdata/a800-*.prom) has the same energy counter on its
 * three instances. Those are the GPU's, and go to the GPU's sample, so that it counts once.
 */
export function perInstanceField(field: string): boolean {
  return /^DCGM_FI_DEV_FB_/.test(field) || (/^DCGM_FI_PROF_/.test(field) && !/PCIE|NVLINK/.test(field));
}

/** Labels of the series that name the instance or its workload, not the GPU. */
const INSTANCE_LABELS = ['GPU_I_ID', 'GPU_I_PROFILE', 'namespace', 'pod', 'container'];

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
    // The GPU first (a MIG instance's sample comes after its GPU's): for an instance, the GPU's entry is made
    // from the instance's labels where dcgm-exporter writes no line of the GPU itself (MIG mode).
    const host = s.labels.Hostname ?? '';
    const parent = seriesOf(
      gpus,
      host,
      gpuLabel,
      uuidLabel,
      s.labels,
      instance !== undefined && instance !== '',
    );
    const uuid = instance ? legacyMigUuid(uuidLabel, migId(instance), null) : uuidLabel;
    const gpu = instance ? seriesOf(gpus, host, gpuLabel, uuid, s.labels, false) : parent;
    if (!mapped) {
      result.unmapped.push({ field: s.name, uuid, value: s.value, line: s.line });
      continue;
    }
    if (instance && !perInstanceField(s.name)) {
      // The GPU's value, repeated on each of its instances: the first one seen is kept, a line of the GPU wins.
      if (!parent.fields.has(s.name)) {
        parent.fields.set(s.name, s);
        parent.instanceFields.add(s.name);
      }
      continue;
    }
    const first = gpu.fields.get(s.name);
    if (first && !(gpu === parent && parent.instanceFields.delete(s.name))) {
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
    if (gpu.fromInstances && gpu.fields.size === 0) continue; // nothing of the GPU's own in the scrape
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
    errors.push({ reason: 'not-a-number', line: s.line, detail: `${s.name} is ${s.valueText ?? s.value}` });
    return null;
  }
  let value = toCatalogUnit(s.value, SCALE.get(s.name) ?? 1);
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

/**
 * `value` in DCGM's unit divided by `scale`. Where the scale is a power of ten (a ratio to percent, mJ to J)
 * the decimal point of the value moves, so that the result is the decimal dcgm-exporter printed, scaled: a
 * DRAM-active ratio of 0.000003 is 0.0003 %, where 0.000003 / 0.01 in binary floating point gives
 * 0.00030000000000000003, a value that no exact decimal of the archive holds (docs/decisions/0007).
 */
export function toCatalogUnit(value: number, scale: number): number {
  if (scale === 1) return value;
  const digits = Math.round(Math.log10(scale));
  if (10 ** digits !== scale) return value / scale;
  // The shortest text that reads back as `value` (JavaScript's own), its exponent moved by the scale's.
  const [mantissa, exponent = '0'] = String(value).split('e');
  return Number(`${mantissa}e${Number(exponent) - digits}`);
}

/**
 * The entry of one GPU or MIG instance, made on its first line. `fromInstances`: made for a GPU from the line of
 * one of its instances, without the labels that name the instance or its pod; a line of the GPU itself later
 * makes it the GPU's own.
 */
function seriesOf(
  gpus: Map<string, GpuSeries>,
  host: string,
  gpuLabel: string,
  uuid: string,
  labels: Record<string, string>,
  fromInstances: boolean,
): GpuSeries {
  const key = JSON.stringify([host, gpuLabel, uuid]);
  const own = fromInstances
    ? Object.fromEntries(Object.entries(labels).filter(([k]) => !INSTANCE_LABELS.includes(k)))
    : labels;
  let gpu = gpus.get(key);
  if (!gpu) {
    gpu = {
      labels: { ...own },
      uuid,
      index: Number(gpuLabel),
      fields: new Map(),
      fromInstances,
      instanceFields: new Set(),
    };
    gpus.set(key, gpu);
    return gpu;
  }
  if (!fromInstances && gpu.fromInstances) {
    gpu.fromInstances = false;
    gpu.labels = { ...gpu.labels, ...own };
    return gpu;
  }
  for (const [k, v] of Object.entries(own)) if (!(k in gpu.labels)) gpu.labels[k] = v;
  return gpu;
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
