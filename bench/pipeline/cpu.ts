/**
 * CPU time of the processes sharing the machine during a bench step (Linux /proc): the consumer, InfluxDB and
 * Kafka, so that a rate can be explained by where the cores went. The services' pids are read from their pid
 * files under GPUMON_SERVICES_DIR (scripts/services/*.sh); a process that cannot be read counts as absent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds of a process (all its threads), or undefined when it cannot be read. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces), from field 3 on: utime is the 14th, stime the 15th.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The pid of a service started by scripts/services/<name>.sh, from its pid file. */
export function servicePid(name: 'kafka' | 'influxdb'): number | undefined {
  const dir = process.env.GPUMON_SERVICES_DIR;
  if (!dir) return undefined;
  try {
    const pid = Number(readFileSync(join(dir, name, 'pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of named processes between `start()` and `stop()`. */
export class CpuMeter {
  private readonly before = new Map<string, number | undefined>();
  private wallStart = 0;

  constructor(private readonly pids: Record<string, number | undefined>) {}

  start(): void {
    this.wallStart = performance.now();
    for (const [name, pid] of Object.entries(this.pids)) this.before.set(name, cpuSeconds(pid));
  }

  /** CPU seconds per process over the interval (NaN where unknown), and the wall seconds. */
  stop(): { wall: number; cpu: Record<string, number> } {
    const wall = (performance.now() - this.wallStart) / 1000;
    const cpu: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const a = this.before.get(name);
      const b = cpuSeconds(pid);
      cpu[name] = a === undefined || b === undefined ? Number.NaN : b - a;
    }
    return { wall, cpu };
  }
}

/** `influxdb 1.52 cores, kafka 0.20, consumer 0.31` for a measured interval. */
export function describeCpu({ wall, cpu }: { wall: number; cpu: Record<string, number> }): string {
  return Object.entries(cpu)
    .filter(([, s]) => Number.isFinite(s))
    .map(([name, s]) => `${name} ${(s / wall).toFixed(2)} cores`)
    .join(', ');
}

/**
 * A live process's own peak resident memory (VmHWM, KiB), or undefined once it has exited. Unlike getrusage's
 * maxRSS, it starts from zero at exec: a child spawned by a large parent does not report the parent's peak.
 */
export function peakRssKiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
