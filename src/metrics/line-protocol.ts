/**
 * InfluxDB line protocol (1.x; what 2.x/3.x accept on their v1-compatible `/write`), derived from the metric
 * catalog. Serialisation only: the HTTP transport is in src/sinks/influxdb/influx-client.ts.
 *
 * One sample is one line of measurement `gpu_metrics`:
 *   gpu_metrics,gpu=<gpu_index>,host=<host>,model=<model>,uuid=<uuid> <field>=<value>,... <ts in ms>
 * - tags: the IDENTITY entries with an `influxTag`, sorted by key (InfluxDB's own order, cheapest to index);
 * - fields: each metric's `influx` name, float64 as a float (`71.5`), int64 as an integer (`42i`), then the
 *   identity entries without a tag (`pci_bus_id`, `driver_version`) as string fields; null values are left out;
 * - timestamp: the sample's `ts`, epoch milliseconds: write with `precision=ms`.
 * A sample with no value at all has no line (InfluxDB rejects a line without fields): see `sampleLine`.
 */
import { IDENTITY, METRICS } from './catalog.ts';
import type { GpuSample } from './sample.ts';

export const SAMPLE_MEASUREMENT = 'gpu_metrics';

/** Precision of every timestamp this module writes; the `precision` query parameter of `/write`. */
export const PRECISION = 'ms';

/** A value of one field: a number typed by the catalog, a string, or a boolean. */
export type FieldValue =
  | { type: 'float'; value: number }
  | { type: 'integer'; value: number }
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean };

/** One point, before encoding. Tags and fields with a null/undefined value are left out. */
export interface Point {
  measurement: string;
  tags: Record<string, string | null | undefined>;
  fields: Record<string, FieldValue | null | undefined>;
  /** Epoch milliseconds. */
  ts: number;
}

// A backslash is literal in InfluxDB 1.x keys and tag values except before the characters it escapes, and one
// at the end (or before such a character) makes the line unparseable ("invalid tag format"); there is no way
// to write it, so it is dropped, as Telegraf does. Line breaks cannot be written either: they become `\n`.
const lineBreaks = (s: string) => s.replaceAll('\r', '\\r').replaceAll('\n', '\\n');

/** Measurement names: commas and spaces are escaped. */
export function escapeMeasurement(name: string): string {
  if (!/[\\, \n\r]/.test(name)) return name;
  return lineBreaks(name)
    .replace(/\\+(?=[, ]|$)/g, '')
    .replace(/[, ]/g, '\\$&');
}

/** Tag keys, tag values and field keys: commas, equals signs and spaces are escaped. */
export function escapeKey(key: string): string {
  if (!/[\\,= \n\r]/.test(key)) return key;
  return lineBreaks(key)
    .replace(/\\+(?=[,= ]|$)/g, '')
    .replace(/[,= ]/g, '\\$&');
}

/** String field values, quoted: backslashes and double quotes are escaped; line breaks are kept. */
export function quoteString(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

function encodeField(field: FieldValue): string | null {
  switch (field.type) {
    case 'float':
      // `String` gives the shortest form that reads back to the same double (`1e+21`, `1e-7` included).
      return Number.isFinite(field.value) ? String(field.value) : null;
    case 'integer':
      return Number.isSafeInteger(field.value) ? `${field.value}i` : null;
    case 'string':
      return quoteString(field.value);
    case 'boolean':
      return field.value ? 'true' : 'false';
  }
}

/**
 * One line of line protocol, without the newline, or null when the point has no field left (every value
 * null, or not representable: NaN, ±Infinity, an integer beyond 2^53) and InfluxDB would reject the line.
 * Tags with an empty value are left out (InfluxDB treats an absent tag and an empty one alike).
 */
export function encodePoint(point: Point): string | null {
  const fields: string[] = [];
  for (const [key, field] of Object.entries(point.fields)) {
    if (field === null || field === undefined) continue;
    const value = encodeField(field);
    if (value !== null) fields.push(`${escapeKey(key)}=${value}`);
  }
  if (fields.length === 0) return null;
  return `${seriesKeyOf(point.measurement, point.tags)} ${fields.join(',')} ${Math.trunc(point.ts)}`;
}

/** The measurement and tags part of a line (the series key), tags sorted by key, empty ones left out. */
export function seriesKeyOf(measurement: string, tags: Point['tags']): string {
  let key = escapeMeasurement(measurement);
  for (const tag of Object.keys(tags).sort()) {
    const value = tags[tag];
    if (value === null || value === undefined || value === '') continue;
    key += `,${escapeKey(tag)}=${escapeKey(value)}`;
  }
  return key;
}

const TAGGED = IDENTITY.filter((i) => i.influxTag !== '');
const UNTAGGED = IDENTITY.filter((i) => i.influxTag === '');

/** The InfluxDB tags of a sample's GPU, from IDENTITY's `influxTag`: host, gpu, uuid, model. */
export function sampleTags(sample: Pick<GpuSample, (typeof TAGGED)[number]['name']>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const id of TAGGED) tags[id.influxTag] = String(sample[id.name]);
  return tags;
}

