/**
 * One reader per NVML call that fills catalog metrics: what it calls (named as the catalog's `nvml` column
 * names it), which metrics it fills and how it converts NVML's units to the catalog's.
 */
import { METRICS, type MetricName } from '../../metrics/catalog.ts';
import type { MetricValues } from '../../metrics/sample.ts';
import {
  fieldValueNumber,
  NVML_CLOCK,
  NVML_FI_DEV_MEMORY_TEMP,
  NVML_MEMORY_ERROR_TYPE,
  NVML_PCIE_UTIL,
  NVML_PSTATE_UNKNOWN,
  NVML_RETURN,
  NVML_TEMPERATURE_GPU,
  NVML_VOLATILE_ECC,
  type NvmlHandle,
  type NvmlLib,
  OFFSETS,
  SIZES,
} from './nvml-lib.ts';

type Fns = NvmlLib['fn'];

export interface Reader {
  /** The call, exactly as the catalog's `nvml` column names it (without a `.member` suffix). */
  readonly call: string;
  readonly metrics: readonly MetricName[];
  /** Calls NVML and, on success, writes the metrics into `out`; returns NVML's return code. */
  read(fn: Fns, handle: NvmlHandle, out: MetricValues): number;
}

// Scratch out-parameters: reads are synchronous, so one set serves every call.
const u32 = Buffer.alloc(4);
const u32b = Buffer.alloc(4);
const u64 = Buffer.alloc(8);
const utilization = Buffer.alloc(SIZES.nvmlUtilization_t);
const memory = Buffer.alloc(SIZES.nvmlMemory_t);
const field = Buffer.alloc(SIZES.nvmlFieldValue_t);

const MISSING = NVML_RETURN.FUNCTION_NOT_FOUND;

/** A call with one `unsigned int *` out-parameter giving one metric, `scale` converting its unit. */
function uintReader(
  call: string,
  metric: MetricName,
  invoke: (fn: Fns, handle: NvmlHandle) => number | undefined,
  convert: (value: number) => number | null = (v) => v,
): Reader {
  return {
    call,
    metrics: [metric],
    read(fn, handle, out) {
      const rc = invoke(fn, handle) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS) out[metric] = convert(u32.readUInt32LE(0));
      return rc;
    },
  };
}

/** A call with one `unsigned long long *` out-parameter giving one metric. */
function u64Reader(
  call: string,
  metric: MetricName,
  invoke: (fn: Fns, handle: NvmlHandle) => number | undefined,
  convert: (value: number) => number = (v) => v,
): Reader {
  return {
    call,
    metrics: [metric],
    read(fn, handle, out) {
      const rc = invoke(fn, handle) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS) out[metric] = convert(Number(u64.readBigUInt64LE(0)));
      return rc;
    },
  };
}

const milli = (v: number) => v / 1000;
const kilobytes = (v: number) => v * 1024;

