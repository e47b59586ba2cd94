import { hostname } from 'node:os';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { HealthTracker } from '../health.ts';
import type { GpuDevice, Source, SourceHealth } from '../source.ts';
import { parseRocmSmiJson } from './rocm-smi-parser.ts';
import { type CommandResult, runCommand } from './run-command.ts';

/**
 * The rocm-smi flags whose `--json` keys the parser reads (README.md lists which key each one prints).
 * Every flag exists from ROCm 4.3 on; an unknown flag would make argparse fail the whole run.
 */
export const ROCM_SMI_ARGS: readonly string[] = [
  '--showid',
  '--showuniqueid',
  '--showproductname',
  '--showbus',
  '--showserial',
  '--showvbios',
  '--showdriverversion',
  '--showtemp',
  '--showuse',
  '--showmemuse',
  '--showpower',
  '--showmaxpower',
  '--showclocks',
  '--showfan',
  '--showmeminfo',
  'vram',
  '--json',
];

export interface RocmSmiSourceOptions {
  /** The rocm-smi command, a name looked up on PATH or a path (config `source.rocmSmi.path`). */
  path: string;
  /** Host name the samples carry; empty: this machine's (config `source.host`). */
  host?: string;
  logger?: Logger;
  /** A run that takes longer is killed and counted as `timeout` (default 10 s: rocm-smi is slow to start). */
  timeoutMs?: number;
}

export const DEFAULT_ROCM_SMI_TIMEOUT_MS = 10_000;

/**
 * AMD GPUs through `rocm-smi --json`, run once per `read` (rocm-smi has no loop mode). Runs never overlap: a
 * read while the previous run's process is still alive (it timed out and is being killed) fails at once.
 * A run that prints usable JSON counts as a success even when rocm-smi exits non-zero (it does when one of
 * the `--show*` queries is unsupported); the exit status is then counted as `exit-status`.
 */
export class RocmSmiSource implements Source {
  readonly name = 'rocm-smi';
  private readonly tracker: HealthTracker;
  private readonly path: string;
  private readonly host: string;
  private readonly timeoutMs: number;
  private busy = false;
  private lingering: Promise<void> = Promise.resolve();
  private lastDevices: GpuDevice[] = [];

  constructor(options: RocmSmiSourceOptions) {
    this.path = options.path;
    this.host = options.host || hostname();
    this.tracker = new HealthTracker('rocm-smi source', options.logger);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_ROCM_SMI_TIMEOUT_MS;
  }

  /**
   * Probes rocm-smi once (`--showid --json`): throws SOURCE_UNAVAILABLE naming the command when it cannot be
   * run (not installed, not on PATH, not executable), does not answer, or lists no AMD GPU, so that a
   * misconfigured source stops the start instead of failing every read after it.
   */
  async open(): Promise<void> {
    const why = await probeRocmSmi(this.path, this.timeoutMs);
    if (why === null) return;
    throw new GpumonError(
      'SOURCE_UNAVAILABLE',
      `rocm-smi source: ${why.message} (install ROCm's rocm-smi, or set source.rocmSmi.path, ` +
        `env GPUMON_SOURCE_ROCM_SMI_PATH, to where it is)`,
      { cause: why.cause },
    );
  }

  async read(now: number): Promise<GpuSample[]> {
    if (this.busy) {
      throw this.tracker.fail(
        'overlap',
        `${this.path} from the previous read is still running; not starting another`,
      );
    }
    this.busy = true;
    const started = performance.now();
    let result: CommandResult;
    try {
      result = await runCommand(this.path, ROCM_SMI_ARGS, { timeoutMs: this.timeoutMs });
    } catch (err) {
      this.busy = false;
      this.tracker.lastReadDurationMs = performance.now() - started;
      throw this.tracker.fail('spawn', `cannot run ${this.path} (set source.rocmSmi.path)`, err);
    }
    if (result.timedOut) {
      // Killed, but not necessarily gone yet: the next run waits until it is.
      this.lingering = result.exited.then(() => {
        this.busy = false;
      });
    } else {
      this.busy = false;
    }
    this.tracker.lastReadDurationMs = performance.now() - started;
    if (result.timedOut) {
      throw this.tracker.fail('timeout', `${this.path} did not finish within ${this.timeoutMs} ms; killed`);
    }

    const parsed = parseRocmSmiJson(result.stdout, { host: this.host, now });
    for (const issue of parsed.errors) {
      this.tracker.count(`parse:${issue.reason}`);
      this.tracker.warnOnce(
        `${issue.reason}:${issue.key ?? ''}`,
        { issue },
        'rocm-smi output: part of it was not used',
      );
    }
    if (parsed.samples.length === 0) {
      const why =
        result.code !== 0 ? `exit status ${result.code}: ${firstLine(result.stderr)}` : 'no card in output';
      throw this.tracker.fail('no-samples', `${this.path} gave no GPU sample (${why})`);
    }
    if (result.code !== 0) this.tracker.count('exit-status');
    this.lastDevices = parsed.devices;
    this.tracker.succeeded(now);
    return parsed.samples;
  }

  health(): SourceHealth {
    return {
      source: this.name,
      ...this.tracker.readings(),
      notice: this.tracker.notice,
    };
  }

  devices(): GpuDevice[] {
    return this.lastDevices.map((d) => ({ ...d }));
  }

  async close(): Promise<void> {
    await this.lingering;
  }
}

/**
 * Whether rocm-smi runs here and sees at least one AMD GPU: runs `<path> --showid --json` (a few seconds at
 * most). For `source.type: auto`.
 */
export async function rocmSmiAvailable(path: string, timeoutMs = 5000): Promise<boolean> {
  return (await probeRocmSmi(path, timeoutMs)) === null;
}

/** Runs `<path> --showid --json`: null when it lists at least one card, else why not, in words. */
async function probeRocmSmi(
  path: string,
  timeoutMs: number,
): Promise<{ message: string; cause?: unknown } | null> {
  let result: CommandResult;
  try {
    result = await runCommand(path, ['--showid', '--json'], { timeoutMs });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT'
        ? `not found${path.includes('/') ? '' : ' on PATH'}`
        : code === 'EACCES'
          ? 'not executable'
          : (cause as Error).message;
    return { message: `cannot run ${path}: ${what}`, cause };
  }
  if (result.timedOut) return { message: `${path} --showid --json did not answer within ${timeoutMs} ms` };
  try {
    const root: unknown = JSON.parse(result.stdout.slice(result.stdout.indexOf('{')));
    if (typeof root === 'object' && root !== null && Object.keys(root).some((k) => /^card\d+$/.test(k))) {
      return null;
    }
  } catch {
    // Not JSON: said below.
  }
  const said = firstLine(`${result.stderr}\n${result.stdout}`);
  return { message: `${path} --showid --json lists no AMD GPU (exit status ${result.code}: ${said})` };
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 200) || 'no message';
}
