/**
 * The NVML C API as gpumon calls it through koffi: types, constants and the functions it binds.
 *
 * Every layout, enum value and signature here is copied from NVIDIA's nvml.h, NVML 12.2.140, as vendored in
 * NVIDIA/go-nvml at gen/nvml/nvml.h; nvml-lib.test.ts pins the sizes and offsets, and the fake library
 * (fake/fake_nvml.c, compiled by gcc from the same header text) must agree with them.
 *
 * Out-parameters are passed as preallocated Buffers (koffi hands their memory to C for the duration of the
 * call) and decoded by offset, so a read allocates next to nothing.
 */
import koffi from 'koffi';

/** nvmlReturn_t (nvml.h `nvmlReturn_enum`). */
export const NVML_RETURN = {
  SUCCESS: 0,
  UNINITIALIZED: 1,
  INVALID_ARGUMENT: 2,
  NOT_SUPPORTED: 3,
  NO_PERMISSION: 4,
  ALREADY_INITIALIZED: 5,
  NOT_FOUND: 6,
  INSUFFICIENT_SIZE: 7,
  INSUFFICIENT_POWER: 8,
  DRIVER_NOT_LOADED: 9,
  TIMEOUT: 10,
  IRQ_ISSUE: 11,
  LIBRARY_NOT_FOUND: 12,
  FUNCTION_NOT_FOUND: 13,
  CORRUPTED_INFOROM: 14,
  GPU_IS_LOST: 15,
  RESET_REQUIRED: 16,
  OPERATING_SYSTEM: 17,
  LIB_RM_VERSION_MISMATCH: 18,
  IN_USE: 19,
  MEMORY: 20,
  NO_DATA: 21,
  VGPU_ECC_NOT_SUPPORTED: 22,
  INSUFFICIENT_RESOURCES: 23,
  FREQ_NOT_SUPPORTED: 24,
  ARGUMENT_VERSION_MISMATCH: 25,
  DEPRECATED: 26,
  NOT_READY: 27,
  UNKNOWN: 999,
} as const;

const RETURN_NAMES = new Map<number, string>(Object.entries(NVML_RETURN).map(([name, code]) => [code, name]));

/** `NOT_SUPPORTED` for 3: the nvml.h name without its `NVML_ERROR_` prefix. */
export function nvmlReturnName(code: number): string {
  return RETURN_NAMES.get(code) ?? `ERROR_${code}`;
}

/** nvmlTemperatureSensors_t */
export const NVML_TEMPERATURE_GPU = 0;
/** nvmlClockType_t */
export const NVML_CLOCK = { GRAPHICS: 0, SM: 1, MEM: 2, VIDEO: 3 } as const;
/** nvmlPcieUtilCounter_t (values in KB/s, 1 KB granularity) */
export const NVML_PCIE_UTIL = { TX_BYTES: 0, RX_BYTES: 1 } as const;
/** nvmlMemoryErrorType_t */
export const NVML_MEMORY_ERROR_TYPE = { CORRECTED: 0, UNCORRECTED: 1 } as const;
/** nvmlEccCounterType_t */
export const NVML_VOLATILE_ECC = 0;
/** nvmlPageRetirementCause_t */
export const NVML_PAGE_RETIREMENT_CAUSE = {
  MULTIPLE_SINGLE_BIT_ECC_ERRORS: 0,
  DOUBLE_BIT_ECC_ERROR: 1,
} as const;
/** nvmlPstates_t: NVML_PSTATE_UNKNOWN */
export const NVML_PSTATE_UNKNOWN = 32;
/** Field id of the memory (HBM) temperature for nvmlDeviceGetFieldValues. */
export const NVML_FI_DEV_MEMORY_TEMP = 82;
/** nvmlValueType_t */
export const NVML_VALUE_TYPE = {
  DOUBLE: 0,
  UNSIGNED_INT: 1,
  UNSIGNED_LONG: 2,
  UNSIGNED_LONG_LONG: 3,
  SIGNED_LONG_LONG: 4,
  SIGNED_INT: 5,
} as const;
/** Event type bit of nvmlEventTypeXidCriticalError. */
export const NVML_EVENT_TYPE_XID_CRITICAL_ERROR = 0x8n;
/** NVML_VALUE_NOT_AVAILABLE (-1) as it reads in an `unsigned long long` field such as usedGpuMemory. */
export const NVML_VALUE_NOT_AVAILABLE_ULL = 0xffff_ffff_ffff_ffffn;
/** NVML_DEVICE_MIG_ENABLE: nvmlDeviceGetMigMode's current mode when MIG is on. */
export const NVML_DEVICE_MIG_ENABLE = 1;
/** Buffer sizes from nvml.h (the _V2 sizes where there are two). */
export const NVML_BUFFER_SIZE = {
  UUID: 96, // NVML_DEVICE_UUID_V2_BUFFER_SIZE
  NAME: 96, // NVML_DEVICE_NAME_V2_BUFFER_SIZE
  SERIAL: 30, // NVML_DEVICE_SERIAL_BUFFER_SIZE
  VBIOS: 32, // NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE
  DRIVER_VERSION: 80, // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
} as const;

