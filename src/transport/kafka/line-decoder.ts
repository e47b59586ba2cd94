/**
 * The consumer's decoder of records (docs/encoding.md) for the InfluxDB sink: one walk over the record's bytes
 * validates each sample, builds it, and writes its `gpu_metrics` line of line protocol, copying each number's
 * text from the record instead of parsing it into a double and formatting it again. The line is left on the
 * sample (`ENCODED_LINE`), and the sink sends it as is.
 *
 * It reads records as gpumon writes them (JSON.stringify): a batch `[3,[ts,...],[ts,...]]` with each sample's
 * values in catalog order, or one sample as an object `{"v":2,"ts":...}` with the fields in catalog order;
 * no whitespace, ASCII strings without escapes, numbers as `String` writes them with at most 15 digits. Any
 * other record (another order, an escape, `1.50`, a value out of range, garbage) goes to `decodeRecord`,
 * which decides exactly as before: the same samples accepted, the same reasons for the dead-letter topic. So
 * this path only ever accepts what `decodeRecord` accepts, returns the same samples, and their lines have the
 * same bytes as `sampleLine`'s (tests keep all three equal, on thousands of corrupted records too).
 */
import { IDENTITY, METRICS } from '../../metrics/catalog.ts';
import {
  ENCODED_LINE,
  escapeKey,
  SAMPLE_MEASUREMENT,
  type SampleWithLine,
  seriesKeyOf,
} from '../../metrics/line-protocol.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import {
  BATCH_SINCE,
  type DecodedRecord,
  decodeRecord,
  ENCODING_VERSION,
  positionalFields,
  versionOfHeader,
} from './encoding.ts';

enum Kind {
  Text = 0,
  Int = 1,
  Float = 2,
}

interface Field {
  name: string;
  /** `,"name":` as bytes: what precedes the value in the record. */
  key: Uint8Array;
  kind: Kind;
  nullable: boolean;
  min: number;
  max: number;
  /** For metrics: `influx=` as bytes (the first field of a line has no comma before it). */
  prefix: Uint8Array | null;
  /** For untagged identity fields: `name=` as bytes, written as string fields after the metrics. */
  stringPrefix: Uint8Array | null;
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));

const FIELDS: Field[] = [
  ...IDENTITY.map((id): Field => {
    // As parseSample checks them: from the catalog's `nullable`.
    const nullable: boolean = id.nullable;
    return {
      name: id.name,
      key: bytes(`,"${id.name}":`),
      kind: id.type === 'int32' ? Kind.Int : Kind.Text,
      nullable,
      min: 0,
      max: 65535,
      prefix: null,
      stringPrefix: id.influxTag === '' ? bytes(`${escapeKey(id.name)}=`) : null,
    };
  }),
  ...METRICS.map(
    (m): Field => ({
      name: m.name,
      key: bytes(`,"${m.name}":`),
      kind: m.type === 'int64' ? Kind.Int : Kind.Float,
      nullable: true,
      min: m.min,
      max: m.max,
      prefix: bytes(`${escapeKey(m.influx)}=`),
      stringPrefix: null,
    }),
  ),
];

/**
 * What a line can take beyond the sample's own bytes and its series key (see `bound` below): in the object
 * layout, what each field's name in influx takes beyond its JSON key; in a batch, which has no keys, all of it.
 */
const LINE_EXTRA_BYTES =
  FIELDS.reduce(
    (sum, f) => sum + Math.max(0, (f.prefix ?? f.stringPrefix ?? new Uint8Array()).length - f.key.length) + 4,
    0,
  ) + 32;
const POSITIONAL_LINE_EXTRA_BYTES =
  FIELDS.reduce((sum, f) => sum + (f.prefix ?? f.stringPrefix ?? new Uint8Array()).length + 4, 0) + 32;

/**
 * The versions whose samples carry exactly the current catalog's fields (FIELDS): only their records take the
 * fast path, the others (v1's fewer fields) go to decodeRecord.
 */
