import type { XmlSchema } from './schema.ts';
import { SCHEMA_V11 } from './schema-v11.ts';

/**
 * DTD v10 and older (`nvsmi_device_v4.dtd` to `nvsmi_device_v10.dtd`: drivers before 450, the 375 branch prints
 * v8 or v9, 410 to 440 print v10): `power_readings` with `power_draw`, the limit as `enforced_power_limit` or only
 * `power_limit`, `clocks_throttle_reasons/clocks_throttle_reason_*`. Files cut down to a few sections (Telegraf's
 * GTX 1070 Ti) keep these names. These are v11's names, in v11's order of preference (the newer spellings as a
 * fallback); the schema has a name of its own so that such files are recognised, not warned about.
 */
export const SCHEMA_V10: XmlSchema = { ...SCHEMA_V11, name: 'v10' };
