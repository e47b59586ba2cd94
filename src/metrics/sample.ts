import { GpumonError } from '../errors.ts';
import {
  CATALOG_WIRE_VERSION,
  IDENTITY,
  type IdentityDef,
  METRICS,
  type MetricDef,
  type MetricName,
  metricSince,
} from './catalog.ts';

/** Every catalog metric, `null` where the source could not read it. */
export type MetricValues = { [K in MetricName]: number | null };

type IdentityDefs = (typeof IDENTITY)[number];
type IdentityValue<D extends IdentityDefs> = D['type'] extends 'int32'
  ? D['nullable'] extends true
    ? number | null
    : number
  : D['nullable'] extends true
    ? string | null
    : string;

/** The identity columns of a sample, typed from the catalog: what GPU it is, and which pod holds it. */
export type IdentityValues = { [D in IdentityDefs as D['name']]: IdentityValue<D> };

/** One reading of one GPU at one instant. Derived from the catalog: add a metric there, it appears here. */
export interface GpuSample extends MetricValues, IdentityValues {
  /** Unix epoch milliseconds (UTC) when the values were read. */
  ts: number;
}

/** The identity columns of a sample: the same for every sample of one GPU while one pod holds it. */
export type GpuIdentity = Readonly<IdentityValues>;

const IDENTITY_NAMES = IDENTITY.map((i) => i.name);

/** The identity of the GPU a sample belongs to. */
export function identityOf(s: GpuIdentity): GpuIdentity {
  const id = {} as Record<string, unknown>;
  for (const name of IDENTITY_NAMES) id[name] = s[name];
  return id as unknown as GpuIdentity;
}

/** A key equal for two samples exactly when their identities are equal. */
export function identityKey(s: GpuIdentity): string {
  return IDENTITY_NAMES.map((name) => s[name]).join('\u0000');
}

/** Identity columns that no source has filled: null where the catalog allows it. */
export function nullIdentity(): Pick<IdentityValues, NullableIdentityName> {
  const id = {} as Record<string, null>;
  for (const i of IDENTITY) if (i.nullable) id[i.name] = null;
  return id as Pick<IdentityValues, NullableIdentityName>;
}

/** The identity fields a sample may lack. */
export type NullableIdentityName = Extract<IdentityDefs, { nullable: true }>['name'];

/** Identity + timestamp columns, then every metric: the column order of the archive. */
export const SAMPLE_COLUMNS: readonly string[] = [
  'ts',
  ...IDENTITY.map((i) => i.name),
  ...METRICS.map((m) => m.name),
];

type Check = (value: unknown) => string | null;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function intIn(min: number, max: number): Check {
  return (v) =>
    typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max
      ? `expected an integer ${min}..${max}`
      : null;
}

/** `check`, and null too where the field is nullable. */
function orNull(nullable: boolean, check: Check): Check {
  return (v) => (v === null && nullable ? null : check(v));
}

function text(nullable: boolean): Check {
  return (v) => {
    if (v === null) return nullable ? null : 'expected a string, got null';
    return typeof v === 'string' && v.length > 0 ? null : 'expected a non-empty string';
  };
}

/** One check per field, built from the catalog: the runtime validation of a sample. */
const CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['ts', intIn(0, Number.MAX_SAFE_INTEGER)],
  ...IDENTITY.map((i): [string, Check] => [
    i.name,
    i.type === 'int32' ? orNull(i.nullable, intIn(0, 65535)) : text(i.nullable),
  ]),
  ...METRICS.map((m): [string, Check] => [
    m.name,
    (v) => {
      if (v === null) return null;
      if (typeof v !== 'number' || !Number.isFinite(v)) return 'expected a finite number or null';
      if (v < m.min || v > m.max) return `${v} is outside ${m.min}..${m.max} (${m.unit})`;
      if (m.type === 'int64' && !Number.isInteger(v)) return `${v} is not an integer`;
      return null;
    },
  ]),
]);

/** The metrics a record of wire version `version` carries: those the catalog had by then. */
const ADDED_AFTER: ReadonlyMap<number, ReadonlySet<string>> = new Map(
  Array.from({ length: CATALOG_WIRE_VERSION }, (_, i) => {
    const version = i + 1;
    const fields = [...(IDENTITY as readonly IdentityDef[]), ...(METRICS as readonly MetricDef[])].filter(
      (f) => metricSince(f) > version,
    );
    return [version, new Set(fields.map((f) => f.name))];
  }),
);

/**
 * Validates an untrusted object as a sample, field by field from the catalog (no schema library: this runs
 * for every message a consumer reads). A missing metric key is an error (the producer must say `null`), so a
 * forgotten metric cannot silently become a gap; an unknown key is an error too.
 *
 * `version` is the wire version the object was written in (docs/encoding.md): the metrics the catalog gained
 * after it must be absent, and become `null` in the returned sample (the object is completed in place).
 */
export function parseSample(input: unknown, where = 'sample', version = CATALOG_WIRE_VERSION): GpuSample {
  const fail = (field: string, why: string): never => {
    throw new GpumonError('SAMPLE_INVALID', `${where}: field ${field}: ${why}`);
  };
  const later = ADDED_AFTER.get(version);
  if (later === undefined) return fail('(root)', `unknown wire version ${version}`);
  if (!isObject(input)) return fail('(root)', 'expected an object');
  for (const [field, check] of CHECKS) {
    if (later.has(field)) {
      if (field in input) fail(field, `unrecognized key: not in version ${version} of the encoding`);
      input[field] = null;
      continue;
    }
    if (!(field in input)) fail(field, 'missing (a metric that was not read must be null)');
    const why = check(input[field]);
    if (why !== null) fail(field, why);
  }
  if (Object.keys(input).length !== CHECKS.size) {
    const unknown = Object.keys(input).find((k) => !CHECKS.has(k));
    if (unknown !== undefined) fail(unknown, 'unrecognized key: not in the metric catalog');
  }
  return input as unknown as GpuSample;
}

/** All metrics set to null: the starting point of a source that fills what it can read. */
export function nullMetrics(): MetricValues {
  const values = {} as MetricValues;
  for (const m of METRICS) values[m.name] = null;
  return values;
}
