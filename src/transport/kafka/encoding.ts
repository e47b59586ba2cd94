import { isGpumonError } from '../../errors.ts';
import {
  CATALOG_WIRE_VERSION,
  IDENTITY,
  type IdentityDef,
  METRICS,
  type MetricDef,
  metricSince,
} from '../../metrics/catalog.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';

/**
 * The wire format of samples on Kafka (docs/encoding.md). From version 3 a record carries a batch: the samples
 * one agent published together for one node, keyed by the node's host name (so a GPU's samples stay in one
 * partition, in order), the value `[3,[ts,host,gpu_index,...],[...],...]`, each sample's fields positionally
 * in catalog order; the header `gpumon-encoding: v3` names the format. Versions 1 and 2 carried one sample a
 * record, a JSON object `{"v":2,"ts":...,"host":...,...}` keyed by the GPU UUID; consumers read them still.
 * The agent's spool stores samples in that object layout, one a line, at the current version.
 *
 * Which fields a version carries is the catalog's: each field says in `since` which version first carried
 * it, so adding one makes a new version (`since` = the current version + 1), and records of every older
 * version still decode (the new fields `null`). Version 3 changed the layout only: its fields are version 2's.
 */
/** The first version whose records are batches of positional samples. */
export const BATCH_SINCE = 3;
export const ENCODING_VERSION = Math.max(BATCH_SINCE, CATALOG_WIRE_VERSION);
export const ENCODING_HEADER = 'gpumon-encoding';
export const ENCODING_HEADER_VALUE = `v${ENCODING_VERSION}`;
/** At most this many samples in one record: an agent of 8 GPUs fills one per tick, a spool replay several. */
export const MAX_SAMPLES_PER_RECORD = 64;

/** One Kafka record: key, value and headers, as bytes. */
export interface EncodedRecord {
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
}

export type Decoded = { ok: true; sample: GpuSample } | { ok: false; reason: string };
export type DecodedRecord = { ok: true; samples: GpuSample[] } | { ok: false; reason: string };

const ALL_FIELDS = [...(IDENTITY as readonly IdentityDef[]), ...(METRICS as readonly MetricDef[])];

/** The catalog version whose fields a record of wire version `version` carries (3 changed the layout only). */
function fieldVersion(version: number): number {
  return Math.min(version, CATALOG_WIRE_VERSION);
}

/** The fields of a positional sample of wire version `version`, in order: `ts`, then identity and metrics. */
export function positionalFields(version: number): readonly string[] {
  const fields = ALL_FIELDS.filter((f) => metricSince(f) <= fieldVersion(version)).map((f) => f.name);
  return ['ts', ...fields];
}

const CURRENT_FIELDS = positionalFields(ENCODING_VERSION);
const HEADERS = { [ENCODING_HEADER]: Buffer.from(ENCODING_HEADER_VALUE) };

/** The JSON text of one sample in the object layout of the current version (no newline): the spool's line. */
export function encodeSampleJson(sample: GpuSample): string {
  return JSON.stringify({ v: ENCODING_VERSION, ...sample });
}

/**
 * The records of `samples` in the current version: a host's samples in publish order, at most
 * MAX_SAMPLES_PER_RECORD a record, keyed by the host. Records of different hosts come in the order of each
 * host's first sample.
 */
export function encodeRecords(samples: readonly GpuSample[]): EncodedRecord[] {
  const byHost = new Map<string, GpuSample[]>();
  for (const s of samples) {
    const list = byHost.get(s.host);
    if (list === undefined) byHost.set(s.host, [s]);
    else list.push(s);
  }
  const records: EncodedRecord[] = [];
  for (const [host, list] of byHost) {
    const key = Buffer.from(host, 'utf8');
    for (let i = 0; i < list.length; i += MAX_SAMPLES_PER_RECORD) {
      const rows: unknown[] = [ENCODING_VERSION];
      for (const s of list.slice(i, i + MAX_SAMPLES_PER_RECORD)) {
        const row = s as unknown as Record<string, unknown>;
        // undefined: a sample built before the catalog gained the field.
        rows.push(CURRENT_FIELDS.map((f) => row[f] ?? null));
      }
      records.push({ key, value: Buffer.from(JSON.stringify(rows), 'utf8'), headers: HEADERS });
    }
  }
  return records;
}

/**
 * Decodes one record's value (and its `gpumon-encoding` header, when there is one) into its samples: a batch
 * of version 3 or later, or one sample in the object layout of any version. Never throws: a record that is
 * not wholly valid comes back with the reason (it goes to the dead-letter topic whole).
 */
