/**
 * The metric catalog: one row per metric, the single source of truth. `GpuSample`, its runtime validation,
 * the Parquet schema, InfluxDB line protocol, `/metrics` names and docs/metrics.md all derive from it.
 *
 * Columns:
 * - name:   canonical name, carrying its unit (Prometheus style); also the Parquet column and sample key
 * - kind:   gauge (a level) or counter (only grows, except on a driver reset)
 * - unit:   the unit of the stored value
 * - type:   storage type: float64 (DOUBLE) or int64 (BIGINT); JavaScript holds both as number
 * - help:   one line for people
 * - nvml:   the NVML call that reads it (empty where NVML has none)
 * - smi:    the `nvidia-smi --query-gpu` field (empty where nvidia-smi has none)
 * - dcgm:   how dcgm-exporter names it (null where DCGM has none): its DCGM field, Prometheus type, unit and
 *           help as in dcgm-exporter's etc/default-counters.csv, and the factor from the catalog's unit; `also`
 *           lists other fields that carry the same quantity (read when the first is absent, rendered where
 *           `render` is true)
 * - influx: the InfluxDB field name
 * - min/max: the physically plausible range; a value outside it is rejected as invalid
 * - since:  the wire encoding version (docs/encoding.md) that first carried the metric; absent means 1. A metric
 *           added to the catalog gets the next version: records of older versions decode with it as `null`
 *
 * A metric a source cannot read is `null` in the sample, never 0.
 */
export interface MetricDef {
  readonly name: string;
  readonly kind: 'gauge' | 'counter';
  readonly unit: string;
  readonly type: 'float64' | 'int64';
  readonly help: string;
  readonly nvml: string;
  readonly smi: string;
  readonly dcgm: DcgmMapping | null;
  readonly influx: string;
  readonly min: number;
  readonly max: number;
  readonly since?: number;
}

/** One DCGM field as dcgm-exporter exposes it. */
export interface DcgmField {
  /** The DCGM field name, also dcgm-exporter's metric name (`DCGM_FI_DEV_FB_USED`). */
  readonly field: string;
  /** Its Prometheus type in dcgm-exporter's counters file (which calls some rates counters: kept as is). */
  readonly type: 'gauge' | 'counter';
  /** The unit of the DCGM value (`MiB`, `mJ`, `MHz`, `%`, `ratio`). */
  readonly unit: string;
  /** DCGM value = catalog value x scale (MiB: 1 / 2^20 of bytes, mJ: 1000 x joules). */
  readonly scale: number;
  /** dcgm-exporter's help text. */
  readonly help: string;
}

export interface DcgmMapping extends DcgmField {
  readonly also?: readonly (DcgmField & { readonly render: boolean })[];
}

const BIG = Number.MAX_SAFE_INTEGER;
const MiB = 1024 * 1024;

