import { type MetricName, metricDef } from '../../metrics/catalog.ts';
import {
  type GpuSample,
  type MetricValues,
  nullIdentity,
  nullMetrics,
  parseSample,
} from '../../metrics/sample.ts';
import type { GpuDevice } from '../source.ts';

/**
 * Parser of `rocm-smi ... --json` output (ROCm 4.3 to 6.1) onto the metric catalog. See README.md for the
 * key-to-metric table and the decisions behind it.
 *
 * rocm-smi prints one object per card (`card0`, `card1`, ...) whose values are all strings (`"45.0"`,
 * `"(1300Mhz)"`, `"N/A"`, `"N/A (Secondary die)"`), plus a `system` object (driver version, processes,
 * topology). Key names changed between versions (`Card series` -> `Card Series`), so keys are matched
 * case-insensitively. The parser never throws: whatever it cannot use is counted in `errors`.
 */

/** Why part of the output could not be used. */
export const ROCM_SMI_ISSUES = [
  'invalid-json',
  'text-around-json',
  'not-an-object',
  'card-not-an-object',
  'bad-value',
  'out-of-range',
  'invalid-sample',
] as const;
export type RocmSmiIssueReason = (typeof ROCM_SMI_ISSUES)[number];

export interface RocmSmiIssue {
  reason: RocmSmiIssueReason;
  /** Where: `card0` or `card0/GPU use (%)`; absent for the whole output. */
  key?: string;
  detail: string;
}

export interface RocmSmiParseOptions {
  /** Host name the samples carry (also part of a UUID derived from the PCI bus). */
  host: string;
  /** Epoch ms every sample is stamped with. */
  now: number;
}

export interface RocmSmiParseResult {
  /** One valid sample per card, in card order. */
  samples: GpuSample[];
  /** The cards as devices (same order as `samples`). */
  devices: GpuDevice[];
  errors: RocmSmiIssue[];
}

/** Numeric keys, each mapped to a catalog metric; the first key present (not N/A) wins. */
export const NUMERIC_KEYS: readonly { metric: MetricName; keys: readonly string[]; divisor?: number }[] = [
  { metric: 'gpu_utilization_percent', keys: ['GPU use (%)'] },
  // Activity, like NVML's memory utilization. `GPU Memory Allocated (VRAM%)` (6.1) is an allocation share:
  // not this metric (the VRAM byte counts carry it).
  {
    metric: 'gpu_memory_utilization_percent',
    keys: ['GPU Memory Read/Write Activity (%)', 'GPU memory use (%)'],
  },
  { metric: 'gpu_memory_total_bytes', keys: ['VRAM Total Memory (B)'] },
  { metric: 'gpu_memory_used_bytes', keys: ['VRAM Total Used Memory (B)'] },
  // Edge is the sensor closest to what NVML calls the GPU temperature; MI200/MI300 have none: junction.
  {
    metric: 'gpu_temperature_celsius',
    keys: ['Temperature (Sensor edge) (C)', 'Temperature (Sensor junction) (C)'],
  },
  // Junction is AMD's hot spot: the hottest of the die's sensors (also the GPU temperature where edge is absent).
  { metric: 'gpu_hotspot_temperature_celsius', keys: ['Temperature (Sensor junction) (C)'] },
  { metric: 'gpu_memory_temperature_celsius', keys: ['Temperature (Sensor memory) (C)'] },
  {
    metric: 'gpu_power_draw_watts',
    keys: ['Average Graphics Package Power (W)', 'Current Socket Graphics Package Power (W)'],
  },
  { metric: 'gpu_power_limit_watts', keys: ['Max Graphics Package Power (W)'] },
  { metric: 'gpu_energy_joules_total', keys: ['Accumulated Energy (uJ)'], divisor: 1e6 },
  // sclk drives the compute units and the graphics pipe alike: both NVIDIA clocks read it.
  { metric: 'gpu_sm_clock_mhz', keys: ['sclk clock speed:'] },
  { metric: 'gpu_graphics_clock_mhz', keys: ['sclk clock speed:'] },
  { metric: 'gpu_memory_clock_mhz', keys: ['mclk clock speed:'] },
  { metric: 'gpu_fan_speed_percent', keys: ['Fan speed (%)'] },
];

const HBM_SENSORS = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `Temperature (Sensor HBM ${i}) (C)`);

/** Parses the whole output of one `rocm-smi --json` run. Never throws. */
export function parseRocmSmiJson(text: string, options: RocmSmiParseOptions): RocmSmiParseResult {
  const result: RocmSmiParseResult = { samples: [], devices: [], errors: [] };
  const root = parseJsonObject(text, result.errors);
  if (!root) return result;

  const system = lowerKeys(root.system);
  const driver = stringValue(system?.get('driver version'));

  const cards = Object.keys(root)
    .map((key) => ({ key, index: /^card(\d{1,5})$/.exec(key)?.[1] }))
    .filter((c): c is { key: string; index: string } => c.index !== undefined)
    .map((c) => ({ key: c.key, index: Number(c.index) }))
    .filter((c) => c.index <= 65535)
    .sort((a, b) => a.index - b.index);

  for (const card of cards) {
    const fields = lowerKeys(root[card.key]);
    if (!fields) {
      result.errors.push({
        reason: 'card-not-an-object',
        key: card.key,
        detail: 'expected an object of keys',
      });
      continue;
    }
    const values = readMetrics(card.key, fields, result.errors);
    const device = identify(card.index, fields, driver, options.host);
    const sample = {
      ...nullIdentity(),
      ts: options.now,
      host: options.host,
      gpu_index: card.index,
      uuid: device.uuid,
      model: device.model,
      pci_bus_id: device.pciBusId,
      driver_version: driver,
      vbios_version: device.vbiosVersion,
      ...values,
    };
    try {
      result.samples.push(parseSample(sample, `rocm-smi ${card.key}`));
      result.devices.push(device);
    } catch (err) {
      result.errors.push({ reason: 'invalid-sample', key: card.key, detail: (err as Error).message });
    }
  }
  return result;
}

