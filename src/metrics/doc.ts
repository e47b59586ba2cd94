import {
  DCGM_EXPORTER_DEFAULT_COUNTERS,
  DCGM_EXPORTER_NOT_KEPT,
  gpuzColumns,
  rocmKeys,
  TELEGRAF_NVIDIA_SMI,
  telegrafFieldsOf,
  XML_IDENTITY_PATHS,
  XML_PATHS,
} from '../sources/coverage.ts';
import { type DcgmField, type DcgmMapping, dcgmFields, IDENTITY, METRICS } from './catalog.ts';

const cell = (text: string) => (text === '' ? '—' : `\`${text}\``);
/** A DCGM field, with its unit where dcgm-exporter's differs from the catalog's. */
const dcgmField = (d: DcgmField) => `\`${d.scale === 1 ? d.field : `${d.field} (${d.unit})`}\``;
/** The DCGM field, then the fields read where it is absent (`also`). */
const dcgmCell = (d: DcgmMapping) => [d, ...(d.also ?? [])].map(dcgmField).join(', else ');
const esc = (text: string) => text.replace(/\|/g, '\\|');

/** docs/metrics.md, generated from the catalog (`npm run docs`); a test fails when the file drifts. */
export function renderMetricsDoc(): string {
  const lines = [
    '# Metrics',
    '',
    '<!-- Generated from src/metrics/catalog.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Every sample carries the identity columns, the time `ts` (UTC) and every metric below. A metric a source',
    'cannot read is `null`, never 0. The name is also the Parquet column and the `/metrics` name; InfluxDB uses',
    'the field name shown.',
    '',
    '## Identity',
    '',
    '| column | type | help | NVML | nvidia-smi | DCGM | InfluxDB tag |',
    '|---|---|---|---|---|---|---|',
    ...IDENTITY.map(
      (i) =>
        `| \`${i.name}\` | ${i.type} | ${esc(i.help)} | ${cell(i.nvml)} | ${cell(i.smi)} | ${cell(i.dcgm)} | ${cell(i.influxTag)} |`,
    ),
    '',
    '## Metrics',
    '',
    '| name | kind | unit | type | help | NVML | nvidia-smi | DCGM | InfluxDB field |',
    '|---|---|---|---|---|---|---|---|---|',
    ...METRICS.map(
      (m) =>
        `| \`${m.name}\` | ${m.kind} | ${m.unit} | ${m.type} | ${esc(m.help)} | ${cell(m.nvml)} | ${cell(m.smi)} | ${m.dcgm ? dcgmCell(m.dcgm) : cell('')} | ${cell(m.influx)} |`,
    ),
    '',
    '## Where each source finds a field',
    '',
    'A field can move between driver generations: each source reads every spelling it knows (the one of the',
    'generation it reads first), and its README lists them per field.',
    '',
    '- nvidia-smi XML (`src/sources/nvidia-smi/README.md`): one parser per DTD generation (v10 and older, v11,',
    "  v12, v13), each falling back to the other generations' names for power draw, power limit and clock event",
    '  reasons (`power_readings` / `gpu_power_readings`, `enforced_power_limit` / `current_power_limit`,',
    '  `clocks_throttle_reasons` / `clocks_event_reasons`).',
    '- `driver_version`: `kmd_version` where the driver fills it (610 and later deprecate `driver_version`), else',
    '  `driver_version`; only the leading version is kept.',
    '- dcgm-exporter (`src/sources/dcgm/README.md`): the DCGM column above, `else` fields read only where the',
    '  first is absent (profiling-only nodes such as A10G report `DCGM_FI_PROF_GR_ENGINE_ACTIVE` and',
    '  `DCGM_FI_PROF_DRAM_ACTIVE` without `DCGM_FI_DEV_GPU_UTIL` / `DCGM_FI_DEV_MEM_COPY_UTIL`).',
    '',
    '## MIG instances',
    '',
    "A MIG instance is a device of its own: a sample after its GPU's, named the same way by every source",
    '(`src/metrics/mig.ts`):',
    '',
    '- `uuid`: the MIG device UUID (`MIG-xxxxxxxx-...`, drivers from 470) where the source reads it (NVML;',
    "  nvidia-smi with `nvidia-smi -L`), the id the kubelet's pod-resources API gives MIG devices, so pod",
    '  attribution finds the pod holding the instance; else the name drivers before 470 gave it,',
    '  `MIG-<GPU uuid>/<GPU instance>/<compute instance>` (nvidia-smi XML without `-L`, also a pod-resources id',
    '  on those drivers); dcgm-exporter names no MIG UUID and no compute instance: `MIG-<GPU uuid>/<GPU_I_ID>`.',
    "- `gpu_index`: the parent GPU's index (dcgm-exporter's `gpu` label); `parent_uuid`: the GPU's UUID;",
    '  `mig_gpu_instance_id`, `mig_compute_instance_id`: its ids (null for a whole GPU, and the compute instance',
    '  from dcgm-exporter).',
    '- `model`: `<GPU model> MIG <profile>` as NVML names MIG devices (`NVIDIA A100-SXM4-80GB MIG 3g.40gb`),',
    '  `<GPU model> MIG` where the profile is unknown (nvidia-smi XML without `-L`).',
    '- Metrics: its own memory (total, used, free, reserved; nvidia-smi XML also its uncorrectable SRAM ECC',
    "  errors). Utilization, temperature, power and clocks are the GPU's: null in the instance's sample (never",
    "  a copy of the GPU's), except what dcgm-exporter reports per GPU instance. Processes are attributed to the",
    "  instance they run in. gpumon's dcgm-exporter labels render an instance as dcgm-exporter does: `UUID` and",
    '  `modelName` of the GPU, `GPU_I_PROFILE`, `GPU_I_ID`.',
    '- The archive, InfluxDB and the daily analyses key devices by `uuid`: an instance is a device of its own',
    '  there (the GPU counts once, and each instance once; `parent_uuid IS NULL` keeps whole GPUs only). With no',
    '  utilization or power of its own, an instance adds no energy and no measured or idle time; the hours a pod',
    '  holds an instance count in `pod_usage` as held hours of that instance.',
    '',
    ...coverage(),
  ];
  return lines.join('\n');
}