// Handles: `typedef struct nvmlDevice_st* nvmlDevice_t;`, `typedef struct nvmlEventSet_st* nvmlEventSet_t;`
koffi.pointer('nvmlDevice_t', koffi.opaque('nvmlDevice_st'));
koffi.pointer('nvmlEventSet_t', koffi.opaque('nvmlEventSet_st'));
for (const name of [
  'nvmlReturn_t',
  'nvmlTemperatureSensors_t',
  'nvmlClockType_t',
  'nvmlPstates_t',
  'nvmlPcieUtilCounter_t',
  'nvmlMemoryErrorType_t',
  'nvmlEccCounterType_t',
  'nvmlValueType_t',
  'nvmlPageRetirementCause_t',
]) {
  koffi.alias(name, 'int'); // C enums: int-sized
}

/** nvmlPciInfo_t (the v3 layout, what nvmlDeviceGetPciInfo_v3 fills). */
export const nvmlPciInfo_t = koffi.struct('nvmlPciInfo_t', {
  busIdLegacy: koffi.array('char', 16), // NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE
  domain: 'unsigned int',
  bus: 'unsigned int',
  device: 'unsigned int',
  pciDeviceId: 'unsigned int',
  pciSubSystemId: 'unsigned int',
  busId: koffi.array('char', 32), // NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE
});

/** nvmlUtilization_t */
export const nvmlUtilization_t = koffi.struct('nvmlUtilization_t', {
  gpu: 'unsigned int',
  memory: 'unsigned int',
});

/** nvmlMemory_t (v1: total, free, used; nvmlDeviceGetMemoryInfo). */
export const nvmlMemory_t = koffi.struct('nvmlMemory_t', {
  total: 'unsigned long long',
  free: 'unsigned long long',
  used: 'unsigned long long',
});

/** nvmlMemory_v2_t (nvmlDeviceGetMemoryInfo_v2: adds `reserved`; the caller sets `version`). */
export const nvmlMemory_v2_t = koffi.struct('nvmlMemory_v2_t', {
  version: 'unsigned int',
  total: 'unsigned long long',
  reserved: 'unsigned long long',
  free: 'unsigned long long',
  used: 'unsigned long long',
});

/** `nvmlMemory_v2`: NVML_STRUCT_VERSION(Memory, 2) = sizeof(nvmlMemory_v2_t) | 2 << 24. */
export const NVML_MEMORY_V2 = koffi.sizeof(nvmlMemory_v2_t) | (2 << 24);

/** nvmlFBCStats_t (nvmlDeviceGetFBCStats). */
export const nvmlFBCStats_t = koffi.struct('nvmlFBCStats_t', {
  sessionsCount: 'unsigned int',
  averageFPS: 'unsigned int',
  averageLatency: 'unsigned int',
});

