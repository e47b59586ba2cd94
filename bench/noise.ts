/**
 * Benchmarks that tell noise from change (issue 15 point 7).
 *
 * - `NoiseMeter`: the machine's CPU use over a measured step, from /proc/stat (busy share of all cores), and
 *   the part of it the processes under test do not explain (their own /proc/<pid>/stat, sampled while they run,
 *   so a child that exits before the step ends still counts). A step during which other load took more than
 *   `threshold` of all cores is `disturbed`.
 * - `interleave`: runs two steps a, b, a, b, ... and reports the median and spread (min-max and IQR) of each
 *   side and of the pair ratio b/a, with each step's noise beside it.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Other load above this share of all cores marks a step disturbed (BENCH_NOISE_THRESHOLD overrides it). */
export const DISTURBED_ABOVE = Number(process.env.BENCH_NOISE_THRESHOLD ?? 0.15);

/** Busy and total CPU ticks of all cores since boot, from the first line of /proc/stat. */
export function machineTicks(stat = readFileSync('/proc/stat', 'utf8')): { busy: number; total: number } {
  const line = stat.slice(0, stat.indexOf('\n'));
  // cpu user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user and nice]
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number) as number[];
  if (!line.startsWith('cpu ') || steal === undefined || [user, idle].some(Number.isNaN)) {
    throw new Error(`unexpected /proc/stat line: ${line}`);
  }
  const busy =
    (user as number) + (nice as number) + (system as number) + (irq as number) + (softirq as number);
  return { busy: busy + steal, total: busy + steal + (idle as number) + (iowait as number) };
}

/**
 * User + system CPU ticks of a process (all its threads), or undefined once it is gone; with `children`, those
 * of its children that have exited and been waited for as well (cutime, cstime), and its parent's pid.
 */
export function processTicks(pid: number, children = false): number | undefined {
  return processStat(pid, children)?.ticks;
}

function processStat(pid: number, children: boolean): { ticks: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces), from field 3 on: ppid is the 4th, utime the 14th,
    // stime the 15th, cutime and cstime the 16th and 17th.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(rest[11]) + Number(rest[12]);
    return { ticks: children ? own + Number(rest[13]) + Number(rest[14]) : own, ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

export interface Noise {
  wallSeconds: number;
  /** Busy share of all cores over the step, 0..1. */
  machineBusy: number;
  /** Share of all cores the processes under test used. */
  testedShare: number;
  /** Busy share not explained by the processes under test: other load. */
  otherShare: number;
  /** Other load above the threshold during the step. */
  disturbed: boolean;
}

/**
 * Measures one step: `start()`, `track(pid)` for every process under test (this one is tracked from the
 * start, with the children it has waited for: short-lived ones such as a spawned `cat` count as its own),
 * `stop()`. Processes are sampled every `sampleMs` while the step runs. A tracked child of this process that
 * has exited is counted through this process's children's time instead (no double count, nothing lost).
 */
export class NoiseMeter {
  private readonly pids = new Map<number, { first: number; last: number; ownChild: boolean }>();
  private before = { busy: 0, total: 0 };
  private started = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly threshold = DISTURBED_ABOVE,
    private readonly sampleMs = 100,
  ) {}

  start(): this {
    this.pids.clear();
    this.before = machineTicks();
    this.started = performance.now();
    this.track(process.pid);
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
    return this;
  }

  /** Counts `pid`'s CPU from now on as the step's own (a service it drives, a child it spawned). */
  track(pid: number | undefined): void {
    if (pid === undefined || this.pids.has(pid)) return;
    const stat = processStat(pid, pid === process.pid);
    if (stat)
      this.pids.set(pid, { first: stat.ticks, last: stat.ticks, ownChild: stat.ppid === process.pid });
  }

  /** Takes a last reading of the tracked processes now (call it just before a child is reaped). */
  sample(): void {
    for (const [pid, seen] of this.pids) {
      const ticks = processTicks(pid, pid === process.pid);
      if (ticks !== undefined) seen.last = ticks;
      else if (seen.ownChild) seen.last = seen.first; // gone: in this process's children's time once waited for
    }
  }

  /** CPU ticks (1/100 s) a tracked process used since it was tracked, as last sampled (0 when untracked). */
  ticksOf(pid: number | undefined): number {
    const seen = pid === undefined ? undefined : this.pids.get(pid);
    return seen ? seen.last - seen.first : 0;
  }

  stop(): Noise {
    this.sample();
    clearInterval(this.timer);
    const after = machineTicks();
    const total = after.total - this.before.total;
    const busy = after.busy - this.before.busy;
    let tested = 0;
    for (const { first, last } of this.pids.values()) tested += last - first;
    const machineBusy = total > 0 ? busy / total : 0;
    // Process ticks count per core-second; /proc/stat's total is summed over all cores.
    const testedShare = total > 0 ? Math.min(machineBusy, tested / total) : 0;
    const otherShare = Math.max(0, machineBusy - testedShare);
    return {
      wallSeconds: (performance.now() - this.started) / 1000,
      machineBusy,
      testedShare,
      otherShare,
      disturbed: otherShare > this.threshold,
    };
  }
}