const list = (items: readonly string[], separator = ', ') =>
  items.length === 0 ? '—' : items.map((i) => `\`${i}\``).join(separator);

/** The coverage section: each source per field, and the peers' fields in gpumon (src/sources/coverage.ts). */
function coverage(): string[] {
  const byDefault = new Set(DCGM_EXPORTER_DEFAULT_COUNTERS);
  const dcgmOf = (m: (typeof METRICS)[number]) => {
    const d: DcgmMapping | null = m.dcgm;
    if (!d) return '—';
    const fields = [d, ...(d.also ?? [])];
    const shown = fields.map((f) => `\`${f.field}\`${byDefault.has(f.field) ? ' (default)' : ''}`);
    return shown.join(', else ');
  };
  const telegraf = TELEGRAF_NVIDIA_SMI.filter((t) => !t.tag);
  const tags = TELEGRAF_NVIDIA_SMI.filter((t) => t.tag);
  const kept = TELEGRAF_NVIDIA_SMI.filter((t) => t.gpumon !== '');
  const dcgmKept = new Map(dcgmFields().map((f) => [f.field.field, f.metric.name]));
  return [
    '## Coverage beside the peers',
    '',
    "<!-- From src/sources/coverage.ts, checked against the sources' tables by src/sources/coverage.test.ts. -->",
    '',
    "Telegraf's `nvidia_smi` input (1.37, schema_v11 and schema_v12 parsers) reads up to " +
      `${telegraf.length} fields and ${tags.length} tags of nvidia-smi's XML (a capture fills those of its ` +
      `schema and GPU); gpumon keeps ${kept.length} of them as metrics or identity, the others are settings, ` +
      'Yes/No flags or per-device details (below). dcgm-exporter exports ' +
      `${byDefault.size} DCGM fields by default (\`etc/default-counters.csv\`); gpumon maps ` +
      `${DCGM_EXPORTER_DEFAULT_COUNTERS.filter((f) => dcgmKept.has(f)).length} of them. gpumon also keeps what ` +
      'Telegraf does not read: energy, PCIe throughput, clock event reasons, the memory temperature, the maximum ' +
      'PCIe link (neither peer by default), the hot spot (GPU-Z, rocm-smi), the host; and the enforced power ' +
      'limit in every schema (Telegraf: v11 files only).',
    '',
    '### Each field per source',
    '',
    'NVML, nvidia-smi `--query-gpu` and DCGM as in the tables above (`(default)`: a field dcgm-exporter exports',
    'unless configured otherwise); the XML element (`-q -x`), the rocm-smi `--json` key and the GPU-Z log column',
    '(compared without case); `—` where the source has none (the field is null there). Host fields come from the',
    'host itself (`src/sources/host/`) in every live source. NVML and nvidia-smi have no hot-spot sensor',
    '(`nvmlTemperatureSensors_t` has only `NVML_TEMPERATURE_GPU`).',
    '',
    '| field | NVML | nvidia-smi CSV | nvidia-smi XML | dcgm-exporter | rocm-smi | GPU-Z | Telegraf nvidia_smi |',
    '|---|---|---|---|---|---|---|---|',
    ...METRICS.map(
      (m) =>
        `| \`${m.name}\` | ${cell(m.nvml)} | ${cell(m.smi)} | ${cell(XML_PATHS[m.name] ?? '')} | ${dcgmOf(m)} | ` +
        `${list(rocmKeys(m.name), ', else ')} | ${list(gpuzColumns(m.name))} | ${list(telegrafFieldsOf(m.name))} |`,
    ),
    ...IDENTITY.map(
      (i) =>
        `| \`${i.name}\` (identity) | ${cell(i.nvml)} | ${cell(i.smi)} | ${cell(XML_IDENTITY_PATHS[i.name] ?? '')} | ` +
        `${cell(i.dcgm)} | — | — | ${list(telegrafFieldsOf(i.name))} |`,
    ),
    '',
    "### Telegraf's nvidia_smi fields in gpumon",
    '',
    '| Telegraf | tag | schemas | gpumon | why not |',
    '|---|---|---|---|---|',
    ...TELEGRAF_NVIDIA_SMI.map(
      (t) =>
        `| \`${t.field}\` | ${t.tag ? 'tag' : ''} | ${t.schemas} | ${cell(t.gpumon)} | ${esc(t.why ?? '')} |`,
    ),
    '',
    "### dcgm-exporter's default fields in gpumon",
    '',
    '| DCGM field | gpumon | why not |',
    '|---|---|---|',
    ...DCGM_EXPORTER_DEFAULT_COUNTERS.map(
      (f) => `| \`${f}\` | ${cell(dcgmKept.get(f) ?? '')} | ${esc(DCGM_EXPORTER_NOT_KEPT[f] ?? '')} |`,
    ),
    '',
  ];
}
