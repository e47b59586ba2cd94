/**
 * The daily job step by step, on synthetic data (bench/analytics/run.ts measures the whole command on the
 * simulator's data):
 *
 *   npx tsx bench/analytics/synthetic.ts generate DIR [GPUS] [MINUTES]
 *     one day (2026-01-15) of 1 Hz samples of GPUS GPUs (default 1000) in archive layout, one zstd Parquet
 *     file per minute (MINUTES files, default 1440: 86.4 M rows), values generated in DuckDB SQL
 *   npx tsx bench/analytics/synthetic.ts run DIR [DATE]
 *     the daily job on DATE (default 2026-01-15): wall and CPU seconds and peak RSS of each step, then in all
 *
 * For the peak RSS of the whole process: `/usr/bin/time -v npx tsx bench/analytics/synthetic.ts run DIR`.
 */
import { mkdirSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { runDailyAnalytics } from '../../src/analytics/daily-job.ts';
import { loadConfig } from '../../src/config/load.ts';
import { IDENTITY, METRICS } from '../../src/metrics/catalog.ts';
import { LocalStorage } from '../../src/sinks/archive/local-storage.ts';
import { PARQUET_COLUMNS } from '../../src/sinks/archive/parquet-writer.ts';

export const BENCH_DATE = '2026-01-15';

/**
 * Plausible values of the columns the analyses read, from a few deterministic noise sources r1..r3 in [0, 1)
 * per sample and h1, h2 per host and instant (a host's readings are the same in each of its GPUs' samples).
 * Every other column comes from the catalog (catalogValue).
 */
const VALUES: Record<string, string> = {
  ts: `TIMESTAMP '${BENCH_DATE}' + to_seconds(s)`,
  host: `printf('node-%04d', g // 8)`,
  gpu_index: 'g % 8',
  uuid: `printf('GPU-%08x-1a2b-4c3d-8e9f-%012x', g * 2654435761 % 4294967296, g)`,
  model: `CASE WHEN g % 2 = 0 THEN 'NVIDIA H100 80GB HBM3' ELSE 'NVIDIA A100-SXM4-80GB' END`,
  pci_bus_id: `printf('00000000:%02X:00.0', 24 + g % 8)`,
  driver_version: `'550.54.15'`,
  gpu_utilization_percent: 'load',
  gpu_memory_utilization_percent: 'floor(load * 0.6 + r2 * 5)',
  gpu_encoder_utilization_percent: '0',
  gpu_decoder_utilization_percent: '0',
  gpu_memory_total_bytes: '85899345920',
  gpu_memory_used_bytes: 'mem',
  gpu_memory_free_bytes: '85899345920 - mem',
  gpu_temperature_celsius: 'round(32 + load * 0.5 + r2 * 3 + CASE WHEN r3 > 0.9995 THEN 8 ELSE 0 END)',
  gpu_memory_temperature_celsius: 'round(38 + load * 0.45 + r2 * 2)',
  gpu_power_draw_watts: 'round(65 + load * 5.8 + r2 * 15, 2)',
  gpu_power_limit_watts: '700',
  gpu_energy_joules_total: 'round(1.0e9 + s * (65 + load * 5.8), 3)',
  gpu_sm_clock_mhz: 'CASE WHEN load > 0 THEN 1980 - floor(r3 * 10) * 15 ELSE 345 END',
  gpu_memory_clock_mhz: '2619',
  gpu_graphics_clock_mhz: 'CASE WHEN load > 0 THEN 1980 - floor(r3 * 10) * 15 ELSE 345 END',
  gpu_fan_speed_percent: 'NULL',
  gpu_performance_state: '0',
  gpu_clock_throttle_reasons: 'CASE WHEN r3 > 0.99 THEN 4 ELSE 0 END',
  gpu_pcie_tx_bytes_per_second: 'round(r1 * 1e9)',
  gpu_pcie_rx_bytes_per_second: 'round(r2 * 2e9)',
  gpu_ecc_errors_corrected_volatile_total: '0',
  gpu_ecc_errors_uncorrected_volatile_total: '0',
  gpu_xid_last: '0',
  // Pods come and go with the load phases: phases 0 and 1 (idle) hold none, the others one pod per 8 GPUs.
  namespace: `CASE WHEN phase < 2 THEN NULL ELSE printf('team-%d', (g // 8) % 12) END`,
  pod: `CASE WHEN phase < 2 THEN NULL ELSE printf('train-%d-%d', g // 8, s // 1800) END`,
  container: `CASE WHEN phase < 2 THEN NULL ELSE 'trainer' END`,
  host_cpu_temperature_celsius: 'round(45 + h1 * 20 + CASE WHEN h2 > 0.9995 THEN 12 ELSE 0 END, 1)',
  host_cpu_utilization_percent: 'round(h2 * 100, 1)',
  host_memory_used_bytes: '(400 + floor(h1 * 600)) * 1073741824',
  host_memory_total_bytes: '2199023255552',
};

/**
 * The value of a column the analyses do not read, from the catalog: a nullable identity field is NULL, any
 * other a per-GPU string; a gauge lies in its plausible range (its minimum plus a noise share of a range
 * capped at 1000), a counter grows by one a second from its minimum.
 */
function catalogValue(name: string): string {
  const identity = IDENTITY.find((i) => i.name === name);
  if (identity) return identity.nullable ? 'NULL' : `printf('${name}-%d', g)`;
  const metric = METRICS.find((m) => m.name === name);
  if (!metric) throw new Error(`bench: column ${name} is in neither the catalog nor the bench's values`);
  if (metric.kind === 'counter') return `${metric.min} + s`;
  const span = Math.min(metric.max - metric.min, 1000);
  return metric.type === 'int64' ? `${metric.min} + floor(r2 * ${span})` : `${metric.min} + r2 * ${span}`;
}

/** SQL of one minute of samples (rows sorted by host, gpu_index, ts as the archive writer does). */
export function minuteSql(gpus: number, minute: number): string {
  const select = PARQUET_COLUMNS.map(({ name, sqlType }) => {
    const value = VALUES[name] ?? catalogValue(name);
    return `CAST(${value} AS ${sqlType}) AS ${name}`;
  }).join(',\n    ');
  return `
  WITH b AS (
    SELECT i // 60 AS g, ${minute} * 60 + i % 60 AS s,
      (hash(i, ${minute}) % 10000) / 10000.0 AS r1,
      (hash(i, ${minute}, 7) % 10000) / 10000.0 AS r2,
      (hash(i, ${minute}, 13) % 100000) / 100000.0 AS r3,
      (hash(i // 480, i % 60, ${minute}, 17) % 10000) / 10000.0 AS h1,
      (hash(i // 480, i % 60, ${minute}, 19) % 100000) / 100000.0 AS h2
    FROM range(0, ${gpus * 60}) t(i)
  ), c AS (
    SELECT *, (s // 1800 + g * 7) % 10 AS phase FROM b
  ), d AS (
    SELECT *, CASE WHEN phase < 2 THEN floor(r1 * 3)
      ELSE greatest(5, least(100, floor(55 + 40 * sin(s / 600.0 + g) + r1 * 10))) END AS load
    FROM c
  ), e AS (
    SELECT *, CASE WHEN phase = 0 THEN 524288000 WHEN phase = 1 THEN 32212254720
      ELSE 42949672960 + load * 314572800 END AS mem
    FROM d
  )
  SELECT ${select}
  FROM e`;
}

export async function generate(dir: string, gpus: number, minutes: number): Promise<void> {
  const out = `${dir}/gpu-metrics/date=${BENCH_DATE}`;
  mkdirSync(out, { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  const started = Date.now();
  for (let m = 0; m < minutes; m++) {
    const file = `${out}/part-${String(m).padStart(5, '0')}.parquet`;
    await connection.run(
      `COPY (${minuteSql(gpus, m)}) TO '${file}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
    );
    if (m % 120 === 0) process.stderr.write(`minute ${m}/${minutes} ${(Date.now() - started) / 1000}s\n`);
  }
  connection.closeSync();
  db.closeSync();
}

/** Runs the daily job on `date` of the archive at `dir`, printing each step's time on stderr. */
export async function run(dir: string, date = BENCH_DATE): Promise<void> {
  const config = loadConfig({ env: process.env, flags: { 'archive.path': dir } });
  const started = Date.now();
  let last = started;
  // CPU seconds of the whole process (DuckDB's threads included) per step: load moves them far less than wall.
  let lastCpu = process.cpuUsage();
  // Peak RSS per step, sampled every 50 ms (the process maximum comes from resourceUsage).
  let stepPeak = 0;
  const sampler = setInterval(() => {
    stepPeak = Math.max(stepPeak, process.memoryUsage.rss());
  }, 50);
  const result = await runDailyAnalytics({
    config,
    date,
    storage: new LocalStorage(dir),
    onProgress: (step, done, total) => {
      const now = Date.now();
      const peak = Math.max(stepPeak, process.memoryUsage.rss()) / 2 ** 20;
      const cpu = process.cpuUsage(lastCpu);
      process.stderr.write(
        `${done}/${total} ${step} ${((now - last) / 1000).toFixed(2)}s, ` +
          `${((cpu.user + cpu.system) / 1e6).toFixed(2)} CPU s, RSS <= ${peak.toFixed(0)} MiB\n`,
      );
      last = now;
      lastCpu = process.cpuUsage();
      stepPeak = 0;
    },
  });
  clearInterval(sampler);
  const rss = process.resourceUsage().maxRSS / 1024;
  const cpu = process.cpuUsage();
  // For profile.ts: the CPU seconds of the whole process, DuckDB's threads included.
  process.stderr.write(`CPU_SECONDS=${(cpu.user + cpu.system) / 1e6}\n`);
  process.stdout.write(
    `${JSON.stringify(result.summary)}\ntotal ${((Date.now() - started) / 1000).toFixed(2)}s, ` +
      `max RSS ${rss.toFixed(0)} MiB (memoryLimit ${config.analytics.memoryLimit})\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, dir, a, b] = process.argv.slice(2);
  if (command === 'generate' && dir) await generate(dir, Number(a ?? 1000), Number(b ?? 1440));
  else if (command === 'run' && dir) await run(dir, a);
  else {
    process.stderr.write(
      'usage: tsx bench/analytics/synthetic.ts generate DIR [GPUS] [MINUTES] | run DIR [DATE]\n',
    );
    process.exitCode = 2;
  }
}
