import type { XmlSchema } from './schema.ts';

/**
 * DTD v13 (590 and later): `power_draw` is gone, `gpu_power_readings` has `average_power_draw` (what NVML's
 * power usage reports) and `instant_power_draw`; `gpu_memory_power_readings`, `gpu_temp_tlimit`,
 * `clocks_event_reasons_counters`. The newest parser is also the one for unknown schema versions, so it keeps
 * the older names as a last resort.
 */
export const SCHEMA_V13: XmlSchema = {
  name: 'v13',
  powerDraw: [
    ['gpu_power_readings', 'average_power_draw'],
    ['gpu_power_readings', 'instant_power_draw'],
    ['gpu_power_readings', 'power_draw'],
    ['power_readings', 'power_draw'],
  ],
  powerLimit: [
    ['gpu_power_readings', 'current_power_limit'],
    ['power_readings', 'enforced_power_limit'],
    ['power_readings', 'power_limit'],
  ],
  eventReasons: [
    { container: 'clocks_event_reasons', prefix: 'clocks_event_reason_' },
    { container: 'clocks_throttle_reasons', prefix: 'clocks_throttle_reason_' },
  ],
};