/** nvmlProcessInfo_t (= nvmlProcessInfo_v2_t, what nvmlDeviceGetComputeRunningProcesses_v3 fills). */
export const nvmlProcessInfo_t = koffi.struct('nvmlProcessInfo_t', {
  pid: 'unsigned int',
  usedGpuMemory: 'unsigned long long',
  gpuInstanceId: 'unsigned int',
  computeInstanceId: 'unsigned int',
});

/** nvmlValue_t */
export const nvmlValue_t = koffi.union('nvmlValue_t', {
  dVal: 'double',
  siVal: 'int',
  uiVal: 'unsigned int',
  ulVal: 'unsigned long',
  ullVal: 'unsigned long long',
  sllVal: 'long long',
});

/** nvmlFieldValue_t */
export const nvmlFieldValue_t = koffi.struct('nvmlFieldValue_t', {
  fieldId: 'unsigned int',
  scopeId: 'unsigned int',
  timestamp: 'long long',
  latencyUsec: 'long long',
  valueType: 'nvmlValueType_t',
  nvmlReturn: 'nvmlReturn_t',
  value: 'nvmlValue_t',
});

/** nvmlEventData_t */
export const nvmlEventData_t = koffi.struct('nvmlEventData_t', {
  device: 'nvmlDevice_t',
  eventType: 'unsigned long long',
  eventData: 'unsigned long long',
  gpuInstanceId: 'unsigned int',
  computeInstanceId: 'unsigned int',
});

/** The prototypes gpumon binds, verbatim from nvml.h (parameter names included). */
export const NVML_PROTOTYPES = {
  nvmlInit_v2: 'nvmlReturn_t nvmlInit_v2(void)',
  nvmlShutdown: 'nvmlReturn_t nvmlShutdown(void)',
  nvmlErrorString: 'const char *nvmlErrorString(nvmlReturn_t result)',
  nvmlSystemGetDriverVersion: 'nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)',
  nvmlSystemGetCudaDriverVersion_v2: 'nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)',
  nvmlDeviceGetCount_v2: 'nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)',
  nvmlDeviceGetHandleByIndex_v2:
    'nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ nvmlDevice_t *device)',
  nvmlDeviceGetIndex: 'nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)',
  nvmlDeviceGetUUID: 'nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)',
  nvmlDeviceGetName: 'nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)',
  nvmlDeviceGetSerial:
    'nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)',
  nvmlDeviceGetVbiosVersion:
    'nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length)',
  nvmlDeviceGetPciInfo_v3: 'nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)',
  nvmlDeviceGetUtilizationRates:
    'nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)',
  nvmlDeviceGetEncoderUtilization:
    'nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)',
  nvmlDeviceGetDecoderUtilization:
    'nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)',
  nvmlDeviceGetMemoryInfo: 'nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)',
  nvmlDeviceGetMemoryInfo_v2:
    'nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)',
  nvmlDeviceGetJpgUtilization:
    'nvmlReturn_t nvmlDeviceGetJpgUtilization(nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)',
  nvmlDeviceGetOfaUtilization:
    'nvmlReturn_t nvmlDeviceGetOfaUtilization(nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs)',
  nvmlDeviceGetEncoderStats:
    'nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t device, unsigned int *sessionCount, unsigned int *averageFps, unsigned int *averageLatency)',
  nvmlDeviceGetFBCStats: 'nvmlReturn_t nvmlDeviceGetFBCStats(nvmlDevice_t device, nvmlFBCStats_t *fbcStats)',
  nvmlDeviceGetCurrPcieLinkGeneration:
    'nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen)',
  nvmlDeviceGetMaxPcieLinkGeneration:
    'nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGen)',
  nvmlDeviceGetCurrPcieLinkWidth:
    'nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth)',
  nvmlDeviceGetMaxPcieLinkWidth:
    'nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int *maxLinkWidth)',
  nvmlDeviceGetRemappedRows:
    'nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows, unsigned int *isPending, unsigned int *failureOccurred)',
  nvmlDeviceGetRetiredPages:
    'nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount, unsigned long long *addresses)',
  nvmlDeviceGetTemperature:
    'nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp)',
  nvmlDeviceGetFieldValues:
    'nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values)',
  nvmlDeviceGetPowerUsage: 'nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)',
  nvmlDeviceGetEnforcedPowerLimit:
    'nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)',
  nvmlDeviceGetTotalEnergyConsumption:
    'nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy)',
  nvmlDeviceGetClockInfo:
    'nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)',
  nvmlDeviceGetFanSpeed: 'nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)',
  nvmlDeviceGetPerformanceState:
    'nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState)',
  nvmlDeviceGetCurrentClocksEventReasons:
    'nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons)',
  nvmlDeviceGetCurrentClocksThrottleReasons:
    'nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *clocksThrottleReasons)',
  nvmlDeviceGetPcieThroughput:
    'nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, nvmlPcieUtilCounter_t counter, unsigned int *value)',
  nvmlDeviceGetTotalEccErrors:
    'nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType, nvmlEccCounterType_t counterType, unsigned long long *eccCounts)',
  nvmlDeviceGetComputeRunningProcesses_v3:
    'nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos)',
  nvmlEventSetCreate: 'nvmlReturn_t nvmlEventSetCreate(_Out_ nvmlEventSet_t *set)',
  nvmlDeviceRegisterEvents:
    'nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)',
  nvmlEventSetWait_v2:
    'nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)',
  nvmlEventSetFree: 'nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)',
  nvmlDeviceGetMigMode:
    'nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)',
  nvmlDeviceGetMaxMigDeviceCount:
    'nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)',
  nvmlDeviceGetMigDeviceHandleByIndex:
    'nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, _Out_ nvmlDevice_t *migDevice)',
  nvmlDeviceGetGpuInstanceId:
    'nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)',
  nvmlDeviceGetComputeInstanceId:
    'nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)',
} as const;

