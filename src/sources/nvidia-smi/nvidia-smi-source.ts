import { type ChildProcess, spawn } from 'node:child_process';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { migModel } from '../../metrics/mig.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { HealthTracker } from '../health.ts';
import type { GpuDevice, GpuProcess, Source, SourceHealth } from '../source.ts';
import { parseComputeApps, rowToSample, splitCsvLine } from './csv.ts';
import { canonicalField, IDENTITY_FIELDS, otherName, SMI_METRICS } from './fields.ts';
import { type ListedDevice, parseListGpus } from './list.ts';
import { runSmi } from './run.ts';
import { parseSmiXml } from './xml/parse-xml.ts';

export interface NvidiaSmiSourceOptions {
  /** The nvidia-smi command (`source.nvidiaSmi.path`). */
  path: string;
  /** Sampling interval (`source.intervalMs`): the child prints every GPU this often (`-lms`). */
  intervalMs: number;
  /** Host name stamped on samples (`source.host`). */
  host: string;
  logger?: Logger;
  /** No line from the child for this long: it is stalled and restarted (default max(4 x interval, 5 s)). */
  stallMs?: number;
  /** Delay before a restart: `initial`, doubled after each failure in a row, at most `max` (500 ms, 30 s). */
  backoffMs?: { initial: number; max: number };
  /** A GPU's latest line older than this is not returned by `read` (default the stall time + 1 interval). */
  staleMs?: number;
  /** Limit of each one-shot command: `-L`, `-q -x`, `--query-compute-apps` (default 10 s). */
  commandTimeoutMs?: number;
  /** How long `open` waits for the first line of every GPU (default the stall time). */
  firstLinesMs?: number;
}

const REJECTED = /Field "([^"]+)" is not a valid field to query/;
const ESSENTIAL = new Set(['index', 'uuid']);
const APPS_FIELDS = ['pid', 'process_name', 'used_gpu_memory', 'gpu_uuid'];

interface Latest {
  sample: GpuSample;
  /** performance.now() when the line came. */
  at: number;
}

/**
 * Reads GPUs through nvidia-smi, the fallback where NVML cannot be loaded (see README.md). One long-running
 * child prints every GPU each interval (`--query-gpu=... -lms`); `read(now)` answers from the latest line of
 * each GPU. The child is restarted (with backoff) when it exits or stalls; a field the driver does not know
 * is dropped (its metric stays null) or replaced by its older name, and the child restarted.
 */
export class NvidiaSmiSource implements Source {
  readonly name = 'nvidia-smi';
  private readonly tracker = new HealthTracker();
  private readonly options: Required<Omit<NvidiaSmiSourceOptions, 'logger'>> & { logger?: Logger };
  private fields: string[];
  private readonly dropped: string[] = [];
  private listed: ListedDevice[] = [];
  private xmlDevices: GpuDevice[] = [];
  /** `<cuda_umd_version>` (610) or `<cuda_version>` of `-q -x` at open: `--query-gpu` has no field for it. */
  private cudaVersion: string | null = null;
  /** Whether `kmd_version` was added to the query because `driver_version` printed no version. */
  private askedKmdVersion = false;
  private readonly latest = new Map<string, Latest>();
  /** The MIG instances' samples of the last `-q -x` and when it was read (performance.now()). */
  private mig: { samples: GpuSample[]; at: number } | null = null;
  private migInFlight: Promise<void> | null = null;
  private child: ChildProcess | null = null;
  private lastActivity = 0;
  private failuresInRow = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private closing = false;
  private fatal: string | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(options: NvidiaSmiSourceOptions) {
    const stallMs = options.stallMs ?? Math.max(4 * options.intervalMs, 5000);
    this.options = {
      ...options,
      stallMs,
      backoffMs: options.backoffMs ?? { initial: 500, max: 30_000 },
      staleMs: options.staleMs ?? stallMs + options.intervalMs,
      commandTimeoutMs: options.commandTimeoutMs ?? 10_000,
      firstLinesMs: options.firstLinesMs ?? stallMs,
    };
    this.fields = [...IDENTITY_FIELDS, ...SMI_METRICS.map((m) => m.field)];
  }

  /** The fields the child is asked for now (identity first, then the catalog's, minus the rejected). */
  queryFields(): readonly string[] {
    return this.fields;
  }

