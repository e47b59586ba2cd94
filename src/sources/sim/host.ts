import type { SimGpu } from './fleet.ts';
import { advanceWorkload, chance, diurnal, lag, SimWorkload, WORKLOAD_TAUS } from './model.ts';
import { hash32, nextNormal, nextUniform, type RngState, unitHash } from './rng.ts';

const GiB = 1024 ** 3;

/** A simulated host: the fixed traits its CPU and memory behaviour derive from. */
export interface SimHost {
  readonly name: string;
  /** Its GPUs: `gpus[first .. first + count - 1]` of the fleet. */
  readonly first: number;
  readonly count: number;
  readonly seed: number;
  /** Inlet air at night, °C (the same air its GPUs get). */
  readonly inletCelsius: number;
  /** MemTotal: the installed memory less what the firmware and kernel keep, bytes (a multiple of 1 KiB). */
  readonly memoryTotalBytes: number;
  /** Rise of the CPU heatsink over inlet air with the CPUs idle, °C (the server's fans and heatsinks). */
  readonly idleRiseCelsius: number;
  /** Offset of each CPU package from the first (two sockets: the downstream one runs warmer or cooler). */
  readonly packageOffsets: readonly number[];
}

/** The hosts of a fleet built by `buildFleet`: GPUs of one host are consecutive and share its inlet air. */
export function buildHosts(gpus: readonly SimGpu[], gpusPerHost: number, seed: number): SimHost[] {
  const hosts: SimHost[] = [];
  for (let first = 0, h = 0; first < gpus.length; first += gpusPerHost, h++) {
    const gpu = gpus[first] as SimGpu;
    const installed = gpu.spec.hostMemoryGiB * GiB;
    const kept = 0.012 + 0.008 * unitHash(seed, 9, h);
    hosts.push({
      name: gpu.host,
      first,
      count: Math.min(gpusPerHost, gpus.length - first),
      seed: hash32(seed, 10, h),
      inletCelsius: gpu.inletCelsius,
      memoryTotalBytes: Math.round((installed * (1 - kept)) / 1024) * 1024,
      idleRiseCelsius: 12 + 6 * unitHash(seed, 11, h),
      packageOffsets: [0, -2 + 5 * unitHash(seed, 12, h)],
    });
  }
  return hosts;
}

/**
 * Time constants, seconds: the GPU workloads' load and memory (as in model.ts), the CPU load and the die, the
 * heatsink, the wander of memory use.
 */
const LAG_TAUS = [WORKLOAD_TAUS.util, WORKLOAD_TAUS.memory, 1.5, 45, 7200] as const;

/** Rates of the host's rare events, per second. */
export const HOST_RATES = {
  /** CPU-heavy work beside the GPU jobs (data preprocessing, a build, a checkpoint's compression): minutes long. */
  cpuBurst: 1 / 5400,
} as const;

/**
 * The state of one simulated host. It follows copies of its GPUs' workloads through the same times as the GPUs
 * (`SimWorkload`: the same random streams, so the same load), and from their load its CPU load, CPU temperature
 * and memory use.
 */
export class SimHostState implements RngState {
  rng: number;
  ts: number;
  readonly work: SimWorkload[];
  cpuUtil = 0;
  /** The heatsink (slow) and the die's rise over it (fast). */
  heatsink = 0;
  die = 0;
  /** Memory used beside what the GPU jobs pin: a slow wander in [0, 1]. */
  wander = 0.5;
  burstLeft = 0;
  burstExtra = 0;
  /** The lags for steps of `lagsDt` seconds (steps are usually all alike): computed once, not per step. */
  lagsDt = Number.NaN;
  readonly lags = new Float64Array(LAG_TAUS.length);
  // What the host reports now.
  reportedTemperature = 0;
  reportedUtil = 0;
  reportedUsedBytes = 0;

  constructor(host: SimHost, gpus: readonly SimGpu[], ts: number) {
    this.rng = host.seed | 0;
    this.ts = ts;
    this.work = gpus.slice(host.first, host.first + host.count).map((gpu) => new SimWorkload(gpu));
  }