export const METRICS = [
  {
    name: 'gpu_utilization_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'Percent of time over the last sample period during which a kernel was executing on the GPU',
    nvml: 'nvmlDeviceGetUtilizationRates.gpu',
    smi: 'utilization.gpu',
    dcgm: {
      field: 'DCGM_FI_DEV_GPU_UTIL',
      type: 'gauge',
      unit: '%',
      scale: 1,
      help: 'GPU utilization (in %).',
      also: [
        {
          field: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE',
          type: 'gauge',
          unit: 'ratio',
          scale: 0.01,
          help: 'Ratio of time the graphics engine is active.',
          render: true,
        },
      ],
    },
    influx: 'utilization_gpu',
    min: 0,
    max: 100,
  },
  {
    name: 'gpu_memory_utilization_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'Percent of time over the last sample period during which device memory was being read or written',
    nvml: 'nvmlDeviceGetUtilizationRates.memory',
    smi: 'utilization.memory',
    dcgm: {
      field: 'DCGM_FI_DEV_MEM_COPY_UTIL',
      type: 'gauge',
      unit: '%',
      scale: 1,
      help: 'Memory utilization (in %).',
      also: [
        {
          // Profiling-only nodes (A10G): read, not written (NVML's memory busy time is no DRAM_ACTIVE).
          field: 'DCGM_FI_PROF_DRAM_ACTIVE',
          type: 'gauge',
          unit: 'ratio',
          scale: 0.01,
          help: 'Ratio of cycles the device memory interface is active sending or receiving data.',
          render: false,
        },
      ],
    },
    influx: 'utilization_memory',
    min: 0,
    max: 100,
  },
  {
    name: 'gpu_encoder_utilization_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'Video encoder (NVENC) utilization',
    nvml: 'nvmlDeviceGetEncoderUtilization',
    smi: 'utilization.encoder',
    dcgm: {
      field: 'DCGM_FI_DEV_ENC_UTIL',
      type: 'gauge',
      unit: '%',
      scale: 1,
      help: 'Encoder utilization (in %).',
    },
    influx: 'utilization_encoder',
    min: 0,
    max: 100,
  },
  {
    name: 'gpu_decoder_utilization_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'Video decoder (NVDEC) utilization',
    nvml: 'nvmlDeviceGetDecoderUtilization',
    smi: 'utilization.decoder',
    dcgm: {
      field: 'DCGM_FI_DEV_DEC_UTIL',
      type: 'gauge',
      unit: '%',
      scale: 1,
      help: 'Decoder utilization (in %).',
    },
    influx: 'utilization_decoder',
    min: 0,
    max: 100,
  },
  {
    name: 'gpu_memory_total_bytes',
    kind: 'gauge',
    unit: 'bytes',
    type: 'int64',
    help: 'Total device (framebuffer) memory',
    nvml: 'nvmlDeviceGetMemoryInfo.total',
    smi: 'memory.total',
    dcgm: {
      field: 'DCGM_FI_DEV_FB_TOTAL',
      type: 'gauge',
      unit: 'MiB',
      scale: 1 / MiB,
      help: 'Framebuffer memory total (in MiB).',
    },
    influx: 'memory_total_bytes',
    min: 0,
    max: BIG,
  },
  {
    name: 'gpu_memory_used_bytes',
    kind: 'gauge',
    unit: 'bytes',
    type: 'int64',
    help: 'Device memory allocated by processes and the driver',
    nvml: 'nvmlDeviceGetMemoryInfo.used',
    smi: 'memory.used',
    dcgm: {
      field: 'DCGM_FI_DEV_FB_USED',
      type: 'gauge',
      unit: 'MiB',
      scale: 1 / MiB,
      help: 'Framebuffer memory used (in MiB).',
    },
    influx: 'memory_used_bytes',
    min: 0,
    max: BIG,
  },
  {
    name: 'gpu_memory_free_bytes',
    kind: 'gauge',
    unit: 'bytes',
    type: 'int64',
    help: 'Device memory not allocated',
    nvml: 'nvmlDeviceGetMemoryInfo.free',
    smi: 'memory.free',
    dcgm: {
      field: 'DCGM_FI_DEV_FB_FREE',
      type: 'gauge',
      unit: 'MiB',
      scale: 1 / MiB,
      help: 'Framebuffer memory free (in MiB).',
    },
    influx: 'memory_free_bytes',
    min: 0,
    max: BIG,
  },
  {
    name: 'gpu_temperature_celsius',
    kind: 'gauge',
    unit: 'celsius',
    type: 'float64',
    help: 'GPU core temperature',
    nvml: 'nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU)',
    smi: 'temperature.gpu',
    dcgm: {
      field: 'DCGM_FI_DEV_GPU_TEMP',
      type: 'gauge',
      unit: 'C',
      scale: 1,
      help: 'GPU temperature (in C).',
    },
    influx: 'temperature_gpu',
    min: -50,
    max: 150,
  },
  {
    name: 'gpu_hotspot_temperature_celsius',
    kind: 'gauge',
    unit: 'celsius',
    type: 'float64',
    help: 'GPU hot-spot (junction) temperature: the hottest point of the die',
    nvml: '',
    smi: '',
    dcgm: null,
    influx: 'temperature_hotspot',
    min: -50,
    max: 150,
    since: 2,
  },
  {
    name: 'gpu_memory_temperature_celsius',
    kind: 'gauge',
    unit: 'celsius',
    type: 'float64',
    help: 'HBM / memory temperature (datacenter GPUs)',
    nvml: 'nvmlDeviceGetFieldValues(NVML_FI_DEV_MEMORY_TEMP)',
    smi: 'temperature.memory',
    dcgm: {
      field: 'DCGM_FI_DEV_MEMORY_TEMP',
      type: 'gauge',
      unit: 'C',
      scale: 1,
      help: 'Memory temperature (in C).',
    },
    influx: 'temperature_memory',
    min: -50,
    max: 150,
  },
  {
    name: 'gpu_power_draw_watts',
    kind: 'gauge',
    unit: 'watts',
    type: 'float64',
    help: 'Board power draw',
    nvml: 'nvmlDeviceGetPowerUsage',
    smi: 'power.draw',
    dcgm: {
      field: 'DCGM_FI_DEV_POWER_USAGE',
      type: 'gauge',
      unit: 'W',
      scale: 1,
      help: 'Power draw (in W).',
    },
    influx: 'power_draw_watts',
    min: 0,
    max: 5000,
  },
  {
    name: 'gpu_power_limit_watts',
    kind: 'gauge',
    unit: 'watts',
    type: 'float64',
    help: 'Power limit enforced by the driver (the lower of the management and other limits)',
    nvml: 'nvmlDeviceGetEnforcedPowerLimit',
    smi: 'enforced.power.limit',
    dcgm: {
      field: 'DCGM_FI_DEV_ENFORCED_POWER_LIMIT',
      type: 'gauge',
      unit: 'W',
      scale: 1,
      help: 'Effective power limit that the driver enforces after taking into account all limiters (in W).',
    },
    influx: 'power_limit_watts',
    min: 0,
    max: 5000,
  },
  {
    name: 'gpu_energy_joules_total',
    kind: 'counter',
    unit: 'joules',
    type: 'float64',
    help: 'Energy consumed since the driver was loaded',
    nvml: 'nvmlDeviceGetTotalEnergyConsumption',
    smi: '',
    dcgm: {
      field: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
      type: 'counter',
      unit: 'mJ',
      scale: 1000,
      help: 'Total energy consumption since boot (in mJ).',
    },
    influx: 'energy_joules_total',
    min: 0,
    max: Number.MAX_VALUE,
  },
  {
    name: 'gpu_sm_clock_mhz',
    kind: 'gauge',
    unit: 'megahertz',
    type: 'float64',
    help: 'Streaming multiprocessor clock',
    nvml: 'nvmlDeviceGetClockInfo(NVML_CLOCK_SM)',
    smi: 'clocks.sm',
    dcgm: {
      field: 'DCGM_FI_DEV_SM_CLOCK',
      type: 'gauge',
      unit: 'MHz',
      scale: 1,
      help: 'SM clock frequency (in MHz).',
    },
    influx: 'clocks_sm_mhz',
    min: 0,
    max: 10000,
  },
  {
    name: 'gpu_memory_clock_mhz',
    kind: 'gauge',
    unit: 'megahertz',
    type: 'float64',
    help: 'Memory clock',
    nvml: 'nvmlDeviceGetClockInfo(NVML_CLOCK_MEM)',
    smi: 'clocks.mem',
    dcgm: {
      field: 'DCGM_FI_DEV_MEM_CLOCK',
      type: 'gauge',
      unit: 'MHz',
      scale: 1,
      help: 'Memory clock frequency (in MHz).',
    },
    influx: 'clocks_mem_mhz',
    min: 0,
    max: 50000,
  },
  {
    name: 'gpu_graphics_clock_mhz',
    kind: 'gauge',
    unit: 'megahertz',
    type: 'float64',
    help: 'Graphics (shader) clock',
    nvml: 'nvmlDeviceGetClockInfo(NVML_CLOCK_GRAPHICS)',
    smi: 'clocks.gr',
    dcgm: null,
    influx: 'clocks_graphics_mhz',
    min: 0,
    max: 10000,
  },
  {
    name: 'gpu_fan_speed_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'Intended fan speed as a percent of its maximum (null on passively cooled boards)',
    nvml: 'nvmlDeviceGetFanSpeed',
    smi: 'fan.speed',
    dcgm: {
      field: 'DCGM_FI_DEV_FAN_SPEED',
      type: 'gauge',
      unit: '%',
      scale: 1,
      help: 'Fan speed for the device in percent 0-100.',
    },
    influx: 'fan_speed_percent',
    min: 0,
    max: 200,
  },
  {
    name: 'gpu_performance_state',
    kind: 'gauge',
    unit: 'pstate',
    type: 'int64',
    help: 'Performance state: 0 (P0, maximum performance) to 15 (P15, minimum)',
    nvml: 'nvmlDeviceGetPerformanceState',
    smi: 'pstate',
    dcgm: {
      field: 'DCGM_FI_DEV_PSTATE',
      type: 'gauge',
      unit: 'pstate',
      scale: 1,
      help: 'Performance state (P-State) 0-15. 0=highest',
    },
    influx: 'pstate',
    min: 0,
    max: 32,
  },
  {
    name: 'gpu_clock_throttle_reasons',
    kind: 'gauge',
    unit: 'bitmask',
    type: 'int64',
    help: 'Active clock event (throttle) reasons, the NVML bitmask: 0x4 SW power cap, 0x20 SW thermal, 0x40 HW thermal, 0x80 HW power brake',
    nvml: 'nvmlDeviceGetCurrentClocksEventReasons',
    smi: 'clocks_event_reasons.active',
    dcgm: {
      field: 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS',
      type: 'gauge',
      unit: 'bitmask',
      scale: 1,
      help: 'Current clock throttle reasons.',
      also: [
        {
          field: 'DCGM_FI_DEV_CLOCKS_EVENT_REASONS',
          type: 'gauge',
          unit: 'bitmask',
          scale: 1,
          help: 'Current clock event reasons.',
          render: false,
        },
      ],
    },
    influx: 'clocks_event_reasons',
    min: 0,
    max: BIG,
  },
  {
    name: 'gpu_pcie_tx_bytes_per_second',
    kind: 'gauge',
    unit: 'bytes per second',
    type: 'float64',
    help: 'PCIe transmit throughput (GPU to host)',
    nvml: 'nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_TX_BYTES)',
    smi: '',
    dcgm: {
      field: 'DCGM_FI_DEV_PCIE_TX_THROUGHPUT',
      type: 'counter',
      unit: 'KB/s',
      scale: 1 / 1024,
      help: 'Total number of bytes transmitted through PCIe TX (in KB) via NVML.',
      also: [
        {
          field: 'DCGM_FI_PROF_PCIE_TX_BYTES',
          type: 'gauge',
          unit: 'B/s',
          scale: 1,
          help: 'The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.',
          render: true,
        },
      ],
    },
    influx: 'pcie_tx_bytes_per_second',
    min: 0,
    max: 1e12,
  },
  {
    name: 'gpu_pcie_rx_bytes_per_second',
    kind: 'gauge',
    unit: 'bytes per second',
    type: 'float64',
    help: 'PCIe receive throughput (host to GPU)',
    nvml: 'nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_RX_BYTES)',
    smi: '',
    dcgm: {
      field: 'DCGM_FI_DEV_PCIE_RX_THROUGHPUT',
      type: 'counter',
      unit: 'KB/s',
      scale: 1 / 1024,
      help: 'Total number of bytes received through PCIe RX (in KB) via NVML.',
      also: [
        {
          field: 'DCGM_FI_PROF_PCIE_RX_BYTES',
          type: 'gauge',
          unit: 'B/s',
          scale: 1,
          help: 'The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.',
          render: true,
        },
      ],
    },
    influx: 'pcie_rx_bytes_per_second',
    min: 0,
    max: 1e12,
  },
  {
    name: 'gpu_ecc_errors_corrected_volatile_total',
    kind: 'counter',
    unit: 'errors',
    type: 'int64',
    help: 'Corrected (single-bit) ECC errors since the driver was loaded',
    nvml: 'nvmlDeviceGetTotalEccErrors(NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC)',
    smi: 'ecc.errors.corrected.volatile.total',
    dcgm: {
      field: 'DCGM_FI_DEV_ECC_SBE_VOL_TOTAL',
      type: 'counter',
      unit: 'errors',
      scale: 1,
      help: 'Total number of single-bit volatile ECC errors.',
    },
    influx: 'ecc_corrected_volatile',
    min: 0,
    max: BIG,
  },
  {
    name: 'gpu_ecc_errors_uncorrected_volatile_total',
    kind: 'counter',
    unit: 'errors',
    type: 'int64',
    help: 'Uncorrected (double-bit) ECC errors since the driver was loaded',
    nvml: 'nvmlDeviceGetTotalEccErrors(NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC)',
    smi: 'ecc.errors.uncorrected.volatile.total',
    dcgm: {
      field: 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL',
      type: 'counter',
      unit: 'errors',
      scale: 1,
      help: 'Total number of double-bit volatile ECC errors.',
    },
    influx: 'ecc_uncorrected_volatile',
    min: 0,
    max: BIG,
  },
  {
    name: 'gpu_xid_last',
    kind: 'gauge',
    unit: 'xid',
    type: 'int64',
    help: 'The most recent XID error code reported by the driver (0: none since start)',
    nvml: 'nvmlEventSetWait(nvmlEventTypeXidCriticalError)',
    smi: '',
    dcgm: {
      field: 'DCGM_FI_DEV_XID_ERRORS',
      type: 'gauge',
      unit: 'xid',
      scale: 1,
      help: 'Value of the last XID error encountered.',
    },
    influx: 'xid_last',
    min: 0,
    max: 100000,
  },
  {
    name: 'gpu_memory_reserved_bytes',
    kind: 'gauge',
    unit: 'bytes',
    type: 'int64',
    help: 'Device memory reserved by the driver and firmware (not usable by processes)',
    nvml: 'nvmlDeviceGetMemoryInfo_v2.reserved',
    smi: 'memory.reserved',
    dcgm: {
      field: 'DCGM_FI_DEV_FB_RESERVED',
      type: 'gauge',
      unit: 'MiB',
      scale: 1 / MiB,
      help: 'Framebuffer memory reserved (in MiB).',
    },
    influx: 'memory_reserved_bytes',
    min: 0,
    max: BIG,
    since: 2,
  },
  {
    name: 'gpu_video_clock_mhz',
    kind: 'gauge',
    unit: 'megahertz',
    type: 'float64',
    help: 'Video encoder/decoder clock',
    nvml: 'nvmlDeviceGetClockInfo(NVML_CLOCK_VIDEO)',
    smi: 'clocks.video',
    dcgm: {
      field: 'DCGM_FI_DEV_VIDEO_CLOCK',
      type: 'gauge',
      unit: 'MHz',
      scale: 1,
      help: 'Video encoder/decoder clock (in MHz).',
    },
    influx: 'clocks_video_mhz',
    min: 0,
    max: 10000,
    since: 2,
  },
  {
    name: 'gpu_jpeg_utilization_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'JPEG decoder (NVJPG) utilization (Ampere and later)',
    nvml: 'nvmlDeviceGetJpgUtilization',
    smi: 'utilization.jpeg',
    dcgm: null,
    influx: 'utilization_jpeg',
    min: 0,
    max: 100,
    since: 2,
  },
  {
    name: 'gpu_ofa_utilization_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'Optical flow accelerator (OFA) utilization (Turing and later)',
    nvml: 'nvmlDeviceGetOfaUtilization',
    smi: 'utilization.ofa',
    dcgm: null,
    influx: 'utilization_ofa',
    min: 0,
    max: 100,
    since: 2,
  },
  {
    name: 'gpu_encoder_sessions',
    kind: 'gauge',
    unit: 'sessions',
    type: 'int64',
    help: 'Active video encoder (NVENC) sessions',
    nvml: 'nvmlDeviceGetEncoderStats.sessionCount',
    smi: 'encoder.stats.sessionCount',
    dcgm: null,
    influx: 'encoder_sessions',
    min: 0,
    max: 100000,
    since: 2,
  },
  {
    name: 'gpu_encoder_fps',
    kind: 'gauge',
    unit: 'frames per second',
    type: 'float64',
    help: 'Average frames per second encoded over the active encoder sessions',
    nvml: 'nvmlDeviceGetEncoderStats.averageFps',
    smi: 'encoder.stats.averageFps',
    dcgm: null,
    influx: 'encoder_fps',
    min: 0,
    max: 1e6,
    since: 2,
  },
  {
    name: 'gpu_encoder_latency_microseconds',
    kind: 'gauge',
    unit: 'microseconds',
    type: 'float64',
    help: 'Average encode latency over the active encoder sessions',
    nvml: 'nvmlDeviceGetEncoderStats.averageLatency',
    smi: 'encoder.stats.averageLatency',
    dcgm: null,
    influx: 'encoder_latency_us',
    min: 0,
    max: 1e9,
    since: 2,
  },
  {
    name: 'gpu_fbc_sessions',
    kind: 'gauge',
    unit: 'sessions',
    type: 'int64',
    help: 'Active frame buffer capture (NvFBC) sessions',
    nvml: 'nvmlDeviceGetFBCStats.sessionsCount',
    smi: '',
    dcgm: null,
    influx: 'fbc_sessions',
    min: 0,
    max: 100000,
    since: 2,
  },
  {
    name: 'gpu_fbc_fps',
    kind: 'gauge',
    unit: 'frames per second',
    type: 'float64',
    help: 'Average frames per second captured over the active frame buffer capture sessions',
    nvml: 'nvmlDeviceGetFBCStats.averageFPS',
    smi: '',
    dcgm: null,
    influx: 'fbc_fps',
    min: 0,
    max: 1e6,
    since: 2,
  },
  {
    name: 'gpu_fbc_latency_microseconds',
    kind: 'gauge',
    unit: 'microseconds',
    type: 'float64',
    help: 'Average capture latency over the active frame buffer capture sessions',
    nvml: 'nvmlDeviceGetFBCStats.averageLatency',
    smi: '',
    dcgm: null,
    influx: 'fbc_latency_us',
    min: 0,
    max: 1e9,
    since: 2,
  },
  {
    name: 'gpu_pcie_link_generation',
    kind: 'gauge',
    unit: 'generation',
    type: 'int64',
    help: 'Current PCIe link generation (drops at idle to save power)',
    nvml: 'nvmlDeviceGetCurrPcieLinkGeneration',
    smi: 'pcie.link.gen.current',
    dcgm: {
      field: 'DCGM_FI_DEV_PCIE_LINK_GEN',
      type: 'gauge',
      unit: 'generation',
      scale: 1,
      help: 'PCIe current link generation.',
    },
    influx: 'pcie_link_gen_current',
    min: 1,
    max: 16,
    since: 2,
  },
  {
    name: 'gpu_pcie_link_generation_max',
    kind: 'gauge',
    unit: 'generation',
    type: 'int64',
    help: 'Highest PCIe link generation the GPU and its slot support together',
    nvml: 'nvmlDeviceGetMaxPcieLinkGeneration',
    smi: 'pcie.link.gen.max',
    dcgm: {
      field: 'DCGM_FI_DEV_PCIE_MAX_LINK_GEN',
      type: 'gauge',
      unit: 'generation',
      scale: 1,
      help: 'PCIe max link generation.',
    },
    influx: 'pcie_link_gen_max',
    min: 1,
    max: 16,
    since: 2,
  },
  {
    name: 'gpu_pcie_link_width_lanes',
    kind: 'gauge',
    unit: 'lanes',
    type: 'int64',
    help: 'Current PCIe link width',
    nvml: 'nvmlDeviceGetCurrPcieLinkWidth',
    smi: 'pcie.link.width.current',
    dcgm: {
      field: 'DCGM_FI_DEV_PCIE_LINK_WIDTH',
      type: 'gauge',
      unit: 'lanes',
      scale: 1,
      help: 'PCIe current link width.',
    },
    influx: 'pcie_link_width_current',
    min: 1,
    max: 64,
    since: 2,
  },
  {
    name: 'gpu_pcie_link_width_max_lanes',
    kind: 'gauge',
    unit: 'lanes',
    type: 'int64',
    help: 'Widest PCIe link the GPU and its slot support together',
    nvml: 'nvmlDeviceGetMaxPcieLinkWidth',
    smi: 'pcie.link.width.max',
    dcgm: {
      field: 'DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH',
      type: 'gauge',
      unit: 'lanes',
      scale: 1,
      help: 'PCIe max link width.',
    },
    influx: 'pcie_link_width_max',
    min: 1,
    max: 64,
    since: 2,
  },
  {
    name: 'gpu_remapped_rows_correctable_total',
    kind: 'counter',
    unit: 'rows',
    type: 'int64',
    help: 'Memory rows remapped for correctable errors (Ampere and later datacenter GPUs), over the GPU life',
    nvml: 'nvmlDeviceGetRemappedRows.corrRows',
    smi: 'remapped_rows.correctable',
    dcgm: {
      field: 'DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS',
      type: 'counter',
      unit: 'rows',
      scale: 1,
      help: 'Number of remapped rows for correctable errors',
    },
    influx: 'remapped_rows_correctable',
    min: 0,
    max: BIG,
    since: 2,
  },
  {
    name: 'gpu_remapped_rows_uncorrectable_total',
    kind: 'counter',
    unit: 'rows',
    type: 'int64',
    help: 'Memory rows remapped for uncorrectable errors (Ampere and later datacenter GPUs), over the GPU life',
    nvml: 'nvmlDeviceGetRemappedRows.uncRows',
    smi: 'remapped_rows.uncorrectable',
    dcgm: {
      field: 'DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS',
      type: 'counter',
      unit: 'rows',
      scale: 1,
      help: 'Number of remapped rows for uncorrectable errors',
    },
    influx: 'remapped_rows_uncorrectable',
    min: 0,
    max: BIG,
    since: 2,
  },
  {
    name: 'gpu_retired_pages_single_bit_total',
    kind: 'counter',
    unit: 'pages',
    type: 'int64',
    help: 'Memory pages retired after multiple single-bit ECC errors (before Ampere), over the GPU life',
    nvml: 'nvmlDeviceGetRetiredPages(NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS)',
    smi: 'retired_pages.single_bit_ecc.count',
    dcgm: {
      field: 'DCGM_FI_DEV_RETIRED_SBE',
      type: 'counter',
      unit: 'pages',
      scale: 1,
      help: 'Total number of retired pages due to single-bit errors.',
    },
    influx: 'retired_pages_single_bit',
    min: 0,
    max: BIG,
    since: 2,
  },
  {
    name: 'gpu_retired_pages_double_bit_total',
    kind: 'counter',
    unit: 'pages',
    type: 'int64',
    help: 'Memory pages retired after a double-bit ECC error (before Ampere), over the GPU life',
    nvml: 'nvmlDeviceGetRetiredPages(NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR)',
    smi: 'retired_pages.double_bit.count',
    dcgm: {
      field: 'DCGM_FI_DEV_RETIRED_DBE',
      type: 'counter',
      unit: 'pages',
      scale: 1,
      help: 'Total number of retired pages due to double-bit errors.',
    },
    influx: 'retired_pages_double_bit',
    min: 0,
    max: BIG,
    since: 2,
  },
  {
    name: 'host_cpu_temperature_celsius',
    kind: 'gauge',
    unit: 'celsius',
    type: 'float64',
    help: 'Host CPU temperature: the hottest CPU package (hwmon coretemp, k10temp, zenpower or acpitz; GPU-Z: CPU Temperature)',
    nvml: '',
    smi: '',
    dcgm: null,
    influx: 'host_cpu_temperature',
    min: -50,
    max: 150,
  },
  {
    name: 'host_memory_used_bytes',
    kind: 'gauge',
    unit: 'bytes',
    type: 'int64',
    help: 'Host system memory in use: MemTotal - MemAvailable (GPU-Z: System Memory Used)',
    nvml: '',
    smi: '',
    dcgm: null,
    influx: 'host_memory_used_bytes',
    min: 0,
    max: BIG,
  },
  {
    name: 'host_memory_total_bytes',
    kind: 'gauge',
    unit: 'bytes',
    type: 'int64',
    help: 'Host system memory usable by the kernel (MemTotal)',
    nvml: '',
    smi: '',
    dcgm: null,
    influx: 'host_memory_total_bytes',
    min: 0,
    max: BIG,
    since: 2,
  },
  {
    name: 'host_cpu_utilization_percent',
    kind: 'gauge',
    unit: 'percent',
    type: 'float64',
    help: 'Host CPU utilization over the last sample period, all cores (100 = every core busy)',
    nvml: '',
    smi: '',
    dcgm: null,
    influx: 'host_cpu_utilization',
    min: 0,
    max: 100,
    since: 2,
  },
] as const satisfies readonly MetricDef[];

