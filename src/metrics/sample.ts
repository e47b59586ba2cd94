import { GpumonError } from '../errors.ts';
import { IDENTITY, METRICS, type MetricName } from './catalog.ts';

/** Every catalog metric, `null` where the source could not read it. */
export type MetricValues = { [K in MetricName]: number | null };

/** One reading of one GPU at one instant. Derived from the catalog: add a metric there, it appears here. */
export interface GpuSample extends MetricValues {
  /** Unix epoch milliseconds (UTC) when the values were read. */
  ts: number;
  host: string;
  gpu_index: number;
  uuid: string;
  model: string;
  pci_bus_id: string | null;
  driver_version: string | null;
}

/** The identity columns of a sample: the same for every sample of one GPU. */
export type GpuIdentity = Readonly<
  Pick<GpuSample, 'host' | 'gpu_index' | 'uuid' | 'model' | 'pci_bus_id' | 'driver_version'>
>;

/** The identity of the GPU a sample belongs to. */
export function identityOf(s: GpuSample): GpuIdentity {
  return {
    host: s.host,
    gpu_index: s.gpu_index,
    uuid: s.uuid,
    model: s.model,
    pci_bus_id: s.pci_bus_id,
    driver_version: s.driver_version,
  };
}

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

function text(nullable: boolean): Check {
  return (v) => {
    if (v === null) return nullable ? null : 'expected a string, got null';
    return typeof v === 'string' && v.length > 0 ? null : 'expected a non-empty string';
  };
}

/** One check per field, built from the catalog: the runtime validation of a sample. */
const CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['ts', intIn(0, Number.MAX_SAFE_INTEGER)],
  ['host', text(false)],
  ['gpu_index', intIn(0, 65535)],
  ['uuid', text(false)],
  ['model', text(false)],
  ['pci_bus_id', text(true)],
  ['driver_version', text(true)],
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

/**
 * Validates an untrusted object as a sample, field by field from the catalog (no schema library: this runs
 * for every message a consumer reads). A missing metric key is an error (the producer must say `null`), so a
 * forgotten metric cannot silently become a gap; an unknown key is an error too.
 */
export function parseSample(input: unknown, where = 'sample'): GpuSample {
  const fail = (field: string, why: string): never => {
    throw new GpumonError('SAMPLE_INVALID', `${where}: field ${field}: ${why}`);
  };
  if (!isObject(input)) return fail('(root)', 'expected an object');
  for (const [field, check] of CHECKS) {
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