export type NvmlFunctionName = keyof typeof NVML_PROTOTYPES;

/** Functions without which the source cannot work at all; the others may be missing from an old driver. */
const REQUIRED: readonly NvmlFunctionName[] = [
  'nvmlInit_v2',
  'nvmlShutdown',
  'nvmlErrorString',
  'nvmlDeviceGetCount_v2',
  'nvmlDeviceGetHandleByIndex_v2',
  'nvmlDeviceGetUUID',
];

/** An opaque NVML handle (nvmlDevice_t, nvmlEventSet_t) as koffi returns it. */
export type NvmlHandle = unknown;

// biome-ignore lint/suspicious/noExplicitAny: koffi functions take C arguments of many types
type NvmlFn = (...args: any[]) => any;

/** A loaded NVML library: its functions (missing ones absent) and where it came from. */
export interface NvmlLib {
  readonly path: string;
  readonly fn: Partial<Record<NvmlFunctionName, NvmlFn>>;
  /** NVML's own text for a return code (nvmlErrorString). */
  errorString(code: number): string;
}

const loaded = new Map<string, NvmlLib>();

/**
 * Loads the library (once per path per process) and binds the functions gpumon uses. Throws the loader's
 * error when the file cannot be loaded or lacks a required function; a missing optional function (an old
 * driver) is just absent from `fn`.
 */
export function loadNvml(path: string): NvmlLib {
  const cached = loaded.get(path);
  if (cached) return cached;
  const lib = koffi.load(path);
  const fn: Partial<Record<NvmlFunctionName, NvmlFn>> = {};
  for (const [name, prototype] of Object.entries(NVML_PROTOTYPES) as [NvmlFunctionName, string][]) {
    try {
      fn[name] = lib.func(prototype);
    } catch (err) {
      if (REQUIRED.includes(name)) throw err;
    }
  }
  const errorString = fn.nvmlErrorString as NvmlFn;
  const nvml: NvmlLib = {
    path,
    fn,
    errorString: (code) => String(errorString(code) ?? nvmlReturnName(code)),
  };
  loaded.set(path, nvml);
  return nvml;
}

/** The address a handle points to, to match an event's device against the cached handles. */
export function handleAddress(handle: NvmlHandle): bigint {
  return handle === null || handle === undefined ? 0n : koffi.address(handle);
}

