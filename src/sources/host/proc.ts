/**
 * Parsers of the two /proc files the host reader uses. Each returns the figures or a reason they could not be
 * read; none throws.
 */

/** The all-CPU line of /proc/stat, in clock ticks since boot. */
export interface CpuTimes {
  /** Ticks spent not idle: user, nice, system, irq, softirq and steal (guest time is inside user and nice). */
  busy: number;
  /** busy + idle + iowait. */
  total: number;
}

/**
 * The `cpu ` line of /proc/stat: `cpu user nice system idle iowait irq softirq steal guest guest_nice`. Kernels
 * before 2.6.11 stop after irq/softirq/steal; at least user..idle must be there.
 */
export function parseCpuTimes(text: string): CpuTimes | string {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 'no "cpu" line';
  const fields = line.trim().split(/\s+/).slice(1);
  if (fields.length < 4) return `"cpu" line has ${fields.length} fields, expected at least 4`;
  const ticks = fields.map(Number);
  if (ticks.some((t) => !Number.isSafeInteger(t) || t < 0))
    return `"cpu" line is not counters: ${line.slice(0, 80)}`;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = ticks;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/**
 * CPU utilization between two reads, percent of all CPUs: the share of ticks not idle. Null, with the reason,
 * when no tick passed or the counters went back (a CPU taken offline takes its ticks with it).
 */
export function utilizationBetween(before: CpuTimes, after: CpuTimes): number | string {
  const total = after.total - before.total;
  const busy = after.busy - before.busy;
  if (total <= 0) return total === 0 ? 'no CPU time passed between two reads' : 'the CPU counters went back';
  if (busy < 0) return 'the CPU counters went back';
  return Math.min(100, (100 * busy) / total);
}

export interface Memory {
  totalBytes: number;
  usedBytes: number;
  /** How used was computed: `MemAvailable` (Linux 3.14+), or estimated from free, buffers and cache before. */
  basis: 'MemAvailable' | 'estimate';
}

/**
 * /proc/meminfo: total and used memory in bytes. Used = MemTotal - MemAvailable (what `free` calls used since
 * procps 3.3.10). Kernels before 3.14 have no MemAvailable: then MemFree + Buffers + Cached + SReclaimable stands
 * for it, as `free` did ("-/+ buffers/cache").
 */
export function parseMeminfo(text: string): Memory | string {
  const kib = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) kib.set(m[1] as string, Number(m[2]));
  }
  const total = kib.get('MemTotal');
  if (total === undefined) return 'no MemTotal';
  if (total <= 0) return `MemTotal is ${total}`;
  let available = kib.get('MemAvailable');
  let basis: Memory['basis'] = 'MemAvailable';
  if (available === undefined) {
    const free = kib.get('MemFree');
    if (free === undefined) return 'neither MemAvailable nor MemFree';
    available = free + (kib.get('Buffers') ?? 0) + (kib.get('Cached') ?? 0) + (kib.get('SReclaimable') ?? 0);
    basis = 'estimate';
  }
  if (available > total) return `MemAvailable ${available} kB exceeds MemTotal ${total} kB`;
  return { totalBytes: total * 1024, usedBytes: (total - available) * 1024, basis };
}
