import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetricValues } from '../../metrics/sample.ts';
import { type CpuPackageTemperature, type CpuSensor, readCpuTemperature, reasonOf } from './hwmon.ts';
import { type CpuTimes, parseCpuTimes, parseMeminfo, utilizationBetween } from './proc.ts';

/** The catalog metrics the host reader fills. */
export const HOST_METRICS = [
  'host_cpu_temperature_celsius',
  'host_cpu_utilization_percent',
  'host_memory_used_bytes',
  'host_memory_total_bytes',
] as const;
export type HostMetricName = (typeof HOST_METRICS)[number];
export type HostMetrics = Pick<MetricValues, HostMetricName>;

/** Why the first read has no CPU utilization (it is a difference between two reads). */
export const FIRST_READ = 'the first read has no interval yet';

/** One reading of the host: the four metrics, what they came from, and why any is null. */
export interface HostReading {
  metrics: HostMetrics;
  /** The hwmon driver the temperature came from, and every package it reported (the metric is their max). */
  cpuSensor: CpuSensor | null;
  cpuPackages: CpuPackageTemperature[];
  /** Why a metric is null (or what was skipped), by metric. */
  issues: Partial<Record<HostMetricName, string>>;
  /**
   * The metrics null because this machine does not have what they are read from (no hwmon CPU sensor, as in
   * most VMs; no /proc file): a fact of the machine, not a failure.
   */
  absent: HostMetricName[];
}

export interface HostReaderOptions {
  /**
   * The directory holding the host's `proc` and `sys` (default `/`). In a container with the node's /proc and
   * /sys mounted at /host/proc and /host/sys: `/host` (config `source.hostRoot`).
   */
  root?: string;
}

/**
 * Reads the host's CPU temperature (hwmon), CPU utilization (/proc/stat, between this read and the one before)
 * and memory (/proc/meminfo). Reads are one at a time. Never throws: what cannot be read is null, with the reason
 * in `issues` (README.md lists every source and case).
 */
export class HostReader {
  readonly root: string;
  private previous: CpuTimes | null = null;

  constructor(options: HostReaderOptions = {}) {
    this.root = options.root || '/';
  }

  async read(): Promise<HostReading> {
    const issues: HostReading['issues'] = {};
    const absent: HostMetricName[] = [];
    const [temperature, stat, meminfo] = await Promise.all([
      readCpuTemperature(this.root),
      this.file('proc', 'stat'),
      this.file('proc', 'meminfo'),
    ]);
    if (temperature.celsius === null || temperature.issues.length > 0) {
      issues.host_cpu_temperature_celsius = temperature.issues.join('; ');
    }
    if (temperature.absent) absent.push('host_cpu_temperature_celsius');

    let utilization: number | null = null;
    const times = stat.text === null ? stat.reason : parseCpuTimes(stat.text);
    if (typeof times === 'string') {
      issues.host_cpu_utilization_percent = `${stat.path}: ${times}`;
      if (stat.absent) absent.push('host_cpu_utilization_percent');
      this.previous = null;
    } else {
      const between = this.previous ? utilizationBetween(this.previous, times) : FIRST_READ;
      if (typeof between === 'string') issues.host_cpu_utilization_percent = between;
      else utilization = Math.round(between * 100) / 100;
      this.previous = times;
    }

    let used: number | null = null;
    let total: number | null = null;
    const memory = meminfo.text === null ? meminfo.reason : parseMeminfo(meminfo.text);
    if (typeof memory === 'string') {
      issues.host_memory_used_bytes = `${meminfo.path}: ${memory}`;
      issues.host_memory_total_bytes = issues.host_memory_used_bytes;
      if (meminfo.absent) absent.push('host_memory_used_bytes', 'host_memory_total_bytes');
    } else {
      used = memory.usedBytes;
      total = memory.totalBytes;
      if (memory.basis === 'estimate') {
        issues.host_memory_used_bytes = `${meminfo.path}: no MemAvailable (kernel before 3.14): estimated`;
      }
    }

    return {
      metrics: {
        host_cpu_temperature_celsius: temperature.celsius,
        host_cpu_utilization_percent: utilization,
        host_memory_used_bytes: used,
        host_memory_total_bytes: total,
      },
      cpuSensor: temperature.sensor,
      cpuPackages: temperature.packages,
      issues,
      absent,
    };
  }

  private async file(
    ...parts: string[]
  ): Promise<{ path: string; text: string | null; reason: string; absent: boolean }> {
    const path = join(this.root, ...parts);
    try {
      return { path, text: await readFile(path, 'utf8'), reason: '', absent: false };
    } catch (err) {
      const absent = (err as NodeJS.ErrnoException).code === 'ENOENT';
      return { path, text: null, reason: reasonOf(err), absent };
    }
  }
}
