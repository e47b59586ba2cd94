/**
 * InfluxQL answers (`/query` with `epoch=ms`) of measurement `gpu_metrics` back into samples, derived from the
 * metric catalog as the line protocol is (src/metrics/line-protocol.ts): each metric from the field of
 * its `influx` name, the identity from the tags of `IDENTITY[].influxTag` (grouped by them) and from the string
 * fields of the identity entries without a tag. A field absent from a row (InfluxDB has no null: the sink left
 * the null out) is null in the sample. Every sample is validated as the consumer validates a record
 * (`parseSample`): a row that is not a valid sample is skipped and counted, never applied.
 */
import { GpumonError } from '../../errors.ts';
import { IDENTITY, METRICS } from '../../metrics/catalog.ts';
import { SAMPLE_MEASUREMENT } from '../../metrics/line-protocol.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';

const TAGGED = IDENTITY.filter((i) => i.influxTag !== '');
const UNTAGGED = IDENTITY.filter((i) => i.influxTag === '');

/** The tags a query groups by, so that each series is one GPU and its tags are its identity. */
export const GROUP_BY_TAGS: readonly string[] = TAGGED.map((i) => i.influxTag).sort();

/** The fields a query selects: every metric's `influx` name, then the identity entries without a tag. */
export const SAMPLE_FIELDS: readonly string[] = [
  ...METRICS.map((m) => m.influx),
  ...UNTAGGED.map((i) => i.name),
];

/** One series of an InfluxQL answer. */
export interface InfluxSeries {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export interface DecodedRows {
  /** Valid samples, in the order of the answer (each series oldest first). */
  samples: GpuSample[];
  /** Series in the answer: a query with SLIMIT n that got fewer has seen the last GPU. */
  series: number;
  /** Rows that were not valid samples. */
  invalid: number;
  /** Why the first invalid row was refused (SAMPLE_INVALID, naming the series and the time). */
  firstInvalid: GpumonError | null;
}

/**
 * The series of the answers of `/query` (the `results` array InfluxClient.query returns). Throws
 * LIVE_READ_FAILED when the answer is not shaped like one (a proxy's page, another API).
 */
export function seriesOf(results: readonly unknown[], where: string): InfluxSeries[] {
  const series: InfluxSeries[] = [];
  for (const result of results) {
    if (!isRecord(result)) throw notAResult(where, 'a result is not an object');
    const list = result.series;
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw notAResult(where, '`series` is not an array');
    for (const s of list) {
      if (!isRecord(s) || !Array.isArray(s.columns) || !Array.isArray(s.values))
        throw notAResult(where, 'a series has no `columns` and `values` arrays');
      if (s.tags !== undefined && !isRecord(s.tags))
        throw notAResult(where, "a series' `tags` is not an object");
      series.push(s as unknown as InfluxSeries);
    }
  }
  return series;
}

const UNTAGGED_INTS = UNTAGGED.filter((i) => i.type === 'int32').map((i) => i.name);

/** The sample key each column of a series fills: `time` the timestamp, each field its metric or identity. */
const COLUMN_KEYS: ReadonlyMap<string, string> = new Map<string, string>([
  ['time', 'ts'],
  ...METRICS.map((m): [string, string] => [m.influx, m.name]),
  ...UNTAGGED.map((i): [string, string] => [i.name, i.name]),
]);

/** The identity of a series' GPU from its tags: `gpu` "3" is gpu_index 3; a missing tag stays missing. */
function identityOfTags(tags: Record<string, string> | undefined): Record<string, unknown> {
  const identity: Record<string, unknown> = {};
  for (const id of TAGGED) {
    const value = tags?.[id.influxTag];
    if (value === undefined || value === '') continue;
    identity[id.name] = id.type === 'int32' ? (/^\d+$/.test(value) ? Number(value) : value) : value;
  }
  return identity;
}

/**
 * Every row of every series as a sample. Columns the catalog does not know (a field written by something
 * else) are ignored; a metric whose column is absent is null. A row that does not make a valid sample (a tag
 * missing, a value out of the catalog's range, a string where a number belongs) is counted in `invalid`.
 */
export function decodeSeries(series: readonly InfluxSeries[]): DecodedRows {
  const decoded: DecodedRows = { samples: [], series: series.length, invalid: 0, firstInvalid: null };
  for (const s of series) {
    const identity = identityOfTags(s.tags);
    const keys = s.columns.map((column) => COLUMN_KEYS.get(column));
    const where = `${s.name ?? SAMPLE_MEASUREMENT} ${JSON.stringify(s.tags ?? {})}`;
    for (const row of s.values) {
      const sample: Record<string, unknown> = { ts: undefined, ...identity };
      for (const m of METRICS) sample[m.name] = null;
      for (const i of UNTAGGED) sample[i.name] = null;
      if (Array.isArray(row)) {
        for (let c = 0; c < keys.length; c++) {
          const key = keys[c];
          if (key !== undefined) sample[key] = row[c] ?? null;
        }
      }
      // Untagged int32 identity fields (MIG instance ids) are written as string fields: "3" is 3.
      for (const i of UNTAGGED_INTS) {
        const value = sample[i];
        if (typeof value === 'string' && /^\d+$/.test(value)) sample[i] = Number(value);
      }
      try {
        decoded.samples.push(parseSample(sample, `${where} at ${String(sample.ts)}`));
      } catch (err) {
        decoded.invalid++;
        decoded.firstInvalid ??= err as GpumonError;
      }
    }
  }
  return decoded;
}

function notAResult(where: string, why: string): GpumonError {
  return new GpumonError('LIVE_READ_FAILED', `${where}: not an InfluxQL query result: ${why}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
