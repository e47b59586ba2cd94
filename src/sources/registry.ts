import { hostname } from 'node:os';
import type { Config } from '../config/schema.ts';
import { GpumonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { GpuSample } from '../metrics/sample.ts';
import type { Source } from './source.ts';

/**
 * A live source of this machine, with the host's CPU and memory figures in its samples (sources/host). `isLocal`
 * picks the samples of this machine where the source may read others (dcgm).
 */
async function withHostMetrics(
  source: Source,
  { config, logger }: SourceContext,
  isLocal?: (sample: GpuSample) => boolean,
): Promise<Source> {
  const { HostMetricsSource } = await import('./host/host-metrics-source.ts');
  return new HostMetricsSource(source, {
    root: config.source.hostRoot,
    logger,
    ...(isLocal ? { isLocal } : {}),
  });
}

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
    create: async (context) =>
      withHostMetrics(
        new (await import('./nvml/nvml-source.ts')).NvmlSource({
          library: context.config.source.nvml.library,
          host: context.config.source.host,
          ...(context.logger ? { logger: context.logger } : {}),
        }),
        context,
      ),
  },
  {
    name: 'nvidia-smi',
    probe: async (config) =>
      (await import('./nvidia-smi/index.ts')).nvidiaSmiAvailable(config.source.nvidiaSmi.path),
    create: async (context) =>
      withHostMetrics(
        new (await import('./nvidia-smi/index.ts')).NvidiaSmiSource({
          path: context.config.source.nvidiaSmi.path,
          intervalMs: context.config.source.intervalMs,
          host: context.config.source.host || hostname(),
          ...(context.logger ? { logger: context.logger } : {}),
        }),
        context,
      ),
  },
  {
    name: 'rocm-smi',
    probe: async (config) =>
      (await import('./rocm-smi/index.ts')).rocmSmiAvailable(config.source.rocmSmi.path),
    create: async (context) =>
      withHostMetrics(
        new (await import('./rocm-smi/index.ts')).RocmSmiSource({
          path: context.config.source.rocmSmi.path,
          host: context.config.source.host,
          logger: context.logger,
        }),
        context,
      ),
  },
  {
    name: 'dcgm',
    // A scrape may be of another node's exporter: only the samples of this machine get its host figures.
    create: async (context) => {
      const local = context.config.source.host || hostname();
      return withHostMetrics(
        new (await import('./dcgm/index.ts')).DcgmSource({
          url: context.config.source.dcgm.url,
          host: context.config.source.host,
          logger: context.logger,
        }),
        context,
        (sample) => sample.host === local,
      );
    },
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