export const READERS: readonly Reader[] = [
  {
    call: 'nvmlDeviceGetUtilizationRates',
    metrics: ['gpu_utilization_percent', 'gpu_memory_utilization_percent'],
    read(fn, handle, out) {
      const rc = fn.nvmlDeviceGetUtilizationRates?.(handle, utilization) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS) {
        out.gpu_utilization_percent = utilization.readUInt32LE(OFFSETS.utilizationGpu);
        out.gpu_memory_utilization_percent = utilization.readUInt32LE(OFFSETS.utilizationMemory);
      }
      return rc;
    },
  },
  uintReader('nvmlDeviceGetEncoderUtilization', 'gpu_encoder_utilization_percent', (fn, h) =>
    fn.nvmlDeviceGetEncoderUtilization?.(h, u32, u32b),
  ),
  uintReader('nvmlDeviceGetDecoderUtilization', 'gpu_decoder_utilization_percent', (fn, h) =>
    fn.nvmlDeviceGetDecoderUtilization?.(h, u32, u32b),
  ),
  {
    call: 'nvmlDeviceGetMemoryInfo',
    metrics: ['gpu_memory_total_bytes', 'gpu_memory_used_bytes', 'gpu_memory_free_bytes'],
    read(fn, handle, out) {
      const rc = fn.nvmlDeviceGetMemoryInfo?.(handle, memory) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS) {
        out.gpu_memory_total_bytes = Number(memory.readBigUInt64LE(OFFSETS.memoryTotal));
        out.gpu_memory_used_bytes = Number(memory.readBigUInt64LE(OFFSETS.memoryUsed));
        out.gpu_memory_free_bytes = Number(memory.readBigUInt64LE(OFFSETS.memoryFree));
      }
      return rc;
    },
  },
  uintReader('nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU)', 'gpu_temperature_celsius', (fn, h) =>
    fn.nvmlDeviceGetTemperature?.(h, NVML_TEMPERATURE_GPU, u32),
  ),
  {
    call: 'nvmlDeviceGetFieldValues(NVML_FI_DEV_MEMORY_TEMP)',
    metrics: ['gpu_memory_temperature_celsius'],
    read(fn, handle, out) {
      field.fill(0);
      field.writeUInt32LE(NVML_FI_DEV_MEMORY_TEMP, OFFSETS.fieldId);
      let rc = fn.nvmlDeviceGetFieldValues?.(handle, 1, field) ?? MISSING;
      // The call succeeds as a whole; each field carries its own return code.
      if (rc === NVML_RETURN.SUCCESS) rc = field.readInt32LE(OFFSETS.fieldReturn);
      if (rc === NVML_RETURN.SUCCESS) out.gpu_memory_temperature_celsius = fieldValueNumber(field);
      return rc;
    },
  },
  uintReader(
    'nvmlDeviceGetPowerUsage',
    'gpu_power_draw_watts',
    (fn, h) => fn.nvmlDeviceGetPowerUsage?.(h, u32),
    milli,
  ),
  uintReader(
    'nvmlDeviceGetEnforcedPowerLimit',
    'gpu_power_limit_watts',
    (fn, h) => fn.nvmlDeviceGetEnforcedPowerLimit?.(h, u32),
    milli,
  ),
  u64Reader(
    'nvmlDeviceGetTotalEnergyConsumption',
    'gpu_energy_joules_total',
    (fn, h) => fn.nvmlDeviceGetTotalEnergyConsumption?.(h, u64),
    milli,
  ),
  uintReader('nvmlDeviceGetClockInfo(NVML_CLOCK_SM)', 'gpu_sm_clock_mhz', (fn, h) =>
    fn.nvmlDeviceGetClockInfo?.(h, NVML_CLOCK.SM, u32),
  ),
  uintReader('nvmlDeviceGetClockInfo(NVML_CLOCK_MEM)', 'gpu_memory_clock_mhz', (fn, h) =>
    fn.nvmlDeviceGetClockInfo?.(h, NVML_CLOCK.MEM, u32),
  ),
  uintReader('nvmlDeviceGetClockInfo(NVML_CLOCK_GRAPHICS)', 'gpu_graphics_clock_mhz', (fn, h) =>
    fn.nvmlDeviceGetClockInfo?.(h, NVML_CLOCK.GRAPHICS, u32),
  ),
  uintReader('nvmlDeviceGetFanSpeed', 'gpu_fan_speed_percent', (fn, h) => fn.nvmlDeviceGetFanSpeed?.(h, u32)),
  uintReader(
    'nvmlDeviceGetPerformanceState',
    'gpu_performance_state',
    (fn, h) => fn.nvmlDeviceGetPerformanceState?.(h, u32),
    (v) => (v === NVML_PSTATE_UNKNOWN ? null : v),
  ),
  // Drivers before 535 (NVML 12.2) only export the older name of the same call.
  u64Reader('nvmlDeviceGetCurrentClocksEventReasons', 'gpu_clock_throttle_reasons', (fn, h) =>
    (fn.nvmlDeviceGetCurrentClocksEventReasons ?? fn.nvmlDeviceGetCurrentClocksThrottleReasons)?.(h, u64),
  ),
  uintReader(
    'nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_TX_BYTES)',
    'gpu_pcie_tx_bytes_per_second',
    (fn, h) => fn.nvmlDeviceGetPcieThroughput?.(h, NVML_PCIE_UTIL.TX_BYTES, u32),
    kilobytes,
  ),
  uintReader(
    'nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_RX_BYTES)',
    'gpu_pcie_rx_bytes_per_second',
    (fn, h) => fn.nvmlDeviceGetPcieThroughput?.(h, NVML_PCIE_UTIL.RX_BYTES, u32),
    kilobytes,
  ),
  u64Reader(
    'nvmlDeviceGetTotalEccErrors(NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC)',
    'gpu_ecc_errors_corrected_volatile_total',
    (fn, h) => fn.nvmlDeviceGetTotalEccErrors?.(h, NVML_MEMORY_ERROR_TYPE.CORRECTED, NVML_VOLATILE_ECC, u64),
  ),
  u64Reader(
    'nvmlDeviceGetTotalEccErrors(NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC)',
    'gpu_ecc_errors_uncorrected_volatile_total',
    (fn, h) =>
      fn.nvmlDeviceGetTotalEccErrors?.(h, NVML_MEMORY_ERROR_TYPE.UNCORRECTED, NVML_VOLATILE_ECC, u64),
  ),
];

/** The catalog's plausible range of each metric, to turn a nonsense reading into null rather than a bad sample. */
export const METRIC_RANGE: ReadonlyMap<MetricName, { min: number; max: number }> = new Map(
  METRICS.map((m) => [m.name, { min: m.min, max: m.max }]),
);
