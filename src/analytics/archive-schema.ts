import { IDENTITY, METRICS } from '../metrics/catalog.ts';
import { SAMPLE_COLUMNS } from '../metrics/sample.ts';

/** An archive column and its SQL type (standard names: TIMESTAMP, VARCHAR, INTEGER, BIGINT, DOUBLE). */
export interface ArchiveColumn {
  readonly name: string;
  readonly sqlType: 'TIMESTAMP' | 'VARCHAR' | 'INTEGER' | 'BIGINT' | 'DOUBLE';
}

const SQL_TYPES = { string: 'VARCHAR', int32: 'INTEGER', float64: 'DOUBLE', int64: 'BIGINT' } as const;

/** The columns of the Parquet archive (gpu-metrics/), in SAMPLE_COLUMNS order, derived from the catalog. */
export const ARCHIVE_COLUMNS: readonly ArchiveColumn[] = SAMPLE_COLUMNS.map((name) => {
  if (name === 'ts') return { name, sqlType: 'TIMESTAMP' };
  const def = [...IDENTITY, ...METRICS].find((c) => c.name === name);
  if (!def) throw new Error(`archive column ${name} is not in the catalog`);
  return { name, sqlType: SQL_TYPES[def.type] };
});
