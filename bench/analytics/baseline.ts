/**
 * Baselines of bench/analytics, each the floor of one step, in DuckDB alone:
 *   write DIR N     N rows with the archive's schema generated in SQL and written as zstd Parquet
 *   scan DIR DATE   one aggregate pass over the columns the analyses read, for one archived date
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { PARQUET_COLUMNS } from '../../src/sinks/archive/parquet-writer.ts';

const [mode, dir, arg] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', { memory_limit: '3GB' });
const conn = await db.connect();

if (mode === 'write' && dir && arg) {
  const n = Number(arg);
  const exprs = PARQUET_COLUMNS.map(({ name, sqlType }) => {
    if (name === 'ts') return `TIMESTAMP '2026-11-25' + to_microseconds((i // 1000) * 1000000) AS ts`;
    if (name === 'gpu_index') return `(i % 8)::INTEGER AS gpu_index`;
    if (sqlType === 'VARCHAR') return `'${name}-' || (i % 1000)::VARCHAR AS ${name}`;
    if (sqlType === 'BIGINT') return `(i % 1000003)::BIGINT AS ${name}`;
    return `((i % 997) / 10.0)::DOUBLE AS ${name}`;
  });
  await conn.run(
    `COPY (SELECT ${exprs.join(', ')} FROM range(${n}) t(i)) TO '${join(dir, 'baseline.parquet')}' ` +
      `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
  );
} else if (mode === 'scan' && dir && arg) {
  await conn.run(
    `SELECT uuid, count(*), avg(gpu_temperature_celsius), avg(gpu_utilization_percent), avg(gpu_power_draw_watts), ` +
      `avg(gpu_memory_used_bytes), avg(gpu_sm_clock_mhz), min(ts), max(ts) ` +
      `FROM read_parquet('${join(dir, 'gpu-metrics', `date=${arg}`, '*.parquet')}') GROUP BY uuid`,
  );
} else {
  console.error('usage: baseline.ts write DIR N | scan DIR DATE');
  process.exit(2);
}
conn.closeSync();
const cpu = process.cpuUsage();
// For profile.ts: the CPU seconds of the whole process, DuckDB's threads included.
process.stderr.write(`CPU_SECONDS=${(cpu.user + cpu.system) / 1e6}\n`);
