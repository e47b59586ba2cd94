/**
 * Where each catalog field comes from in every source, beside what the best peers read from the same GPUs:
 * Telegraf's `nvidia_smi` input (1.37: `plugins/inputs/nvidia_smi/schema_v11` and `schema_v12`, the parsers it
 * uses for every capture in testdata/) and dcgm-exporter's `etc/default-counters.csv` (the fields it exports
 * unless configured otherwise; copy in src/metrics/testdata/). Rendered into docs/metrics.md by
 * src/metrics/doc.ts; src/sources/coverage.test.ts checks it against the sources' own mapping tables.
 *
 * The NVML, nvidia-smi `--query-gpu` and DCGM columns come from the catalog; the XML paths, rocm-smi keys and
 * GPU-Z columns from here and from the sources' tables.
 */
import { IDENTITY, METRICS, type MetricName } from '../metrics/catalog.ts';
import { COLUMN_MAPPINGS } from './gpuz/columns.ts';
import { NUMERIC_KEYS } from './rocm-smi/rocm-smi-parser.ts';

/** A field Telegraf's nvidia_smi reads, and what gpumon keeps of it. */
export interface TelegrafField {
  /** Telegraf's field (or tag) name. */
  readonly field: string;
  readonly tag?: boolean;
  /** The schema parsers that read it (`v11`, `v12`). */
  readonly schemas: string;
  /** The catalog metric or identity field gpumon keeps it in, or where else it is. */
  readonly gpumon: string;
  /** Why gpumon does not keep it as a metric, where it does not. */
  readonly why?: string;
}

const BOTH = 'v11, v12';

/**
 * Every field and tag of Telegraf's nvidia_smi measurement (schema_v11/parser.go, schema_v12/parser.go), in
 * their order. The 30 fields and 6 tags it gives on the captures of testdata/ are among these.
 */
