import type { PROMETHEUS_NAMES } from '../config/schema.ts';
import type { CpuPackageTemperature } from '../sources/host/hwmon.ts';
import type { SourceHealth } from '../sources/source.ts';
import { IDENTITY, METRICS } from './catalog.ts';
import { renderDcgmExporter } from './dcgm-exporter.ts';
import { escapeLabelValue, formatValue } from './exposition.ts';
import type { GpuSample } from './sample.ts';

const LABELS = IDENTITY.filter((i) => i.influxTag !== '');

function labels(sample: GpuSample): string {
  return LABELS.map((i) => `${i.influxTag}="${escapeLabelValue(String(sample[i.name] ?? ''))}"`).join(',');
}

/** Which names the GPU metrics of /metrics have (config `prometheus.names`). */
export type PrometheusNames = (typeof PROMETHEUS_NAMES)[number];

/**
 * The latest sample of every GPU in the Prometheus text format: with gpumon's names (one family per catalog
 * metric, named as in the catalog, labelled host, gpu, uuid, model), with dcgm-exporter's (renderDcgmExporter),
 * or both. A null value is left out, never written as 0.
 */
export function renderSamples(latest: readonly GpuSample[], names: PrometheusNames): string {
  const out: string[] = [];
  if (names !== 'dcgm') {
    for (const m of METRICS) {
      const lines = latest
        .filter((s) => s[m.name] !== null)
        .map((s) => `${m.name}{${labels(s)}} ${formatValue(s[m.name] as number)}`);
      if (lines.length === 0) continue;
      out.push(`# HELP ${m.name} ${m.help} (${m.unit})`, `# TYPE ${m.name} ${m.kind}`, ...lines);
    }
  }
  const gpumon = out.length ? `${out.join('\n')}\n` : '';
  return names === 'gpumon' ? gpumon : gpumon + renderDcgmExporter(latest);
}

/**
 * The Prometheus text exposition (version 0.0.4) of `gpumon up` and `serve`: the latest sample of every GPU
 * (renderSamples), then each source's health: last successful read and failures by kind.
 */
export function renderPrometheus(
  latest: readonly GpuSample[],
  sources: readonly SourceHealth[],
  names: PrometheusNames = 'gpumon',
): string {
  const out: string[] = [];
  const samples = renderSamples(latest, names);
  if (samples) out.push(samples.slice(0, -1));
  out.push(
    '# HELP gpumon_source_last_success_timestamp_seconds When the source last returned samples (Unix time).',
    '# TYPE gpumon_source_last_success_timestamp_seconds gauge',
  );
  for (const h of sources) {
    if (h.lastSuccessMs !== null) {
      out.push(
        `gpumon_source_last_success_timestamp_seconds{source="${escapeLabelValue(h.source)}"} ${h.lastSuccessMs / 1000}`,
      );
    }
  }
  out.push(
    '# HELP gpumon_source_errors_total Failures of a source, by kind, since it started.',
    '# TYPE gpumon_source_errors_total counter',
  );
  for (const h of sources) {
    for (const [kind, count] of Object.entries(h.errors)) {
      out.push(
        `gpumon_source_errors_total{source="${escapeLabelValue(h.source)}",kind="${escapeLabelValue(kind)}"} ${count}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/** The family of each CPU package's temperature on /metrics (not in the catalog: a sample holds the hottest). */
export const CPU_PACKAGE_FAMILY = 'host_cpu_package_temperature_celsius';

/**
 * Each CPU package's temperature (socket, or die where the driver has a device per die) as its hwmon sensor
 * reports it, labelled host, device (`hwmon1`) and label (`Package id 0`, `Tdie`). Samples and the archive carry
 * only the hottest (`host_cpu_temperature_celsius`): the number of packages varies by machine, and a scrape is a
 * snapshot, so here a label per package costs no column. Empty without packages.
 */
export function renderCpuPackages(host: string, packages: readonly CpuPackageTemperature[]): string {
  if (packages.length === 0) return '';
  const lines = packages.map(
    (p) =>
      `${CPU_PACKAGE_FAMILY}{host="${escapeLabelValue(host)}",device="${escapeLabelValue(p.device)}",label="${escapeLabelValue(p.label)}"} ${formatValue(p.celsius)}`,
  );
  return [
    `# HELP ${CPU_PACKAGE_FAMILY} Temperature of each CPU package (socket or die) from hwmon; host_cpu_temperature_celsius is the hottest (celsius)`,
    `# TYPE ${CPU_PACKAGE_FAMILY} gauge`,
    ...lines,
    '',
  ].join('\n');
}
