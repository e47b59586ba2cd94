import { DuckDBInstance } from '@duckdb/node-api';
import { METRICS } from '../../metrics/catalog.ts';
import { IN_UTC } from './archive-reader.ts';

/**
 * The archive's first format (until 2026-12): as format 2 but `ts` a timestamp without time zone (pyarrow
 * reads it as a naive `timestamp[us]`). Kept to write files of it for the tests and the benchmark that show both
 * formats read the same (`gpumon` itself writes format 2 only).
 */
export const FORMAT_1_WRITE_OPTIONS = 'FORMAT parquet, COMPRESSION zstd';

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * Rewrites an archive file of format 2 as format 1: the same rows and columns, `ts` without time zone, every
 * metric of its catalog type (decimals back to doubles).
 */
export async function rewriteAsFormat1(
  source: string,
  target: string,
  rowGroupSize = 122_880,
): Promise<void> {
  const replaced = [
    'ts::TIMESTAMP AS ts',
    ...METRICS.map((m) => `"${m.name}"::${m.type === 'int64' ? 'BIGINT' : 'DOUBLE'} AS "${m.name}"`),
  ].join(', ');
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    await connection.run(IN_UTC);
    await connection.run(
      `COPY (SELECT * REPLACE (${replaced}) FROM read_parquet(${literal(source)}, hive_partitioning = false)) TO ${literal(target)} ` +
        `(${FORMAT_1_WRITE_OPTIONS}, ROW_GROUP_SIZE ${rowGroupSize})`,
    );
  } finally {
    instance.closeSync();
  }
}