export const TELEGRAF_NVIDIA_SMI: readonly TelegrafField[] = [
  { field: 'index', tag: true, schemas: BOTH, gpumon: 'gpu_index' },
  { field: 'pstate', tag: true, schemas: BOTH, gpumon: 'gpu_performance_state' },
  { field: 'name', tag: true, schemas: BOTH, gpumon: 'model' },
  {
    field: 'arch',
    tag: true,
    schemas: 'v12',
    gpumon: '',
    why: 'the architecture follows from the model',
  },
  { field: 'uuid', tag: true, schemas: BOTH, gpumon: 'uuid' },
  {
    field: 'compute_mode',
    tag: true,
    schemas: BOTH,
    gpumon: '',
    why: 'a setting (Default / Exclusive_Process), not a reading',
  },
  { field: 'driver_version', schemas: BOTH, gpumon: 'driver_version' },
  { field: 'cuda_version', schemas: BOTH, gpumon: 'cuda_version' },
  {
    field: 'serial',
    schemas: BOTH,
    gpumon: '',
    why: 'kept per device (`devices()`, the API), not in every sample',
  },
  { field: 'vbios_version', schemas: BOTH, gpumon: 'vbios_version' },
  { field: 'display_active', schemas: BOTH, gpumon: '', why: 'a setting, not a reading' },
  { field: 'display_mode', schemas: BOTH, gpumon: '', why: 'a setting, not a reading' },
  {
    field: 'current_ecc',
    schemas: BOTH,
    gpumon: '',
    why: 'the ECC mode: the ECC counters are null where ECC is off',
  },
  { field: 'fan_speed', schemas: BOTH, gpumon: 'gpu_fan_speed_percent' },
  { field: 'memory_total', schemas: BOTH, gpumon: 'gpu_memory_total_bytes' },
  { field: 'memory_used', schemas: BOTH, gpumon: 'gpu_memory_used_bytes' },
  { field: 'memory_free', schemas: BOTH, gpumon: 'gpu_memory_free_bytes' },
  { field: 'memory_reserved', schemas: BOTH, gpumon: 'gpu_memory_reserved_bytes' },
  {
    field: 'retired_pages_multiple_single_bit',
    schemas: BOTH,
    gpumon: 'gpu_retired_pages_single_bit_total',
  },
  { field: 'retired_pages_double_bit', schemas: BOTH, gpumon: 'gpu_retired_pages_double_bit_total' },
  { field: 'retired_pages_blacklist', schemas: BOTH, gpumon: '', why: 'a Yes/No flag' },
  { field: 'retired_pages_pending', schemas: BOTH, gpumon: '', why: 'a Yes/No flag' },
  { field: 'remapped_rows_correctable', schemas: BOTH, gpumon: 'gpu_remapped_rows_correctable_total' },
  { field: 'remapped_rows_uncorrectable', schemas: BOTH, gpumon: 'gpu_remapped_rows_uncorrectable_total' },
  { field: 'remapped_rows_pending', schemas: BOTH, gpumon: '', why: 'a Yes/No flag' },
  { field: 'remapped_rows_failure', schemas: BOTH, gpumon: '', why: 'a Yes/No flag' },
  { field: 'temperature_gpu', schemas: BOTH, gpumon: 'gpu_temperature_celsius' },
  { field: 'utilization_gpu', schemas: BOTH, gpumon: 'gpu_utilization_percent' },
  { field: 'utilization_memory', schemas: BOTH, gpumon: 'gpu_memory_utilization_percent' },
  { field: 'utilization_encoder', schemas: BOTH, gpumon: 'gpu_encoder_utilization_percent' },
  { field: 'utilization_decoder', schemas: BOTH, gpumon: 'gpu_decoder_utilization_percent' },
  { field: 'utilization_jpeg', schemas: 'v12', gpumon: 'gpu_jpeg_utilization_percent' },
  { field: 'utilization_ofa', schemas: 'v12', gpumon: 'gpu_ofa_utilization_percent' },
  { field: 'pcie_link_gen_current', schemas: BOTH, gpumon: 'gpu_pcie_link_generation' },
  { field: 'pcie_link_width_current', schemas: BOTH, gpumon: 'gpu_pcie_link_width_lanes' },
  { field: 'encoder_stats_session_count', schemas: BOTH, gpumon: 'gpu_encoder_sessions' },
  { field: 'encoder_stats_average_fps', schemas: BOTH, gpumon: 'gpu_encoder_fps' },
  { field: 'encoder_stats_average_latency', schemas: BOTH, gpumon: 'gpu_encoder_latency_microseconds' },
  { field: 'fbc_stats_session_count', schemas: BOTH, gpumon: 'gpu_fbc_sessions' },
  { field: 'fbc_stats_average_fps', schemas: BOTH, gpumon: 'gpu_fbc_fps' },
  { field: 'fbc_stats_average_latency', schemas: BOTH, gpumon: 'gpu_fbc_latency_microseconds' },
  { field: 'clocks_current_graphics', schemas: BOTH, gpumon: 'gpu_graphics_clock_mhz' },
  { field: 'clocks_current_sm', schemas: BOTH, gpumon: 'gpu_sm_clock_mhz' },
  { field: 'clocks_current_memory', schemas: BOTH, gpumon: 'gpu_memory_clock_mhz' },
  { field: 'clocks_current_video', schemas: BOTH, gpumon: 'gpu_video_clock_mhz' },
  { field: 'power_draw', schemas: BOTH, gpumon: 'gpu_power_draw_watts' },
  { field: 'power_limit', schemas: 'v11', gpumon: 'gpu_power_limit_watts' },
  {
    field: 'module_power_draw',
    schemas: 'v12',
    gpumon: '',
    why: 'only Grace superchip modules fill it (N/A on every capture); the board draw is gpu_power_draw_watts',
  },
];

/**
 * The DCGM fields dcgm-exporter exports by default (the uncommented rows of etc/default-counters.csv), in its
 * order.
 */