export type MetricName = (typeof METRICS)[number]['name'];

/**
 * What a sample is about: the GPU (its identity, the same in every sample of it) and the Kubernetes workload
 * holding it at the time (namespace, pod, container: they change as pods come and go). Stored with every
 * sample; InfluxDB tags where `influxTag` is set, string fields otherwise.
 */
export interface IdentityDef {
  readonly name: string;
  readonly type: 'string' | 'int32';
  readonly help: string;
  readonly nvml: string;
  readonly smi: string;
  readonly dcgm: string;
  /** InfluxDB tag key, or '' where the field is not a tag. */
  readonly influxTag: string;
  /** Whether a sample may lack it (`null`): a source that cannot tell, or a GPU that no pod holds. */
  readonly nullable: boolean;
  /** The wire encoding version that first carried it (docs/encoding.md); absent means 1. */
  readonly since?: number;
}

export const IDENTITY = [
  {
    name: 'host',
    type: 'string',
    help: 'Host name of the machine the GPU is in',
    nvml: '',
    smi: '',
    dcgm: 'Hostname',
    influxTag: 'host',
    nullable: false,
  },
  {
    name: 'gpu_index',
    type: 'int32',
    help: 'Index of the GPU on its host (NVML order)',
    nvml: 'nvmlDeviceGetIndex',
    smi: 'index',
    dcgm: 'gpu',
    influxTag: 'gpu',
    nullable: false,
  },
  {
    name: 'uuid',
    type: 'string',
    help: 'Globally unique GPU identifier (GPU-xxxxxxxx-...)',
    nvml: 'nvmlDeviceGetUUID',
    smi: 'uuid',
    dcgm: 'UUID',
    influxTag: 'uuid',
    nullable: false,
  },
  {
    name: 'model',
    type: 'string',
    help: 'Product name',
    nvml: 'nvmlDeviceGetName',
    smi: 'name',
    dcgm: 'modelName',
    influxTag: 'model',
    nullable: false,
  },
  {
    name: 'pci_bus_id',
    type: 'string',
    help: 'PCI bus id (domain:bus:device.function)',
    nvml: 'nvmlDeviceGetPciInfo.busId',
    smi: 'pci.bus_id',
    dcgm: 'pci_bus_id',
    influxTag: '',
    nullable: true,
  },
  {
    name: 'driver_version',
    type: 'string',
    help: 'Driver version',
    nvml: 'nvmlSystemGetDriverVersion',
    smi: 'driver_version',
    dcgm: 'DCGM_FI_DRIVER_VERSION',
    influxTag: '',
    nullable: true,
  },
  {
    name: 'vbios_version',
    type: 'string',
    help: 'Video BIOS version',
    nvml: 'nvmlDeviceGetVbiosVersion',
    smi: 'vbios_version',
    dcgm: 'DCGM_FI_DEV_VBIOS_VERSION',
    influxTag: '',
    nullable: true,
    since: 2,
  },
  {
    name: 'cuda_version',
    type: 'string',
    help: 'Highest CUDA version the driver supports (major.minor)',
    nvml: 'nvmlSystemGetCudaDriverVersion_v2',
    smi: '',
    dcgm: 'DCGM_FI_CUDA_DRIVER_VERSION',
    influxTag: '',
    nullable: true,
    since: 2,
  },
  {
    name: 'namespace',
    type: 'string',
    help: 'Kubernetes namespace of the pod holding the GPU (null when no pod holds it, or outside Kubernetes)',
    nvml: '',
    smi: '',
    dcgm: 'namespace',
    influxTag: '',
    nullable: true,
    since: 2,
  },
  {
    name: 'pod',
    type: 'string',
    help: 'Kubernetes pod holding the GPU (null when none does)',
    nvml: '',
    smi: '',
    dcgm: 'pod',
    influxTag: '',
    nullable: true,
    since: 2,
  },
  {
    name: 'container',
    type: 'string',
    help: 'Container of that pod the GPU is assigned to (null when no pod holds it)',
    nvml: '',
    smi: '',
    dcgm: 'container',
    influxTag: '',
    nullable: true,
    since: 2,
  },
] as const satisfies readonly IdentityDef[];

