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
  NVML_MEMORY_V2,
  NVML_PAGE_RETIREMENT_CAUSE,
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
const memoryV2 = Buffer.alloc(SIZES.nvmlMemory_v2_t);
const fbc = Buffer.alloc(SIZES.nvmlFBCStats_t);
const u32c = Buffer.alloc(4);
const u32d = Buffer.alloc(4);

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

/** Pages retired for one cause: asked with room for none, NVML answers INSUFFICIENT_SIZE with the count. */
function retiredPagesReader(metric: MetricName, cause: number, name: string): Reader {
  return {
    call: `nvmlDeviceGetRetiredPages(${name})`,
    metrics: [metric],
    read(fn, handle, out) {
      u32.writeUInt32LE(0, 0);
      const rc = fn.nvmlDeviceGetRetiredPages?.(handle, cause, u32, null) ?? MISSING;
      if (rc !== NVML_RETURN.SUCCESS && rc !== NVML_RETURN.INSUFFICIENT_SIZE) return rc;
      out[metric] = u32.readUInt32LE(0);
      return NVML_RETURN.SUCCESS;
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
  {
    call: 'nvmlDeviceGetMemoryInfo_v2',
    metrics: ['gpu_memory_reserved_bytes'],
    read(fn, handle, out) {
      memoryV2.fill(0);
      memoryV2.writeUInt32LE(NVML_MEMORY_V2, 0);
      const rc = fn.nvmlDeviceGetMemoryInfo_v2?.(handle, memoryV2) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS)
        out.gpu_memory_reserved_bytes = Number(memoryV2.readBigUInt64LE(OFFSETS.memoryV2Reserved));
      return rc;
    },
  },
  uintReader('nvmlDeviceGetJpgUtilization', 'gpu_jpeg_utilization_percent', (fn, h) =>
    fn.nvmlDeviceGetJpgUtilization?.(h, u32, u32b),
  ),
  uintReader('nvmlDeviceGetOfaUtilization', 'gpu_ofa_utilization_percent', (fn, h) =>
    fn.nvmlDeviceGetOfaUtilization?.(h, u32, u32b),
  ),
  {
    call: 'nvmlDeviceGetEncoderStats',
    metrics: ['gpu_encoder_sessions', 'gpu_encoder_fps', 'gpu_encoder_latency_microseconds'],
    read(fn, handle, out) {
      const rc = fn.nvmlDeviceGetEncoderStats?.(handle, u32, u32b, u32c) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS) {
        out.gpu_encoder_sessions = u32.readUInt32LE(0);
        out.gpu_encoder_fps = u32b.readUInt32LE(0);
        out.gpu_encoder_latency_microseconds = u32c.readUInt32LE(0);
      }
      return rc;
    },
  },
  {
    call: 'nvmlDeviceGetFBCStats',
    metrics: ['gpu_fbc_sessions', 'gpu_fbc_fps', 'gpu_fbc_latency_microseconds'],
    read(fn, handle, out) {
      const rc = fn.nvmlDeviceGetFBCStats?.(handle, fbc) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS) {
        out.gpu_fbc_sessions = fbc.readUInt32LE(OFFSETS.fbcSessions);
        out.gpu_fbc_fps = fbc.readUInt32LE(OFFSETS.fbcFps);
        out.gpu_fbc_latency_microseconds = fbc.readUInt32LE(OFFSETS.fbcLatency);
      }
      return rc;
    },
  },
  uintReader('nvmlDeviceGetCurrPcieLinkGeneration', 'gpu_pcie_link_generation', (fn, h) =>
    fn.nvmlDeviceGetCurrPcieLinkGeneration?.(h, u32),
  ),
  uintReader('nvmlDeviceGetMaxPcieLinkGeneration', 'gpu_pcie_link_generation_max', (fn, h) =>
    fn.nvmlDeviceGetMaxPcieLinkGeneration?.(h, u32),
  ),
  uintReader('nvmlDeviceGetCurrPcieLinkWidth', 'gpu_pcie_link_width_lanes', (fn, h) =>
    fn.nvmlDeviceGetCurrPcieLinkWidth?.(h, u32),
  ),
  uintReader('nvmlDeviceGetMaxPcieLinkWidth', 'gpu_pcie_link_width_max_lanes', (fn, h) =>
    fn.nvmlDeviceGetMaxPcieLinkWidth?.(h, u32),
  ),
  {
    call: 'nvmlDeviceGetRemappedRows',
    metrics: ['gpu_remapped_rows_correctable_total', 'gpu_remapped_rows_uncorrectable_total'],
    read(fn, handle, out) {
      const rc = fn.nvmlDeviceGetRemappedRows?.(handle, u32, u32b, u32c, u32d) ?? MISSING;
      if (rc === NVML_RETURN.SUCCESS) {
        out.gpu_remapped_rows_correctable_total = u32.readUInt32LE(0);
        out.gpu_remapped_rows_uncorrectable_total = u32b.readUInt32LE(0);
      }
      return rc;
    },
  },
  retiredPagesReader(
    'gpu_retired_pages_single_bit_total',
    NVML_PAGE_RETIREMENT_CAUSE.MULTIPLE_SINGLE_BIT_ECC_ERRORS,
    'NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS',
  ),
  retiredPagesReader(
    'gpu_retired_pages_double_bit_total',
    NVML_PAGE_RETIREMENT_CAUSE.DOUBLE_BIT_ECC_ERROR,
    'NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR',
  ),
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
  uintReader('nvmlDeviceGetClockInfo(NVML_CLOCK_VIDEO)', 'gpu_video_clock_mhz', (fn, h) =>
    fn.nvmlDeviceGetClockInfo?.(h, NVML_CLOCK.VIDEO, u32),
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
