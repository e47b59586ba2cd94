import type { XmlSchema } from './schema.ts';

/**
 * DTD v11 (drivers 450 to 515) and files without a DOCTYPE (418 and older): `power_readings` with
 * `power_draw` and `enforced_power_limit` (`power_limit` where only that is filled);
 * `clocks_throttle_reasons/clocks_throttle_reason_*`. The v12 and v13 spellings follow as a fallback.
 */
export const SCHEMA_V11: XmlSchema = {
  name: 'v11',
  powerDraw: [
    ['power_readings', 'power_draw'],
    ['gpu_power_readings', 'power_draw'],
    ['gpu_power_readings', 'average_power_draw'],
  ],
  powerLimit: [
    ['power_readings', 'enforced_power_limit'],
    ['power_readings', 'power_limit'],
    ['gpu_power_readings', 'current_power_limit'],
  ],
  eventReasons: [
    { container: 'clocks_throttle_reasons', prefix: 'clocks_throttle_reason_' },
    { container: 'clocks_event_reasons', prefix: 'clocks_event_reason_' },
  ],
};
