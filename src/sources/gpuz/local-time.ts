import { GpumonError } from '../../errors.ts';

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const DAY_MS = 86_400_000;

/**
 * Reads GPU-Z's `Date` column, a local time without zone (`YYYY-MM-DD HH:MM:SS`), as an instant in `timeZone`
 * (an IANA name; `UTC` by default). Returns epoch milliseconds, or null for text that is not such a time.
 *
 * Around daylight-saving changes (as Temporal's `compatible`): a time written twice (clocks set back) is read as
 * its first occurrence; a time that does not exist (clocks set forward) is moved forward by the gap.
 */
export function localTimeReader(timeZone = 'UTC'): (text: string) => number | null {
  const offsetAt = timeZone === 'UTC' ? null : offsetFinder(timeZone);
  return (text) => {
    const m = LOCAL_TIME.exec(text);
    if (!m) return null;
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
    const wall = Date.UTC(y, mo - 1, d, h, mi, s);
    if (new Date(wall).getUTCDate() !== d) return null; // 2021-02-30
    if (!offsetAt) return wall;
    const before = offsetAt(wall - DAY_MS);
    const after = offsetAt(wall + DAY_MS);
    const early = wall - before;
    if (offsetAt(early) === before) return early;
    const late = wall - after;
    if (offsetAt(late) === after) return late;
    return early; // in the gap: the offset before the change moves it forward
  };
}

/** The UTC offset (ms) of a zone at an instant, cached by minute. */
function offsetFinder(timeZone: string): (utc: number) => number {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (err) {
    throw new GpumonError(
      'CONFIG_INVALID',
      `gpuz source: time zone '${timeZone}' is not an IANA time zone name (e.g. UTC, Europe/Berlin)`,
      { cause: err },
    );
  }
  const cache = new Map<number, number>();
  return (utc) => {
    const minute = Math.floor(utc / 60_000);
    const cached = cache.get(minute);
    if (cached !== undefined) return cached;
    const parts: Record<string, number> = {};
    for (const p of format.formatToParts(minute * 60_000)) parts[p.type] = Number(p.value);
    const asUtc = Date.UTC(
      parts.year ?? 0,
      (parts.month ?? 1) - 1,
      parts.day ?? 1,
      parts.hour ?? 0,
      parts.minute ?? 0,
      parts.second ?? 0,
    );
    const offset = asUtc - minute * 60_000;
    if (cache.size > 100_000) cache.clear();
    cache.set(minute, offset);
    return offset;
  };
}
