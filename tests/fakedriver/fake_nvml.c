/* A stand-in libnvidia-ml.so.1 for the fast tests: tvwizard's ctypes NVML binding is called
 * through a real shared library with nvml.h's C signatures, so argument passing, buffer
 * sizes, the nvmlMemory_t layout and 64-bit device handles are exercised for real.
 *
 * It behaves like the real library where tvwizard depends on it: every call before
 * nvmlInit returns NVML_ERROR_UNINITIALIZED, a buffer shorter than the string returns
 * NVML_ERROR_INSUFFICIENT_SIZE, a handle that is not one it gave out returns
 * NVML_ERROR_INVALID_ARGUMENT, a GPU without MIG returns NVML_ERROR_NOT_SUPPORTED.
 *
 * Configured by the file named in FAKE_NVML_CONFIG, one setting per line:
 *     init=9                        nvmlInit's return code (default 0)
 *     hang=30                       seconds nvmlInit sleeps first
 *     driver=470.82.01
 *     cuda=11040                    nvmlSystemGetCudaDriverVersion(_v2)
 *     gpu=NAME;UUID;MAJOR;MINOR;BYTES;MIG    MIG: -1 not supported, 0 disabled, 1 enabled
 *     fail=INDEX;FIELD;CODE         FIELD: name uuid cc memory mig handle
 *     migdev=GPU;SLOT;UUID;BYTES    a MIG device (compute instance) in slot SLOT (0..6) of GPU
 * Each call's name is appended to the file named in FAKE_NVML_LOG, when set.
 * Built with -DOLD_NVML it is a pre-R450 driver's library: no _v2 entry points, no
 * nvmlDeviceGetCudaComputeCapability, no MIG calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct fake_device *nvmlDevice_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

enum {
    SUCCESS = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, NOT_FOUND = 6,
    INSUFFICIENT_SIZE = 7, UNKNOWN = 999
};

#define MAX_GPUS 16
#define MIG_SLOTS 7 /* nvmlDeviceGetMaxMigDeviceCount on an A100/H100 */
struct fake_device {
    char name[128], uuid[128];
    int major, minor, mig;
    unsigned long long memory;
    int fail_name, fail_uuid, fail_cc, fail_memory, fail_mig, fail_handle;
    int parent, slot; /* MIG devices: their GPU's index and slot; GPUs: -1 */
};

/* heap: handles are full 64-bit pointers; MIG devices follow the GPUs in the same array */
static struct fake_device *devices;
static unsigned int count, mig_count;
static int init_code, hang_seconds, initialized;
static long long cuda_version = 12040;
static char driver[80] = "550.54.15";

static void log_call(const char *name) {
    const char *path = getenv("FAKE_NVML_LOG");
    FILE *f;
    if (!path || !(f = fopen(path, "a"))) return;
    fprintf(f, "%s\n", name);
    fclose(f);
}

static void parse_gpu(char *spec) {
    struct fake_device *d;
    char *field[6] = {0};
    int n = 0;
    char *p = spec;
    if (count >= MAX_GPUS) return;
    while (n < 6) {
        field[n++] = p;
        p = strchr(p, ';');
        if (!p) break;
        *p++ = 0;
    }
    d = &devices[count++];
    snprintf(d->name, sizeof d->name, "%s", field[0] ? field[0] : "");
    snprintf(d->uuid, sizeof d->uuid, "%s", field[1] ? field[1] : "");
    d->major = field[2] ? atoi(field[2]) : 0;
    d->minor = field[3] ? atoi(field[3]) : 0;
    d->memory = field[4] ? strtoull(field[4], NULL, 10) : 0;
    d->mig = field[5] ? atoi(field[5]) : -1;
    d->parent = -1;
}

