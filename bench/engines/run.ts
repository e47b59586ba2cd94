/**
 * bench/engines: the same day of 100 GPUs at 1 Hz (8.64 M samples) analysed by DuckDB (in-process, the
 * baseline) and by Apache Spark 4 in local mode over Spark Connect, in one run.
 *
 *   npx tsx bench/engines/run.ts [--hosts 25] [--gpus 4] [--driver-memory 1g] [--remote sc://host:port]
 *                                [--keep DIR] [--rounds 1] [--gpumon DIR]
 *
 * 1. `gpumon simulate` writes the day (2026-11-25).
 * 2. Without --remote, a Spark Connect server of its own is started (scripts/services/spark-connect.sh, with
 *    GPUMON_SERVICES_DIR in a temporary folder, a free port, local[2], --driver-memory) and stopped at the end.
 * 3. `gpumon analyze --engine duckdb`, then `gpumon analyze --engine spark`, each as its own process, on the
 *    same archive. Prints wall times, the ratio Spark / DuckDB, gpumon's peak RSS, and the peak RSS of
 *    Spark's JVM (VmHWM of the server's pid; its own server only), and checks both summaries agree.
 * 4. Where Spark's wall time goes (issue 15 point 8), from two views: Spark's own, the event log of its own
 *    server (spark.eventLog.enabled through SPARK_SUBMIT_OPTS): the Spark Connect operations from started to
 *    finished (planning and running the jobs) and from finished to closed (the results streamed), the SQL
 *    executions and jobs; and gpumon's, the Spark engine's debug log (GPUMON_LOG_LEVEL=debug): each call's
 *    round trip, the Arrow bytes it brought and their decoding, the Parquet files written from them.
 *    `--rounds N` runs the Spark analysis N times (the DuckDB one as often, interleaved) for a spread;
 *    `--gpumon DIR` measures the `gpumon analyze` of another checkout (built), e.g. an earlier commit's.
 * The machine's CPU use over each run (bench/noise.ts) is printed beside it: DISTURBED when other load took
 * more than the threshold. Target (issue 5): DuckDB at least 5x faster than Spark local; Spark finishes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, type Measured, measureNode, ROOT, simulateArchive } from '../harness.ts';
import { describeNoise, type Noise, NoiseMeter, spread } from '../noise.ts';
import { clientSplit, type EventLogSplit, eventLogSplit } from './split.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '25' },
    gpus: { type: 'string', default: '4' },
    'driver-memory': { type: 'string', default: '1g' },
    remote: { type: 'string' },
    keep: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    gpumon: { type: 'string' },
  },
});
// The gpumon whose `analyze` is measured: this tree's, or another checkout's (built: its bin/gpumon.js), e.g. a
// copy of an earlier commit to measure against, while this tree changes.
const gpumonBin = join(values.gpumon ?? ROOT, 'bin/gpumon.js');
const rounds = Number(values.rounds);
const hosts = Number(values.hosts);
const gpus = Number(values.gpus);
const date = '2026-11-25';
const samples = hosts * gpus * 86_400;
const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'gpumon-bench-engines-'));
const script = join(ROOT, 'scripts/services/spark-connect.sh');

/**
 * A Spark Connect server of this run's own, in a temporary services folder, writing its event log there
 * (read by `events` once `stop` has closed it).
 */
