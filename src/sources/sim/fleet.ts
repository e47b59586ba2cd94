import type { GpuIdentity } from '../../metrics/sample.ts';
import { nullIdentity } from '../../metrics/sample.ts';
import { type GpuModel, pickModel } from './models.ts';
import { hash32, unitHash } from './rng.ts';

/**
 * What a simulated GPU does all day:
 * - training: ~96% busy, memory nearly full, power near the cap; short dips while it writes checkpoints
 * - inference: load follows the day/night cycle (busiest at 15:00 UTC, quietest at 03:00)
 * - bursty: idle most of the time, then busy for minutes; bursts are likelier by day
 * - idle-holding: under 5% busy while holding tens of GiB (a notebook left open): wasted GPU time
 * - idle: nothing running, P8, driver memory only
 */
export const PERSONALITIES = ['training', 'inference', 'bursty', 'idle-holding', 'idle'] as const;
export type Personality = (typeof PERSONALITIES)[number];

/** The mix of a fleet, repeated every eight GPUs (so any eight consecutive GPUs show every personality). */
const PATTERN: readonly Personality[] = [
  'training',
  'training',
  'inference',
  'bursty',
  'idle-holding',
  'inference',
  'idle',
  'training',
];

/** A simulated GPU: its identity and the fixed traits its behaviour derives from. */
export interface SimGpu extends GpuIdentity {
  readonly spec: GpuModel;
  readonly personality: Personality;
  /** Seed of this GPU's own random stream. */
  readonly seed: number;
  /** Inlet air temperature of its host at night, °C. */
  readonly inletCelsius: number;
  /** Share of the memory its job holds (training, inference weights, bursts, idle-holding). */
  readonly memoryShare: number;
  /** How hard its job drives the board: power demand at 100% load as a share of the power limit. */
  readonly intensity: number;
  /** The driver was loaded this long before the first sample: where the energy counter starts. */
  readonly uptimeSeconds: number;
}

export interface SimFleetOptions {
  hosts: number;
  gpusPerHost: number;
  seed: number;
}

const HGX_BUSES = ['18', '2A', '3A', '5D', '9A', 'AB', 'BA', 'DB'];
const DRIVERS = ['550.90.07', '550.90.07', '550.127.05', '535.183.01'];

/** The fleet for a seed: the same options always give the same hosts, models, UUIDs and personalities. */
export function buildFleet(options: SimFleetOptions): SimGpu[] {
  const { hosts, gpusPerHost, seed } = options;
  const width = Math.max(2, String(hosts).length);
  const rotation = hash32(seed, 0) % PATTERN.length;
  const fleet: SimGpu[] = [];
  for (let h = 0; h < hosts; h++) {
    const host = `sim-node-${String(h + 1).padStart(width, '0')}`;
    const spec = pickModel(unitHash(seed, 1, h));
    const driver = DRIVERS[hash32(seed, 3, h) % DRIVERS.length] as string;
    const inletCelsius = 21 + 6 * unitHash(seed, 4, h);
    for (let g = 0; g < gpusPerHost; g++) {
      const n = h * gpusPerHost + g;
      const personality = PATTERN[(n + rotation) % PATTERN.length] as Personality;
      const u = unitHash(seed, 5, h, g);
      fleet.push({
        ...nullIdentity(),
        host,
        gpu_index: g,
        uuid: uuidFor(seed, h, g),
        model: spec.name,
        pci_bus_id: `${(g >> 3).toString(16).padStart(8, '0')}:${HGX_BUSES[g & 7]}:00.0`,
        driver_version: driver,
        spec,
        personality,
        seed: hash32(seed, 6, h, g),
        inletCelsius,
        memoryShare: memoryShareFor(personality, u),
        intensity: intensityFor(personality, unitHash(seed, 7, h, g)),
        uptimeSeconds: 86_400 * (1 + 40 * unitHash(seed, 8, h, g)),
      });
    }
  }
  return fleet;
}

function uuidFor(seed: number, h: number, g: number): string {
  const hex = [0, 1, 2, 3].map((k) => hash32(seed, 2, h, g, k).toString(16).padStart(8, '0')).join('');
  return `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function memoryShareFor(personality: Personality, u: number): number {
  switch (personality) {
    case 'training':
      return 0.72 + 0.23 * u;
    case 'inference':
      return 0.45 + 0.15 * u;
    case 'bursty':
      return 0.5 + 0.35 * u;
    case 'idle-holding':
      return 0.3 + 0.45 * u;
    case 'idle':
      return 0.006;
  }
}

function intensityFor(personality: Personality, u: number): number {
  switch (personality) {
    case 'training':
      return 0.9 + 0.14 * u;
    case 'inference':
      return 0.7 + 0.15 * u;
    case 'bursty':
      return 0.95 + 0.15 * u;
    default:
      return 1;
  }
}
