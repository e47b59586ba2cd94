/**
 * The GPU models the simulator knows, with the figures a real board of that model reports (NVML product name,
 * framebuffer total, default enforced power limit, clocks). Thermal figures are typical, not datasheet values.
 */
export interface GpuModel {
  /** NVML product name, as `nvidia-smi --query-gpu=name` prints it. */
  readonly name: string;
  readonly memoryTotalBytes: number;
  readonly powerLimitWatts: number;
  readonly idlePowerWatts: number;
  readonly maxSmClockMhz: number;
  readonly idleSmClockMhz: number;
  readonly memoryClockMhz: number;
  readonly idleMemoryClockMhz: number;
  /** Rise of the core temperature over inlet air at the power limit, steady state. */
  readonly fullLoadRiseCelsius: number;
  /** Time constant of the core temperature (first-order lag), seconds. */
  readonly thermalTauSeconds: number;
  /** Software thermal slowdown (throttle reason 0x20) starts here. */
  readonly slowdownCelsius: number;
  /** Hardware thermal slowdown (throttle reason 0x40) starts here. */
  readonly hwSlowdownCelsius: number;
  /** HBM boards report a memory temperature; GDDR boards report none (null). */
  readonly hbm: boolean;
  /** Actively cooled boards report a fan speed; passive datacenter boards report none (null). */
  readonly fan: boolean;
  /** ECC enabled: the ECC counters are reported (null where ECC is off). */
  readonly ecc: boolean;
  /** System memory installed in a typical server of these GPUs (DGX H100: 2 TiB, DGX A100: 1 TiB), GiB. */
  readonly hostMemoryGiB: number;
  /** Share of the hosts that have this model. */
  readonly weight: number;
}

const MiB = 1024 * 1024;

export const GPU_MODELS: readonly GpuModel[] = [
  {
    name: 'NVIDIA H100 80GB HBM3',
    memoryTotalBytes: 81_559 * MiB,
    powerLimitWatts: 700,
    idlePowerWatts: 72,
    maxSmClockMhz: 1980,
    idleSmClockMhz: 345,
    memoryClockMhz: 2619,
    idleMemoryClockMhz: 2619,
    fullLoadRiseCelsius: 44,
    thermalTauSeconds: 60,
    slowdownCelsius: 87,
    hwSlowdownCelsius: 92,
    hbm: true,
    fan: false,
    ecc: true,
    hostMemoryGiB: 2048,
    weight: 0.4,
  },
  {
    name: 'NVIDIA A100-SXM4-80GB',
    memoryTotalBytes: 81_920 * MiB,
    powerLimitWatts: 400,
    idlePowerWatts: 62,
    maxSmClockMhz: 1410,
    idleSmClockMhz: 210,
    memoryClockMhz: 1593,
    idleMemoryClockMhz: 1593,
    fullLoadRiseCelsius: 38,
    thermalTauSeconds: 50,
    slowdownCelsius: 85,
    hwSlowdownCelsius: 92,
    hbm: true,
    fan: false,
    ecc: true,
    hostMemoryGiB: 1024,
    weight: 0.3,
  },
  {
    name: 'NVIDIA L40S',
    memoryTotalBytes: 46_068 * MiB,
    powerLimitWatts: 350,
    idlePowerWatts: 36,
    maxSmClockMhz: 2520,
    idleSmClockMhz: 210,
    memoryClockMhz: 9001,
    idleMemoryClockMhz: 405,
    fullLoadRiseCelsius: 46,
    thermalTauSeconds: 45,
    slowdownCelsius: 87,
    hwSlowdownCelsius: 93,
    hbm: false,
    fan: false,
    ecc: true,
    hostMemoryGiB: 768,
    weight: 0.15,
  },
  {
    name: 'NVIDIA RTX 6000 Ada Generation',
    memoryTotalBytes: 49_140 * MiB,
    powerLimitWatts: 300,
    idlePowerWatts: 24,
    maxSmClockMhz: 2505,
    idleSmClockMhz: 210,
    memoryClockMhz: 10001,
    idleMemoryClockMhz: 405,
    fullLoadRiseCelsius: 50,
    thermalTauSeconds: 40,
    slowdownCelsius: 86,
    hwSlowdownCelsius: 93,
    hbm: false,
    fan: true,
    ecc: false,
    hostMemoryGiB: 512,
    weight: 0.1,
  },
  {
    name: 'NVIDIA A10',
    memoryTotalBytes: 23_028 * MiB,
    powerLimitWatts: 150,
    idlePowerWatts: 21,
    maxSmClockMhz: 1695,
    idleSmClockMhz: 210,
    memoryClockMhz: 6251,
    idleMemoryClockMhz: 405,
    fullLoadRiseCelsius: 42,
    thermalTauSeconds: 35,
    slowdownCelsius: 86,
    hwSlowdownCelsius: 93,
    hbm: false,
    fan: false,
    ecc: true,
    hostMemoryGiB: 512,
    weight: 0.05,
  },
];

/** The model at a point u in [0, 1) of the cumulative weights. */
export function pickModel(u: number): GpuModel {
  let acc = 0;
  for (const model of GPU_MODELS) {
    acc += model.weight;
    if (u < acc) return model;
  }
  return GPU_MODELS[GPU_MODELS.length - 1] as GpuModel;
}