/** A NUL-terminated C string out of a buffer NVML filled. */
export function cString(buffer: Buffer): string {
  const end = buffer.indexOf(0);
  return buffer.toString('utf8', 0, end < 0 ? buffer.length : end);
}

export const SIZES = {
  nvmlPciInfo_t: koffi.sizeof(nvmlPciInfo_t),
  nvmlUtilization_t: koffi.sizeof(nvmlUtilization_t),
  nvmlMemory_t: koffi.sizeof(nvmlMemory_t),
  nvmlProcessInfo_t: koffi.sizeof(nvmlProcessInfo_t),
  nvmlFieldValue_t: koffi.sizeof(nvmlFieldValue_t),
  nvmlEventData_t: koffi.sizeof(nvmlEventData_t),
  nvmlMemory_v2_t: koffi.sizeof(nvmlMemory_v2_t),
  nvmlFBCStats_t: koffi.sizeof(nvmlFBCStats_t),
} as const;

/** Byte offsets of the members the source decodes, from the struct declarations above. */
export const OFFSETS = {
  pciBusId: koffi.offsetof(nvmlPciInfo_t, 'busId'),
  utilizationGpu: koffi.offsetof(nvmlUtilization_t, 'gpu'),
  utilizationMemory: koffi.offsetof(nvmlUtilization_t, 'memory'),
  memoryTotal: koffi.offsetof(nvmlMemory_t, 'total'),
  memoryFree: koffi.offsetof(nvmlMemory_t, 'free'),
  memoryUsed: koffi.offsetof(nvmlMemory_t, 'used'),
  processPid: koffi.offsetof(nvmlProcessInfo_t, 'pid'),
  processUsedGpuMemory: koffi.offsetof(nvmlProcessInfo_t, 'usedGpuMemory'),
  processGpuInstanceId: koffi.offsetof(nvmlProcessInfo_t, 'gpuInstanceId'),
  fieldId: koffi.offsetof(nvmlFieldValue_t, 'fieldId'),
  fieldScopeId: koffi.offsetof(nvmlFieldValue_t, 'scopeId'),
  fieldValueType: koffi.offsetof(nvmlFieldValue_t, 'valueType'),
  fieldReturn: koffi.offsetof(nvmlFieldValue_t, 'nvmlReturn'),
  fieldValue: koffi.offsetof(nvmlFieldValue_t, 'value'),
  eventDevice: koffi.offsetof(nvmlEventData_t, 'device'),
  eventType: koffi.offsetof(nvmlEventData_t, 'eventType'),
  eventData: koffi.offsetof(nvmlEventData_t, 'eventData'),
  memoryV2Reserved: koffi.offsetof(nvmlMemory_v2_t, 'reserved'),
  fbcSessions: koffi.offsetof(nvmlFBCStats_t, 'sessionsCount'),
  fbcFps: koffi.offsetof(nvmlFBCStats_t, 'averageFPS'),
  fbcLatency: koffi.offsetof(nvmlFBCStats_t, 'averageLatency'),
} as const;

/** The number in an nvmlFieldValue_t's value union, read according to its valueType; null for an unknown type. */
export function fieldValueNumber(buffer: Buffer, offset = 0): number | null {
  const at = offset + OFFSETS.fieldValue;
  switch (buffer.readInt32LE(offset + OFFSETS.fieldValueType)) {
    case NVML_VALUE_TYPE.DOUBLE:
      return buffer.readDoubleLE(at);
    case NVML_VALUE_TYPE.UNSIGNED_INT:
      return buffer.readUInt32LE(at);
    case NVML_VALUE_TYPE.UNSIGNED_LONG: // 64-bit on Linux (LP64)
    case NVML_VALUE_TYPE.UNSIGNED_LONG_LONG:
      return Number(buffer.readBigUInt64LE(at));
    case NVML_VALUE_TYPE.SIGNED_LONG_LONG:
      return Number(buffer.readBigInt64LE(at));
    case NVML_VALUE_TYPE.SIGNED_INT:
      return buffer.readInt32LE(at);
    default:
      return null;
  }
}