/** `machine 93% busy, other load 41% of 2 cores: DISTURBED` */
export function describeNoise(n: Noise): string {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  return (
    `machine ${pct(n.machineBusy)} busy, other load ${pct(n.otherShare)} of ${availableParallelism()} cores` +
    (n.disturbed ? ': DISTURBED' : '')
  );
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Interquartile range: first and third quartile (linear interpolation). */
  q1: number;
  q3: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
  };
  return {
    median: at(0.5),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    q1: at(0.25),
    q3: at(0.75),
    n: sorted.length,
  };
}

/** `12.30 (min 11.90 .. max 14.10, IQR 12.00-12.80, n=5)` */
export function describeSpread(s: Spread, digits = 2): string {
  const f = (x: number) => x.toFixed(digits);
  return `${f(s.median)} (min ${f(s.min)} .. max ${f(s.max)}, IQR ${f(s.q1)}-${f(s.q3)}, n=${s.n})`;
}

/** One measured step: its figure (seconds, a rate, ...) and the machine's load while it ran. */
export interface Step {
  value: number;
  noise: Noise;
}

export interface Side {
  steps: Step[];
  all: Spread;
  /** Over the undisturbed steps only (undefined when every step was disturbed). */
  quiet: Spread | undefined;
}

export interface Interleaved {
  a: Side;
  b: Side;
  /** b / a of each pair (a step and the step after it). */
  pairRatio: Spread;
  /** median(b) / median(a). */
  ratioOfMedians: number;
  /** Steps disturbed by other load, of all. */
  disturbed: number;
  steps: number;
}

/**
 * Runs `a`, `b`, `a`, `b`, ... (`pairs` of each). Each gets a started NoiseMeter to `track` the processes it
 * starts and returns its figure; the meter is stopped when it resolves.
 */
export async function interleave(
  pairs: number,
  a: (meter: NoiseMeter, i: number) => Promise<number>,
  b: (meter: NoiseMeter, i: number) => Promise<number>,
  onStep?: (side: 'a' | 'b', i: number, step: Step) => void,
): Promise<Interleaved> {
  if (!Number.isInteger(pairs) || pairs < 1)
    throw new Error(`pairs must be a whole number >= 1, got ${pairs}`);
  const steps: Record<'a' | 'b', Step[]> = { a: [], b: [] };
  for (let i = 0; i < pairs; i++) {
    for (const [side, run] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const meter = new NoiseMeter().start();
      let value: number;
      try {
        value = await run(meter, i);
      } finally {
        meter.sample();
      }
      const step = { value, noise: meter.stop() };
      steps[side].push(step);
      onStep?.(side, i, step);
    }
  }
  const side = (list: Step[]): Side => {
    const quiet = list.filter((s) => !s.noise.disturbed).map((s) => s.value);
    return {
      steps: list,
      all: spread(list.map((s) => s.value)),
      quiet: quiet.length > 0 ? spread(quiet) : undefined,
    };
  };
  const sa = side(steps.a);
  const sb = side(steps.b);
  const all = [...steps.a, ...steps.b];
  return {
    a: sa,
    b: sb,
    pairRatio: spread(steps.a.map((s, i) => (steps.b[i] as Step).value / s.value)),
    ratioOfMedians: sb.all.median / sa.all.median,
    disturbed: all.filter((s) => s.noise.disturbed).length,
    steps: all.length,
  };
}
