import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { GpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { METRICS } from '../../metrics/catalog.ts';
import { migModel, migProfile } from '../../metrics/mig.ts';
import type { GpuIdentity, GpuSample, MetricValues } from '../../metrics/sample.ts';
import { nullIdentity } from '../../metrics/sample.ts';
import { cudaVersionText } from '../cuda-version.ts';
import { HealthTracker } from '../health.ts';
import type { GpuDevice, GpuProcess, Source, SourceHealth } from '../source.ts';
import {
  cString,
  handleAddress,
  loadNvml,
  NVML_BUFFER_SIZE,
  NVML_DEVICE_MIG_ENABLE,
  NVML_EVENT_TYPE_XID_CRITICAL_ERROR,
  NVML_RETURN,
  NVML_VALUE_NOT_AVAILABLE_ULL,
  type NvmlHandle,
  type NvmlLib,
  nvmlReturnName,
  OFFSETS,
  SIZES,
} from './nvml-lib.ts';
import { METRIC_RANGE, READERS } from './readers.ts';

export const DEFAULT_NVML_LIBRARY = 'libnvidia-ml.so.1';

/** The logging the source does: a pino Logger fits. */
export type NvmlLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

// The source imports neither pino nor zod at run time (a pino logger is passed in): an agent that only
// samples stays small (see bench/sources).
const SILENT: NvmlLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function nullMetrics(): MetricValues {
  const values = {} as MetricValues;
  for (const m of METRICS) values[m.name] = null;
  return values;
}

export interface NvmlSourceOptions {
  /** The NVML library: a name the dynamic loader finds or a path (`source.nvml.library`). */
  library?: string;
  /** The host name samples carry (`source.host`; default this machine's). */
  host?: string;
  logger?: NvmlLogger;
  /** Where process names are read from (default `/proc`). */
  procRoot?: string;
}

/** A call that failed for a GPU: its metrics stay null and it is not called again for that GPU. */
export interface NvmlUnsupported {
  uuid: string;
  gpuIndex: number;
  call: string;
  /** NVML's return code name, e.g. `NOT_SUPPORTED`. */
  error: string;
}

/** A MIG instance of a GPU: a sample of its own (docs/metrics.md, "MIG instances"). */
interface MigState {
  readonly handle: NvmlHandle;
  readonly identity: GpuIdentity;
  /** Per reader (index in MIG_READERS): true once it failed for this instance. */
  readonly disabled: boolean[];
}

/**
 * What NVML answers for a MIG device handle: its own memory. Utilization, temperature, power and clocks are
 * the parent GPU's (NOT_SUPPORTED, or the GPU's values, depending on the call): a MIG sample leaves them null.
 */
const MIG_READERS = READERS.filter(
  (r) => r.call === 'nvmlDeviceGetMemoryInfo' || r.call === 'nvmlDeviceGetMemoryInfo_v2',
);

interface DeviceState {
  readonly handle: NvmlHandle;
  readonly address: bigint;
  readonly identity: GpuIdentity;
  readonly device: GpuDevice;
  readonly migs: GpuDevice[];
  /** The MIG instances, same order as `migs`, read after their GPU at each read. */
  readonly migStates: MigState[];
  /** MIG device UUID by GPU instance id, to attribute processes. */
  readonly migByInstance: Map<number, string>;
  /** Per reader (index in READERS): true once it failed for this GPU. */
  readonly disabled: boolean[];
  lost: boolean;
  processesDisabled: boolean;
  /** The last XID seen (0: none yet), or null when XID events cannot be watched on this GPU. */
  xidLast: number | null;
}

const MAX_EVENTS_PER_READ = 1000;
const PROCESS_NAME_MAX = 256;

/**
 * The NVML source: reads every local NVIDIA GPU through libnvidia-ml directly (koffi FFI), the way
 * nvidia-smi and dcgm do, at a small fraction of the cost of running nvidia-smi per sample. See README.md.
 *
 * NVML calls are synchronous and run on the caller's thread; each read makes about 30 short calls per GPU.
 */
export class NvmlSource implements Source {
  readonly name = 'nvml';
  private readonly tracker = new HealthTracker();
  private readonly library: string;
  private readonly host: string;
  private readonly logger: NvmlLogger;
  private readonly procRoot: string;
  private nvml: NvmlLib | undefined;
  private states: DeviceState[] = [];
  private eventSet: NvmlHandle = null;
  private eventsBroken = false;
  private cudaVersion: string | null = null;
  private readonly failures: NvmlUnsupported[] = [];
  private processBuffer = Buffer.alloc(64 * SIZES.nvmlProcessInfo_t);
  private readonly eventBuffer = Buffer.alloc(SIZES.nvmlEventData_t);

  constructor(options: NvmlSourceOptions = {}) {
    this.library = options.library ?? DEFAULT_NVML_LIBRARY;
    this.host = options.host || hostname();
    this.logger = options.logger ?? SILENT;
    this.procRoot = options.procRoot ?? '/proc';
  }

  async open(): Promise<void> {
    if (this.nvml) return;
    const nvml = openNvml(this.library);
    const fn = nvml.fn;
    try {
      const driverVersion = this.readString(
        (buf) => fn.nvmlSystemGetDriverVersion?.(buf, buf.length),
        NVML_BUFFER_SIZE.DRIVER_VERSION,
      );
      const cuda = Buffer.alloc(4);
      const cudaRc = fn.nvmlSystemGetCudaDriverVersion_v2?.(cuda) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
      this.cudaVersion = cudaRc === NVML_RETURN.SUCCESS ? cudaVersionText(cuda.readInt32LE(0)) : null;
      const count = Buffer.alloc(4);
      const rc = fn.nvmlDeviceGetCount_v2?.(count) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
      if (rc !== NVML_RETURN.SUCCESS) {
        throw new GpumonError(
          'SOURCE_UNAVAILABLE',
          `NVML (${this.library}): nvmlDeviceGetCount_v2 failed: ${nvml.errorString(rc)} (${nvmlReturnName(rc)})`,
        );
      }
      const gpus = count.readUInt32LE(0);
      for (let i = 0; i < gpus; i++) {
        const state = this.openDevice(nvml, i, driverVersion.value);
        if (state) this.states.push(state);
      }
      if (gpus > 0 && this.states.length === 0) {
        const why = this.failures.map((f) => `GPU ${f.gpuIndex}: ${f.call}: ${f.error}`).join('; ');
        throw new GpumonError(
          'SOURCE_UNAVAILABLE',
          `NVML (${this.library}): none of the ${gpus} GPUs NVML counts could be opened: ${why}`,
        );
      }
      this.watchXid(nvml);
    } catch (err) {
      fn.nvmlShutdown?.();
      this.states = [];
      throw err;
    }
    this.nvml = nvml;
    this.logger.info(
      {
        library: this.library,
        gpus: this.states.length,
        mig: this.states.reduce((n, s) => n + s.migs.length, 0),
      },
      'NVML source open',
    );
  }

  async read(now: number): Promise<GpuSample[]> {
    const nvml = this.nvml;
    if (!nvml) throw new GpumonError('SOURCE_UNAVAILABLE', 'nvml source: read called before open');
    const started = performance.now();
    this.pollEvents(nvml);
    const samples: GpuSample[] = [];
    for (const state of this.states) {
      const values = state.lost ? nullMetrics() : this.readMetrics(nvml, state);
      values.gpu_xid_last = state.lost ? null : state.xidLast;
      samples.push({ ts: now, ...state.identity, ...values });
      for (const mig of state.migStates) {
        const own = state.lost ? nullMetrics() : this.readMetrics(nvml, state, mig);
        samples.push({ ts: now, ...mig.identity, ...own });
      }
    }
    this.tracker.lastReadDurationMs = performance.now() - started;
    if (this.states.length > 0 && this.states.every((s) => s.lost)) {
      throw new GpumonError(
        'SOURCE_READ_FAILED',
        `NVML (${this.library}): every GPU is lost (GPU_IS_LOST): ${this.states.map((s) => s.identity.uuid).join(', ')}`,
      );
    }
    this.tracker.lastSuccessMs = now;
    return samples;
  }

  health(): SourceHealth {
    const lost = this.states.filter((s) => s.lost);
    return {
      source: this.name,
      ...this.tracker.readings(),
      notice:
        lost.length > 0
          ? `NVML: ${lost.map((s) => `GPU ${s.identity.gpu_index} (${s.identity.uuid})`).join(', ')} lost (fallen off the bus or otherwise inaccessible): metrics null until gpumon restarts`
          : this.nvml && this.states.length === 0
            ? `NVML (${this.library}) found no GPU`
            : null,
    };
  }

  async close(): Promise<void> {
    const nvml = this.nvml;
    if (!nvml) return;
    if (this.eventSet) nvml.fn.nvmlEventSetFree?.(this.eventSet);
    nvml.fn.nvmlShutdown?.();
    this.nvml = undefined;
    this.eventSet = null;
    this.states = [];
  }

  /** Every GPU, each followed by its MIG devices (read at open: a MIG reconfiguration needs a reopen). */
  devices(): GpuDevice[] {
    return this.states.flatMap((s) => [s.device, ...s.migs]);
  }

  /** Calls that failed per GPU since open (their metrics are null), for diagnostics and captures. */
  unsupported(): NvmlUnsupported[] {
    return this.failures.map((f) => ({ ...f }));
  }

  /** Compute processes holding GPU memory, with their names from /proc (null where not visible). */
  async processes(): Promise<GpuProcess[]> {
    const nvml = this.nvml;
    if (!nvml) throw new GpumonError('SOURCE_UNAVAILABLE', 'nvml source: processes called before open');
    const found: { uuid: string; pid: number; usedMemoryBytes: number | null }[] = [];
    for (const state of this.states) {
      if (state.lost || state.processesDisabled) continue;
      const rc = this.listProcesses(nvml, state, found);
      if (rc === NVML_RETURN.SUCCESS) continue;
      if (rc === NVML_RETURN.GPU_IS_LOST) this.markLost(state, 'nvmlDeviceGetComputeRunningProcesses_v3');
      else {
        state.processesDisabled = true;
        this.report(state, 'nvmlDeviceGetComputeRunningProcesses_v3', rc);
      }
    }
    return Promise.all(found.map(async (p) => ({ ...p, name: await this.processName(p.pid) })));
  }

  private openDevice(nvml: NvmlLib, index: number, driverVersion: string | null): DeviceState | undefined {
    const fn = nvml.fn;
    const out: NvmlHandle[] = [null];
    const rc = fn.nvmlDeviceGetHandleByIndex_v2?.(index, out) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
    if (rc !== NVML_RETURN.SUCCESS) {
      this.reportOpen(`GPU ${index}`, index, 'nvmlDeviceGetHandleByIndex_v2', rc);
      return undefined;
    }
    const handle = out[0];
    const uuid = this.readString((b) => fn.nvmlDeviceGetUUID?.(handle, b, b.length), NVML_BUFFER_SIZE.UUID);
    if (uuid.value === null || uuid.value === '') {
      this.reportOpen(`GPU ${index}`, index, 'nvmlDeviceGetUUID', uuid.rc);
      return undefined;
    }
    const id = uuid.value;
    const optional = (call: string, read: (b: Buffer) => number | undefined, size: number) => {
      const r = this.readString(read, size);
      if (r.value === null) this.reportOpen(id, index, call, r.rc);
      return r.value;
    };
    const indexBuf = Buffer.alloc(4);
    const indexRc = fn.nvmlDeviceGetIndex?.(handle, indexBuf) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
    const gpuIndex = indexRc === NVML_RETURN.SUCCESS ? indexBuf.readUInt32LE(0) : index;
    const model =
      optional(
        'nvmlDeviceGetName',
        (b) => fn.nvmlDeviceGetName?.(handle, b, b.length),
        NVML_BUFFER_SIZE.NAME,
      ) ?? 'NVIDIA GPU';
    const pci = Buffer.alloc(SIZES.nvmlPciInfo_t);
    const pciRc = fn.nvmlDeviceGetPciInfo_v3?.(handle, pci) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
    const pciBusId = pciRc === NVML_RETURN.SUCCESS ? cString(pci.subarray(OFFSETS.pciBusId)) : null;
    if (pciRc !== NVML_RETURN.SUCCESS) this.reportOpen(id, gpuIndex, 'nvmlDeviceGetPciInfo_v3', pciRc);
    const serial = optional(
      'nvmlDeviceGetSerial',
      (b) => fn.nvmlDeviceGetSerial?.(handle, b, b.length),
      NVML_BUFFER_SIZE.SERIAL,
    );
    const vbios = optional(
      'nvmlDeviceGetVbiosVersion',
      (b) => fn.nvmlDeviceGetVbiosVersion?.(handle, b, b.length),
      NVML_BUFFER_SIZE.VBIOS,
    );
    const device: GpuDevice = {
      uuid: id,
      index: gpuIndex,
      model,
      pciBusId,
      serial,
      vbiosVersion: vbios,
      driverVersion,
      parentUuid: null,
      migProfile: null,
    };
    const state: DeviceState = {
      handle,
      address: handleAddress(handle),
      identity: {
        ...nullIdentity(),
        host: this.host,
        gpu_index: gpuIndex,
        uuid: id,
        model,
        pci_bus_id: pciBusId,
        driver_version: driverVersion,
        vbios_version: vbios,
        cuda_version: this.cudaVersion,
      },
      device,
      migs: [],
      migStates: [],
      migByInstance: new Map(),
      disabled: READERS.map(() => false),
      lost: false,
      processesDisabled: false,
      xidLast: 0,
    };
    this.openMig(nvml, state);
    return state;
  }

  private openMig(nvml: NvmlLib, state: DeviceState): void {
    const fn = nvml.fn;
    const current = Buffer.alloc(4);
    const pending = Buffer.alloc(4);
    const rc = fn.nvmlDeviceGetMigMode?.(state.handle, current, pending) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
    // NOT_SUPPORTED is the normal answer of a GPU without MIG: worth a debug line, not an error.
    if (rc !== NVML_RETURN.SUCCESS) {
      this.logger.debug({ gpu: state.device.uuid, error: nvmlReturnName(rc) }, 'NVML: no MIG mode');
      return;
    }
    if (current.readUInt32LE(0) !== NVML_DEVICE_MIG_ENABLE) return;
    const max = Buffer.alloc(4);
    const maxRc = fn.nvmlDeviceGetMaxMigDeviceCount?.(state.handle, max) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
    if (maxRc !== NVML_RETURN.SUCCESS) {
      this.report(state, 'nvmlDeviceGetMaxMigDeviceCount', maxRc);
      return;
    }
    for (let i = 0; i < max.readUInt32LE(0); i++) {
      const out: NvmlHandle[] = [null];
      const migRc = fn.nvmlDeviceGetMigDeviceHandleByIndex?.(state.handle, i, out) ?? NVML_RETURN.NOT_FOUND;
      if (migRc === NVML_RETURN.NOT_FOUND) continue; // an empty slot
      if (migRc !== NVML_RETURN.SUCCESS) {
        this.report(state, 'nvmlDeviceGetMigDeviceHandleByIndex', migRc);
        continue;
      }
      const mig = out[0];
      const uuid = this.readString((b) => fn.nvmlDeviceGetUUID?.(mig, b, b.length), NVML_BUFFER_SIZE.UUID);
      if (!uuid.value) {
        this.report(state, 'nvmlDeviceGetUUID(MIG)', uuid.rc);
        continue;
      }
      const name = this.readString(
        (b) => fn.nvmlDeviceGetName?.(mig, b, b.length),
        NVML_BUFFER_SIZE.NAME,
      ).value;
      const instance = Buffer.alloc(4);
      let gi: number | null = null;
      if ((fn.nvmlDeviceGetGpuInstanceId?.(mig, instance) ?? -1) === NVML_RETURN.SUCCESS) {
        gi = instance.readUInt32LE(0);
        state.migByInstance.set(gi, uuid.value);
      }
      const ci =
        (fn.nvmlDeviceGetComputeInstanceId?.(mig, instance) ?? -1) === NVML_RETURN.SUCCESS
          ? instance.readUInt32LE(0)
          : null;
      const model = name ?? migModel(state.device.model, null);
      state.migs.push({
        ...state.device,
        uuid: uuid.value,
        index: i,
        model,
        parentUuid: state.device.uuid,
        migProfile: migProfile(name),
      });
      state.migStates.push({
        handle: mig,
        identity: {
          ...state.identity,
          uuid: uuid.value,
          model,
          parent_uuid: state.device.uuid,
          mig_gpu_instance_id: gi !== null && gi <= 65535 ? gi : null,
          mig_compute_instance_id: ci !== null && ci <= 65535 ? ci : null,
        },
        disabled: MIG_READERS.map(() => false),
      });
    }
  }

  private watchXid(nvml: NvmlLib): void {
    const fn = nvml.fn;
    if (this.states.length === 0) return;
    const out: NvmlHandle[] = [null];
    const rc = fn.nvmlEventSetCreate?.(out) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
    if (rc !== NVML_RETURN.SUCCESS) {
      for (const state of this.states) {
        state.xidLast = null;
        this.report(state, 'nvmlEventSetCreate', rc);
      }
      return;
    }
    this.eventSet = out[0];
    for (const state of this.states) {
      const registered =
        fn.nvmlDeviceRegisterEvents?.(state.handle, NVML_EVENT_TYPE_XID_CRITICAL_ERROR, this.eventSet) ??
        NVML_RETURN.FUNCTION_NOT_FOUND;
      if (registered !== NVML_RETURN.SUCCESS) {
        state.xidLast = null;
        this.report(state, 'nvmlDeviceRegisterEvents(nvmlEventTypeXidCriticalError)', registered);
      }
    }
  }

  /** Drains the pending XID events without waiting (timeout 0). */
  private pollEvents(nvml: NvmlLib): void {
    const wait = nvml.fn.nvmlEventSetWait_v2;
    if (!this.eventSet || !wait || this.eventsBroken) return;
    const data = this.eventBuffer;
    for (let k = 0; k < MAX_EVENTS_PER_READ; k++) {
      const rc = wait(this.eventSet, data, 0);
      if (rc === NVML_RETURN.TIMEOUT) return;
      if (rc !== NVML_RETURN.SUCCESS) {
        this.eventsBroken = true;
        const kind = `nvmlEventSetWait_v2: ${nvmlReturnName(rc)}`;
        this.tracker.count(kind);
        this.logger.warn(
          { error: nvml.errorString(rc) },
          'NVML: waiting for XID events failed; XIDs no longer watched',
        );
        return;
      }
      if ((data.readBigUInt64LE(OFFSETS.eventType) & NVML_EVENT_TYPE_XID_CRITICAL_ERROR) === 0n) continue;
      const address = data.readBigUInt64LE(OFFSETS.eventDevice);
      const xid = Number(data.readBigUInt64LE(OFFSETS.eventData));
      const state = this.states.find((s) => s.address === address);
      if (!state || state.xidLast === null) continue;
      state.xidLast = xid;
      this.logger.warn(
        { gpu: state.identity.uuid, xid },
        `NVML: XID ${xid} on GPU ${state.identity.gpu_index}`,
      );
    }
  }

  /** The readings of a GPU, or (with `mig`) of one of its MIG instances: its memory (MIG_READERS). */
  private readMetrics(nvml: NvmlLib, state: DeviceState, mig?: MigState): MetricValues {
    const values = nullMetrics();
    const readers = mig ? MIG_READERS : READERS;
    const disabled = mig ? mig.disabled : state.disabled;
    for (let i = 0; i < readers.length; i++) {
      if (disabled[i]) continue;
      const reader = readers[i] as (typeof READERS)[number];
      const rc = reader.read(nvml.fn, mig ? mig.handle : state.handle, values);
      if (rc === NVML_RETURN.SUCCESS) {
        for (const metric of reader.metrics) {
          const value = values[metric];
          const range = METRIC_RANGE.get(metric);
          if (value !== null && range && !(value >= range.min && value <= range.max)) {
            values[metric] = null;
            const kind = `${reader.call}: OUT_OF_RANGE`;
            if (this.tracker.countOf(kind) === 0)
              this.logger.warn({ gpu: state.identity.uuid, metric, value }, 'NVML: value out of range');
            this.tracker.count(kind);
          }
        }
        continue;
      }
      if (rc === NVML_RETURN.GPU_IS_LOST) {
        this.markLost(state, reader.call);
        return nullMetrics();
      }
      disabled[i] = true;
      if (mig) this.reportOpen(mig.identity.uuid, state.identity.gpu_index, `${reader.call}(MIG)`, rc);
      else this.report(state, reader.call, rc);
    }
    return values;
  }

  private listProcesses(
    nvml: NvmlLib,
    state: DeviceState,
    found: { uuid: string; pid: number; usedMemoryBytes: number | null }[],
  ): number {
    const list = nvml.fn.nvmlDeviceGetComputeRunningProcesses_v3;
    if (!list) return NVML_RETURN.FUNCTION_NOT_FOUND;
    const count = Buffer.alloc(4);
    let rc: number = NVML_RETURN.INSUFFICIENT_SIZE;
    // Processes can start between the two calls: grow and retry a few times.
    for (let attempt = 0; attempt < 3 && rc === NVML_RETURN.INSUFFICIENT_SIZE; attempt++) {
      const capacity = this.processBuffer.length / SIZES.nvmlProcessInfo_t;
      count.writeUInt32LE(capacity, 0);
      rc = list(state.handle, count, this.processBuffer);
      if (rc === NVML_RETURN.INSUFFICIENT_SIZE) {
        this.processBuffer = Buffer.alloc(
          Math.max(capacity * 2, count.readUInt32LE(0) + 16) * SIZES.nvmlProcessInfo_t,
        );
      }
    }
    if (rc !== NVML_RETURN.SUCCESS) return rc;
    const buffer = this.processBuffer;
    for (let k = 0; k < count.readUInt32LE(0); k++) {
      const at = k * SIZES.nvmlProcessInfo_t;
      const used = buffer.readBigUInt64LE(at + OFFSETS.processUsedGpuMemory);
      const instance = buffer.readUInt32LE(at + OFFSETS.processGpuInstanceId);
      found.push({
        uuid: state.migByInstance.get(instance) ?? state.identity.uuid,
        pid: buffer.readUInt32LE(at + OFFSETS.processPid),
        usedMemoryBytes: used === NVML_VALUE_NOT_AVAILABLE_ULL ? null : Number(used),
      });
    }
    return rc;
  }

  private async processName(pid: number): Promise<string | null> {
    try {
      const comm = (await readFile(`${this.procRoot}/${pid}/comm`, 'utf8')).trim();
      if (comm) return comm.slice(0, PROCESS_NAME_MAX);
    } catch {
      // fall through to cmdline
    }
    try {
      const argv0 = (await readFile(`${this.procRoot}/${pid}/cmdline`, 'utf8')).split('\0')[0] ?? '';
      return argv0 ? basename(argv0).slice(0, PROCESS_NAME_MAX) : null;
    } catch {
      return null; // gone, or in another PID namespace
    }
  }

  private readString(
    call: (buffer: Buffer) => number | undefined,
    size: number,
  ): { rc: number; value: string | null } {
    const buffer = Buffer.alloc(size);
    const rc = call(buffer) ?? NVML_RETURN.FUNCTION_NOT_FOUND;
    return { rc, value: rc === NVML_RETURN.SUCCESS ? cString(buffer) : null };
  }

  private markLost(state: DeviceState, call: string): void {
    if (state.lost) return;
    state.lost = true;
    this.tracker.count('GPU_IS_LOST');
    this.failures.push({
      uuid: state.identity.uuid,
      gpuIndex: state.identity.gpu_index,
      call,
      error: 'GPU_IS_LOST',
    });
    this.logger.error(
      { gpu: state.identity.uuid, index: state.identity.gpu_index, call },
      `NVML: GPU ${state.identity.gpu_index} is lost (fallen off the bus or otherwise inaccessible); its metrics are null from now on`,
    );
  }

  private report(state: DeviceState, call: string, rc: number): void {
    this.reportOpen(state.identity.uuid, state.identity.gpu_index, call, rc);
  }

  private reportOpen(uuid: string, gpuIndex: number, call: string, rc: number): void {
    const error = nvmlReturnName(rc);
    this.failures.push({ uuid, gpuIndex, call, error });
    const kind = `${call}: ${error}`;
    this.tracker.count(kind);
    const message = `NVML: ${call} returns ${error} for GPU ${gpuIndex}: null from now on, not called again`;
    if (rc === NVML_RETURN.NOT_SUPPORTED) this.logger.info({ gpu: uuid, call, error }, message);
    else this.logger.warn({ gpu: uuid, call, error }, message);
  }
}

export { migProfile };

/**
 * Loads the library and initializes NVML; throws SOURCE_UNAVAILABLE naming the library and NVML's error.
 * On success the caller owns one nvmlInit reference (release it with nvmlShutdown).
 */
function openNvml(library: string): NvmlLib {
  let nvml: NvmlLib;
  try {
    nvml = loadNvml(library);
  } catch (err) {
    throw new GpumonError(
      'SOURCE_UNAVAILABLE',
      `NVML library ${library} cannot be loaded (is the NVIDIA driver installed? set source.nvml.library to its path): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const rc = (nvml.fn.nvmlInit_v2 as () => number)();
  if (rc !== NVML_RETURN.SUCCESS) {
    const hint =
      rc === NVML_RETURN.DRIVER_NOT_LOADED
        ? ' (is the NVIDIA kernel driver loaded? `nvidia-smi` tells)'
        : rc === NVML_RETURN.NO_PERMISSION
          ? ' (no permission to open /dev/nvidia*)'
          : '';
    throw new GpumonError(
      'SOURCE_UNAVAILABLE',
      `NVML library ${library}: nvmlInit_v2 failed: ${nvml.errorString(rc)} (NVML_ERROR_${nvmlReturnName(rc)})${hint}`,
    );
  }
  return nvml;
}

/** Whether NVML can be used here, and why not: loads the library, initializes and shuts down. Never throws. */
export function probeNvml(
  library = DEFAULT_NVML_LIBRARY,
): { available: true; gpus: number } | { available: false; reason: string } {
  try {
    const nvml = openNvml(library);
    const count = Buffer.alloc(4);
    const rc = nvml.fn.nvmlDeviceGetCount_v2?.(count);
    nvml.fn.nvmlShutdown?.();
    return rc === NVML_RETURN.SUCCESS
      ? { available: true, gpus: count.readUInt32LE(0) }
      : {
          available: false,
          reason: `NVML library ${library}: nvmlDeviceGetCount_v2 failed: ${nvmlReturnName(rc)}`,
        };
  } catch (err) {
    return { available: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** The cheap check for `source.type: auto`: true when NVML loads, initializes and sees at least one GPU. */
export function nvmlAvailable(library = DEFAULT_NVML_LIBRARY): boolean {
  const probe = probeNvml(library);
  return probe.available && probe.gpus > 0;
}