export function decodeRecord(
  value: Buffer | string | null | undefined,
  encodingHeader?: string,
): DecodedRecord {
  const parsed = parseRecord(value, encodingHeader);
  if (!parsed.ok) return parsed;
  if (typeof parsed.json !== 'object' || parsed.json === null) {
    return { ok: false, reason: 'not a JSON object or array' };
  }
  if (!Array.isArray(parsed.json)) {
    const one = sampleOfObject(parsed.json, parsed.headerVersion);
    return one.ok ? { ok: true, samples: [one.sample] } : one;
  }
  const items = parsed.json as unknown[];
  const v = items[0];
  const version = checkVersion(v, parsed.headerVersion, BATCH_SINCE);
  if (typeof version === 'string') return { ok: false, reason: version };
  if (items.length < 2) return { ok: false, reason: `v${version} record: no samples` };
  const fields = positionalFields(version);
  const samples: GpuSample[] = [];
  for (let i = 1; i < items.length; i++) {
    const row = items[i];
    const where = `v${version} record, sample ${i}`;
    if (!Array.isArray(row) || row.length !== fields.length) {
      const got = Array.isArray(row) ? `${row.length} values` : clip(JSON.stringify(row) ?? 'nothing');
      return { ok: false, reason: `${where}: expected an array of ${fields.length} values, got ${got}` };
    }
    const input: Record<string, unknown> = {};
    for (let f = 0; f < fields.length; f++) input[fields[f] as string] = row[f];
    const sample = validated(input, where, version);
    if (!sample.ok) return sample;
    samples.push(sample.sample);
  }
  return { ok: true, samples };
}

/**
 * Decodes one sample in the object layout (a spool line, or a record of version 1 or 2). Never throws: anything
 * that is not a valid sample of a version this build reads comes back with the reason.
 */
export function decodeSample(value: Buffer | string | null | undefined, encodingHeader?: string): Decoded {
  const parsed = parseRecord(value, encodingHeader);
  if (!parsed.ok) return parsed;
  if (typeof parsed.json !== 'object' || parsed.json === null || Array.isArray(parsed.json)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  return sampleOfObject(parsed.json, parsed.headerVersion);
}

type Parsed = { ok: true; json: unknown; headerVersion: number | undefined } | { ok: false; reason: string };

function parseRecord(value: Buffer | string | null | undefined, encodingHeader: string | undefined): Parsed {
  const headerVersion = encodingHeader === undefined ? undefined : versionOfHeader(encodingHeader);
  if (headerVersion === null) {
    return {
      ok: false,
      reason: `unsupported encoding header ${ENCODING_HEADER}: ${clip(encodingHeader ?? '')}`,
    };
  }
  if (value === null || value === undefined || value.length === 0)
    return { ok: false, reason: 'empty value' };
  let json: unknown;
  try {
    json = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  return { ok: true, json, headerVersion };
}

function sampleOfObject(json: object, headerVersion: number | undefined): Decoded {
  const { v, ...rest } = json as Record<string, unknown>;
  const version = checkVersion(v, headerVersion, 1);
  if (typeof version === 'string') return { ok: false, reason: version };
  return validated(rest, `v${version} sample`, version);
}

/** The record's version, or why it is refused: a version this build reads, from `from`, the header's. */
function checkVersion(v: unknown, headerVersion: number | undefined, from: number): number | string {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < from || v > ENCODING_VERSION) {
    return `unsupported version v=${clip(JSON.stringify(v) ?? 'missing')}${
      from > 1 && typeof v === 'number' && v >= 1 && v < from ? ` (batches of samples start at v${from})` : ''
    }`;
  }
  if (headerVersion !== undefined && headerVersion !== v) {
    return `version v=${v} under header ${ENCODING_HEADER}: v${headerVersion}`;
  }
  return v;
}

function validated(input: Record<string, unknown>, where: string, version: number): Decoded {
  try {
    return { ok: true, sample: parseSample(input, where, fieldVersion(version)) };
  } catch (err) {
    if (isGpumonError(err, 'SAMPLE_INVALID')) return { ok: false, reason: err.message };
    return { ok: false, reason: `invalid sample: ${String(err)}` };
  }
}

/** The version a `gpumon-encoding` header names (`v1`...`vN` of this build), or null for any other text. */
export function versionOfHeader(header: string): number | null {
  const m = /^v([1-9][0-9]{0,3})$/.exec(header);
  const version = m ? Number(m[1]) : 0;
  return version >= 1 && version <= ENCODING_VERSION ? version : null;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
