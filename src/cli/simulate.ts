import { Command } from 'commander';
import { CONFIG_FIELDS, type ConfigKey } from '../config/schema.ts';
import { GpumonError } from '../errors.ts';
import { dateOfTs, datesBetween, startOfDate } from '../sinks/archive/layout.ts';
import { configFromCli, parseDateArg, runCommand, withConfigOption } from './common.ts';
import { Progress } from './progress.ts';

const DAY_MS = 86_400_000;
const MAX_DAYS = 3650;

interface SimulateFlags {
  config?: string;
  days?: string;
  hosts?: string;
  gpus?: string;
  out?: string;
  seed?: string;
  intervalMs?: string;
  end?: string;
}

/** `gpumon simulate`: writes simulated history into an archive, much faster than real time. */
export function simulateCommand(): Command {
  const d = (key: ConfigKey) => String(CONFIG_FIELDS[key].default);
  return withConfigOption(new Command('simulate'))
    .description(
      'Write simulated GPU history into an archive (DIR/gpu-metrics/date=YYYY-MM-DD/*.parquet), much faster ' +
        'than real time. Every GPU is sampled every --interval-ms over whole UTC days.',
    )
    .option('--days <n>', `whole UTC days to simulate, 1..${MAX_DAYS} (default: 1)`)
    .option('--end <date>', 'last day to simulate, YYYY-MM-DD, UTC (default: yesterday)')
    .option(
      '--hosts <n>',
      `hosts in the fleet, 1..100000 (default: source.sim.hosts, ${d('source.sim.hosts')})`,
    )
    .option(
      '--gpus <n>',
      `GPUs per host, 1..64 (default: source.sim.gpusPerHost, ${d('source.sim.gpusPerHost')})`,
    )
    .option(
      '--seed <n>',
      `seed, 0..2147483647; the same seed gives the same data (default: source.sim.seed, ${d('source.sim.seed')})`,
    )
    .option(
      '--interval-ms <ms>',
      `sampling interval, 100..3600000 ms (default: source.intervalMs, ${d('source.intervalMs')})`,
    )
    .option('--out <dir>', `archive root to write into (default: archive.path, ${d('archive.path')})`)
    .action(async (flags: SimulateFlags) => runCommand(() => simulate(flags)));
}

async function simulate(flags: SimulateFlags): Promise<number> {
  const days = intFlag('--days', flags.days, 1, MAX_DAYS) ?? 1;
  const lastDate = flags.end ? parseDateArg(flags.end, '--end') : dateOfTs(Date.now() - DAY_MS);
  const config = configFromCli(
    flags,
    {
      'source.sim.hosts': configFlag('--hosts', 'source.sim.hosts', flags.hosts),
      'source.sim.gpusPerHost': configFlag('--gpus', 'source.sim.gpusPerHost', flags.gpus),
      'source.sim.seed': configFlag('--seed', 'source.sim.seed', flags.seed),
      'source.intervalMs': configFlag('--interval-ms', 'source.intervalMs', flags.intervalMs),
      'archive.path': flags.out,
    },
    { 'archive.path': '--out' },
  );
  const firstDate = dateOfTs(startOfDate(lastDate) - (days - 1) * DAY_MS);
  const { hosts, gpusPerHost, seed } = config.source.sim;
  // Loaded here, not at the top: every command's module loads when the CLI starts.
  const { openStorage } = await import('../sinks/archive/open-storage.ts');
  const { ParquetWriter } = await import('../sinks/archive/parquet-writer.ts');
  const { writeHistory } = await import('../sources/sim/history.ts');
  const storage = openStorage(config);
  // One DuckDB thread: each file is one row group (at most ROWS_PER_FILE rows, history.ts), which one thread
  // writes; a second only waits on it, at some 60 ms of CPU a file. The simulator runs on the main thread
  // meanwhile, so both cores stay busy (bench/simulate, docs/benchmarks.md).
  const writer = new ParquetWriter({ storage, rowGroupSize: config.archive.rowGroupSize, threads: 1 });
  const progress = new Progress(process.stderr, 'simulate', 'samples');
  const started = performance.now();
  try {
    const result = await writeHistory({
      hosts,
      gpusPerHost,
      seed,
      firstDate,
      lastDate,
      intervalMs: config.source.intervalMs,
      writer,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.end();
    const seconds = (performance.now() - started) / 1000;
    const dates = datesBetween(firstDate, lastDate);
    process.stdout.write(
      `simulate: wrote ${result.samples} samples (${hosts} hosts x ${gpusPerHost} GPUs, ${dates.length} day(s) ` +
        `${firstDate}..${lastDate}) in ${seconds.toFixed(1)} s, ${Math.round(result.samples / seconds)} ` +
        `samples/s, ${result.files.length} file(s) under ${storage.uri}\n`,
    );
    return 0;
  } finally {
    progress.end();
    await writer.close();
  }
}

function intFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new GpumonError('USAGE', `${flag} must be an integer ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A flag that sets a config key: checked against the key's schema, reported as the flag. */
function configFlag(flag: string, key: ConfigKey, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const field = CONFIG_FIELDS[key];
  const result = field.schema.safeParse(value);
  if (!result.success || !/^\d+$/.test(value.trim())) {
    throw new GpumonError('USAGE', `${flag} must be ${field.allowed}, got ${JSON.stringify(value)}`);
  }
  return result.data as number;
}
