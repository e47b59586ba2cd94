import { hostname } from 'node:os';
import type { Config } from '../config/schema.ts';
import { GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Source } from './source.ts';

/** What a source needs to be built. */
interface SourceContext {
  config: Config;
  logger?: Logger | undefined;
  /** Why this source was picked, for a source that should tell people (the simulator). */
  notice?: string | undefined;
}

/**
 * A source gpumon can build: its name, whether `auto` may pick it (and how to tell), and a factory. Probes and
 * factories load their source's module when called, so a process holds only the source it uses (the agent's
 * memory budget: docs/decisions/0001-agent-memory.md).
 */
interface SourceEntry {
  readonly name: string;
  /** For `auto`: whether this machine has what the source reads. Absent: `auto` never picks it. */
  readonly probe?: (config: Config) => Promise<boolean>;
  readonly create: (context: SourceContext) => Promise<Source>;
}

/**
 * Every source gpumon knows, by name, in the order `auto` tries them: the first whose probe answers yes is
 * used, else the simulator (which has no probe and is always last).
 */
export const SOURCES: readonly SourceEntry[] = [
  {
    name: 'nvml',
    probe: async (config) =>
      (await import('./nvml/nvml-source.ts')).nvmlAvailable(config.source.nvml.library),
    create: async ({ config, logger }) =>
      new (await import('./nvml/nvml-source.ts')).NvmlSource({
        library: config.source.nvml.library,
        host: config.source.host,
        ...(logger ? { logger } : {}),
      }),
  },
  {
    name: 'nvidia-smi',
    probe: async (config) =>
      (await import('./nvidia-smi/index.ts')).nvidiaSmiAvailable(config.source.nvidiaSmi.path),
    create: async ({ config, logger }) =>
      new (await import('./nvidia-smi/index.ts')).NvidiaSmiSource({
        path: config.source.nvidiaSmi.path,
        intervalMs: config.source.intervalMs,
        host: config.source.host || hostname(),
        ...(logger ? { logger } : {}),
      }),
  },
  {
    name: 'rocm-smi',
    probe: async (config) =>
      (await import('./rocm-smi/index.ts')).rocmSmiAvailable(config.source.rocmSmi.path),
    create: async ({ config, logger }) =>
      new (await import('./rocm-smi/index.ts')).RocmSmiSource({
        path: config.source.rocmSmi.path,
        host: config.source.host,
        logger,
      }),
  },
  {
    name: 'dcgm',
    create: async ({ config, logger }) =>
      new (await import('./dcgm/index.ts')).DcgmSource({
        url: config.source.dcgm.url,
        host: config.source.host,
        logger,
      }),
  },
  {
    name: 'gpuz',
    create: async ({ config, logger }) =>
      new (await import('./gpuz/gpuz-source.ts')).GpuzSource({
        ...config.source.gpuz,
        host: config.source.host,
        ...(logger ? { logger } : {}),
      }),
  },
  {
    name: 'sim',
    create: async ({ config, notice }) =>
      new (await import('./sim/sim-source.ts')).SimSource({
        hosts: config.source.sim.hosts,
        gpusPerHost: config.source.sim.gpusPerHost,
        seed: config.source.sim.seed,
        ...(notice ? { notice } : {}),
      }),
  },
];

/**
 * Picks the source: the configured one, or for `auto` the first of SOURCES whose probe finds what it reads,
 * else the simulator with a visible notice saying why.
 */
export async function selectSource(config: Config, logger?: Logger): Promise<Source> {
  const type = config.source.type;
  if (type !== 'auto') {
    const entry = SOURCES.find((s) => s.name === type);
    if (!entry) {
      throw new GpumonError(
        'SOURCE_UNAVAILABLE',
        `source ${type} is not available in this build (known: ${SOURCES.map((s) => s.name).join(', ')})`,
      );
    }
    return entry.create({ config, logger });
  }
  const tried: string[] = [];
  for (const entry of SOURCES) {
    if (!entry.probe) continue;
    tried.push(entry.name);
    if (await entry.probe(config).catch(() => false)) {
      logger?.info({ source: entry.name }, `source auto: using ${entry.name}`);
      return entry.create({ config, logger });
    }
  }
  const notice = `No GPU source found (tried ${tried.join(', ')}): showing a simulated fleet.`;
  logger?.warn({ tried }, notice);
  return (SOURCES.find((s) => s.name === 'sim') as SourceEntry).create({ config, logger, notice });
}
