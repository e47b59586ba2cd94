/**
 * bench/engines: the same day of 100 GPUs at 1 Hz (8.64 M samples) analysed by DuckDB (in-process, the
 * baseline) and by Apache Spark 4 in local mode over Spark Connect, in one run.
 *
 *   npx tsx bench/engines/run.ts [--hosts 25] [--gpus 4] [--driver-memory 1g] [--remote sc://host:port]
 *                                [--keep DIR]
 *
 * 1. `gpumon simulate` writes the day (2026-11-25).
 * 2. Without --remote, a Spark Connect server of its own is started (scripts/services/spark-connect.sh, with
 *    GPUMON_SERVICES_DIR in a temporary folder, a free port, local[2], --driver-memory) and stopped at the end.
 * 3. `gpumon analyze --engine duckdb`, then `gpumon analyze --engine spark`, each as its own process, on the
 *    same archive. Prints wall times, the ratio Spark / DuckDB, gpumon's peak RSS, and the peak RSS of
 *    Spark's JVM (VmHWM of the server's pid; its own server only), and checks both summaries agree.
 * Target (issue 5): DuckDB at least 5x faster than Spark local; Spark finishes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, measureNode, ROOT, simulateArchive } from '../harness.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '25' },
    gpus: { type: 'string', default: '4' },
    'driver-memory': { type: 'string', default: '1g' },
    remote: { type: 'string' },
    keep: { type: 'string' },
  },
});
const hosts = Number(values.hosts);
const gpus = Number(values.gpus);
const date = '2026-11-25';
const samples = hosts * gpus * 86_400;
const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'gpumon-bench-engines-'));
const script = join(ROOT, 'scripts/services/spark-connect.sh');

/** A Spark Connect server of this run's own, in a temporary services folder. */
function startSpark(): { remote: string; pid: number; stop: () => void } {
  const servicesDir = mkdtempSync(join(tmpdir(), 'gpumon-bench-spark-'));
  const env = {
    ...process.env,
    GPUMON_SERVICES_DIR: servicesDir,
    GPUMON_SPARK_CONNECT_PORT: '0',
    GPUMON_SPARK_DRIVER_MEMORY: values['driver-memory'],
  };
  const out = execFileSync(script, ['start'], { env, encoding: 'utf8' });
  const remote = /GPUMON_TEST_SPARK_CONNECT=(\S+)/.exec(out)?.[1];
  if (!remote) throw new Error(`spark-connect.sh start printed no address:\n${out}`);
  const pid = Number(readFileSync(join(servicesDir, 'spark-connect', 'pid'), 'utf8').trim());
  return {
    remote,
    pid,
    stop: () => {
      execFileSync(script, ['stop'], { env, stdio: 'ignore' });
      rmSync(servicesDir, { recursive: true, force: true });
    },
  };
}

/** Peak resident memory of a process so far (VmHWM), MiB. */
function peakRssMiB(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

console.log(
  `bench/engines: ${hosts} hosts x ${gpus} GPUs x 86,400 s = ${samples.toLocaleString('en-US')} samples`,
);
console.log(`archive: ${dir}\n`);

await simulateArchive({ end: date, hosts, gpus, out: dir });

const own = values.remote ? undefined : startSpark();
const remote = values.remote ?? own?.remote ?? '';
const summary = () =>
  JSON.parse(readFileSync(join(dir, 'gpu-analytics', `date=${date}`, 'summary.json'), 'utf8')) as Record<
    string,
    number
  >;
try {
  const analyze = (engine: string) =>
    measureNode(
      [
        'bin/gpumon.js',
        'analyze',
        '--date',
        date,
        '--archive',
        dir,
        '--engine',
        engine,
        '--spark-remote',
        remote,
      ],
      { GPUMON_LOG_LEVEL: 'warn' },
      { tsx: false },
    );
  const duckdb = await analyze('duckdb');
  const duckdbSummary = summary();
  const spark = await analyze('spark');
  const sparkSummary = summary();
  const jvm = own ? peakRssMiB(own.pid) : Number.NaN;

  const rate = (m: { seconds: number }) => `${fmt(samples / m.seconds / 1e6)} M`;
  console.log('| engine | wall | samples/s | vs DuckDB | peak RSS gpumon | peak RSS Spark JVM |');
  console.log('|---|---|---|---|---|---|');
  console.log(
    `| DuckDB (in-process, baseline) | ${fmt(duckdb.seconds)} s | ${rate(duckdb)} | 1x | ${fmt(duckdb.peakRssMiB, 0)} MiB | - |`,
  );
  console.log(
    `| Spark 4.0.1 local[2] over Spark Connect | ${fmt(spark.seconds)} s | ${rate(spark)} | ${fmt(spark.seconds / duckdb.seconds)}x | ${fmt(spark.peakRssMiB, 0)} MiB | ${Number.isNaN(jvm) ? 'n/a' : `${fmt(jvm, 0)} MiB`} |`,
  );
  const ratio = spark.seconds / duckdb.seconds;
  console.log(
    `\nTarget: DuckDB >= 5x faster than Spark local, Spark finishes: ${ratio >= 5 ? 'met' : 'NOT met'} (${fmt(ratio)}x)`,
  );
  for (const key of [
    'sample_count',
    'gpus',
    'temperature_spikes',
    'energy_kwh',
    'wasted_gpu_hours',
  ] as const) {
    const a = duckdbSummary[key] ?? Number.NaN;
    const b = sparkSummary[key] ?? Number.NaN;
    const same = Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
    console.log(`summary ${key}: duckdb ${a}, spark ${b}${same ? '' : '  <- DIFFERENT'}`);
  }
} finally {
  own?.stop();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
