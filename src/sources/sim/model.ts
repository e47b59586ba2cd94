import { METRIC_NAMES, type MetricName } from '../../metrics/catalog.ts';
import { HOST_METRICS } from '../host/host-reader.ts';
import type { SimGpu } from './fleet.ts';
import { hash32, nextNormal, nextUniform, type RngState } from './rng.ts';

/**
 * What the job on one GPU asks of it: its load and the memory it holds. It has its own random stream, so the
 * host model (host.ts) can follow the same workload on a copy, through the same times, without the GPU's own
 * dynamics: the host's CPU load and temperature follow its GPUs' load.
 */
export class SimWorkload implements RngState {
  rng: number;
  util = 0;
  memoryShare = 0;
  /** Seconds left in the current phase: a checkpoint (training) or a burst (bursty). */
  phaseLeft = 0;
  /** The load the job asks for now (util moves toward it). */
  utilTarget = 0;

  constructor(gpu: SimGpu) {
    this.rng = hash32(gpu.seed, 0x574b) | 0;
  }
}

/**
 * The state of one simulated GPU at one instant. `step` moves it forward in time; a sample is read from it
 * by `writeMetrics`. The live source and the bulk generator both run exactly this code, so a sample at time t
 * depends only on the seed and the timestamps stepped through before it.
 */
export class SimGpuState implements RngState {
  rng: number;
  /** Epoch ms of the last step. */
  ts: number;
  // Hidden dynamics.
  readonly work: SimWorkload;
  intensity = 1;
  power = 0;
  temperature = 0;
  memoryTemperature = 0;
  fan = 30;
  energyJoules = 0;
  /** Seconds left in a cooling problem, and how many °C it adds to the inlet air. */
  hotLeft = 0;
  hotExtra = 0;
  // What the GPU reports now.
  reportedUtil = 0;
  memoryUtil = 0;
  memoryUsedBytes = 0;
  smClock = 0;
  memoryClock = 0;
  pstate = 8;
  throttle = 0;
  pcieTx = 0;
  pcieRx = 0;
  decoderUtil = 0;
  eccCorrected = 0;
  eccUncorrected = 0;

  constructor(gpu: SimGpu, ts: number) {
    this.rng = gpu.seed | 0;
    this.ts = ts;
    this.work = new SimWorkload(gpu);
  }
}

