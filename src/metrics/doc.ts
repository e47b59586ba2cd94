import { type DcgmField, type DcgmMapping, IDENTITY, METRICS } from './catalog.ts';

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
    '- MIG: processes are attributed to the MIG instance they run in (its `MIG-` UUID from `nvidia-smi -L`);',
    "  dcgm-exporter's instances are samples of their own (`<GPU uuid>/mig-<GPU_I_ID>`).",
    '',
  ];
  return lines.join('\n');
}
