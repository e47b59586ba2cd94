import type { XmlSchema } from './schema.ts';

/**
 * DTD v11 (drivers up to the 515 branch) and files without a DOCTYPE (418 and older): `power_readings` with
 * `power_draw` and `enforced_power_limit`; `clocks_throttle_reasons/clocks_throttle_reason_*`.
 */
export const SCHEMA_V11: XmlSchema = {
  name: 'v11',
  powerDraw: [['power_readings', 'power_draw']],
  powerLimit: [
    ['power_readings', 'enforced_power_limit'],
    ['power_readings', 'power_limit'],
  ],
  eventReasons: [{ container: 'clocks_throttle_reasons', prefix: 'clocks_throttle_reason_' }],
};