static void parse_migdev(char *spec) {
    int parent, slot;
    char uuid[128];
    unsigned long long bytes;
    struct fake_device *d;
    if (mig_count >= MAX_GPUS) return;
    if (sscanf(spec, "%d;%d;%127[^;];%llu", &parent, &slot, uuid, &bytes) != 4) return;
    d = &devices[MAX_GPUS + mig_count++];
    d->parent = parent;
    d->slot = slot;
    d->mig = -1;
    d->memory = bytes;
    snprintf(d->uuid, sizeof d->uuid, "%s", uuid);
    snprintf(d->name, sizeof d->name, "MIG device");
}

static void parse_fail(char *spec) {
    unsigned int index;
    char field[32];
    int code;
    struct fake_device *d;
    if (sscanf(spec, "%u;%31[^;];%d", &index, field, &code) != 3 || index >= count) return;
    d = &devices[index];
    if (!strcmp(field, "name")) d->fail_name = code;
    else if (!strcmp(field, "uuid")) d->fail_uuid = code;
    else if (!strcmp(field, "cc")) d->fail_cc = code;
    else if (!strcmp(field, "memory")) d->fail_memory = code;
    else if (!strcmp(field, "mig")) d->fail_mig = code;
    else if (!strcmp(field, "handle")) d->fail_handle = code;
}

static void load_config(void) {
    const char *path = getenv("FAKE_NVML_CONFIG");
    char line[512];
    FILE *f;
    count = mig_count = 0; /* every init starts from the defaults, then reads the file */
    init_code = SUCCESS;
    hang_seconds = 0;
    cuda_version = 12040;
    snprintf(driver, sizeof driver, "%s", "550.54.15");
    if (!devices) devices = calloc(2 * MAX_GPUS, sizeof *devices);
    else memset(devices, 0, 2 * MAX_GPUS * sizeof *devices);
    if (!path || !(f = fopen(path, "r"))) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!strncmp(line, "init=", 5)) init_code = atoi(line + 5);
        else if (!strncmp(line, "hang=", 5)) hang_seconds = atoi(line + 5);
        else if (!strncmp(line, "driver=", 7)) snprintf(driver, sizeof driver, "%.79s", line + 7);
        else if (!strncmp(line, "cuda=", 5)) cuda_version = atoll(line + 5);
        else if (!strncmp(line, "gpu=", 4)) parse_gpu(line + 4);
        else if (!strncmp(line, "fail=", 5)) parse_fail(line + 5);
        else if (!strncmp(line, "migdev=", 7)) parse_migdev(line + 7);
    }
    fclose(f);
}

static int valid(nvmlDevice_t d) {
    if (!devices || d < devices || ((char *)d - (char *)devices) % sizeof *devices) return 0;
    return d < devices + count || (d >= devices + MAX_GPUS && d < devices + MAX_GPUS + mig_count);
}

static nvmlReturn_t copy_string(const char *value, char *buf, unsigned int length) {
    if (!buf) return INVALID_ARGUMENT;
    if (strlen(value) + 1 > length) return INSUFFICIENT_SIZE;
    memcpy(buf, value, strlen(value) + 1);
    return SUCCESS;
}

#define NEEDS_INIT() do { if (!initialized) return UNINITIALIZED; } while (0)
#define NEEDS_DEVICE(d) do { NEEDS_INIT(); if (!valid(d)) return INVALID_ARGUMENT; } while (0)

static nvmlReturn_t do_init(const char *name) {
    log_call(name);
    load_config();
    if (hang_seconds > 0) sleep((unsigned int)hang_seconds);
    if (init_code != SUCCESS) return init_code;
    initialized++;
    return SUCCESS;
}

nvmlReturn_t nvmlInit(void) { return do_init("nvmlInit"); }