const FAST_VERSIONS = Array.from({ length: ENCODING_VERSION }, (_, i) => i + 1).filter(
  (v) => positionalFields(v).length === FIELDS.length + 1,
);
/** `{"v":N,"ts":` of each version whose objects take the fast path, by version. */
const OBJECT_HEADS = new Map(FAST_VERSIONS.map((v) => [v, bytes(`{"v":${v},"ts":`)]));
/** `[N,[` of each batch version that takes the fast path, by version. */
const BATCH_HEADS = new Map(FAST_VERSIONS.filter((v) => v >= BATCH_SINCE).map((v) => [v, bytes(`[${v},[`)]));
const QUOTE = 0x22;
const COMMA = 0x2c;
const SPACE = 0x20;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const LOWER_I = 0x69;
const LOWER_N = 0x6e;

/**
 * Builds a sample from its values in catalog order: an object literal generated once from the catalog, so
 * that every decoded sample has one shape and is built in one step (cloning a template and setting each field
 * by name costs several times more than the whole scan).
 */
const buildSample = new Function(
  'ts',
  'v',
  `return { ts, ${FIELDS.map((f, i) => `${JSON.stringify(f.name)}: v[${i}]`).join(', ')} };`,
) as (ts: number, values: readonly unknown[]) => GpuSample;

/** `gpu_metrics,<tags>` as bytes per GPU (bounded like src/metrics/line-protocol.ts's cache). */
const seriesKeys = new Map<string, Uint8Array>();

function seriesKeyBytes(host: string, gpu: number, uuid: string, model: string): Uint8Array {
  const id = `${host}\0${gpu}\0${uuid}\0${model}`;
  let key = seriesKeys.get(id);
  if (key === undefined) {
    key = Buffer.from(seriesKeyOf(SAMPLE_MEASUREMENT, { gpu: String(gpu), host, model, uuid }), 'utf8');
    if (seriesKeys.size >= 100_000) seriesKeys.clear();
    seriesKeys.set(id, key);
  }
  return key;
}

/** Lines are written into slabs of this size; a line is a view of its slab. */
const SLAB_BYTES = 1 << 20;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabAt = 0;

/** Where the values of one record lie: reused from record to record. */
const starts = new Int32Array(FIELDS.length);
const ends = new Int32Array(FIELDS.length);
const numbers = new Float64Array(FIELDS.length);
const values: unknown[] = FIELDS.map(() => null);

/** Where the timestamp of the sample being scanned lies, and its value. */
let tsStart = 0;
let tsEnd = 0;
let tsValue = 0;

/**
 * Decodes one record like `decodeRecord`, and for a record in gpumon's own layout (a batch of v3, or an object
 * of the versions with the current fields) also leaves each sample's line of line protocol on it
 * (`ENCODED_LINE`).
 */
export function decodeRecordWithLines(
  value: Buffer | null | undefined,
  encodingHeader?: string,
): DecodedRecord {
  if (value !== null && value !== undefined && value.length > 0) {
    const version = headerVersion(encodingHeader);
    if (version !== null) {
      if (value[0] === OPEN_BRACKET) {
        const samples = scanBatch(value, version);
        if (samples !== null) return { ok: true, samples };
      } else {
        const sample = scanObject(value, version);
        if (sample !== null) return { ok: true, samples: [sample] };
      }
    }
  }
  return decodeRecord(value, encodingHeader);
}

/** The version a header names (0: no header), or null where the fast path must leave the record alone. */
function headerVersion(header: string | undefined): number | null {
  return header === undefined ? 0 : versionOfHeader(header);
}

/** An object-layout sample with its line, or null for anything the fast path does not take. */
function scanObject(buf: Buffer, header: number): GpuSample | null {
  for (const [version, head] of OBJECT_HEADS) {
    if (header !== 0 && header !== version) continue;
    if (!startsWith(buf, 0, head)) continue;
    const end = scanFields(buf, head.length, false);
    if (end < 0 || end !== buf.length - 1 || buf[end] !== CLOSE_BRACE) return null;
    return emit(buf, 0, buf.length, LINE_EXTRA_BYTES);
  }
  return null;
}

