import { type DcgmField, dcgmFields, type MetricName } from './catalog.ts';
import { escapeLabelValue, formatValue } from './exposition.ts';
import { migProfile } from './mig.ts';
import type { GpuSample } from './sample.ts';

/**
 * The labels dcgm-exporter puts on every series of a GPU, in its order and its case: `gpu` (index), `UUID`,
 * `pci_bus_id`, `device` (`nvidia<index>`), `modelName`, `Hostname`, `DCGM_FI_DRIVER_VERSION`; a MIG instance
 * (a sample with a `parent_uuid`) is named as dcgm-exporter names it: `UUID` its GPU's, `modelName` the GPU's
 * model, and `GPU_I_PROFILE`, `GPU_I_ID` after `modelName` (its template's order); the pod holding the GPU,
 * where known, comes last
 * as `pod`, `namespace`, `container` (dcgm-exporter's Kubernetes labels). A label whose value gpumon does not
 * know is left out.
 */
export function dcgmLabels(sample: GpuSample): string {
  const mig = sample.parent_uuid !== null;
  const labels: [string, string | null][] = [
    ['gpu', String(sample.gpu_index)],
    ['UUID', sample.parent_uuid ?? sample.uuid],
    ['pci_bus_id', sample.pci_bus_id],
    ['device', `nvidia${sample.gpu_index}`],
    ['modelName', mig ? sample.model.replace(/\s+MIG(\s+\S+)?$/, '') : sample.model],
    ['GPU_I_PROFILE', mig ? migProfile(sample.model) : null],
    ['GPU_I_ID', mig && sample.mig_gpu_instance_id !== null ? String(sample.mig_gpu_instance_id) : null],
    ['Hostname', sample.host],
    ['DCGM_FI_DRIVER_VERSION', sample.driver_version],
    ['pod', sample.pod],
    ['namespace', sample.namespace],
    ['container', sample.container],
  ];
  return labels
    .filter((l): l is [string, string] => l[1] !== null && l[1] !== '')
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(',');
}

const RENDERED: readonly { metric: MetricName; field: DcgmField }[] = dcgmFields()
  .filter((f) => f.field.render)
  .map((f) => ({ metric: f.metric.name as MetricName, field: f.field }));

/**
 * The latest sample of every GPU as dcgm-exporter exposes it: one family per DCGM field of the catalog (its
 * name, type, help and unit as in dcgm-exporter's counters file; MiB of framebuffer, mJ of energy), so that
 * NVIDIA's Grafana dashboard and alert rules written for dcgm-exporter work on gpumon unchanged. A null value
 * is left out, never written as 0.
 */
export function renderDcgmExporter(latest: readonly GpuSample[]): string {
  const out: string[] = [];
  for (const { metric, field } of RENDERED) {
    const lines = latest
      .filter((s) => s[metric] !== null)
      .map((s) => `${field.field}{${dcgmLabels(s)}} ${formatValue((s[metric] as number) * field.scale)}`);
    if (lines.length === 0) continue;
    out.push(`# HELP ${field.field} ${field.help}`, `# TYPE ${field.field} ${field.type}`, ...lines);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
