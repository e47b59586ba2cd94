import type { MetricName } from '../../metrics/catalog.ts';

/**
 * GPU-Z sensor log columns that map onto the metric catalog: one row per column name GPU-Z has used (old and new
 * names side by side), the metric it fills and how its unit converts. The name is the header text before the unit
 * in brackets, compared without case. A column not listed here, or listed but written in a unit not listed, is
 * kept in the record's `extra` under its header text. README.md explains each choice.
 */
export interface ColumnMapping {
  /** Header names (lower case, without the `[unit]`). */
  readonly names: readonly string[];
  readonly metric: MetricName;
  /** Unit as written inside the brackets (leading `°` or mis-decoded bytes dropped) -> conversion. */
  readonly units: Readonly<Record<string, (value: number) => number>>;
  /** Keep the value as written in `extra` as well (the conversion loses information). */
  readonly keepRaw?: boolean;
}

const same = (v: number) => v;
const MIB = 1024 * 1024;
const celsius = { C: same, F: (v: number) => ((v - 32) * 5) / 9 };
const mhz = { MHz: same, GHz: (v: number) => v * 1000 };
const bytes = { MB: (v: number) => Math.round(v * MIB), GB: (v: number) => Math.round(v * 1024 * MIB) };
const percent = { '%': same };

/**
 * GPU-Z's PerfCap Reason is NVAPI's perf policy bitmask (1 power, 2 thermal, 4 reliability voltage, 8 max operating
 * voltage, 16 utilization, 32 SLI boost sync), written as a decimal number. The catalog holds NVML's clock event
 * reasons; the bits with an NVML equivalent are translated, the others dropped (the raw value stays in `extra`).
 */
export const PERFCAP_TO_NVML: ReadonlyArray<readonly [perfcap: number, nvml: number, meaning: string]> = [
  [1, 0x4, 'power limit -> SW power cap'],
  [2, 0x20, 'thermal limit -> SW thermal slowdown'],
  [16, 0x1, 'utilization (idle) -> GPU idle'],
];

export function perfCapToClockEventReasons(value: number): number {
  if (!Number.isInteger(value) || value < 0) return Number.NaN;
  let out = 0;
  for (const [bit, nvml] of PERFCAP_TO_NVML) if (Math.floor(value / bit) % 2 === 1) out |= nvml;
  return out;
}

export const COLUMN_MAPPINGS: readonly ColumnMapping[] = [
  { names: ['gpu clock', 'gpu core clock'], metric: 'gpu_graphics_clock_mhz', units: mhz },
  { names: ['memory clock', 'gpu memory clock'], metric: 'gpu_memory_clock_mhz', units: mhz },
  { names: ['gpu temperature'], metric: 'gpu_temperature_celsius', units: celsius },
  { names: ['memory temperature'], metric: 'gpu_memory_temperature_celsius', units: celsius },
  // NVIDIA cards since GPU-Z 2.3x: `Hot Spot`; AMD cards: `GPU Temperature (Hot Spot)` (the junction sensor)
  {
    names: ['hot spot', 'gpu temperature (hot spot)'],
    metric: 'gpu_hotspot_temperature_celsius',
    units: celsius,
  },
  { names: ['gpu load'], metric: 'gpu_utilization_percent', units: percent },
  { names: ['memory controller load'], metric: 'gpu_memory_utilization_percent', units: percent },
  {
    names: ['memory used', 'memory usage', 'memory used (dedicated)', 'memory usage (dedicated)'],
    metric: 'gpu_memory_used_bytes',
    units: bytes,
  },
  { names: ['board power draw'], metric: 'gpu_power_draw_watts', units: { W: same } },
  { names: ['fan speed (%)', 'fan 1 speed (%)'], metric: 'gpu_fan_speed_percent', units: percent },
  {
    names: ['perfcap reason'],
    metric: 'gpu_clock_throttle_reasons',
    units: { '': perfCapToClockEventReasons },
    keepRaw: true,
  },
  { names: ['cpu temperature'], metric: 'host_cpu_temperature_celsius', units: celsius },
  { names: ['system memory used'], metric: 'host_memory_used_bytes', units: bytes },
];

/** A column of a header line. */
export interface GpuzColumn {
  /** 0-based position in the line (the Date column is 0). */
  readonly index: number;
  /** The header text, trimmed: `GPU Temperature [°C]`. */
  readonly name: string;
  /** Unique within the header: `name`, or `name #2`, `#3` for a repeated name. The key in `extra`. */
  readonly key: string;
  /** The name without its unit: `GPU Temperature`. */
  readonly label: string;
  /** The unit inside the brackets, as written (`°C`, `MHz`, `%`, `` for `PerfCap Reason []`), or null. */
  readonly unit: string | null;
  /** The catalog metric it fills, or null when it is kept in `extra`. */
  readonly metric: MetricName | null;
  readonly convert: ((value: number) => number) | null;
  readonly keepRaw: boolean;
}

const byName = new Map<string, ColumnMapping>();
for (const m of COLUMN_MAPPINGS) for (const n of m.names) byName.set(n, m);

/** Describes the columns of a header line (cells split on commas, the Date cell included). */
export function resolveColumns(cells: readonly string[]): GpuzColumn[] {
  const seen = new Map<string, number>();
  const filled = new Set<MetricName>();
  return cells.map((cell, index) => {
    const name = cell.trim() || `column ${index + 1}`;
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    const key = count === 1 ? name : `${name} #${count}`;
    const m = /^(.*?)\s*\[([^\]]*)\]$/.exec(name);
    const label = (m ? m[1] : name) as string;
    const unit = m ? (m[2] as string) : null;
    const mapping = byName.get(label.toLowerCase().replace(/\s+/g, ' '));
    const convert = mapping?.units[(unit ?? '').replace(/^[^A-Za-z%]+/, '')];
    // The first column that fills a metric wins; a later one (`Fan 1` after `Fan Speed`) stays in extra.
    if (mapping && convert && !filled.has(mapping.metric) && index > 0) {
      filled.add(mapping.metric);
      return { index, name, key, label, unit, metric: mapping.metric, convert, keepRaw: !!mapping.keepRaw };
    }
    return { index, name, key, label, unit, metric: null, convert: null, keepRaw: false };
  });
}

/**
 * The vendor, where the columns show it (GPU-Z does not log the model): PerfCap Reason is read through NVAPI
 * (NVIDIA only), UVD/VCE/VCN/SoC clocks exist only on AMD GPUs.
 */
export function inferVendor(columns: readonly GpuzColumn[]): 'NVIDIA' | 'AMD' | null {
  const labels = columns.map((c) => c.label.toLowerCase());
  if (labels.includes('perfcap reason')) return 'NVIDIA';
  if (labels.some((l) => /^(uvd|vce|vcn|soc) clock$/.test(l))) return 'AMD';
  return null;
}