export const DCGM_EXPORTER_DEFAULT_COUNTERS: readonly string[] = [
  'DCGM_FI_DEV_SM_CLOCK',
  'DCGM_FI_DEV_MEM_CLOCK',
  'DCGM_FI_DEV_MEMORY_TEMP',
  'DCGM_FI_DEV_GPU_TEMP',
  'DCGM_FI_DEV_POWER_USAGE',
  'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
  'DCGM_FI_DEV_PCIE_TX_THROUGHPUT',
  'DCGM_FI_DEV_PCIE_RX_THROUGHPUT',
  'DCGM_FI_DEV_PCIE_REPLAY_COUNTER',
  'DCGM_FI_DEV_GPU_UTIL',
  'DCGM_FI_DEV_MEM_COPY_UTIL',
  'DCGM_FI_DEV_ENC_UTIL',
  'DCGM_FI_DEV_DEC_UTIL',
  'DCGM_FI_DEV_XID_ERRORS',
  'DCGM_FI_DEV_FB_FREE',
  'DCGM_FI_DEV_FB_USED',
  'DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL',
  'DCGM_FI_DEV_VGPU_LICENSE_STATUS',
  'DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS',
  'DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS',
  'DCGM_FI_DEV_ROW_REMAP_FAILURE',
];

/** Why gpumon keeps no metric for a default dcgm-exporter field. */
export const DCGM_EXPORTER_NOT_KEPT: Readonly<Record<string, string>> = {
  DCGM_FI_DEV_PCIE_REPLAY_COUNTER:
    'PCIe replays: not in the catalog yet (NVML and the XML have it too); the dcgm source keeps it as unmapped',
  DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL:
    'NVLink traffic: not in the catalog yet (per-link counters); the dcgm source keeps it as unmapped',
  DCGM_FI_DEV_VGPU_LICENSE_STATUS: 'vGPU licensing: a status, not a reading',
  DCGM_FI_DEV_ROW_REMAP_FAILURE: 'a Yes/No flag',
};

/**
 * nvidia-smi `-q -x`: the element each metric is read from, the same path in every DTD generation unless the
 * schema parsers (src/sources/nvidia-smi/xml/) say otherwise.
 */
export const XML_PATHS: Readonly<Partial<Record<MetricName, string>>> = {
  gpu_utilization_percent: 'utilization/gpu_util',
  gpu_memory_utilization_percent: 'utilization/memory_util',
  gpu_encoder_utilization_percent: 'utilization/encoder_util',
  gpu_decoder_utilization_percent: 'utilization/decoder_util',
  gpu_jpeg_utilization_percent: 'utilization/jpeg_util (535 and later)',
  gpu_ofa_utilization_percent: 'utilization/ofa_util (535 and later)',
  gpu_memory_total_bytes: 'fb_memory_usage/total',
  gpu_memory_used_bytes: 'fb_memory_usage/used',
  gpu_memory_free_bytes: 'fb_memory_usage/free',
  gpu_memory_reserved_bytes: 'fb_memory_usage/reserved (not in 418)',
  gpu_temperature_celsius: 'temperature/gpu_temp',
  gpu_memory_temperature_celsius: 'temperature/memory_temp',
  gpu_power_draw_watts:
    'v13: gpu_power_readings/average_power_draw, else instant_power_draw; v12: gpu_power_readings/power_draw (535+), else power_readings/power_draw; v10, v11: power_readings/power_draw',
  gpu_power_limit_watts:
    'v12, v13: gpu_power_readings/current_power_limit, else power_readings/enforced_power_limit; v10, v11: power_readings/enforced_power_limit, else power_limit',
  gpu_sm_clock_mhz: 'clocks/sm_clock',
  gpu_memory_clock_mhz: 'clocks/mem_clock',
  gpu_graphics_clock_mhz: 'clocks/graphics_clock',
  gpu_video_clock_mhz: 'clocks/video_clock',
  gpu_fan_speed_percent: 'fan_speed',
  gpu_performance_state: 'performance_state',
  gpu_clock_throttle_reasons:
    'clocks_event_reasons/clocks_event_reason_* (535+), else clocks_throttle_reasons/clocks_throttle_reason_*',
  gpu_pcie_tx_bytes_per_second: 'pci/tx_util',
  gpu_pcie_rx_bytes_per_second: 'pci/rx_util',
  gpu_pcie_link_generation: 'pci/pci_gpu_link_info/pcie_gen/current_link_gen',
  gpu_pcie_link_generation_max: 'pci/pci_gpu_link_info/pcie_gen/max_link_gen',
  gpu_pcie_link_width_lanes: 'pci/pci_gpu_link_info/link_widths/current_link_width (`16x`)',
  gpu_pcie_link_width_max_lanes: 'pci/pci_gpu_link_info/link_widths/max_link_width',
  gpu_encoder_sessions: 'encoder_stats/session_count',
  gpu_encoder_fps: 'encoder_stats/average_fps',
  gpu_encoder_latency_microseconds: 'encoder_stats/average_latency',
  gpu_fbc_sessions: 'fbc_stats/session_count',
  gpu_fbc_fps: 'fbc_stats/average_fps',
  gpu_fbc_latency_microseconds: 'fbc_stats/average_latency',
  gpu_remapped_rows_correctable_total: 'remapped_rows/remapped_row_corr',
  gpu_remapped_rows_uncorrectable_total: 'remapped_rows/remapped_row_unc',
  gpu_retired_pages_single_bit_total: 'retired_pages/multiple_single_bit_retirement/retired_count',
  gpu_retired_pages_double_bit_total: 'retired_pages/double_bit_retirement/retired_count',
  gpu_ecc_errors_corrected_volatile_total:
    'ecc_errors/volatile/single_bit/total (v11), else the sum of sram_correctable and dram_correctable',
  gpu_ecc_errors_uncorrected_volatile_total:
    'ecc_errors/volatile/double_bit/total (v11), else the sum of the sram_uncorrectable* and dram_uncorrectable',
};

