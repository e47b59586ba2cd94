import { isGpumonError } from '../../errors.ts';
import { CATALOG_WIRE_VERSION } from '../../metrics/catalog.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';

/**
 * The wire format of a sample on Kafka (docs/encoding.md): the value is UTF-8 JSON of the sample with a
 * version field first, `{"v":2,"ts":...,"host":...,...}`; the key is the GPU UUID (so one GPU's samples stay
 * in one partition, in order); the header `gpumon-encoding: v2` names the format. The agent's spool stores
 * the same JSON, one sample per line.
 *
 * The version is the catalog's: each metric says which version first carried it (`since`), so adding one
 * makes a new version, and records of every older version still decode (the new metrics `null`).
 */
export const ENCODING_VERSION = CATALOG_WIRE_VERSION;
export const ENCODING_HEADER = 'gpumon-encoding';
export const ENCODING_HEADER_VALUE = `v${ENCODING_VERSION}`;

/** One sample as a Kafka record: key, value and headers, as bytes. */
export interface EncodedSample {
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
}

export type Decoded = { ok: true; sample: GpuSample } | { ok: false; reason: string };

/** The JSON text of one sample in the current version (no newline). */
export function encodeSampleJson(sample: GpuSample): string {
  return JSON.stringify({ v: ENCODING_VERSION, ...sample });
}

export function encodeSample(sample: GpuSample): EncodedSample {
  return {
    key: Buffer.from(sample.uuid, 'utf8'),
    value: Buffer.from(encodeSampleJson(sample), 'utf8'),
    headers: { [ENCODING_HEADER]: Buffer.from(ENCODING_HEADER_VALUE) },
  };
}

/**
 * Decodes one record's value (and its `gpumon-encoding` header, when there is one). Never throws: anything
 * that is not a valid sample of a version this build reads comes back with the reason.
 */
export function decodeSample(value: Buffer | string | null | undefined, encodingHeader?: string): Decoded {
  const headerVersion = encodingHeader === undefined ? undefined : versionOfHeader(encodingHeader);
  if (headerVersion === null) {
    return {
      ok: false,
      reason: `unsupported encoding header ${ENCODING_HEADER}: ${clip(encodingHeader ?? '')}`,
    };
  }
  if (value === null || value === undefined || value.length === 0)
    return { ok: false, reason: 'empty value' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const { v, ...rest } = parsed as Record<string, unknown>;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > ENCODING_VERSION) {
    return { ok: false, reason: `unsupported version v=${clip(JSON.stringify(v) ?? 'missing')}` };
  }
  if (headerVersion !== undefined && headerVersion !== v) {
    return { ok: false, reason: `version v=${v} under header ${ENCODING_HEADER}: v${headerVersion}` };
  }
  try {
    return { ok: true, sample: parseSample(rest, `v${v} sample`, v) };
  } catch (err) {
    if (isGpumonError(err, 'SAMPLE_INVALID')) return { ok: false, reason: err.message };
    return { ok: false, reason: `invalid sample: ${String(err)}` };
  }
}

/** The version a `gpumon-encoding` header names (`v1`...`vN` of this build), or null for any other text. */
function versionOfHeader(header: string): number | null {
  const m = /^v([1-9][0-9]{0,3})$/.exec(header);
  const version = m ? Number(m[1]) : 0;
  return version >= 1 && version <= ENCODING_VERSION ? version : null;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