  async open(): Promise<void> {
    const { path, commandTimeoutMs } = this.options;
    let list: Awaited<ReturnType<typeof runSmi>>;
    try {
      list = await runSmi(path, ['-L'], commandTimeoutMs);
    } catch (err) {
      throw new GpumonError('SOURCE_UNAVAILABLE', `nvidia-smi: cannot run "${path} -L"`, { cause: err });
    }
    if (list.code !== 0) {
      const said = `${list.stdout}${list.stderr}`.trim().split('\n')[0] ?? '';
      throw new GpumonError(
        'SOURCE_UNAVAILABLE',
        `nvidia-smi: "${path} -L" exited with ${list.code}: ${said}`,
      );
    }
    this.listed = parseListGpus(list.stdout);
    await this.readIdentity();
    this.closing = false;
    this.start();
    this.watchdog = setInterval(
      () => this.checkStall(),
      Math.max(20, Math.min(1000, this.options.stallMs / 4)),
    );
    this.watchdog.unref();
    await this.waitForFirstLines();
  }

  /** Serial, VBIOS and MIG instances from `-q -x`, once: a failure costs only those (counted as `xml`). */
  private async readIdentity(): Promise<void> {
    try {
      const xml = await runSmi(this.options.path, ['-q', '-x'], this.options.commandTimeoutMs);
      const parsed = parseSmiXml(xml.stdout, {
        host: this.options.host,
        now: Date.now(),
        listed: this.listed,
        ...(this.options.logger ? { logger: this.options.logger } : {}),
      });
      if (xml.code !== 0 || parsed.errors.length > 0) this.tracker.count('xml');
      this.xmlDevices = parsed.devices;
      if (xml.code === 0) this.keepMig(parsed.samples);
      this.cudaVersion = parsed.samples[0]?.cuda_version ?? null;
    } catch (err) {
      this.tracker.count('xml');
      this.options.logger?.warn({ err }, 'nvidia-smi -q -x failed: serials, VBIOS and MIG instances unknown');
    }
  }

