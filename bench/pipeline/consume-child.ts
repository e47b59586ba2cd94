/**
 * `gpumon consume --sinks influxdb` as a child process, as deployed (the bundled bin/gpumon.js, with
 * bench/peak-rss.mjs), for bench/pipeline's steps: started on a topic into a database, in a consumer group of
 * its own, with extra environment (settings of a variant: `GPUMON_INFLUXDB_FLUSH_MS=500`, ...).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { ROOT } from '../harness.ts';
import { peakRssKiB } from './cpu.ts';

export interface ConsumeChild {
  child: ChildProcess;
  /** Resolves once the consumer printed its start line (its group may still be joining). */
  ready: Promise<void>;
  /** SIGINT, then the exit; throws unless it exited 0. */
  stop(): Promise<{ peakRssMiB: number; maxRssMiB: number; stdout: string; stderr: string }>;
}

export interface ConsumeChildOptions {
  brokers: string;
  influx: string;
  topic: string;
  db: string;
  partitions: number;
  groupPrefix?: string;
  env?: NodeJS.ProcessEnv;
}

export function startConsume(o: ConsumeChildOptions): ConsumeChild {
  const child = spawn(
    process.execPath,
    [
      '--import',
      './bench/peak-rss.mjs',
      'bin/gpumon.js',
      'consume',
      '--sinks',
      'influxdb',
      '--brokers',
      o.brokers,
      '--topic',
      o.topic,
      '--influxdb',
      o.influx,
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        GPUMON_INFLUXDB_DATABASE: o.db,
        GPUMON_KAFKA_DLQ_TOPIC: `${o.topic}-dlq`,
        GPUMON_KAFKA_PARTITIONS: String(o.partitions),
        GPUMON_KAFKA_GROUP_PREFIX: o.groupPrefix ?? 'gpumon',
        GPUMON_LOG_LEVEL: 'warn',
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('Ctrl-C to stop')) markReady();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.BENCH_VERBOSE) process.stderr.write(d);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  // The consumer's own peak RSS: VmHWM, read while it runs (to its last moment: shutdown included). Not
  // getrusage's maxRSS (bench/peak-rss.mjs), which a child spawned by this big process inherits from it:
  // Node spawns with vfork, and exec keeps the parent's high-water mark in the child's maxRSS.
  let peakKiB = 0;
  const watch = () => {
    peakKiB = Math.max(peakKiB, peakRssKiB(child.pid) ?? 0);
  };
  const watcher = setInterval(watch, 100);
  return {
    child,
    ready,
    async stop() {
      watch();
      child.kill('SIGINT');
      const code = await exited;
      clearInterval(watcher);
      if (code !== 0) throw new Error(`gpumon consume exited ${code}:\n${stderr.slice(-4000)}`);
      const inherited = Number(/PEAK_RSS_KB=(\d+)/.exec(stderr)?.[1] ?? Number.NaN) / 1024;
      return { peakRssMiB: peakKiB / 1024, maxRssMiB: inherited, stdout, stderr };
    },
  };
}