/** The root object; tolerates warnings printed before or after the JSON (counted as `text-around-json`). */
function parseJsonObject(text: string, errors: RocmSmiIssue[]): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const start = text.indexOf('{');
    const end = text.lastIndexOf('}');
    try {
      if (start < 0 || end < start) throw err;
      parsed = JSON.parse(text.slice(start, end + 1));
      errors.push({ reason: 'text-around-json', detail: 'text before or after the JSON object was ignored' });
    } catch {
      errors.push({ reason: 'invalid-json', detail: (err as Error).message });
      return null;
    }
  }
  if (!isObject(parsed)) {
    errors.push({ reason: 'not-an-object', detail: 'expected a JSON object of cards' });
    return null;
  }
  return parsed;
}

function readMetrics(card: string, fields: Map<string, unknown>, errors: RocmSmiIssue[]): MetricValues {
  const values = nullMetrics();
  const read = (key: string, divisor = 1): number | null => {
    const raw = fields.get(key.toLowerCase());
    if (raw === undefined) return null;
    const value = numberValue(raw);
    if (value === undefined) {
      errors.push({
        reason: 'bad-value',
        key: `${card}/${key}`,
        detail: `not a number: ${JSON.stringify(raw)}`,
      });
      return null;
    }
    return value === null ? null : value / divisor;
  };
  const set = (metric: MetricName, key: string, value: number | null) => {
    if (value === null) return false;
    const def = metricDef(metric);
    const v = def.type === 'int64' ? Math.round(value) : value;
    if (v < def.min || v > def.max) {
      errors.push({
        reason: 'out-of-range',
        key: `${card}/${key}`,
        detail: `${value} is outside ${def.min}..${def.max} ${def.unit}`,
      });
      return false;
    }
    values[metric] = v;
    return true;
  };

  for (const { metric, keys, divisor } of NUMERIC_KEYS) {
    for (const key of keys) if (set(metric, key, read(key, divisor))) break;
  }
  if (values.gpu_memory_temperature_celsius === null) {
    // No memory sensor: the hottest HBM stack, where rocm-smi reports any.
    const hbm = HBM_SENSORS.map((key) => read(key)).filter((v): v is number => v !== null);
    if (hbm.length > 0) set('gpu_memory_temperature_celsius', HBM_SENSORS[0] as string, Math.max(...hbm));
  }
  const total = values.gpu_memory_total_bytes;
  const used = values.gpu_memory_used_bytes;
  if (total !== null && used !== null && used <= total) values.gpu_memory_free_bytes = total - used;
  return values;
}

/**
 * The card's identity: UUID from `Unique ID` (`AMD-<hex id>`), else from host and PCI bus
 * (`AMD-<host>-<bus>`), else host and card number; model from the first name that is not a bare PCI id.
 */
function identify(
  index: number,
  fields: Map<string, unknown>,
  driver: string | null,
  host: string,
): GpuDevice {
  const get = (key: string) => stringValue(fields.get(key.toLowerCase()));
  const uniqueId = get('Unique ID');
  const pciBusId = get('PCI Bus');
  const hexId = uniqueId?.replace(/^0x/i, '').toLowerCase();
  const uuid =
    hexId && /^[0-9a-f]+$/.test(hexId) && !/^0+$/.test(hexId)
      ? `AMD-${hexId}`
      : pciBusId
        ? `AMD-${host}-${pciBusId}`
        : `AMD-${host}-card${index}`;
  const isName = (v: string | null): v is string => v !== null && !/^0x[0-9a-f]+$/i.test(v);
  const name = [get('Device Name'), get('Card series'), get('Card model')].find(isName);
  const deviceId = get('Device ID') ?? get('GPU ID');
  return {
    uuid,
    index,
    model: name ?? (deviceId ? `AMD GPU ${deviceId}` : 'AMD GPU'),
    pciBusId,
    serial: nonZero(get('Serial Number')),
    vbiosVersion: get('VBIOS version'),
    driverVersion: driver,
    parentUuid: null,
    migProfile: null,
  };
}

/**
 * A number from a rocm-smi value: `"45.0"`, `"(1300Mhz)"`, `"6"`. `null` for values that say "no reading"
 * (`N/A`, `N/A (Secondary die)`, `Not supported`, empty); `undefined` for anything else (a bad value).
 */
export function numberValue(raw: unknown): number | null | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (text === '' || /^(n\/a|not supported|unsupported|unknown)\b/i.test(text)) return null;
  const match = /^\(?\s*([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\s*(mhz|w|c|%|b|mv|uj)?\s*\)?$/i.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  return Number.isFinite(value) ? value : undefined;
}

/** `"0"` (what consumer and some Instinct boards print) is no serial. */
function nonZero(value: string | null): string | null {
  return value === null || /^0+$/.test(value) ? null : value;
}

function stringValue(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const text = raw.trim();
  return text === '' || /^n\/a\b/i.test(text) ? null : text;
}

function lowerKeys(value: unknown): Map<string, unknown> | null {
  if (!isObject(value)) return null;
  return new Map(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