  private waitForFirstLines(): Promise<void> {
    const gpus = this.listed.filter((d) => d.parentUuid === null).length;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (this.fatal || (this.latest.size > 0 && this.latest.size >= gpus)) done();
      };
      const timer = setTimeout(done, this.options.firstLinesMs);
      this.waiters.add(check);
      check();
    });
  }

  private start(): void {
    if (this.closing || this.fatal) return;
    const args = [
      `--query-gpu=${this.fields.join(',')}`,
      '--format=csv,noheader,nounits',
      '-lms',
      String(Math.max(1, Math.round(this.options.intervalMs))),
    ];
    const child = spawn(this.options.path, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    this.child = child;
    this.lastActivity = performance.now();
    const fields = [...this.fields];
    let rejected: string | null = null;
    let said = '';
    let partial = '';
    const onText = (chunk: Buffer, isStdout: boolean) => {
      this.lastActivity = performance.now();
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.replace(/\r$/, '');
        const field = REJECTED.exec(line)?.[1];
        if (field) rejected ??= field;
        else if (isStdout && line.trim() !== '') this.onLine(fields, line);
        else if (line.trim() !== '') said = line;
      }
    };
    child.stdout?.on('data', (chunk: Buffer) => onText(chunk, true));
    let stderrPartial = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = stderrPartial + chunk.toString('utf8');
      const lines = text.split('\n');
      stderrPartial = lines.pop() ?? '';
      for (const line of lines) {
        const field = REJECTED.exec(line)?.[1];
        if (field) rejected ??= field;
        else if (line.trim() !== '') said = line.trim();
      }
    });
    const ended = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.child !== child) return;
      this.child = null;
      if (this.closing) return;
      rejected ??= REJECTED.exec(partial)?.[1] ?? REJECTED.exec(stderrPartial)?.[1] ?? null;
      if (rejected) {
        this.onRejected(rejected);
        return;
      }
      this.tracker.count('exit');
      this.options.logger?.warn(
        { code, signal, said },
        `nvidia-smi exited (${signal ?? code}): restarting${said ? ` (it said: ${said})` : ''}`,
      );
      this.scheduleRestart();
    };
    child.on('error', (err) => {
      said = err.message;
      ended(null, null);
    });
    child.on('close', ended);
  }

  private onLine(fields: readonly string[], line: string): void {
    const sample = rowToSample(
      fields.map(canonicalField),
      { line: 0, cells: splitCsvLine(line) },
      { host: this.options.host, now: Date.now() },
      [],
    );
    if (typeof sample === 'string') {
      this.tracker.count('bad_line');
      if (this.tracker.countOf('bad_line') === 1) {
        this.options.logger?.warn(
          { line: line.slice(0, 200), reason: sample },
          'nvidia-smi printed a line not understood',
        );
      }
      return;
    }
    const known = this.listed.find((d) => d.uuid === sample.uuid);
    if (sample.model === 'unknown' && known) sample.model = known.name;
    sample.cuda_version = this.cudaVersion;
    this.latest.set(sample.uuid, { sample, at: performance.now() });
    this.failuresInRow = 0;
    for (const wake of [...this.waiters]) wake();
    if (sample.driver_version === null && !this.askedKmdVersion && !fields.includes('kmd_version')) {
      this.askForKmdVersion();
    }
  }

  /**
   * A driver that keeps `driver_version` but prints no version in it (610 prints its other deprecated fields
   * as `[Requested functionality has been deprecated]`) is asked for `kmd_version` beside it, once: the child
   * is replaced by one with the longer query. A driver that does not know `kmd_version` then rejects it, and
   * it is dropped like any unknown field.
   */
  private askForKmdVersion(): void {
    this.askedKmdVersion = true;
    const at = this.fields.indexOf('driver_version');
    this.fields.splice(at < 0 ? this.fields.length : at + 1, 0, 'kmd_version');
    this.options.logger?.warn(
      'nvidia-smi prints no version in "driver_version": asking for "kmd_version" too',
    );
    this.tracker.count('restart');
    const old = this.child;
    this.child = null;
    old?.kill('SIGKILL');
    this.start();
  }

  private onRejected(field: string): void {
    this.tracker.count('field_rejected');
    const at = this.fields.indexOf(field);
    const older = otherName(field);
    if (at < 0) {
      this.scheduleRestart();
      return;
    }
    if (ESSENTIAL.has(field)) {
      this.fatal = `nvidia-smi does not know the field "${field}": it cannot identify GPUs`;
      this.options.logger?.error(this.fatal);
      for (const wake of [...this.waiters]) wake();
      return;
    }
    if (older && !this.fields.includes(older)) {
      this.fields[at] = older;
      this.options.logger?.warn(`nvidia-smi does not know "${field}": asking for "${older}" instead`);
    } else {
      this.fields.splice(at, 1);
      this.dropped.push(field);
      this.options.logger?.warn(`nvidia-smi does not know "${field}": its metric stays null on this driver`);
    }
    this.tracker.count('restart');
    this.start();
  }

  private scheduleRestart(): void {
    if (this.closing || this.fatal || this.restartTimer) return;
    const { initial, max } = this.options.backoffMs;
    const delay = Math.min(max, initial * 2 ** Math.min(this.failuresInRow, 20));
    this.failuresInRow++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.tracker.count('restart');
      this.start();
    }, delay);
    this.restartTimer.unref();
  }

  private checkStall(): void {
    const child = this.child;
    if (!child || this.closing) return;
    if (performance.now() - this.lastActivity <= this.options.stallMs) return;
    this.tracker.count('stall');
    this.options.logger?.warn(`nvidia-smi printed nothing for ${this.options.stallMs} ms: restarting it`);
    this.child = null;
    child.kill('SIGKILL');
    this.scheduleRestart();
  }

  async read(now: number): Promise<GpuSample[]> {
    const started = performance.now();
    if (this.fatal) throw new GpumonError('SOURCE_READ_FAILED', this.fatal);
    const fresh: GpuSample[] = [];
    for (const { sample, at } of this.latest.values()) {
      if (started - at <= this.options.staleMs) fresh.push({ ...sample, ts: now, host: this.options.host });
    }
    this.tracker.lastReadDurationMs = performance.now() - started;
    if (fresh.length === 0) {
      this.tracker.count('read');
      throw new GpumonError(
        'SOURCE_READ_FAILED',
        `nvidia-smi: no GPU line in the last ${this.options.staleMs} ms (restarts so far: ${this.tracker.countOf('restart')})`,
      );
    }
    if (this.listed.some((d) => d.parentUuid !== null)) {
      this.refreshMig();
      if (this.mig && started - this.mig.at <= this.options.staleMs) {
        for (const s of this.mig.samples) fresh.push({ ...s, ts: now, host: this.options.host });
      }
    }
    // Stable: each GPU, then its MIG instances.
    fresh.sort((a, b) => a.gpu_index - b.gpu_index);
    this.tracker.lastSuccessMs = now;
    return fresh;
  }

  private keepMig(samples: readonly GpuSample[]): void {
    this.mig = { samples: samples.filter((s) => s.parent_uuid !== null), at: performance.now() };
  }

  /**
   * MIG instances are not in `--query-gpu`: their samples (memory, ids) come from `-q -x`, run off the read, one
   * at a time; a read gives those of the last one while fresh (`staleMs`). A failure is counted as `mig`.
   */
  private refreshMig(): void {
    if (this.migInFlight || this.closing) return;
    this.migInFlight = runSmi(this.options.path, ['-q', '-x'], this.options.commandTimeoutMs)
      .then((xml) => {
        const parsed = parseSmiXml(xml.stdout, {
          host: this.options.host,
          now: Date.now(),
          listed: this.listed,
        });
        if (xml.code !== 0 || parsed.gpuBlocks === 0) this.tracker.count('mig');
        else this.keepMig(parsed.samples);
      })
      .catch(() => this.tracker.count('mig'))
      .finally(() => {
        this.migInFlight = null;
      });
  }

  health(): SourceHealth {
    return {
      source: this.name,
      ...this.tracker.readings(),
      notice:
        this.fatal ??
        (this.dropped.length > 0
          ? `nvidia-smi on this driver does not know ${this.dropped.join(', ')}: those metrics are null`
          : null),
    };
  }

  devices(): GpuDevice[] {
    const out = [...this.xmlDevices];
    for (const { sample } of this.latest.values()) {
      if (out.some((d) => d.uuid === sample.uuid)) continue;
      out.push({
        uuid: sample.uuid,
        index: sample.gpu_index,
        model: sample.model,
        pciBusId: sample.pci_bus_id,
        serial: null,
        vbiosVersion: null,
        driverVersion: sample.driver_version,
        parentUuid: null,
        migProfile: null,
      });
    }
    for (const d of this.listed) {
      if (d.parentUuid === null || out.some((o) => o.uuid === d.uuid)) continue;
      const parent = out.find((o) => o.uuid === d.parentUuid);
      out.push({
        uuid: d.uuid,
        index: d.index,
        model: migModel(parent?.model ?? 'unknown', d.name),
        pciBusId: parent?.pciBusId ?? null,
        serial: null,
        vbiosVersion: null,
        driverVersion: parent?.driverVersion ?? null,
        parentUuid: d.parentUuid,
        migProfile: d.name,
      });
    }
    return out;
  }

  /**
   * Processes with their GPU. In MIG mode `--query-compute-apps` names only the parent GPU, so where `-L`
   * listed MIG instances they come from `-q -x` instead: each `<process_info>` has its GPU and compute
   * instance ids, which name the MIG instance it runs in.
   */
  async processes(): Promise<GpuProcess[]> {
    if (this.listed.some((d) => d.parentUuid !== null)) return this.migProcesses();
    const args = [`--query-compute-apps=${APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
    let result: Awaited<ReturnType<typeof runSmi>>;
    try {
      result = await runSmi(this.options.path, args, this.options.commandTimeoutMs);
    } catch (err) {
      this.tracker.count('processes');
      throw new GpumonError('SOURCE_READ_FAILED', 'nvidia-smi --query-compute-apps failed', { cause: err });
    }
    if (result.code !== 0) {
      this.tracker.count('processes');
      const said = `${result.stdout}${result.stderr}`.trim().split('\n')[0] ?? '';
      throw new GpumonError(
        'SOURCE_READ_FAILED',
        `nvidia-smi --query-compute-apps exited with ${result.code}: ${said}`,
      );
    }
    const parsed = parseComputeApps(result.stdout, APPS_FIELDS);
    if (parsed.errors.length > 0) this.tracker.count('processes', parsed.errors.length);
    return parsed.processes;
  }

  private async migProcesses(): Promise<GpuProcess[]> {
    let result: Awaited<ReturnType<typeof runSmi>>;
    try {
      result = await runSmi(this.options.path, ['-q', '-x'], this.options.commandTimeoutMs);
    } catch (err) {
      this.tracker.count('processes');
      throw new GpumonError('SOURCE_READ_FAILED', 'nvidia-smi -q -x (processes of MIG instances) failed', {
        cause: err,
      });
    }
    const parsed = parseSmiXml(result.stdout, {
      host: this.options.host,
      now: Date.now(),
      listed: this.listed,
    });
    if (result.code !== 0 || parsed.gpuBlocks === 0) {
      this.tracker.count('processes');
      const said = `${result.stdout}${result.stderr}`.trim().split('\n')[0] ?? '';
      throw new GpumonError(
        'SOURCE_READ_FAILED',
        `nvidia-smi -q -x (processes of MIG instances) exited with ${result.code}: ${said}`,
      );
    }
    if (parsed.errors.length > 0) this.tracker.count('processes', parsed.errors.length);
    return parsed.processes;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.watchdog = null;
    this.restartTimer = null;
    await this.migInFlight; // bounded by commandTimeoutMs
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
