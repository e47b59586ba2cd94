const GIB = 1024 ** 3;

/** A number with `digits` decimals, or an em dash for a value the source could not read. */
export function fixed(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

export function gib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '—' : (bytes / GIB).toFixed(1);
}

/** Epoch ms as local date and time, to the second. */
export function dateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return new Date(ms).toLocaleString(undefined, { hour12: false });
}

/** A primitive for a table cell; objects as compact JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
