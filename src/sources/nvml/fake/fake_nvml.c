/*
 * A fake libnvidia-ml.so.1 for the NVML source's tests and benchmarks: no GPU, no driver.
 *
 * It exports the NVML functions gpumon uses with the exact signatures and struct layouts of NVIDIA's nvml.h
 * (NVML 12.2, as vendored in NVIDIA/go-nvml gen/nvml/nvml.h), and answers from a scenario file named by the
 * environment variable GPUMON_FAKE_NVML_SCENARIO, read at each nvmlInit_v2 that starts a session.
 *
 * Scenario format: one `key=value` per line, `#` starts a comment. A value is a number, a string, or the
 * name of an NVML error (NOT_SUPPORTED, GPU_IS_LOST, NO_PERMISSION, UNKNOWN, ... with or without the
 * NVML_ERROR_ prefix), which the function reading that key then returns. Keys:
 *
 *   init=DRIVER_NOT_LOADED                 what nvmlInit_v2 returns (default SUCCESS)
 *   driver_version=535.104.05
 *   cuda_driver_version=12020              what nvmlSystemGetCudaDriverVersion_v2 gives (1000 x major + 10 x minor)
 *   device_count=2
 *   device.N.<field>=...                   per GPU; fields: see FIELD_NAMES below (uuid, name, temperature, ...)
 *   device.N.process.K.pid=1234            compute processes (K < 32); .used=bytes or NOT_AVAILABLE;
 *   device.N.process.K.gpu_instance_id=1     .gpu_instance_id (default 0xFFFFFFFF, no MIG)
 *   device.N.lost=1                        every call on GPU N (and its MIG devices) returns GPU_IS_LOST
 *   device.N.xid=79                        queues one XID critical error event for device N
 *   device.N.mig.M.uuid=MIG-...            MIG device in slot M (M < max_mig) of GPU N; .name, .gpu_instance_id,
 *                                          .compute_instance_id, .mem_total/.mem_used/.mem_free/.mem_reserved
 *                                          (other calls on a MIG handle answer from its fields too: set them
 *                                          to NOT_SUPPORTED, as the driver answers, where a test needs it)
 *
 * Test hooks (not NVML): fake_set(key, value) applies one line at run time (fake_set("device.0.xid", "43")
 * queues an event); fake_calls(function) and fake_device_calls(function, device) count calls since the
 * library was loaded or since fake_reset_calls().
 *
 * Build: gcc -shared -fPIC -O2 -o libnvidia-ml.so.1 fake_nvml.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Types from nvml.h (NVIDIA/go-nvml gen/nvml/nvml.h, NVML 12.2.140) ---- */

typedef enum nvmlReturn_enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NO_PERMISSION = 4,
  NVML_ERROR_ALREADY_INITIALIZED = 5,
  NVML_ERROR_NOT_FOUND = 6,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_INSUFFICIENT_POWER = 8,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_TIMEOUT = 10,
  NVML_ERROR_IRQ_ISSUE = 11,
  NVML_ERROR_LIBRARY_NOT_FOUND = 12,
  NVML_ERROR_FUNCTION_NOT_FOUND = 13,
  NVML_ERROR_CORRUPTED_INFOROM = 14,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_RESET_REQUIRED = 16,
  NVML_ERROR_OPERATING_SYSTEM = 17,
  NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
  NVML_ERROR_IN_USE = 19,
  NVML_ERROR_MEMORY = 20,
  NVML_ERROR_NO_DATA = 21,
  NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
  NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;