/** A batch's samples with their lines, or null for anything the fast path does not take. */
function scanBatch(buf: Buffer, header: number): GpuSample[] | null {
  for (const [version, head] of BATCH_HEADS) {
    if (header !== 0 && header !== version) continue;
    if (!startsWith(buf, 0, head)) continue;
    const samples: GpuSample[] = [];
    let at = head.length - 1; // at the first sample's `[`
    for (;;) {
      const end = scanFields(buf, at + 1, true);
      if (end < 0 || buf[end] !== CLOSE_BRACKET) return null;
      samples.push(emit(buf, at, end + 1, POSITIONAL_LINE_EXTRA_BYTES));
      const next = buf[end + 1];
      if (next === CLOSE_BRACKET && end + 2 === buf.length) return samples;
      if (next !== COMMA || buf[end + 2] !== OPEN_BRACKET) return null;
      at = end + 2;
    }
  }
  return null;
}

function startsWith(buf: Buffer, at: number, head: Uint8Array): boolean {
  if (at + head.length > buf.length) return false;
  for (let i = 0; i < head.length; i++) if (buf[at + i] !== head[i]) return false;
  return true;
}

/**
 * Scans one sample's values from `at`, where its timestamp starts: each field after its key (the object
 * layout) or after a comma (a batch's positional layout). Leaves where each value lies in `starts`/`ends`
 * (and the numbers in `numbers`); returns the index after the last value, or -1 for anything that
 * `decodeRecord` must judge.
 */
function scanFields(buf: Buffer, from: number, positional: boolean): number {
  const n = buf.length;
  let at = from;
  // ts: a non-negative integer.
  tsStart = at;
  let ts = 0;
  if (buf[at] === ZERO) at++;
  else {
    while (at < n) {
      const c = buf[at] as number;
      if (c < ZERO || c > NINE) break;
      ts = ts * 10 + (c - ZERO);
      at++;
    }
  }
  tsEnd = at;
  tsValue = ts;
  if (tsEnd === tsStart || tsEnd - tsStart > 16 || ts > Number.MAX_SAFE_INTEGER) return -1;

  for (let f = 0; f < FIELDS.length; f++) {
    const field = FIELDS[f] as Field;
    if (positional) {
      if (buf[at] !== COMMA) return -1;
      at++;
    } else {
      const key = field.key;
      if (at + key.length > n) return -1;
      for (let i = 0; i < key.length; i++) if (buf[at + i] !== key[i]) return -1;
      at += key.length;
    }
    const c = buf[at];
    if (c === LOWER_N) {
      // null
      if (!field.nullable) return -1;
      if (buf[at + 1] !== 0x75 || buf[at + 2] !== 0x6c || buf[at + 3] !== 0x6c) return -1;
      starts[f] = -1;
      at += 4;
      continue;
    }
    if (c === QUOTE) {
      if (field.kind !== Kind.Text) return -1;
      const start = ++at;
      while (at < n) {
        const d = buf[at] as number;
        if (d === QUOTE) break;
        if (d === BACKSLASH || d < SPACE || d >= 0x7f) return -1;
        at++;
      }
      if (at >= n || at === start) return -1; // unterminated, or empty (parseSample refuses it)
      starts[f] = start;
      ends[f] = at;
      at++;
      continue;
    }
    // A number, in JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    if (field.kind === Kind.Text) return -1;
    const start = at;
    let negative = false;
    if (c === MINUS) {
      negative = true;
      at++;
    }
    let mantissa = 0;
    let digits = 0;
    const intStart = at;
    while (at < n) {
      const d = buf[at] as number;
      if (d < ZERO || d > NINE) break;
      mantissa = mantissa * 10 + (d - ZERO);
      at++;
    }
    const intDigits = at - intStart;
    if (intDigits === 0 || (intDigits > 1 && buf[intStart] === ZERO)) return -1;
    digits = intDigits;
    let scale = 0;
    if (buf[at] === DOT) {
      if (field.kind === Kind.Int) return -1;
      at++;
      const fracStart = at;
      while (at < n) {
        const d = buf[at] as number;
        if (d < ZERO || d > NINE) break;
        mantissa = mantissa * 10 + (d - ZERO);
        at++;
      }
      scale = at - fracStart;
      // No digit after the point, or a trailing zero (`1.50`: not the text `String` would write).
      if (scale === 0 || buf[at - 1] === ZERO) return -1;
      digits += scale;
    }
    const e = buf[at];
    // Exponents, and mantissas beyond 15 digits (not exact in a double): left to decodeRecord.
    if (e === 0x65 || e === 0x45 || digits > 15 || scale > 22) return -1;
    let v = scale === 0 ? mantissa : mantissa / 10 ** scale; // both exact: the division rounds correctly
    // The text is then the shortest that reads back to v (15 digits or fewer always do), so it is what
    // `String(v)` writes, except for -0 and below 1e-6 (`1e-7`): left to decodeRecord.
    if (v === 0 ? negative : v < 1e-6) return -1;
    if (negative) v = -v;
    if (v < field.min || v > field.max) return -1;
    starts[f] = start;
    ends[f] = at;
    numbers[f] = v;
  }
  return at;
}

