import { z } from 'zod';
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

const metricShape = Object.fromEntries(
  METRICS.map((m) => {
    let value = z.number().finite().min(m.min).max(m.max);
    if (m.type === 'int64') value = value.int();
    return [m.name, value.nullable()];
  }),
) as Record<MetricName, z.ZodNullable<z.ZodNumber>>;

/** Runtime validation of a sample, built from the catalog. Unknown keys are rejected. */
export const gpuSampleSchema = z
  .object({
    ts: z.number().int().min(0),
    host: z.string().min(1),
    gpu_index: z.number().int().min(0).max(65535),
    uuid: z.string().min(1),
    model: z.string().min(1),
    pci_bus_id: z.string().nullable(),
    driver_version: z.string().nullable(),
    ...metricShape,
  })
  .strict();

/** Identity + timestamp columns, then every metric: the column order of the archive. */
export const SAMPLE_COLUMNS: readonly string[] = [
  'ts',
  ...IDENTITY.map((i) => i.name),
  ...METRICS.map((m) => m.name),
];

/**
 * Validates an untrusted object as a sample. A missing metric key is an error (the producer must say `null`),
 * so a forgotten metric cannot silently become a gap.
 */
export function parseSample(input: unknown, where = 'sample'): GpuSample {
  const result = gpuSampleSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.join('.') || '(root)';
    throw new GpumonError('SAMPLE_INVALID', `${where}: field ${path}: ${issue?.message ?? 'invalid'}`, {
      cause: result.error,
    });
  }
  return result.data as GpuSample;
}

/** All metrics set to null: the starting point of a source that fills what it can read. */
export function nullMetrics(): MetricValues {
  const values = {} as MetricValues;
  for (const m of METRICS) values[m.name] = null;
  return values;
}