typedef struct nvmlPciInfo_st {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;

typedef struct nvmlUtilization_st {
  unsigned int gpu;
  unsigned int memory;
} nvmlUtilization_t;

typedef struct nvmlMemory_st {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_t;

/* nvmlMemory_v2_t: what nvmlDeviceGetMemoryInfo_v2 fills; the caller sets `version` to nvmlMemory_v2. */
typedef struct nvmlMemory_v2_st {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_v2_t;
#define nvmlMemory_v2 (unsigned int)(sizeof(nvmlMemory_v2_t) | (2 << 24U))

typedef struct nvmlFBCStats_st {
  unsigned int sessionsCount;
  unsigned int averageFPS;
  unsigned int averageLatency;
} nvmlFBCStats_t;

typedef struct nvmlProcessInfo_v2_st {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef enum nvmlValueType_enum {
  NVML_VALUE_TYPE_DOUBLE = 0,
  NVML_VALUE_TYPE_UNSIGNED_INT = 1,
  NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
  NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
  NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
  NVML_VALUE_TYPE_SIGNED_INT = 5
} nvmlValueType_t;

typedef union nvmlValue_st {
  double dVal;
  int siVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  signed long long sllVal;
} nvmlValue_t;

typedef struct nvmlFieldValue_st {
  unsigned int fieldId;
  unsigned int scopeId;
  long long timestamp;
  long long latencyUsec;
  nvmlValueType_t valueType;
  nvmlReturn_t nvmlReturn;
  nvmlValue_t value;
} nvmlFieldValue_t;

typedef struct nvmlEventData_st {
  nvmlDevice_t device;
  unsigned long long eventType;
  unsigned long long eventData;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlEventData_t;

typedef int nvmlTemperatureSensors_t; /* NVML_TEMPERATURE_GPU = 0 */
typedef int nvmlClockType_t;          /* GRAPHICS 0, SM 1, MEM 2, VIDEO 3 */
typedef int nvmlPstates_t;            /* 0..15, UNKNOWN 32 */
typedef int nvmlPcieUtilCounter_t;    /* TX_BYTES 0, RX_BYTES 1 */
typedef int nvmlMemoryErrorType_t;    /* CORRECTED 0, UNCORRECTED 1 */
typedef int nvmlEccCounterType_t;     /* VOLATILE 0, AGGREGATE 1 */
typedef int nvmlPageRetirementCause_t; /* MULTIPLE_SINGLE_BIT_ECC_ERRORS 0, DOUBLE_BIT_ECC_ERROR 1 */

#define NVML_FI_DEV_MEMORY_TEMP 82
#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFULL
#define nvmlEventTypeXidCriticalError 0x0000000000000008LL

/* ---- The fake's state ---- */

#define MAX_DEVICES 64
#define MAX_MIG 8
#define MAX_PROCESSES 32
#define MAX_EVENTS 256
#define STR_LEN 96

/* Per-device fields: each has a return code, a number and a string. */
#define FIELDS(X)                                                                                             \
  X(uuid) X(name) X(serial) X(vbios) X(pci_bus_id) X(index) X(util_gpu) X(util_mem) X(encoder) X(decoder)     \
  X(mem_total) X(mem_used) X(mem_free) X(temperature) X(memory_temp) X(power_mw) X(power_limit_mw)            \
  X(energy_mj) X(clock_sm) X(clock_mem) X(clock_graphics) X(fan) X(pstate) X(clocks_event_reasons)            \
  X(pcie_tx_kbs) X(pcie_rx_kbs) X(ecc_corrected) X(ecc_uncorrected) X(processes) X(register_events)           \
  X(mig_mode) X(max_mig) X(gpu_instance_id) X(lost) X(mem_reserved) X(clock_video) X(jpeg) X(ofa)               \
  X(enc_sessions) X(enc_fps) X(enc_latency) X(fbc_sessions) X(fbc_fps) X(fbc_latency) X(pcie_gen)             \
  X(pcie_gen_max) X(pcie_width) X(pcie_width_max) X(remapped_corr) X(remapped_unc) X(retired_sbe)              \
  X(retired_dbe) X(compute_instance_id)

#define AS_ENUM(name) F_##name,
enum field { FIELDS(AS_ENUM) F_COUNT };
#define AS_NAME(name) #name,
static const char *FIELD_NAMES[] = {FIELDS(AS_NAME)};

struct value {
  nvmlReturn_t rc;
  unsigned long long num;
  char str[STR_LEN];
};

struct process {
  unsigned int pid;
  unsigned long long used;
  unsigned int gpu_instance_id;
};

struct fake_device {
  int is_mig;
  int parent;
  int present; /* MIG slot in use */
  struct value f[F_COUNT];
  struct process processes[MAX_PROCESSES];
  unsigned int process_count;
};

/* Parents at [0, MAX_DEVICES); MIG device M of parent N at MAX_DEVICES + N * MAX_MIG + M. */
static struct fake_device devices[MAX_DEVICES + MAX_DEVICES * MAX_MIG];
static nvmlReturn_t init_rc;
static struct value driver_version;
static struct value cuda_driver_version;
static unsigned int device_count;
static int refcount;

struct event {
  int device;
  unsigned long long xid;
};
static struct event events[MAX_EVENTS];
static int event_head, event_tail;
static int event_set_open;
static unsigned long long registered[MAX_DEVICES];

/* ---- Call counting ---- */

#define FUNCTIONS(X)                                                                                          \
  X(nvmlInit_v2) X(nvmlShutdown) X(nvmlErrorString) X(nvmlSystemGetDriverVersion) X(nvmlDeviceGetCount_v2)    \
  X(nvmlDeviceGetHandleByIndex_v2) X(nvmlDeviceGetIndex) X(nvmlDeviceGetUUID) X(nvmlDeviceGetName)            \
  X(nvmlDeviceGetSerial) X(nvmlDeviceGetVbiosVersion) X(nvmlDeviceGetPciInfo_v3)                               \
  X(nvmlDeviceGetUtilizationRates) X(nvmlDeviceGetEncoderUtilization) X(nvmlDeviceGetDecoderUtilization)       \
  X(nvmlDeviceGetMemoryInfo) X(nvmlDeviceGetTemperature) X(nvmlDeviceGetFieldValues) X(nvmlDeviceGetPowerUsage) \
  X(nvmlDeviceGetEnforcedPowerLimit) X(nvmlDeviceGetTotalEnergyConsumption) X(nvmlDeviceGetClockInfo)          \
  X(nvmlDeviceGetFanSpeed) X(nvmlDeviceGetPerformanceState) X(nvmlDeviceGetCurrentClocksEventReasons)          \
  X(nvmlDeviceGetCurrentClocksThrottleReasons) X(nvmlDeviceGetPcieThroughput) X(nvmlDeviceGetTotalEccErrors)   \
  X(nvmlDeviceGetComputeRunningProcesses_v3) X(nvmlEventSetCreate) X(nvmlDeviceRegisterEvents)                 \
  X(nvmlEventSetWait_v2) X(nvmlEventSetFree) X(nvmlDeviceGetMigMode) X(nvmlDeviceGetMaxMigDeviceCount)         \
  X(nvmlDeviceGetMigDeviceHandleByIndex) X(nvmlDeviceGetGpuInstanceId) X(nvmlSystemGetCudaDriverVersion_v2)       \
  X(nvmlDeviceGetMemoryInfo_v2) X(nvmlDeviceGetJpgUtilization) X(nvmlDeviceGetOfaUtilization)                  \
  X(nvmlDeviceGetEncoderStats) X(nvmlDeviceGetFBCStats) X(nvmlDeviceGetCurrPcieLinkGeneration)                 \
  X(nvmlDeviceGetMaxPcieLinkGeneration) X(nvmlDeviceGetCurrPcieLinkWidth) X(nvmlDeviceGetMaxPcieLinkWidth)     \
  X(nvmlDeviceGetRemappedRows) X(nvmlDeviceGetRetiredPages) X(nvmlDeviceGetComputeInstanceId)

#define AS_FN_ENUM(name) FN_##name,
enum function { FUNCTIONS(AS_FN_ENUM) FN_COUNT };
#define AS_FN_NAME(name) #name,
static const char *FUNCTION_NAMES[] = {FUNCTIONS(AS_FN_NAME)};

#define COUNT_SLOTS (MAX_DEVICES + MAX_DEVICES * MAX_MIG + 1)
static unsigned long long calls[FN_COUNT][COUNT_SLOTS];

static void count(enum function fn, int device) {
  calls[fn][device < 0 ? COUNT_SLOTS - 1 : device]++;
}

unsigned long long fake_calls(const char *function) {
  for (int fn = 0; fn < FN_COUNT; fn++) {
    if (strcmp(FUNCTION_NAMES[fn], function) == 0) {
      unsigned long long total = 0;
      for (int d = 0; d < COUNT_SLOTS; d++) total += calls[fn][d];
      return total;
    }
  }
  return 0;
}

/* Calls of `function` on parent GPU `device` (MIG handles count apart). */
unsigned long long fake_device_calls(const char *function, unsigned int device) {
  if (device >= MAX_DEVICES) return 0;
  for (int fn = 0; fn < FN_COUNT; fn++)
    if (strcmp(FUNCTION_NAMES[fn], function) == 0) return calls[fn][device];
  return 0;
}

void fake_reset_calls(void) { memset(calls, 0, sizeof calls); }

/* ---- Scenario parsing ---- */

static const struct {
  const char *name;
  nvmlReturn_t rc;
} ERRORS[] = {
    {"SUCCESS", NVML_SUCCESS},
    {"UNINITIALIZED", NVML_ERROR_UNINITIALIZED},
    {"INVALID_ARGUMENT", NVML_ERROR_INVALID_ARGUMENT},
    {"NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED},
    {"NO_PERMISSION", NVML_ERROR_NO_PERMISSION},
    {"NOT_FOUND", NVML_ERROR_NOT_FOUND},
    {"INSUFFICIENT_SIZE", NVML_ERROR_INSUFFICIENT_SIZE},
    {"INSUFFICIENT_POWER", NVML_ERROR_INSUFFICIENT_POWER},
    {"DRIVER_NOT_LOADED", NVML_ERROR_DRIVER_NOT_LOADED},
    {"TIMEOUT", NVML_ERROR_TIMEOUT},
    {"IRQ_ISSUE", NVML_ERROR_IRQ_ISSUE},
    {"LIBRARY_NOT_FOUND", NVML_ERROR_LIBRARY_NOT_FOUND},
    {"FUNCTION_NOT_FOUND", NVML_ERROR_FUNCTION_NOT_FOUND},
    {"CORRUPTED_INFOROM", NVML_ERROR_CORRUPTED_INFOROM},
    {"GPU_IS_LOST", NVML_ERROR_GPU_IS_LOST},
    {"RESET_REQUIRED", NVML_ERROR_RESET_REQUIRED},
    {"OPERATING_SYSTEM", NVML_ERROR_OPERATING_SYSTEM},
    {"LIB_RM_VERSION_MISMATCH", NVML_ERROR_LIB_RM_VERSION_MISMATCH},
    {"IN_USE", NVML_ERROR_IN_USE},
    {"MEMORY", NVML_ERROR_MEMORY},
    {"NO_DATA", NVML_ERROR_NO_DATA},
    {"UNKNOWN", NVML_ERROR_UNKNOWN},
};

static int parse_error(const char *text, nvmlReturn_t *rc) {
  if (strncmp(text, "NVML_ERROR_", 11) == 0) text += 11;
  for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
    if (strcmp(ERRORS[i].name, text) == 0) {
      *rc = ERRORS[i].rc;
      return 1;
    }
  }
  return 0;
}

static void set_value(struct value *v, const char *text) {
  if (parse_error(text, &v->rc)) return;
  v->rc = NVML_SUCCESS;
  snprintf(v->str, STR_LEN, "%s", text);
  v->num = strtoull(text, NULL, 0);
}

static void queue_xid(int device, unsigned long long xid) {
  int next = (event_tail + 1) % MAX_EVENTS;
  if (next == event_head) return; /* full: dropped, like a driver queue overflowing */
  events[event_tail].device = device;
  events[event_tail].xid = xid;
  event_tail = next;
}

static void apply(const char *key, const char *value) {
  unsigned int n, m;
  int used;
  char rest[128];
  if (strcmp(key, "init") == 0) {
    if (!parse_error(value, &init_rc)) init_rc = NVML_SUCCESS;
  } else if (strcmp(key, "driver_version") == 0) {
    set_value(&driver_version, value);
  } else if (strcmp(key, "cuda_driver_version") == 0) {
    set_value(&cuda_driver_version, value);
  } else if (strcmp(key, "device_count") == 0) {
    device_count = (unsigned int)strtoul(value, NULL, 0);
    if (device_count > MAX_DEVICES) device_count = MAX_DEVICES;
  } else if (sscanf(key, "device.%u.%n", &n, &used) == 1 && n < MAX_DEVICES) {
    snprintf(rest, sizeof rest, "%s", key + used);
    struct fake_device *d = &devices[n];
    char sub[64];
    if (sscanf(rest, "process.%u.%63s", &m, sub) == 2 && m < MAX_PROCESSES) {
      if (m + 1 > d->process_count) d->process_count = m + 1;
      struct process *p = &d->processes[m];
      if (strcmp(sub, "pid") == 0) p->pid = (unsigned int)strtoul(value, NULL, 0);
      else if (strcmp(sub, "used") == 0)
        p->used = strcmp(value, "NOT_AVAILABLE") == 0 ? NVML_VALUE_NOT_AVAILABLE_ULL : strtoull(value, NULL, 0);
      else if (strcmp(sub, "gpu_instance_id") == 0) p->gpu_instance_id = (unsigned int)strtoul(value, NULL, 0);
    } else if (sscanf(rest, "mig.%u.%63s", &m, sub) == 2 && m < MAX_MIG) {
      struct fake_device *mig = &devices[MAX_DEVICES + n * MAX_MIG + m];
      mig->present = 1;
      for (int f = 0; f < F_COUNT; f++)
        if (strcmp(FIELD_NAMES[f], sub) == 0) set_value(&mig->f[f], value);
    } else if (strcmp(rest, "xid") == 0) {
      queue_xid((int)n, strtoull(value, NULL, 0));
    } else {
      for (int f = 0; f < F_COUNT; f++)
        if (strcmp(FIELD_NAMES[f], rest) == 0) set_value(&d->f[f], value);
    }
  }
}

static void reset_state(void) {
  memset(devices, 0, sizeof devices);
  for (int i = 0; i < MAX_DEVICES + MAX_DEVICES * MAX_MIG; i++) {
    struct fake_device *d = &devices[i];
    d->is_mig = i >= MAX_DEVICES;
    d->parent = d->is_mig ? (i - MAX_DEVICES) / MAX_MIG : i;
    for (int p = 0; p < MAX_PROCESSES; p++) d->processes[p].gpu_instance_id = 0xFFFFFFFFu;
    if (!d->is_mig) {
      /* Defaults: a plausible idle GPU, so a scenario only states what it is about. */
      char text[STR_LEN];
      snprintf(text, sizeof text, "GPU-fa4e0000-0000-4000-8000-%012d", i);
      set_value(&d->f[F_uuid], text);
      set_value(&d->f[F_name], "NVIDIA Fake GPU");
      snprintf(text, sizeof text, "%d", 1320000000 + i);
      set_value(&d->f[F_serial], text);
      set_value(&d->f[F_vbios], "96.00.00.00.01");
      snprintf(text, sizeof text, "00000000:%02X:00.0", 0x10 + i);
      set_value(&d->f[F_pci_bus_id], text);
      d->f[F_index].num = (unsigned long long)i;
      d->f[F_mem_total].num = 85899345920ULL;
      d->f[F_mem_free].num = 85899345920ULL;
      d->f[F_temperature].num = 30;
      d->f[F_memory_temp].num = 32;
      d->f[F_power_mw].num = 60000;
      d->f[F_power_limit_mw].num = 700000;
      d->f[F_energy_mj].num = 1000000;
      d->f[F_clock_sm].num = 345;
      d->f[F_clock_mem].num = 2619;
      d->f[F_clock_graphics].num = 345;
      d->f[F_fan].num = 30;
      d->f[F_pstate].num = 8;
      d->f[F_clocks_event_reasons].num = 1;
      d->f[F_clock_video].num = 1275;
      d->f[F_pcie_gen].num = 4;
      d->f[F_pcie_gen_max].num = 5;
      d->f[F_pcie_width].num = 16;
      d->f[F_pcie_width_max].num = 16;
      d->f[F_max_mig].num = MAX_MIG - 1;
      d->f[F_gpu_instance_id].rc = NVML_ERROR_INVALID_ARGUMENT;
      d->f[F_compute_instance_id].rc = NVML_ERROR_INVALID_ARGUMENT;
    } else {
      d->f[F_index].rc = NVML_ERROR_NOT_SUPPORTED;
    }
  }
  init_rc = NVML_SUCCESS;
  set_value(&driver_version, "535.104.05");
  set_value(&cuda_driver_version, "12020");
  device_count = 0;
  event_head = event_tail = 0;
  memset(registered, 0, sizeof registered);
}

static void load_scenario(void) {
  reset_state();
  const char *path = getenv("GPUMON_FAKE_NVML_SCENARIO");
  if (!path || !*path) return;
  FILE *file = fopen(path, "r");
  if (!file) {
    init_rc = NVML_ERROR_UNKNOWN;
    return;
  }
  char line[512];
  while (fgets(line, sizeof line, file)) {
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = 0;
    char *key = line, *value = eq + 1;
    while (*key == ' ' || *key == '\t') key++;
    for (char *e = key + strlen(key); e > key && (e[-1] == ' ' || e[-1] == '\t'); e--) e[-1] = 0;
    while (*value == ' ' || *value == '\t') value++;
    for (char *e = value + strlen(value); e > value && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'); e--)
      e[-1] = 0;
    apply(key, value);
  }
  fclose(file);
}

/* Applies one scenario line at run time (tests: an XID arrives, a value changes). */
void fake_set(const char *key, const char *value) { apply(key, value); }

/* ---- Handles ---- */

static int device_of(nvmlDevice_t handle) {
  struct fake_device *d = (struct fake_device *)handle;
  if (d < devices || d >= devices + MAX_DEVICES + MAX_DEVICES * MAX_MIG) return -1;
  int i = (int)(d - devices);
  if (!d->is_mig && (unsigned int)i >= device_count) return -1;
  if (d->is_mig && !d->present) return -1;
  return i;
}

#define ENTER(fn, handle)                                                                                     \
  int dev = device_of(handle);                                                                                \
  count(FN_##fn, dev);                                                                                        \
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;                                                         \
  if (dev < 0) return NVML_ERROR_INVALID_ARGUMENT;                                                            \
  struct fake_device *d = &devices[dev];                                                                      \
  if (devices[d->parent].f[F_lost].num) return NVML_ERROR_GPU_IS_LOST;

#define FIELD(name)                                                                                           \
  do {                                                                                                        \
    if (d->f[F_##name].rc != NVML_SUCCESS) return d->f[F_##name].rc;                                          \
  } while (0)

static nvmlReturn_t copy_string(const struct value *v, char *out, unsigned int length) {
  if (v->rc != NVML_SUCCESS) return v->rc;
  if (!out) return NVML_ERROR_INVALID_ARGUMENT;
  if (strlen(v->str) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(out, v->str, strlen(v->str) + 1);
  return NVML_SUCCESS;
}

/* ---- Initialization and errors ---- */

nvmlReturn_t nvmlInit_v2(void) {
  count(FN_nvmlInit_v2, -1);
  if (refcount == 0) load_scenario();
  if (init_rc != NVML_SUCCESS) return init_rc;
  refcount++;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  count(FN_nvmlShutdown, -1);
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  refcount--;
  return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
  count(FN_nvmlErrorString, -1);
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  count(FN_nvmlSystemGetDriverVersion, -1);
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  return copy_string(&driver_version, version, length);
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
  count(FN_nvmlSystemGetCudaDriverVersion_v2, -1);
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  if (cuda_driver_version.rc != NVML_SUCCESS) return cuda_driver_version.rc;
  *cudaDriverVersion = (int)cuda_driver_version.num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
  count(FN_nvmlDeviceGetCount_v2, -1);
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  *deviceCount = device_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  count(FN_nvmlDeviceGetHandleByIndex_v2, index < MAX_DEVICES ? (int)index : -1);
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  if (index >= device_count || !device) return NVML_ERROR_INVALID_ARGUMENT;
  *device = (nvmlDevice_t)&devices[index];
  return NVML_SUCCESS;
}

/* ---- Identity ---- */

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
  ENTER(nvmlDeviceGetIndex, device);
  FIELD(index);
  *index = (unsigned int)d->f[F_index].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  ENTER(nvmlDeviceGetUUID, device);
  return copy_string(&d->f[F_uuid], uuid, length);
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  ENTER(nvmlDeviceGetName, device);
  return copy_string(&d->f[F_name], name, length);
}

nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length) {
  ENTER(nvmlDeviceGetSerial, device);
  return copy_string(&d->f[F_serial], serial, length);
}

nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length) {
  ENTER(nvmlDeviceGetVbiosVersion, device);
  return copy_string(&d->f[F_vbios], version, length);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
  ENTER(nvmlDeviceGetPciInfo_v3, device);
  FIELD(pci_bus_id);
  memset(pci, 0, sizeof *pci);
  unsigned int domain = 0, bus = 0, dev_no = 0;
  sscanf(d->f[F_pci_bus_id].str, "%x:%x:%x", &domain, &bus, &dev_no);
  pci->domain = domain;
  pci->bus = bus;
  pci->device = dev_no;
  pci->pciDeviceId = 0x233010DE;
  pci->pciSubSystemId = 0x16C110DE;
  snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", domain & 0xFFFF, bus, dev_no);
  snprintf(pci->busId, sizeof pci->busId, "%s", d->f[F_pci_bus_id].str);
  return NVML_SUCCESS;
}

/* ---- Metrics ---- */

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
  ENTER(nvmlDeviceGetUtilizationRates, device);
  FIELD(util_gpu);
  FIELD(util_mem);
  utilization->gpu = (unsigned int)d->f[F_util_gpu].num;
  utilization->memory = (unsigned int)d->f[F_util_mem].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                             unsigned int *samplingPeriodUs) {
  ENTER(nvmlDeviceGetEncoderUtilization, device);
  FIELD(encoder);
  *utilization = (unsigned int)d->f[F_encoder].num;
  *samplingPeriodUs = 167000;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                             unsigned int *samplingPeriodUs) {
  ENTER(nvmlDeviceGetDecoderUtilization, device);
  FIELD(decoder);
  *utilization = (unsigned int)d->f[F_decoder].num;
  *samplingPeriodUs = 167000;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
  ENTER(nvmlDeviceGetMemoryInfo, device);
  FIELD(mem_total);
  memory->total = d->f[F_mem_total].num;
  memory->used = d->f[F_mem_used].num;
  memory->free = d->f[F_mem_free].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
  ENTER(nvmlDeviceGetMemoryInfo_v2, device);
  if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  FIELD(mem_total);
  FIELD(mem_reserved);
  memory->total = d->f[F_mem_total].num;
  memory->reserved = d->f[F_mem_reserved].num;
  memory->used = d->f[F_mem_used].num;
  memory->free = d->f[F_mem_free].num;
  return NVML_SUCCESS;
}

/* An `unsigned int *utilization, unsigned int *samplingPeriodUs` call answering from one field. */
#define ENGINE_UTILIZATION(fn, name)                                                                          \
  nvmlReturn_t fn(nvmlDevice_t device, unsigned int *utilization, unsigned int *samplingPeriodUs) {           \
    ENTER(fn, device);                                                                                        \
    FIELD(name);                                                                                              \
    *utilization = (unsigned int)d->f[F_##name].num;                                                          \
    *samplingPeriodUs = 167000;                                                                               \
    return NVML_SUCCESS;                                                                                      \
  }
ENGINE_UTILIZATION(nvmlDeviceGetJpgUtilization, jpeg)
ENGINE_UTILIZATION(nvmlDeviceGetOfaUtilization, ofa)

nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t device, unsigned int *sessionCount, unsigned int *averageFps,
                                       unsigned int *averageLatency) {
  ENTER(nvmlDeviceGetEncoderStats, device);
  FIELD(enc_sessions);
  *sessionCount = (unsigned int)d->f[F_enc_sessions].num;
  *averageFps = (unsigned int)d->f[F_enc_fps].num;
  *averageLatency = (unsigned int)d->f[F_enc_latency].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFBCStats(nvmlDevice_t device, nvmlFBCStats_t *fbcStats) {
  ENTER(nvmlDeviceGetFBCStats, device);
  FIELD(fbc_sessions);
  fbcStats->sessionsCount = (unsigned int)d->f[F_fbc_sessions].num;
  fbcStats->averageFPS = (unsigned int)d->f[F_fbc_fps].num;
  fbcStats->averageLatency = (unsigned int)d->f[F_fbc_latency].num;
  return NVML_SUCCESS;
}

/* An `unsigned int *` call answering from one field. */
#define UINT_CALL(fn, name)                                                                                   \
  nvmlReturn_t fn(nvmlDevice_t device, unsigned int *value) {                                                 \
    ENTER(fn, device);                                                                                        \
    FIELD(name);                                                                                              \
    *value = (unsigned int)d->f[F_##name].num;                                                                \
    return NVML_SUCCESS;                                                                                      \
  }
UINT_CALL(nvmlDeviceGetCurrPcieLinkGeneration, pcie_gen)
UINT_CALL(nvmlDeviceGetMaxPcieLinkGeneration, pcie_gen_max)
UINT_CALL(nvmlDeviceGetCurrPcieLinkWidth, pcie_width)
UINT_CALL(nvmlDeviceGetMaxPcieLinkWidth, pcie_width_max)

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                       unsigned int *isPending, unsigned int *failureOccurred) {
  ENTER(nvmlDeviceGetRemappedRows, device);
  FIELD(remapped_corr);
  *corrRows = (unsigned int)d->f[F_remapped_corr].num;
  *uncRows = (unsigned int)d->f[F_remapped_unc].num;
  *isPending = 0;
  *failureOccurred = 0;
  return NVML_SUCCESS;
}

/* Asked with *pageCount 0 for the count alone: INSUFFICIENT_SIZE with the count when there are pages. */
nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount,
                                       unsigned long long *addresses) {
  ENTER(nvmlDeviceGetRetiredPages, device);
  enum field f = cause == 0 ? F_retired_sbe : cause == 1 ? F_retired_dbe : F_COUNT;
  if (f == F_COUNT || !pageCount) return NVML_ERROR_INVALID_ARGUMENT;
  if (d->f[f].rc != NVML_SUCCESS) return d->f[f].rc;
  unsigned int pages = (unsigned int)d->f[f].num;
  if (*pageCount < pages) {
    *pageCount = pages;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  for (unsigned int i = 0; i < pages && addresses; i++) addresses[i] = 0x1000ULL * (i + 1);
  *pageCount = pages;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                      unsigned int *temp) {
  ENTER(nvmlDeviceGetTemperature, device);
  if (sensorType != 0) return NVML_ERROR_INVALID_ARGUMENT;
  FIELD(temperature);
  *temp = (unsigned int)d->f[F_temperature].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values) {
  ENTER(nvmlDeviceGetFieldValues, device);
  for (int i = 0; i < valuesCount; i++) {
    nvmlFieldValue_t *v = &values[i];
    v->timestamp = 1764028800000000LL;
    v->latencyUsec = 0;
    if (v->fieldId == NVML_FI_DEV_MEMORY_TEMP) {
      v->nvmlReturn = d->f[F_memory_temp].rc;
      v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
      v->value.ullVal = 0;
      v->value.uiVal = (unsigned int)d->f[F_memory_temp].num;
    } else {
      v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
    }
  }
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
  ENTER(nvmlDeviceGetPowerUsage, device);
  FIELD(power_mw);
  *power = (unsigned int)d->f[F_power_mw].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
  ENTER(nvmlDeviceGetEnforcedPowerLimit, device);
  FIELD(power_limit_mw);
  *limit = (unsigned int)d->f[F_power_limit_mw].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
  ENTER(nvmlDeviceGetTotalEnergyConsumption, device);
  FIELD(energy_mj);
  *energy = d->f[F_energy_mj].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
  ENTER(nvmlDeviceGetClockInfo, device);
  enum field f = type == 0   ? F_clock_graphics
                 : type == 1 ? F_clock_sm
                 : type == 2 ? F_clock_mem
                 : type == 3 ? F_clock_video
                             : F_COUNT;
  if (f == F_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
  if (d->f[f].rc != NVML_SUCCESS) return d->f[f].rc;
  *clock = (unsigned int)d->f[f].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed) {
  ENTER(nvmlDeviceGetFanSpeed, device);
  FIELD(fan);
  *speed = (unsigned int)d->f[F_fan].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState) {
  ENTER(nvmlDeviceGetPerformanceState, device);
  FIELD(pstate);
  *pState = (nvmlPstates_t)d->f[F_pstate].num;
  return NVML_SUCCESS;
}

#ifndef FAKE_NVML_NO_CLOCKS_EVENT_REASONS
/* Added in NVML 12.2 (driver 535); older drivers only have the ...ThrottleReasons name below. */
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons) {
  ENTER(nvmlDeviceGetCurrentClocksEventReasons, device);
  FIELD(clocks_event_reasons);
  *clocksEventReasons = d->f[F_clocks_event_reasons].num;
  return NVML_SUCCESS;
}
#endif

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                       unsigned long long *clocksThrottleReasons) {
  ENTER(nvmlDeviceGetCurrentClocksThrottleReasons, device);
  FIELD(clocks_event_reasons);
  *clocksThrottleReasons = d->f[F_clocks_event_reasons].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, nvmlPcieUtilCounter_t counter, unsigned int *value) {
  ENTER(nvmlDeviceGetPcieThroughput, device);
  enum field f = counter == 0 ? F_pcie_tx_kbs : counter == 1 ? F_pcie_rx_kbs : F_COUNT;
  if (f == F_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
  if (d->f[f].rc != NVML_SUCCESS) return d->f[f].rc;
  *value = (unsigned int)d->f[f].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                         nvmlEccCounterType_t counterType, unsigned long long *eccCounts) {
  ENTER(nvmlDeviceGetTotalEccErrors, device);
  if (counterType != 0 && counterType != 1) return NVML_ERROR_INVALID_ARGUMENT;
  enum field f = errorType == 0 ? F_ecc_corrected : errorType == 1 ? F_ecc_uncorrected : F_COUNT;
  if (f == F_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
  if (d->f[f].rc != NVML_SUCCESS) return d->f[f].rc;
  *eccCounts = d->f[f].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos) {
  ENTER(nvmlDeviceGetComputeRunningProcesses_v3, device);
  FIELD(processes);
  if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;
  unsigned int n = 0;
  for (unsigned int i = 0; i < d->process_count; i++)
    if (d->processes[i].pid) n++;
  if (*infoCount < n || (n > 0 && !infos)) {
    *infoCount = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  unsigned int k = 0;
  for (unsigned int i = 0; i < d->process_count; i++) {
    if (!d->processes[i].pid) continue;
    infos[k].pid = d->processes[i].pid;
    infos[k].usedGpuMemory = d->processes[i].used;
    infos[k].gpuInstanceId = d->processes[i].gpu_instance_id;
    infos[k].computeInstanceId = d->processes[i].gpu_instance_id == 0xFFFFFFFFu ? 0xFFFFFFFFu : 0;
    k++;
  }
  *infoCount = n;
  return NVML_SUCCESS;
}

/* ---- Events ---- */

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
  count(FN_nvmlEventSetCreate, -1);
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  static int the_set;
  event_set_open = 1;
  *set = (nvmlEventSet_t)&the_set;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set) {
  ENTER(nvmlDeviceRegisterEvents, device);
  FIELD(register_events);
  if (!set || !event_set_open) return NVML_ERROR_INVALID_ARGUMENT;
  registered[dev] |= eventTypes;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
  count(FN_nvmlEventSetWait_v2, -1);
  (void)timeoutms;
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  if (!set || !event_set_open || !data) return NVML_ERROR_INVALID_ARGUMENT;
  while (event_head != event_tail) {
    struct event e = events[event_head];
    event_head = (event_head + 1) % MAX_EVENTS;
    if (!(registered[e.device] & nvmlEventTypeXidCriticalError)) continue;
    data->device = (nvmlDevice_t)&devices[e.device];
    data->eventType = nvmlEventTypeXidCriticalError;
    data->eventData = e.xid;
    data->gpuInstanceId = 0xFFFFFFFFu;
    data->computeInstanceId = 0xFFFFFFFFu;
    return NVML_SUCCESS;
  }
  return NVML_ERROR_TIMEOUT;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
  count(FN_nvmlEventSetFree, -1);
  if (refcount == 0) return NVML_ERROR_UNINITIALIZED;
  if (!set) return NVML_ERROR_INVALID_ARGUMENT;
  event_set_open = 0;
  memset(registered, 0, sizeof registered);
  return NVML_SUCCESS;
}

/* ---- MIG ---- */

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
  ENTER(nvmlDeviceGetMigMode, device);
  FIELD(mig_mode);
  *currentMode = (unsigned int)d->f[F_mig_mode].num;
  *pendingMode = (unsigned int)d->f[F_mig_mode].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count_out) {
  ENTER(nvmlDeviceGetMaxMigDeviceCount, device);
  FIELD(max_mig);
  *count_out = (unsigned int)d->f[F_max_mig].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice) {
  ENTER(nvmlDeviceGetMigDeviceHandleByIndex, device);
  if (d->is_mig || index >= MAX_MIG) return NVML_ERROR_INVALID_ARGUMENT;
  struct fake_device *mig = &devices[MAX_DEVICES + dev * MAX_MIG + index];
  if (!mig->present) return NVML_ERROR_NOT_FOUND;
  *migDevice = (nvmlDevice_t)mig;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id) {
  ENTER(nvmlDeviceGetGpuInstanceId, device);
  FIELD(gpu_instance_id);
  *id = (unsigned int)d->f[F_gpu_instance_id].num;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id) {
  ENTER(nvmlDeviceGetComputeInstanceId, device);
  FIELD(compute_instance_id);
  *id = (unsigned int)d->f[F_compute_instance_id].num;
  return NVML_SUCCESS;
}

/* ---- Layout check (tests compare it with the koffi declarations in nvml-lib.ts) ---- */

#include <stddef.h>
#define LAYOUT(type, member) {#type "." #member, offsetof(type, member)},
#define SIZE(type) {#type, sizeof(type)},
static const struct {
  const char *what;
  size_t value;
} LAYOUTS[] = {
    SIZE(nvmlPciInfo_t) SIZE(nvmlUtilization_t) SIZE(nvmlMemory_t) SIZE(nvmlProcessInfo_t)
    SIZE(nvmlFieldValue_t) SIZE(nvmlEventData_t) SIZE(nvmlMemory_v2_t) SIZE(nvmlFBCStats_t)
    LAYOUT(nvmlPciInfo_t, busId) LAYOUT(nvmlUtilization_t, memory) LAYOUT(nvmlMemory_t, free)
    LAYOUT(nvmlMemory_t, used) LAYOUT(nvmlProcessInfo_t, usedGpuMemory) LAYOUT(nvmlProcessInfo_t, gpuInstanceId)
    LAYOUT(nvmlFieldValue_t, valueType) LAYOUT(nvmlFieldValue_t, nvmlReturn) LAYOUT(nvmlFieldValue_t, value)
    LAYOUT(nvmlEventData_t, eventType) LAYOUT(nvmlEventData_t, eventData) LAYOUT(nvmlMemory_v2_t, reserved)
    LAYOUT(nvmlFBCStats_t, averageFPS) LAYOUT(nvmlFBCStats_t, averageLatency)
};

/* `sizeof` of a type ("nvmlMemory_t") or `offsetof` of a member ("nvmlMemory_t.used"); -1 if unknown. */
long long fake_layout(const char *what) {
  for (size_t i = 0; i < sizeof LAYOUTS / sizeof LAYOUTS[0]; i++)
    if (strcmp(LAYOUTS[i].what, what) == 0) return (long long)LAYOUTS[i].value;
  return -1;
}
