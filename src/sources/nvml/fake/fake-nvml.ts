/**
 * The fake libnvidia-ml.so.1 (fake_nvml.c) for tests, benchmarks and the capture script's self-test: built
 * with the machine's gcc into .cache/fake-nvml/<hash of the source and flags>/, rebuilt when fake_nvml.c
 * changes, and driven by a scenario file (see the comment at the top of fake_nvml.c).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

const SOURCE = fileURLToPath(new URL('./fake_nvml.c', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The environment variable naming the scenario file the fake reads at nvmlInit_v2. */
export const FAKE_NVML_SCENARIO_ENV = 'GPUMON_FAKE_NVML_SCENARIO';

export interface BuildOptions {
  /** Extra `-D` defines, e.g. `FAKE_NVML_NO_CLOCKS_EVENT_REASONS` for a driver older than 535. */
  defines?: readonly string[];
  /** Where built libraries are cached (default `<repo>/.cache/fake-nvml`). */
  cacheDir?: string;
}

/** Compiles fake_nvml.c if its cached build is missing or stale; returns the path of the library. */
export function buildFakeNvml(options: BuildOptions = {}): string {
  const defines = options.defines ?? [];
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).update(defines.join(',')).digest('hex').slice(0, 16);
  const dir = join(options.cacheDir ?? join(ROOT, '.cache', 'fake-nvml'), hash);
  const library = join(dir, 'libnvidia-ml.so.1');
  if (existsSync(library)) return library;
  mkdirSync(dir, { recursive: true });
  // Build under a private name, then rename: concurrent test files never load a half-written library.
  const partial = join(mkdtempSync(join(dir, 'build-')), 'libnvidia-ml.so.1');
  execFileSync(
    'gcc',
    ['-shared', '-fPIC', '-O2', '-Wall', ...defines.map((d) => `-D${d}`), '-o', partial, SOURCE],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  renameSync(partial, library);
  return library;
}

/** Writes a scenario to a temp file and returns its path. */
export function writeScenario(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gpumon-fake-nvml-'));
  const path = join(dir, 'scenario.conf');
  writeFileSync(path, text);
  return path;
}

/** The scenarios kept with the fake, by file name without `.conf`. */
export function scenarioPath(name: string): string {
  return join(dirname(SOURCE), 'scenarios', `${name}.conf`);
}

/**
 * The fake's test hooks, reached through the same loaded library as the source's (the dynamic loader gives
 * both the same copy): call counts and run-time changes.
 */
export class FakeNvmlControl {
  private readonly callsFn: (name: string) => bigint | number;
  private readonly deviceCallsFn: (name: string, device: number) => bigint | number;
  private readonly resetFn: () => void;
  private readonly setFn: (key: string, value: string) => void;
  private readonly layoutFn: (what: string) => bigint | number;

  constructor(library: string) {
    const lib = koffi.load(library);
    this.callsFn = lib.func('unsigned long long fake_calls(const char *function)');
    this.deviceCallsFn = lib.func(
      'unsigned long long fake_device_calls(const char *function, unsigned int device)',
    );
    this.resetFn = lib.func('void fake_reset_calls(void)');
    this.setFn = lib.func('void fake_set(const char *key, const char *value)');
    this.layoutFn = lib.func('long long fake_layout(const char *what)');
  }

  /** Calls of an NVML function since the library was loaded or the counts were reset. */
  calls(fn: string): number {
    return Number(this.callsFn(fn));
  }

  /** Calls of an NVML function on one GPU (by its NVML index). */
  deviceCalls(fn: string, device: number): number {
    return Number(this.deviceCallsFn(fn, device));
  }

  resetCalls(): void {
    this.resetFn();
  }

  /** Applies one scenario line now, e.g. `set('device.0.xid', '79')` queues an XID event. */
  set(key: string, value: string | number): void {
    this.setFn(key, String(value));
  }

  /** What gcc made of nvml.h's structs: `sizeof` of `'nvmlMemory_t'`, `offsetof` of `'nvmlMemory_t.used'`. */
  layout(what: string): number {
    return Number(this.layoutFn(what));
  }
}