function startSpark(): { remote: string; pid: number; stop: () => void; events: () => string } {
  const servicesDir = mkdtempSync(join(tmpdir(), 'gpumon-bench-spark-'));
  const eventsDir = join(servicesDir, 'events');
  mkdirSync(eventsDir);
  const env = {
    ...process.env,
    GPUMON_SERVICES_DIR: servicesDir,
    GPUMON_SPARK_CONNECT_PORT: '0',
    GPUMON_SPARK_DRIVER_MEMORY: values['driver-memory'],
    // Spark reads spark.* system properties as settings; the launcher hands these to the driver's JVM.
    SPARK_SUBMIT_OPTS: `-Dspark.eventLog.enabled=true -Dspark.eventLog.dir=file://${eventsDir} -Dspark.eventLog.compress=false`,
  };
  const out = execFileSync(script, ['start'], { env, encoding: 'utf8' });
  const remote = /GPUMON_TEST_SPARK_CONNECT=(\S+)/.exec(out)?.[1];
  if (!remote) throw new Error(`spark-connect.sh start printed no address:\n${out}`);
  const pid = Number(readFileSync(join(servicesDir, 'spark-connect', 'pid'), 'utf8').trim());
  let stopped = false;
  return {
    remote,
    pid,
    stop: () => {
      if (stopped) return;
      stopped = true;
      execFileSync(script, ['stop'], { env, stdio: 'ignore' });
    },
    // Spark 4 rolls its event log into a folder of files (eventlog_v2_<app>/events_<n>_<app>): all, in order.
    events: () => {
      if (!existsSync(eventsDir)) return '';
      const files = readdirSync(eventsDir, { recursive: true, encoding: 'utf8' })
        .filter((f) => /(^|\/)(events_|local-|app-)[^/]*$/.test(f) && statSync(join(eventsDir, f)).isFile())
        .sort(
          (a, b) => Number(/events_(\d+)_/.exec(a)?.[1] ?? 0) - Number(/events_(\d+)_/.exec(b)?.[1] ?? 0),
        );
      const text = files.map((f) => readFileSync(join(eventsDir, f), 'utf8')).join('\n');
      rmSync(servicesDir, { recursive: true, force: true });
      return text;
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
  const analyze = (engine: string, meter: NoiseMeter) =>
    measureNode(
      [gpumonBin, 'analyze', '--date', date, '--archive', dir, '--engine', engine, '--spark-remote', remote],
      // Debug: the Spark engine's line per call (bench/engines/split.ts reads them); DuckDB's run alike.
      { GPUMON_LOG_LEVEL: 'debug' },
      { tsx: false, meter },
    );
  const runs: Record<
    'duckdb' | 'spark',
    { m: Measured; noise: Noise; startedMs: number; endedMs: number }[]
  > = { duckdb: [], spark: [] };
  let duckdbSummary: Record<string, number> = {};
  let sparkSummary: Record<string, number> = {};
  for (let round = 0; round < rounds; round++) {
    for (const engine of ['duckdb', 'spark'] as const) {
      const meter = new NoiseMeter().start();
      if (engine === 'spark') meter.track(own?.pid);
      const startedMs = Date.now();
      const m = await analyze(engine, meter);
      const endedMs = Date.now();
      const noise = meter.stop();
      runs[engine].push({ m, noise, startedMs, endedMs });
      if (engine === 'duckdb') duckdbSummary = summary();
      else sparkSummary = summary();
      console.error(`round ${round + 1} ${engine}: ${fmt(m.seconds)} s; ${describeNoise(noise)}`);
    }
  }
  const jvm = own ? peakRssMiB(own.pid) : Number.NaN;
  const median = (xs: number[]) => spread(xs).median;
  const duckdb = {
    seconds: median(runs.duckdb.map((r) => r.m.seconds)),
    peakRssMiB: Math.max(...runs.duckdb.map((r) => r.m.peakRssMiB)),
  };
  const spark = {
    seconds: median(runs.spark.map((r) => r.m.seconds)),
    peakRssMiB: Math.max(...runs.spark.map((r) => r.m.peakRssMiB)),
  };

  const rate = (m: { seconds: number }) => `${fmt(samples / m.seconds / 1e6)} M`;
  console.log(
    `machine load average ${loadavg()
      .map((x) => fmt(x, 2))
      .join(' ')} at the end; ` +
      `${[...runs.duckdb, ...runs.spark].filter((r) => r.noise.disturbed).length} of ${2 * rounds} runs DISTURBED`,
  );
  for (const [engine, list] of Object.entries(runs))
    for (const [i, r] of list.entries())
      console.log(`${engine} run ${i + 1}: ${fmt(r.m.seconds)} s; ${describeNoise(r.noise)}`);
  console.log(
    `\n| engine | wall${rounds > 1 ? ` (median of ${rounds})` : ''} | samples/s | vs DuckDB | peak RSS gpumon | peak RSS Spark JVM |`,
  );
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
  if (own) {
    own.stop();
    const events = own.events();
    console.log(`\nWhere the Spark runs' time went (Spark's event log, gpumon's debug log), seconds:\n`);
    const splits = runs.spark.map((r) => ({
      server: eventLogSplit(events, r.startedMs, r.endedMs),
      client: clientSplit(r.m.stderr),
      wall: r.m.seconds,
    }));
    printSplit(splits);
  }
} finally {
  // After a failure: the server is still up (stop is idempotent), its folder not yet removed.
  try {
    own?.stop();
    own?.events();
  } catch {}
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}

function printSplit(
  splits: { server: EventLogSplit; client: ReturnType<typeof clientSplit>; wall: number }[],
): void {
  const row = (what: string, pick: (x: (typeof splits)[number]) => number, digits = 2) =>
    console.log(`| ${what} | ${splits.map((x) => fmt(pick(x), digits)).join(' | ')} |`);
  console.log(`| part | ${splits.map((_, i) => `run ${i + 1}`).join(' | ')} |`);
  console.log(`|---|${splits.map(() => '---').join('|')}|`);
  row('`gpumon analyze --engine spark`, wall', (x) => x.wall);
  row(
    'gpumon: Spark Connect calls (round trips, server work, streaming, decoding)',
    (x) => x.client.callsMs / 1000,
  );
  row('Spark: operations, started to finished (planning, jobs)', (x) => x.server.executeMs / 1000);
  row('Spark: operations, finished to closed (results streamed)', (x) => x.server.streamMs / 1000);
  row('Spark: SQL executions (union of their spans)', (x) => x.server.sqlMs / 1000);
  row('Spark: jobs (union of their spans)', (x) => x.server.jobsMs / 1000);
  row(
    'gpumon: calls not covered by an operation (gRPC, session, waiting)',
    (x) => Math.max(0, x.client.callsMs - x.server.operationMs - x.client.decodeMs) / 1000,
  );
  row('gpumon: Arrow decoding', (x) => x.client.decodeMs / 1000, 3);
  row('gpumon: Parquet results written (DuckDB appender)', (x) => x.client.parquetMs / 1000, 3);
  row('gpumon: results as JSON rows', (x) => x.client.rowsMs / 1000, 3);
  row(
    'gpumon: the rest (node, CLI, listing, storage, summary)',
    (x) => x.wall - x.client.callsMs / 1000 - (x.client.parquetMs + x.client.rowsMs) / 1000,
  );
  row('Spark Connect calls (count)', (x) => x.client.calls, 0);
  row('Spark Connect operations (count)', (x) => x.server.operations, 0);
  row('Spark jobs (count)', (x) => x.server.jobs, 0);
  row('Arrow bytes received (MiB)', (x) => x.client.arrowBytes / 1024 / 1024, 3);
  const kinds = [...new Set(splits.flatMap((x) => Object.keys(x.client.byCall)))];
  for (const kind of kinds) row(`gpumon: ${kind} calls, s`, (x) => (x.client.byCall[kind]?.ms ?? 0) / 1000);
  console.log(
    `calls per kind: ${kinds.map((k) => `${k} ${splits[0]?.client.byCall[k]?.count ?? 0}`).join(', ')}`,
  );
}
