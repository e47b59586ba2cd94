import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { SimSource } from './sim/sim-source.ts';
import type { Source } from './source.ts';

/** A source the registry can build: its name and a factory. */
interface SourceEntry {
  readonly name: string;
  readonly create: (config: Config, notice?: string) => Source;
}

/** Every source gpumon knows, by name. Real GPU sources (NVML, nvidia-smi, rocm-smi, GPU-Z) join here. */
export const SOURCES: readonly SourceEntry[] = [
  {
    name: 'sim',
    create: (config, notice) =>
      new SimSource({
        hosts: config.source.sim.hosts,
        gpusPerHost: config.source.sim.gpusPerHost,
        seed: config.source.sim.seed,
        ...(notice ? { notice } : {}),
      }),
  },
];

const NVML_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1',
  '/usr/lib64/libnvidia-ml.so.1',
  '/usr/lib/libnvidia-ml.so.1',
  '/usr/local/nvidia/lib64/libnvidia-ml.so.1',
];

/** What this machine offers: used by `auto` to pick a source and to explain the choice. */
export function detectGpuRuntime(env: NodeJS.ProcessEnv = process.env): {
  nvml: boolean;
  nvidiaSmi: boolean;
} {
  const nvml = NVML_PATHS.some((p) => existsSync(p));
  const nvidiaSmi = (env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir && existsSync(join(dir, 'nvidia-smi')));
  return { nvml, nvidiaSmi };
}

/**
 * Picks the source: the configured one, or for `auto` NVML, else nvidia-smi, else the simulator with a visible
 * notice saying why.
 */
export function selectSource(config: Config, logger?: Logger, runtime = detectGpuRuntime()): Source {
  const byName = (name: string) => SOURCES.find((s) => s.name === name);
  if (config.source.type !== 'auto') {
    const entry = byName(config.source.type);
    if (!entry) throw new Error(`unknown source ${config.source.type}`);
    return entry.create(config);
  }
  const notice =
    runtime.nvml || runtime.nvidiaSmi
      ? `An NVIDIA driver is present (${runtime.nvml ? 'NVML' : 'nvidia-smi'}), but this build of gpumon has no NVML or nvidia-smi source yet: showing a simulated fleet.`
      : 'No GPU found (no NVML library, no nvidia-smi): showing a simulated fleet.';
  logger?.warn({ runtime }, notice);
  return (byName('sim') as SourceEntry).create(config, notice);
}
