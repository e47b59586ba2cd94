import { type DcgmMapping, IDENTITY, METRICS } from './catalog.ts';

const cell = (text: string) => (text === '' ? '—' : `\`${text}\``);
/** The DCGM field, with its unit where dcgm-exporter's differs from the catalog's. */
const dcgmCell = (d: DcgmMapping) => (d.scale === 1 ? d.field : `${d.field} (${d.unit})`);
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
        `| \`${m.name}\` | ${m.kind} | ${m.unit} | ${m.type} | ${esc(m.help)} | ${cell(m.nvml)} | ${cell(m.smi)} | ${cell(m.dcgm ? dcgmCell(m.dcgm) : '')} | ${cell(m.influx)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