  setLags(dt: number, settle: boolean): void {
    for (let i = 0; i < LAG_TAUS.length; i++) this.lags[i] = lag(dt, LAG_TAUS[i] as number, settle);
    this.lagsDt = settle ? Number.NaN : dt;
  }
}

/** The state of `host` at `ts`, settled, like `initialState` of its GPUs at the same time. */
export function initialHostState(host: SimHost, gpus: readonly SimGpu[], ts: number): SimHostState {
  const s = new SimHostState(host, gpus, ts);
  s.wander = nextUniform(s);
  advanceHost(host, gpus, s, ts, 0, true);
  return s;
}

/** Moves `s` forward to `ts` (no change if `ts` is not after the last step). */
export function stepHost(host: SimHost, gpus: readonly SimGpu[], s: SimHostState, ts: number): void {
  if (ts <= s.ts) return;
  advanceHost(host, gpus, s, ts, (ts - s.ts) / 1000, false);
}

function advanceHost(
  host: SimHost,
  gpus: readonly SimGpu[],
  s: SimHostState,
  ts: number,
  dt: number,
  settle: boolean,
): void {
  const day = diurnal(ts);
  if (dt !== s.lagsDt || settle) s.setLags(dt, settle);
  let gpuUtil = 0;
  let gpuHeldBytes = 0;
  for (let j = 0; j < s.work.length; j++) {
    const gpu = gpus[host.first + j] as SimGpu;
    const w = s.work[j] as SimWorkload;
    advanceWorkload(gpu, w, day, dt, settle, s.lags[0], s.lags[1]);
    gpuUtil += w.util;
    gpuHeldBytes += w.memoryShare * gpu.spec.memoryTotalBytes;
  }
  gpuUtil /= Math.max(1, s.work.length);

  // CPU load: data loading and the framework's threads follow the GPUs' load; now and then CPU-heavy work.
  if (s.burstLeft > 0) s.burstLeft -= dt;
  else if (!settle && chance(s, dt * HOST_RATES.cpuBurst)) {
    s.burstLeft = 60 + 540 * nextUniform(s);
    s.burstExtra = 35 + 25 * nextUniform(s);
  }
  const utilTarget = 1.5 + 0.28 * gpuUtil + (s.burstLeft > 0 ? s.burstExtra : 0);
  s.cpuUtil += (utilTarget - s.cpuUtil) * (s.lags[2] as number);

  // CPU temperature: the heatsink follows the inlet air, the CPUs' load and the GPUs' warm exhaust slowly; the
  // die's rise over it follows the CPU load within seconds (so a burst of CPU work is a quick jump).
  const inlet = host.inletCelsius + 3 * day;
  const heatsinkTarget = inlet + host.idleRiseCelsius + 0.15 * s.cpuUtil + 0.06 * gpuUtil;
  s.heatsink += (heatsinkTarget - s.heatsink) * (s.lags[3] as number);
  s.die += (0.25 * s.cpuUtil - s.die) * (s.lags[2] as number);
  const temperature = s.heatsink + s.die + 0.25 * nextNormal(s);
  let hottest = Number.NEGATIVE_INFINITY;
  for (const offset of host.packageOffsets) hottest = Math.max(hottest, Math.round(temperature + offset));
  s.reportedTemperature = hottest;

  // Memory: the OS and services, a slow wander (caches that are not reclaimable, other jobs), and the host
  // memory the GPU jobs pin for transfers (about half of what they hold on the GPUs).
  if (!settle) {
    s.wander += (0.5 - s.wander) * (s.lags[4] as number) + 0.003 * nextNormal(s) * Math.sqrt(dt);
    s.wander = Math.min(1, Math.max(0, s.wander));
  }
  const used = host.memoryTotalBytes * (0.025 + 0.12 * s.wander) + 0.5 * gpuHeldBytes;
  s.reportedUsedBytes = Math.round(Math.min(0.97 * host.memoryTotalBytes, used) / 4096) * 4096;
  s.reportedUtil = Math.round(Math.min(100, Math.max(0.1, s.cpuUtil + 1.2 * nextNormal(s))) * 10) / 10;
  s.ts = ts;
}