export type IdentityName = (typeof IDENTITY)[number]['name'];

/** The time of a sample: Unix epoch milliseconds, UTC. Stored as the Parquet column `ts`. */
export const TIMESTAMP_COLUMN = 'ts';

export const METRIC_NAMES: readonly MetricName[] = METRICS.map((m) => m.name);

/** The wire encoding version that first carried a metric or identity field (docs/encoding.md). */
export function metricSince(m: { readonly since?: number }): number {
  return m.since ?? 1;
}

/** The newest wire encoding version: the highest `since` in the catalog. */
export const CATALOG_WIRE_VERSION: number = Math.max(
  1,
  ...(METRICS as readonly MetricDef[]).map(metricSince),
);

export function metricDef(name: MetricName): MetricDef {
  const def = METRICS.find((m) => m.name === name);
  if (!def) throw new Error(`unknown metric ${name}`);
  return def;
}

/** A DCGM field of the catalog with the metric it carries. */
export interface DcgmFieldOf {
  readonly metric: MetricDef;
  readonly field: DcgmField & { readonly render: boolean };
}

/** Every DCGM field of the catalog with its metric: the primary field of each metric first, then the others. */
export function dcgmFields(): DcgmFieldOf[] {
  const defs: readonly MetricDef[] = METRICS;
  const primary = defs.flatMap((m) => (m.dcgm ? [{ metric: m, field: { ...m.dcgm, render: true } }] : []));
  const others = defs.flatMap((m) => (m.dcgm?.also ?? []).map((field) => ({ metric: m, field })));
  return [...primary, ...others];
}