nvmlReturn_t nvmlShutdown(void) {
    log_call("nvmlShutdown");
    NEEDS_INIT();
    initialized--;
    return SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t code) {
    switch (code) {
    case SUCCESS: return "Success";
    case UNINITIALIZED: return "Uninitialized";
    case INVALID_ARGUMENT: return "Invalid Argument";
    case NOT_SUPPORTED: return "Not Supported";
    case NOT_FOUND: return "Not Found";
    case INSUFFICIENT_SIZE: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    log_call("nvmlSystemGetDriverVersion");
    NEEDS_INIT();
    return copy_string(driver, version, length);
}

static nvmlReturn_t get_cuda_version(int *version) {
    NEEDS_INIT();
    if (!version) return INVALID_ARGUMENT;
    *version = (int)cuda_version;
    return SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *version) {
    log_call("nvmlSystemGetCudaDriverVersion");
    return get_cuda_version(version);
}

static nvmlReturn_t get_count(unsigned int *n) {
    NEEDS_INIT();
    if (!n) return INVALID_ARGUMENT;
    *n = count;
    return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *n) {
    log_call("nvmlDeviceGetCount");
    return get_count(n);
}

static nvmlReturn_t get_handle(unsigned int index, nvmlDevice_t *device) {
    NEEDS_INIT();
    if (!device || index >= count) return INVALID_ARGUMENT;
    if (devices[index].fail_handle) return devices[index].fail_handle;
    *device = &devices[index];
    return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    log_call("nvmlDeviceGetHandleByIndex");
    return get_handle(index, device);
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
    log_call("nvmlDeviceGetName");
    NEEDS_DEVICE(d);
    if (d->fail_name) return d->fail_name;
    return copy_string(d->name, name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
    log_call("nvmlDeviceGetUUID");
    NEEDS_DEVICE(d);
    if (d->fail_uuid) return d->fail_uuid;
    return copy_string(d->uuid, uuid, length);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *memory) {
    log_call("nvmlDeviceGetMemoryInfo");
    NEEDS_DEVICE(d);
    if (d->fail_memory) return d->fail_memory;
    if (!memory) return INVALID_ARGUMENT;
    memory->total = d->memory;
    memory->used = d->memory / 4; /* free and used differ from total: a layout mix-up shows */
    memory->free = d->memory - memory->used;
    return SUCCESS;
}

#ifndef OLD_NVML
nvmlReturn_t nvmlInit_v2(void) { return do_init("nvmlInit_v2"); }

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *version) {
    log_call("nvmlSystemGetCudaDriverVersion_v2");
    return get_cuda_version(version);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
    log_call("nvmlDeviceGetCount_v2");
    return get_count(n);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    log_call("nvmlDeviceGetHandleByIndex_v2");
    return get_handle(index, device);
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *major, int *minor) {
    log_call("nvmlDeviceGetCudaComputeCapability");
    NEEDS_DEVICE(d);
    if (d->fail_cc) return d->fail_cc;
    if (!major || !minor) return INVALID_ARGUMENT;
    *major = d->major;
    *minor = d->minor;
    return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending) {
    log_call("nvmlDeviceGetMigMode");
    NEEDS_DEVICE(d);
    if (d->fail_mig) return d->fail_mig;
    if (d->mig < 0) return NOT_SUPPORTED;
    if (!current || !pending) return INVALID_ARGUMENT;
    *current = (unsigned int)d->mig;
    *pending = (unsigned int)d->mig;
    return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t d, unsigned int *n) {
    log_call("nvmlDeviceGetMaxMigDeviceCount");
    NEEDS_DEVICE(d);
    if (!n) return INVALID_ARGUMENT;
    if (d->parent >= 0 || d->mig < 0) return NOT_SUPPORTED;
    *n = MIG_SLOTS;
    return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t d, unsigned int index, nvmlDevice_t *mig) {
    unsigned int i;
    log_call("nvmlDeviceGetMigDeviceHandleByIndex");
    NEEDS_DEVICE(d);
    if (!mig || index >= MIG_SLOTS || d->parent >= 0) return INVALID_ARGUMENT;
    if (d->mig != 1) return NOT_SUPPORTED;
    for (i = 0; i < mig_count; i++) {
        struct fake_device *m = &devices[MAX_GPUS + i];
        if (m->parent == (int)(d - devices) && m->slot == (int)index) {
            *mig = m;
            return SUCCESS;
        }
    }
    return NOT_FOUND; /* an empty slot */
}
#endif
