/**
 * NVML's clock event (throttle) reason bits, `nvmlClocksEventReason*` / `nvmlClocksThrottleReason*` in nvml.h
 * (NVIDIA/go-nvml gen/nvml/nvml.h, NVML 12.2), lowest bit first. Names drop the common prefix.
 */
export const CLOCK_EVENT_REASONS = [
  { bit: 0x1, name: 'GpuIdle' },
  { bit: 0x2, name: 'ApplicationsClocksSetting' },
  { bit: 0x4, name: 'SwPowerCap' },
  { bit: 0x8, name: 'HwSlowdown' },
  { bit: 0x10, name: 'SyncBoost' },
  { bit: 0x20, name: 'SwThermalSlowdown' },
  { bit: 0x40, name: 'HwThermalSlowdown' },
  { bit: 0x80, name: 'HwPowerBrakeSlowdown' },
  { bit: 0x100, name: 'DisplayClockSetting' },
] as const;

export type ClockEventReason = (typeof CLOCK_EVENT_REASONS)[number]['name'];

/**
 * The names of the reasons set in a `nvmlDeviceGetCurrentClocksEventReasons` mask, lowest bit first; a bit NVML
 * has added since is named `Unknown(0x...)`. 0 (`nvmlClocksEventReasonNone`) gives `[]`.
 */
export function decodeClockEventReasons(mask: number | bigint): string[] {
  let rest = BigInt(mask);
  if (rest < 0n) throw new RangeError(`clock event reasons mask must not be negative: ${mask}`);
  const names: string[] = [];
  for (const { bit, name } of CLOCK_EVENT_REASONS) {
    if (rest & BigInt(bit)) {
      names.push(name);
      rest &= ~BigInt(bit);
    }
  }
  for (let bit = 1n; rest !== 0n; bit <<= 1n) {
    if (rest & bit) {
      names.push(`Unknown(0x${bit.toString(16)})`);
      rest &= ~bit;
    }
  }
  return names;
}
