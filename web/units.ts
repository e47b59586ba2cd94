import type { CatalogEntry } from '../src/server/api-types.ts';

/** How a catalog unit is shown: the label on axes and values, and the factor from the stored value. */
export interface DisplayUnit {
  label: string;
  scale: number;
  digits: number;
}

const DISPLAY: Record<string, DisplayUnit> = {
  percent: { label: '%', scale: 1, digits: 0 },
  bytes: { label: 'GiB', scale: 1 / 1024 ** 3, digits: 1 },
  celsius: { label: '°C', scale: 1, digits: 0 },
  watts: { label: 'W', scale: 1, digits: 0 },
  megahertz: { label: 'MHz', scale: 1, digits: 0 },
  'bytes per second': { label: 'MB/s', scale: 1 / 1e6, digits: 1 },
  joules: { label: 'kJ', scale: 1 / 1000, digits: 1 },
};

/** The display unit of a catalog unit; an unknown unit is shown as the catalog names it, unscaled. */
export function displayUnit(unit: string): DisplayUnit {
  return DISPLAY[unit] ?? { label: unit, scale: 1, digits: 2 };
}

/** The units of the metrics, by name, from GET /api/catalog. */
export type UnitsByMetric = ReadonlyMap<string, DisplayUnit>;

export function unitsOf(catalog: readonly CatalogEntry[]): UnitsByMetric {
  return new Map(catalog.map((m) => [m.name, displayUnit(m.unit)]));
}

/** A value in its display unit with the unit's decimals, or an em dash for no reading. */
export function formatValue(value: number | null | undefined, unit: DisplayUnit): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * unit.scale).toFixed(unit.digits)} ${unit.label}`;
}
