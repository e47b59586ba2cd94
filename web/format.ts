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
  return new Date(ms).toLocaleString(undefined, { hourCycle: 'h23' });
}

/** A duration for people: 45 s, 12 min, 3.6 h, 2 d. */
export function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return `${Number(s.toFixed(1))} s`;
  if (s < 90 * 60) return `${Number((s / 60).toFixed(1))} min`;
  if (s < 36 * 3600) return `${Number((s / 3600).toFixed(1))} h`;
  return `${Number((s / 86_400).toFixed(1))} d`;
}