const MiB = 1024 * 1024;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Load of the day/night cycle: 0 at 03:00 UTC, 1 at 15:00 UTC. */
export function diurnal(ts: number): number {
  const hour = (((ts % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  return 0.5 - 0.5 * Math.cos((2 * Math.PI * (hour - 3)) / 24);
}

/** Rates of rare events, per second. */
export const RATES = {
  checkpoint: 1 / 1800,
  /** Bursts start at this rate times (0.2 + day cycle). */
  burst: 1 / 900,
  /** A cooling problem (failing fan, blocked airflow): minutes of hot inlet air, so thermal throttling. */
  coolingProblem: 1 / 86_400,
  /** A sudden temperature jump of 7-12 °C on a busy GPU (hot spot), and on a quiet one. */
  spikeBusy: 1 / 10_800,
  spikeQuiet: 1 / 43_200,
  eccCorrected: 1 / 172_800,
  eccUncorrected: 1 / (365 * 86_400),
} as const;

/** The state of `gpu` at `ts`, settled: temperatures and load at their steady values, no transient. */
export function initialState(gpu: SimGpu, ts: number): SimGpuState {
  const s = new SimGpuState(gpu, ts);
  s.intensity = gpu.intensity;
  s.energyJoules = gpu.uptimeSeconds * (gpu.spec.idlePowerWatts + 0.4 * gpu.spec.powerLimitWatts);
  if (gpu.spec.ecc) s.eccCorrected = nextUniform(s) < 0.15 ? 1 + Math.floor(nextUniform(s) * 4) : 0;
  advance(gpu, s, ts, 0, true);
  return s;
}

/** Moves `s` forward to `ts` (no change if `ts` is not after the last step). */
export function step(gpu: SimGpu, s: SimGpuState, ts: number): void {
  if (ts <= s.ts) return;
  advance(gpu, s, ts, (ts - s.ts) / 1000, false);
}

export function chance(s: RngState, expected: number): boolean {
  return nextUniform(s) < (expected < 0.05 ? expected : 1 - Math.exp(-expected));
}

/** First-order lag: the share of the way to the target covered in `dt` seconds (1 when settling). */
export function lag(dt: number, tau: number, settle: boolean): number {
  return settle ? 1 : 1 - Math.exp(-dt / tau);
}

/** Time constants of a workload's load and held memory, seconds. */
export const WORKLOAD_TAUS = { util: 4, memory: 10 } as const;

/** The share of kernel time the tensor pipes are active, by personality. */
const TENSOR_SHARE: Record<SimGpu['personality'], number> = {
  training: 0.55,
  inference: 0.35,
  bursty: 0.25,
  'idle-holding': 0.1,
  idle: 0,
};

/** PCIe traffic at full load, bytes per second, by personality. */
const PCIE_RATE: Record<SimGpu['personality'], number> = {
  training: 2.5e9,
  inference: 4e8,
  bursty: 1.2e9,
  'idle-holding': 0,
  idle: 0,
};

/**
 * Moves a workload forward by `dt` seconds (`day`: the day cycle at the new time; `settle`: start at the steady
 * state, no events). The GPU's state and the host model's copy run exactly this, so they stay equal. The lags
 * depend only on `dt`: a host passes them, computed once for all its GPUs.
 */
export function advanceWorkload(
  gpu: SimGpu,
  w: SimWorkload,
  day: number,
  dt: number,
  settle: boolean,
  utilLag = lag(dt, WORKLOAD_TAUS.util, settle),
  memoryLag = lag(dt, WORKLOAD_TAUS.memory, settle),
): void {
  let utilTarget = 0;
  let memoryTarget = gpu.memoryShare;
  switch (gpu.personality) {
    case 'training':
      if (w.phaseLeft > 0) w.phaseLeft -= dt;
      else if (!settle && chance(w, dt * RATES.checkpoint)) w.phaseLeft = 20 + 70 * nextUniform(w);
      utilTarget = w.phaseLeft > 0 ? 3 : 96;
      break;
    case 'inference':
      utilTarget = 8 + 80 * day * (0.9 + 0.2 * nextUniform(w));
      memoryTarget = gpu.memoryShare + 0.3 * (w.util / 100);
      break;
    case 'bursty':
      if (w.phaseLeft > 0) w.phaseLeft -= dt;
      else if (!settle && chance(w, dt * RATES.burst * (0.2 + day))) w.phaseLeft = 60 + 540 * nextUniform(w);
      utilTarget = w.phaseLeft > 0 ? 92 : 0.5;
      if (w.phaseLeft <= 0) memoryTarget = 0.006;
      break;
    case 'idle-holding':
      utilTarget = 1.5;
      break;
    case 'idle':
      utilTarget = 0;
      break;
  }
  w.utilTarget = utilTarget;
  w.util += (utilTarget - w.util) * utilLag;
  w.memoryShare += (memoryTarget - w.memoryShare) * memoryLag;
}

function advance(gpu: SimGpu, s: SimGpuState, ts: number, dt: number, settle: boolean): void {
  const spec = gpu.spec;
  const day = diurnal(ts);

  // Workload: what the job asks of the GPU.
  const w = s.work;
  advanceWorkload(gpu, w, day, dt, settle);
  s.intensity += (gpu.intensity - s.intensity) * lag(dt, 600, settle);
  if (!settle)
    s.intensity = Math.min(1.25, Math.max(0.5, s.intensity + 0.004 * nextNormal(s) * Math.sqrt(dt)));

  // Power, and the clock events that hold it back: thermal slowdown (from the temperature reached so far),
  // then the power cap.
  const holding = w.memoryShare > 0.02;
  const busy = w.util >= 0.75;
  let demand =
    spec.idlePowerWatts * (holding ? 1.1 : 1) +
    (spec.powerLimitWatts - spec.idlePowerWatts) * s.intensity * (w.util / 100) ** 0.9;
  let clock = 1;
  let throttle = 0;
  if (s.temperature >= spec.slowdownCelsius) {
    throttle |= 0x20;
    clock *= 0.82;
    demand *= 0.85;
  }
  if (s.temperature >= spec.hwSlowdownCelsius) {
    throttle |= 0x40;
    clock *= 0.6;
    demand *= 0.65;
  }
  if (demand > spec.powerLimitWatts) {
    throttle |= 0x4;
    clock *= spec.powerLimitWatts / demand;
    demand = spec.powerLimitWatts * (0.97 + 0.03 * nextUniform(s));
  }
  const power = Math.max(spec.idlePowerWatts * 0.8, demand + spec.powerLimitWatts * 0.004 * nextNormal(s));
  if (!settle) s.energyJoules += ((s.power + power) / 2) * dt;
  s.power = power;

  // Temperature: a first-order lag toward inlet air + rise per watt; rare cooling problems and spikes.
  if (s.hotLeft > 0) s.hotLeft -= dt;
  else if (!settle && chance(s, dt * RATES.coolingProblem)) {
    s.hotLeft = 600 + 2100 * nextUniform(s);
    s.hotExtra = 16 + 10 * nextUniform(s);
  }
  const inlet = gpu.inletCelsius + 3 * day + (s.hotLeft > 0 ? s.hotExtra : 0);
  const target = inlet + (spec.fullLoadRiseCelsius * power) / spec.powerLimitWatts;
  s.temperature += (target - s.temperature) * lag(dt, spec.thermalTauSeconds, settle);
  if (!settle && chance(s, dt * (w.util > 50 ? RATES.spikeBusy : RATES.spikeQuiet))) {
    s.temperature += 7 + 5 * nextUniform(s);
  }
  s.temperature += 0.15 * nextNormal(s);
  const memoryTemperatureTarget = s.temperature + 3 + (6 * power) / spec.powerLimitWatts;
  s.memoryTemperature += (memoryTemperatureTarget - s.memoryTemperature) * lag(dt, 120, settle);
  const fanTarget = Math.min(100, Math.max(30, 30 + (s.temperature - 45) * 2.2));
  s.fan += (fanTarget - s.fan) * lag(dt, 8, settle);

  // Counters that rarely move.
  if (spec.ecc && !settle) {
    if (chance(s, dt * RATES.eccCorrected)) s.eccCorrected += 1;
    if (chance(s, dt * RATES.eccUncorrected)) s.eccUncorrected += 1;
  }

  // What NVML would report.
  const jitter = w.utilTarget < 5 ? 0.5 : 2.5;
  s.reportedUtil = Math.min(100, Math.max(0, Math.round(w.util + jitter * nextNormal(s))));
  s.memoryUtil = Math.min(100, Math.round(s.reportedUtil * (holding ? 0.45 : 0)));
  const memoryShare = Math.min(0.99, Math.max(0.004, w.memoryShare));
  s.memoryUsedBytes = Math.round((memoryShare * spec.memoryTotalBytes) / MiB) * MiB;
  s.pstate = busy || holding ? 0 : 8;
  s.smClock = busy ? Math.round((spec.maxSmClockMhz * clock) / 15) * 15 : spec.idleSmClockMhz;
  s.memoryClock = s.pstate === 0 ? spec.memoryClockMhz : spec.idleMemoryClockMhz;
  s.throttle = throttle;
  const rx = (PCIE_RATE[gpu.personality] * w.util) / 100;
  s.pcieRx = Math.round((rx * (0.6 + 0.8 * nextUniform(s)) + 20_000 * nextUniform(s)) / 1024) * 1024;
  s.pcieTx = Math.round((rx * 0.15 * nextUniform(s) + 10_000 * nextUniform(s)) / 1024) * 1024;
  s.decoderUtil = gpu.personality === 'inference' && !spec.hbm ? Math.round(s.reportedUtil * 0.3) : 0;
  s.ts = ts;
}

function column(name: MetricName): number {
  return METRIC_NAMES.indexOf(name);
}

const C = {
  util: column('gpu_utilization_percent'),
  memUtil: column('gpu_memory_utilization_percent'),
  enc: column('gpu_encoder_utilization_percent'),
  dec: column('gpu_decoder_utilization_percent'),
  tensor: column('gpu_tensor_active_percent'),
  memTotal: column('gpu_memory_total_bytes'),
  memUsed: column('gpu_memory_used_bytes'),
  memFree: column('gpu_memory_free_bytes'),
  temp: column('gpu_temperature_celsius'),
  hotspot: column('gpu_hotspot_temperature_celsius'),
  memTemp: column('gpu_memory_temperature_celsius'),
  power: column('gpu_power_draw_watts'),
  powerLimit: column('gpu_power_limit_watts'),
  energy: column('gpu_energy_joules_total'),
  smClock: column('gpu_sm_clock_mhz'),
  memClock: column('gpu_memory_clock_mhz'),
  grClock: column('gpu_graphics_clock_mhz'),
  fan: column('gpu_fan_speed_percent'),
  pstate: column('gpu_performance_state'),
  throttle: column('gpu_clock_throttle_reasons'),
  pcieTx: column('gpu_pcie_tx_bytes_per_second'),
  pcieRx: column('gpu_pcie_rx_bytes_per_second'),
  eccCorrected: column('gpu_ecc_errors_corrected_volatile_total'),
  eccUncorrected: column('gpu_ecc_errors_uncorrected_volatile_total'),
  xid: column('gpu_xid_last'),
} as const;

/**
 * Catalog metrics the simulator never reports (null): the link, video-engine and row-remapping details add
 * nothing to the fleet's behaviour. Every other catalog metric is written by `writeMetrics`, or per host by the
 * host model; a test fails when the catalog grows a metric that is in neither list.
 */
export const NULL_METRICS: readonly MetricName[] = [
  'gpu_memory_reserved_bytes',
  'gpu_video_clock_mhz',
  'gpu_jpeg_utilization_percent',
  'gpu_ofa_utilization_percent',
  'gpu_encoder_sessions',
  'gpu_encoder_fps',
  'gpu_encoder_latency_microseconds',
  'gpu_fbc_sessions',
  'gpu_fbc_fps',
  'gpu_fbc_latency_microseconds',
  'gpu_pcie_link_generation',
  'gpu_pcie_link_generation_max',
  'gpu_pcie_link_width_lanes',
  'gpu_pcie_link_width_max_lanes',
  'gpu_remapped_rows_correctable_total',
  'gpu_remapped_rows_uncorrectable_total',
  'gpu_retired_pages_single_bit_total',
  'gpu_retired_pages_double_bit_total',
];
export const SIMULATED_METRICS: readonly MetricName[] = [
  ...Object.values(C).map((i) => METRIC_NAMES[i] as MetricName),
  // Written per host, the same for all its GPUs, by the host model (host.ts).
  ...HOST_METRICS,
];

/** Writes what `s` reports into row `row` of metric columns in catalog order (NaN for null). */
export function writeMetrics(gpu: SimGpu, s: SimGpuState, out: readonly Float64Array[], row: number): void {
  const spec = gpu.spec;
  (out[C.util] as Float64Array)[row] = s.reportedUtil;
  (out[C.memUtil] as Float64Array)[row] = s.memoryUtil;
  (out[C.enc] as Float64Array)[row] = 0;
  (out[C.dec] as Float64Array)[row] = s.decoderUtil;
  // Tensor pipes: a share of the time kernels run, by what the GPU does (matrix-heavy training most), in 0.1 %.
  (out[C.tensor] as Float64Array)[row] = Math.round(s.reportedUtil * TENSOR_SHARE[gpu.personality] * 10) / 10;
  (out[C.memTotal] as Float64Array)[row] = spec.memoryTotalBytes;
  (out[C.memUsed] as Float64Array)[row] = s.memoryUsedBytes;
  (out[C.memFree] as Float64Array)[row] = spec.memoryTotalBytes - s.memoryUsedBytes;
  (out[C.temp] as Float64Array)[row] = Math.round(s.temperature);
  // The hot spot runs a few degrees above the edge sensor at idle and 10-15 C above it at full power.
  (out[C.hotspot] as Float64Array)[row] = Math.round(
    s.temperature + 3 + 12 * (s.power / spec.powerLimitWatts),
  );
  (out[C.memTemp] as Float64Array)[row] = spec.hbm ? Math.round(s.memoryTemperature) : Number.NaN;
  (out[C.power] as Float64Array)[row] = Math.round(s.power * 100) / 100;
  (out[C.powerLimit] as Float64Array)[row] = spec.powerLimitWatts;
  (out[C.energy] as Float64Array)[row] = Math.round(s.energyJoules * 1000) / 1000;
  (out[C.smClock] as Float64Array)[row] = s.smClock;
  (out[C.memClock] as Float64Array)[row] = s.memoryClock;
  (out[C.grClock] as Float64Array)[row] = s.smClock;
  (out[C.fan] as Float64Array)[row] = spec.fan ? Math.round(s.fan) : Number.NaN;
  (out[C.pstate] as Float64Array)[row] = s.pstate;
  (out[C.throttle] as Float64Array)[row] = s.throttle;
  (out[C.pcieTx] as Float64Array)[row] = s.pcieTx;
  (out[C.pcieRx] as Float64Array)[row] = s.pcieRx;
  (out[C.eccCorrected] as Float64Array)[row] = spec.ecc ? s.eccCorrected : Number.NaN;
  (out[C.eccUncorrected] as Float64Array)[row] = spec.ecc ? s.eccUncorrected : Number.NaN;
  (out[C.xid] as Float64Array)[row] = 0;
}
