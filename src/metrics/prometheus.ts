import type { SourceHealth } from '../sources/source.ts';
import { IDENTITY, METRICS } from './catalog.ts';
import type { GpuSample } from './sample.ts';

/** Escapes a label value of the Prometheus text format: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const LABELS = IDENTITY.filter((i) => i.influxTag !== '');

function labels(sample: GpuSample): string {
  return LABELS.map((i) => `${i.influxTag}="${escapeLabelValue(String(sample[i.name] ?? ''))}"`).join(',');
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/**
 * The Prometheus text exposition (version 0.0.4) of the latest sample of every GPU: one family per catalog
 * metric, named as in the catalog, labelled host, gpu, uuid, model; a null value is left out, never written
 * as 0. Then each source's health: last successful read and failures by kind.
 */
export function renderPrometheus(latest: readonly GpuSample[], sources: readonly SourceHealth[]): string {
  const out: string[] = [];
  for (const m of METRICS) {
    const lines = latest
      .filter((s) => s[m.name] !== null)
      .map((s) => `${m.name}{${labels(s)}} ${number(s[m.name] as number)}`);
    if (lines.length === 0) continue;
    out.push(`# HELP ${m.name} ${m.help} (${m.unit})`, `# TYPE ${m.name} ${m.kind}`, ...lines);
  }
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
