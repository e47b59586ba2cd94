import type { Config } from '../../config/schema.ts';
import type { Engine } from '../engine.ts';
import { DuckDbEngine } from './duckdb.ts';
import { SparkEngine } from './spark/spark-engine.ts';

/** The analytics engines by `analytics.engine` name. */
export const ENGINES: Readonly<Record<Config['analytics']['engine'], (config: Config) => Engine>> = {
  duckdb: (config) => DuckDbEngine.fromConfig(config),
  spark: (config) => SparkEngine.fromConfig(config),
};

/** The engine `analytics.engine` names, configured by the other `analytics.*` keys. */
export function engineFromConfig(config: Config): Engine {
  return ENGINES[config.analytics.engine](config);
}