/** The identity fields in nvidia-smi `-q -x`. */
export const XML_IDENTITY_PATHS: Readonly<Record<string, string>> = {
  gpu_index: 'the position of the `<gpu>` block',
  uuid: 'uuid',
  model: 'product_name',
  pci_bus_id: 'pci/pci_bus_id, else the `<gpu id>` attribute',
  driver_version: 'kmd_version (610+), else driver_version (root)',
  vbios_version: 'vbios_version',
  cuda_version: 'cuda_umd_version (610+), else cuda_version (root), the leading version',
  parent_uuid: 'uuid of the `<gpu>` holding the `<mig_device>`',
  mig_gpu_instance_id: 'mig_devices/mig_device/gpu_instance_id',
  mig_compute_instance_id: 'mig_devices/mig_device/compute_instance_id',
};

/** The rocm-smi `--json` keys of each metric, in order (the first present wins), from the parser's table. */
export function rocmKeys(metric: MetricName): string[] {
  const keys = NUMERIC_KEYS.filter((k) => k.metric === metric).flatMap((k) => k.keys);
  if (metric === 'gpu_memory_free_bytes') return ['VRAM Total Memory (B) - VRAM Total Used Memory (B)'];
  if (metric === 'gpu_memory_temperature_celsius')
    return [...keys, 'the hottest Temperature (Sensor HBM N) (C)'];
  return keys;
}

/** The GPU-Z sensor log columns of each metric (names compared without case), from the source's table. */
export function gpuzColumns(metric: MetricName): string[] {
  return COLUMN_MAPPINGS.filter((c) => c.metric === metric).flatMap((c) => c.names);
}

/** The Telegraf field(s) that carry a catalog metric or identity field. */
export function telegrafFieldsOf(name: string): string[] {
  return TELEGRAF_NVIDIA_SMI.filter((t) => t.gpumon === name).map((t) => t.field);
}

/** Every catalog name (metric or identity). */
export const CATALOG_NAMES: ReadonlySet<string> = new Set<string>([
  ...METRICS.map((m) => m.name),
  ...IDENTITY.map((i) => i.name),
]);
