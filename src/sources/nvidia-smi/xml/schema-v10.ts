import type { XmlSchema } from './schema.ts';

/**
 * DTD v10 and older (`nvsmi_device_v4.dtd` to `nvsmi_device_v10.dtd`: drivers before 450, the 375 branch prints
 * v8 or v9, 410 to 440 print v10): `power_readings` with `power_draw`, the limit as `enforced_power_limit` or only
 * `power_limit`, `clocks_throttle_reasons/clocks_throttle_reason_*`. Files cut down to a few sections (Telegraf's
 * GTX 1070 Ti) keep these names. The newer spellings follow as a fallback, like every generation's.
 */
export const SCHEMA_V10: XmlSchema = {
  name: 'v10',
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