/** The field type the catalog's storage type maps to. */
export function fieldType(type: 'float64' | 'int64'): 'float' | 'integer' {
  return type === 'int64' ? 'integer' : 'float';
}

/** A sample as a point of `gpu_metrics` (see the module comment). */
export function samplePoint(sample: GpuSample): Point {
  const fields: Point['fields'] = {};
  for (const m of METRICS) {
    const value = sample[m.name];
    if (value !== null) fields[m.influx] = { type: fieldType(m.type), value };
  }
  for (const id of UNTAGGED) {
    const value = sample[id.name];
    if (value !== null && value !== '') fields[id.name] = { type: 'string', value: String(value) };
  }
  return { measurement: SAMPLE_MEASUREMENT, tags: sampleTags(sample), fields, ts: sample.ts };
}

const METRIC_FIELDS = METRICS.map((m) => ({
  name: m.name,
  prefix: `${escapeKey(m.influx)}=`,
  integer: m.type === 'int64',
}));
const STRING_FIELDS = UNTAGGED.map((id) => ({ name: id.name, prefix: `${escapeKey(id.name)}=` }));

/** `gpu_metrics,<tags>` per GPU: the same for every sample of a GPU, so built once (bounded). */
const seriesKeys = new Map<string, string>();

function seriesKey(sample: GpuSample): string {
  const id = `${sample.host}\0${sample.gpu_index}\0${sample.uuid}\0${sample.model}`;
  let key = seriesKeys.get(id);
  if (key === undefined) {
    key = seriesKeyOf(SAMPLE_MEASUREMENT, sampleTags(sample));
    if (seriesKeys.size >= 100_000) seriesKeys.clear();
    seriesKeys.set(id, key);
  }
  return key;
}

/**
 * One sample as one line, or null when the sample holds no value at all (every metric null and no driver
 * version or PCI bus id): InfluxDB rejects a line without fields, and a point with nothing in it would say
 * nothing a gap does not say. The sink counts such samples (`skippedEmpty`). The same line as
 * `encodePoint(samplePoint(sample))`, built faster (a test keeps them equal).
 */
export function sampleLine(sample: GpuSample): string | null {
  let fields = '';
  for (const f of METRIC_FIELDS) {
    const value = sample[f.name];
    if (value === null) continue;
    if (f.integer ? !Number.isSafeInteger(value) : !Number.isFinite(value)) continue;
    fields += `${fields ? ',' : ''}${f.prefix}${value}${f.integer ? 'i' : ''}`;
  }
  for (const f of STRING_FIELDS) {
    const value = sample[f.name];
    if (value === null || value === '') continue;
    fields += `${fields ? ',' : ''}${f.prefix}${quoteString(String(value))}`;
  }
  if (!fields) return null;
  return `${seriesKey(sample)} ${fields} ${Math.trunc(sample.ts)}`;
}

/**
 * Where a decoder that already produced a sample's `gpu_metrics` line (UTF-8, no newline) leaves it on the
 * sample: the consumer's v1 decoder (src/transport/kafka/line-decoder.ts) writes the line straight from the record's bytes, the
 * sink then sends it as is instead of formatting every number again. Same bytes as `sampleLine` (a test keeps
 * them equal); a sample without it is encoded by `sampleLine`.
 */
export const ENCODED_LINE: unique symbol = Symbol('gpumon.influxdb.line');

/** A sample as it may come from the consumer's decoder: with its line already encoded. */
export type SampleWithLine = GpuSample & { [ENCODED_LINE]?: Uint8Array };

/** The sample's line: the one its decoder attached, else `sampleLine`. */
export function sampleLineOf(sample: GpuSample): string | Uint8Array | null {
  return (sample as SampleWithLine)[ENCODED_LINE] ?? sampleLine(sample);
}