/**
 * Builds the sample `scanFields` just read (its text `from .. to` of `buf`), and its line, which takes at most
 * `extra` bytes beyond that text and the series key.
 */
function emit(buf: Buffer, from: number, to: number, extra: number): GpuSample {
  for (let f = 0; f < FIELDS.length; f++) {
    const start = starts[f] as number;
    values[f] =
      start < 0
        ? null
        : (FIELDS[f] as Field).kind === Kind.Text
          ? buf.toString('latin1', start, ends[f] as number)
          : numbers[f];
  }
  const s = buildSample(tsValue, values) as SampleWithLine;
  const series = seriesKeyBytes(s.host, s.gpu_index, s.uuid, s.model);
  // The line is at most the series key, a space, the sample's bytes (each value copied once) with what the
  // field names in influx take beyond the JSON keys, quotes, `i`s and commas, a space and the timestamp.
  const bound = series.length + (to - from) + extra;
  if (slabAt + bound > slab.length) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bound));
    slabAt = 0;
  }
  const out = slab;
  let o = slabAt;
  out.set(series, o);
  o += series.length;
  out[o++] = SPACE;
  const fieldsStart = o;
  for (let f = 0; f < FIELDS.length; f++) {
    const field = FIELDS[f] as Field;
    const prefix = field.prefix;
    if (prefix === null) continue;
    const start = starts[f] as number;
    if (start < 0) continue;
    if (o !== fieldsStart) out[o++] = COMMA;
    out.set(prefix, o); // a field name: a block copy is cheaper than a loop of its 10-30 bytes
    o += prefix.length;
    const end = ends[f] as number;
    for (let i = start; i < end; i++) out[o++] = buf[i] as number;
    if (field.kind === Kind.Int) out[o++] = LOWER_I;
  }
  for (let f = 0; f < FIELDS.length; f++) {
    const field = FIELDS[f] as Field;
    const prefix = field.stringPrefix;
    if (prefix === null) continue;
    const start = starts[f] as number;
    if (start < 0) continue;
    if (o !== fieldsStart) out[o++] = COMMA;
    out.set(prefix, o); // a field name: a block copy is cheaper than a loop of its 10-30 bytes
    o += prefix.length;
    out[o++] = QUOTE;
    const end = ends[f] as number;
    for (let i = start; i < end; i++) out[o++] = buf[i] as number;
    out[o++] = QUOTE;
  }
  if (o === fieldsStart) return s; // no field at all: no line (sampleLine says null too)
  out[o++] = SPACE;
  for (let i = tsStart; i < tsEnd; i++) out[o++] = buf[i] as number;
  if (o > out.length) throw new Error(`line of ${o - slabAt} bytes past its bound of ${bound}`);
  s[ENCODED_LINE] = out.subarray(slabAt, o);
  slabAt = o;
  return s;
}
