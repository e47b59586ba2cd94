/**
 * Where things live in the archive (paths relative to the storage root, '/'-separated):
 *
 *   gpu-metrics/date=YYYY-MM-DD/part-<firstTs>-<pid>-<counter>-<random>[.s-<schema>].parquet
 *
 * One directory per UTC date of the sample timestamps (Hive-style partition, so DuckDB and Spark prune by
 * date); a file never holds samples of two dates.
 */
export const METRICS_DATASET = 'gpu-metrics';

const DAY_MS = 86_400_000;

/** The UTC date (YYYY-MM-DD) of an epoch-ms timestamp. */
export function dateOfTs(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Epoch ms of 00:00 UTC of a YYYY-MM-DD date. */
export function startOfDate(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

/** The date after a YYYY-MM-DD date. */
export function nextDate(date: string): string {
  return dateOfTs(startOfDate(date) + DAY_MS);
}

/** The dates from `first` to `last`, both included. */
export function datesBetween(first: string, last: string): string[] {
  const dates: string[] = [];
  for (let d = first; d <= last; d = nextDate(d)) dates.push(d);
  return dates;
}

/** The directory of one date's samples: `gpu-metrics/date=YYYY-MM-DD`. */
export function metricsPartition(date: string): string {
  return `${METRICS_DATASET}/date=${date}`;
}

/** The date of a partition directory name (`date=YYYY-MM-DD`), or null for anything else. */
export function partitionDate(name: string): string | null {
  const match = /^date=(\d{4}-\d{2}-\d{2})$/.exec(name);
  return match ? (match[1] as string) : null;
}

let counter = 0;

/**
 * A file name unique to this process and this call, starting with the time of its first sample; `.s-<tag>`
 * before `.parquet` names the schema of a file that stores metrics as decimals (encoding.ts).
 */
export function partFileName(firstTs: number, schemaTag: string | null = null): string {
  counter += 1;
  const random = Math.floor(Math.random() * 0xffffff)
    .toString(16)
    .padStart(6, '0');
  const tag = schemaTag === null ? '' : `.s-${schemaTag}`;
  return `part-${firstTs}-${process.pid}-${counter}-${random}${tag}.parquet`;
}

/**
 * The schema tag in a file's name or URI (null where it has none: every column of its catalog type). Files
 * with the same tag share one schema; a reader that cannot merge decimals with doubles reads each tag alone.
 */
export function schemaTagOf(location: string): string | null {
  const match = /\.s-([0-9a-f]+)\.parquet$/.exec(location);
  return match ? (match[1] as string) : null;
}

/** The storage path of a new samples file for `date`. */
export function newPartPath(date: string, firstTs: number, schemaTag: string | null = null): string {
  return `${metricsPartition(date)}/${partFileName(firstTs, schemaTag)}`;
}
