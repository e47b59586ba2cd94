import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** What the Parquet archive under `archive` holds: rows, distinct (uuid, ts) pairs, and rows per GPU up to a time. */
export interface ArchiveCount {
  rows: number;
  distinct: number;
}

/** Counts the rows of the archive (all of them, or those with ts <= `untilMs` for each GPU's own limit). */
export async function countArchive(
  archive: string,
  untilMsByUuid?: ReadonlyMap<string, number>,
): Promise<ArchiveCount> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const files = join(archive, 'gpu-metrics', '**', '*.parquet').replaceAll("'", "''");
    let where = '';
    if (untilMsByUuid) {
      const limits = [...untilMsByUuid]
        .map(
          ([uuid, ms]) => `(uuid = '${uuid.replaceAll("'", "''")}' AND ts <= make_timestamp(${ms * 1000}))`,
        )
        .join(' OR ');
      where = `WHERE ${limits || 'false'}`;
    }
    const reader = await conn.runAndReadAll(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT (uuid, ts))::INTEGER AS d
       FROM read_parquet('${files}', hive_partitioning = false) ${where}`,
    );
    const row = reader.getRowObjects()[0];
    return { rows: Number(row?.n ?? 0), distinct: Number(row?.d ?? 0) };
  } finally {
    conn.closeSync();
  }
}

/** Each GPU's samples so far, as the live API serves them: uuid -> sample times. */
export async function liveSamples(url: string): Promise<Map<string, number[]>> {
  const { gpus } = (await (await fetch(`${url}/api/gpus`)).json()) as { gpus: { uuid: string }[] };
  const out = new Map<string, number[]>();
  for (const { uuid } of gpus) {
    const series = (await (
      await fetch(`${url}/api/gpus/${uuid}/series?metric=gpu_temperature_celsius&minutes=60`)
    ).json()) as { ts: number[] };
    out.set(uuid, series.ts);
  }
  return out;
}
