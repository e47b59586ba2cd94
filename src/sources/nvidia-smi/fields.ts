import { METRICS, type MetricName } from '../../metrics/catalog.ts';
import type { ValueKind } from './values.ts';

/** The identity fields the live source asks for first, in this order, on every line. */
export const IDENTITY_FIELDS = [
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'driver_version',
  'vbios_version',
] as const;
export type IdentityField = (typeof IDENTITY_FIELDS)[number];

/** A catalog metric nvidia-smi can report: its `--query-gpu` field and how its text reads. */
export interface SmiMetric {
  readonly metric: MetricName;
  readonly field: string;
  readonly kind: ValueKind;
}

function kindOf(name: MetricName): ValueKind {
  if (name === 'gpu_performance_state') return 'pstate';
  if (name === 'gpu_clock_throttle_reasons') return 'mask';
  if (name.startsWith('gpu_memory_') && name.endsWith('_bytes')) return 'mebibytes';
  if (name.endsWith('_microseconds')) return 'microseconds';
  return 'number';
}

/** Every metric with an `smi` column in the catalog: what the live source queries. */
export const SMI_METRICS: readonly SmiMetric[] = METRICS.filter((m) => m.smi !== '').map((m) => ({
  metric: m.name,
  field: m.smi,
  kind: kindOf(m.name),
}));

/**
 * Other names of the same field: what a header prints for a short name (`clocks.sm` is printed
 * `clocks.current.sm`), names drivers renamed (`clocks_throttle_reasons.*` became `clocks_event_reasons.*` in
 * 535), and the compute-apps names of identity fields. Keys and values are lower case.
 */
const ALIASES: Readonly<Record<string, string>> = {
  'clocks.current.sm': 'clocks.sm',
  'clocks.current.graphics': 'clocks.gr',
  'clocks.graphics': 'clocks.gr',
  'clocks.current.memory': 'clocks.mem',
  'clocks.memory': 'clocks.mem',
  'clocks.current.video': 'clocks.video',
  'power.limit.enforced': 'enforced.power.limit',
  gpu_name: 'name',
  gpu_uuid: 'uuid',
  gpu_bus_id: 'pci.bus_id',
  gpu_serial: 'serial',
  used_memory: 'used_gpu_memory',
};

/**
 * The canonical name of a field as printed in a header or asked for in a query: units dropped
 * (`memory.used [MiB]`), aliases resolved, old names renamed.
 */
export function canonicalField(raw: string): string {
  const name = raw
    .replace(/\s*\[[^\]]*\]\s*$/, '')
    .trim()
    .toLowerCase();
  const renamed = name.replace(/^clocks_throttle_reasons\./, 'clocks_event_reasons.');
  return ALIASES[renamed] ?? renamed;
}

/**
 * When a driver rejects a field, the other name to try instead: the older one (drivers before 535 know only
 * `clocks_throttle_reasons.*`) or the newer one (610 deprecates `driver_version` for `kmd_version`, for a driver
 * that drops it). Null: no other name, drop the field.
 */
export function otherName(field: string): string | null {
  if (field.startsWith('clocks_event_reasons.'))
    return field.replace('clocks_event_reasons.', 'clocks_throttle_reasons.');
  if (field === 'driver_version') return 'kmd_version';
  return null;
}

/** Fields that, read in place of a missing catalog field, give the same metric (newer drivers split power). */
export const FALLBACK_FIELDS: Readonly<Partial<Record<MetricName, readonly string[]>>> = {
  gpu_power_draw_watts: ['power.draw.average', 'power.draw.instant'],
  // 550 and later: the GPU's own side of the link (`current` / `max` are the link's, which they equal but for
  // GPUs behind a switch)
  gpu_pcie_link_generation: ['pcie.link.gen.gpucurrent'],
  gpu_pcie_link_generation_max: ['pcie.link.gen.gpumax'],
};

/** The fields of the catalog and of identity: a header with one of them is a `--query-gpu` table. */
export const KNOWN_QUERY_FIELDS: ReadonlySet<string> = new Set([
  ...IDENTITY_FIELDS,
  ...SMI_METRICS.map((m) => m.field),
  ...Object.values(FALLBACK_FIELDS).flat(),
  'kmd_version',
  'timestamp',
  'serial',
  'vbios_version',
]);
