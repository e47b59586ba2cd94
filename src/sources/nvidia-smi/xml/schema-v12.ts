import type { XmlSchema } from './schema.ts';

/**
 * DTD v12 (525 to 580 branches). 535 renamed `power_readings` to `gpu_power_readings` (+ `module_power_readings`,
 * whose limit is `current_power_limit`) and `clocks_throttle_reasons` to `clocks_event_reasons`; 525 files keep the
 * old names under the v12 DOCTYPE (Quadro P2000, RTX 3090 525), and 570 already prints `average_power_draw` /
 * `instant_power_draw` (RTX 3060 570).
 */
export const SCHEMA_V12: XmlSchema = {
  name: 'v12',
  powerDraw: [
    ['gpu_power_readings', 'power_draw'],
    ['gpu_power_readings', 'average_power_draw'],
    ['gpu_power_readings', 'instant_power_draw'],
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
