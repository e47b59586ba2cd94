import { METRICS, type MetricDef, type MetricName } from '../../metrics/catalog.ts';

/**
 * What nvidia-smi prints where it has no value: `[N/A]` / `N/A`, `[Not Supported]`, `[Unknown Error]`,
 * `[Insufficient Permissions]`, `[Requested functionality has been deprecated]`, `REDACTED` (serials masked by
 * whoever shared the capture), or nothing at all.
 */
const NO_VALUE =
  /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU is lost|Requested functionality has been deprecated|REDACTED|None)\]?$/i;

/** True where nvidia-smi says it has no value (the metric is null, not an error). */
export function isNoValue(raw: string | null | undefined): boolean {
  if (raw === null || raw === undefined) return true;
  const text = raw.trim();
  return text === '' || NO_VALUE.test(text);
}

/** A string value, null where nvidia-smi has none. */
export function text(raw: string | null | undefined): string | null {
  return isNoValue(raw) ? null : (raw as string).trim();
}

/**
 * The version from the first field that holds one. 610 deprecates `driver_version` for `kmd_version` and
 * `cuda_version` for `cuda_umd_version`: the deprecated field may become a note (`Deprecated, see "KMD version"
 * instead`, `[Requested functionality has been deprecated]`) or carry one (`610.57.04 [Deprecated; ...]`,
 * `13.3 [Deprecated; ...]`). Only the leading version (`610.57.04`, `591.86`, `13.3`) is kept; null where no
 * field starts with one.
 */
export function leadingVersion(...candidates: (string | null | undefined)[]): string | null {
  for (const raw of candidates) {
    const m = /^\s*(\d+(?:\.\d+)+)(?![\d.])/.exec(raw ?? '');
    if (m) return m[1] as string;
  }
  return null;
}

const UNIT_FACTORS: Record<string, number> = {
  '': 1,
  '%': 1,
  W: 1,
  mW: 0.001,
  MHz: 1,
  C: 1,
  // PCIe link width in lanes (`16x`)
  x: 1,
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  'KB/s': 1000,
  'MB/s': 1_000_000,
};

/**
 * Durations, in the catalog's unit for them (microseconds, `gpu_*_latency_microseconds`): 375-era drivers print
 * the encoder latency `0 ms`, later ones a bare number (NVML's microseconds) or `us`.
 */
const MICROSECONDS_PER: Record<string, number> = {
  '': 1,
  us: 1,
  ms: 1000,
  s: 1_000_000,
};

/** The result of reading one value: a number, null (no value) or a reason it is not a number. */
export type Reading = { value: number | null; problem?: string };

/**
 * Reads a number with an optional unit (`27.23 W`, `1234 MiB`, `38 %`, `4000 KB/s`), a pstate (`P0`) or a
 * bitmask (`0x0000000000000004`). For `mebibytes`, a bare number (nounits output) is MiB: both become bytes.
 * For `microseconds`, a duration (`0 ms`, `12 us`, bare: microseconds) becomes microseconds; time units are
 * read for that kind only.
 */
export function readNumber(raw: string | null | undefined, kind: ValueKind = 'number'): Reading {
  if (isNoValue(raw)) return { value: null };
  const value = (raw as string).trim();
  if (kind === 'pstate') {
    const m = /^P(\d{1,2})$/.exec(value);
    return m
      ? { value: Number(m[1]) }
      : { value: null, problem: `"${clip(value)}" is not a pstate (P0..P15)` };
  }
  if (kind === 'mask') {
    if (/^0x[0-9a-f]{1,16}$/i.test(value)) {
      const n = BigInt(value);
      if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return { value: Number(n) };
    }
    if (/^\d{1,15}$/.test(value)) return { value: Number(value) };
    return { value: null, problem: `"${clip(value)}" is not a bitmask` };
  }
  const m = /^(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([A-Za-z%/]*)$/.exec(value);
  const unit = m?.[2] ?? '';
  const factor = kind === 'microseconds' ? MICROSECONDS_PER[unit] : UNIT_FACTORS[unit];
  if (!m || factor === undefined) return { value: null, problem: `"${clip(value)}" is not a number` };
  const scale = unit === '' && kind === 'mebibytes' ? 1024 ** 2 : factor;
  const n = Number(m[1]) * scale;
  return Number.isFinite(n) ? { value: n } : { value: null, problem: `"${clip(value)}" is not finite` };
}

/** How a field's text turns into a number. */
export type ValueKind = 'number' | 'mebibytes' | 'microseconds' | 'pstate' | 'mask';

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

const DEFS = new Map<MetricName, MetricDef>(METRICS.map((m) => [m.name, m]));

/** Checks a value against the catalog (range, integer): out-of-range values become null with a reason. */
export function checkMetric(name: MetricName, reading: Reading): Reading {
  const def = DEFS.get(name);
  const { value } = reading;
  if (value === null || !def) return reading;
  if (value < def.min || value > def.max)
    return { value: null, problem: `${value} is outside ${def.min}..${def.max}` };
  if (def.type === 'int64' && !Number.isInteger(value)) {
    return { value: null, problem: `${value} is not an integer` };
  }
  return reading;
}

/**
 * The clock event (throttle) reason bits of NVML, by the name nvidia-smi gives each flag
 * (`clocks_event_reasons.sw_power_cap`, `<clocks_event_reason_sw_power_cap>`).
 */
export const EVENT_REASON_BITS: Readonly<Record<string, number>> = {
  gpu_idle: 0x1,
  applications_clocks_setting: 0x2,
  sw_power_cap: 0x4,
  hw_slowdown: 0x8,
  sync_boost: 0x10,
  sw_thermal_slowdown: 0x20,
  hw_thermal_slowdown: 0x40,
  hw_power_brake_slowdown: 0x80,
  display_clocks_setting: 0x100,
};

/**
 * The bitmask from `Active` / `Not Active` flags; null when no flag could be read, or when one flag is neither.
 */
export function maskFromFlags(flags: ReadonlyMap<string, string | null>): number | null {
  let mask = 0;
  let seen = 0;
  for (const [name, raw] of flags) {
    const bit = EVENT_REASON_BITS[name];
    if (bit === undefined || isNoValue(raw)) continue;
    const value = (raw as string).trim();
    if (value === 'Active') mask |= bit;
    else if (value !== 'Not Active') return null;
    seen++;
  }
  return seen > 0 ? mask : null;
}
