/* A stand-in libcuda.so.1 (the CUDA driver API) for the real tier: a real CUDA build of torch
 * on a machine without a GPU loads it, through the CUDA runtime it ships, in place of the
 * driver, so torch reports what it reports on a machine whose driver is too old or broken,
 * in its own words.
 *
 * The CUDA runtime (12.x/13.x) finds every driver function through cuGetProcAddress; this
 * library hands out its own few and, for everything else, a function that returns the
 * configured cuInit code.  It never reports a device, so nothing goes past initialisation.
 *
 * Environment:
 *     FAKE_CUDA_VERSION   what cuDriverGetVersion reports (default 13000, i.e. CUDA 13.0);
 *                         below the runtime's CUDA, torch says "driver ... too old"
 *     FAKE_CUDA_INIT      cuInit's return code (default 0); 100 no device, 999 unknown, ...
 *     FAKE_CUDA_HANG      seconds cuInit blocks first (a wedged driver)
 *     FAKE_CUDA_LOG       a file that gets each call's name
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

static void log_call(const char *what, const char *detail) {
    const char *path = getenv("FAKE_CUDA_LOG");
    FILE *f;
    if (!path || !(f = fopen(path, "a"))) return;
    fprintf(f, "%s%s%s\n", what, detail ? " " : "", detail ? detail : "");
    fclose(f);
}

static CUresult init_code(void) { return env_int("FAKE_CUDA_INIT", 0); }

/* every entry point the runtime asks for but this library does not model */
static CUresult other_call(void) { return init_code() ? init_code() : 100; /* CUDA_ERROR_NO_DEVICE */ }
static CUresult not_found(void) { return 500; /* CUDA_ERROR_NOT_FOUND */ }

CUresult cuDriverGetVersion(int *version) {
    log_call("cuDriverGetVersion", NULL);
    if (!version) return 1;
    *version = env_int("FAKE_CUDA_VERSION", 13000);
    return 0;
}

CUresult cuInit(unsigned int flags) {
    (void)flags;
    log_call("cuInit", NULL);
    if (env_int("FAKE_CUDA_HANG", 0) > 0) sleep((unsigned int)env_int("FAKE_CUDA_HANG", 0));
    return init_code();
}

CUresult cuDeviceGetCount(int *count) {
    log_call("cuDeviceGetCount", NULL);
    if (!count) return 1;
    *count = 0;
    return init_code();
}

CUresult cuGetErrorString(CUresult error, const char **text) {
    (void)error;
    if (!text) return 1;
    *text = "error reported by the stand-in CUDA driver";
    return 0;
}

CUresult cuGetErrorName(CUresult error, const char **text) {
    (void)error;
    if (!text) return 1;
    *text = "CUDA_ERROR_STAND_IN";
    return 0;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cuda_version, unsigned long long flags);

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cuda_version, unsigned long long flags,
                             int *status) {
    (void)flags;
    if (!pfn) return 1;
    *pfn = NULL;
    if (!symbol) symbol = "";
    log_call("cuGetProcAddress", symbol);
    if (!strcmp(symbol, "cuDriverGetVersion")) *pfn = (void *)cuDriverGetVersion;
    else if (!strcmp(symbol, "cuInit")) *pfn = (void *)cuInit;
    else if (!strcmp(symbol, "cuDeviceGetCount")) *pfn = (void *)cuDeviceGetCount;
    else if (!strcmp(symbol, "cuGetErrorString")) *pfn = (void *)cuGetErrorString;
    else if (!strcmp(symbol, "cuGetErrorName")) *pfn = (void *)cuGetErrorName;
    else if (!strcmp(symbol, "cuGetProcAddress"))
        *pfn = cuda_version >= 12000 ? (void *)cuGetProcAddress_v2 : (void *)cuGetProcAddress;
    else if (!strcmp(symbol, "cuGetExportTable")) *pfn = (void *)not_found; /* private tables: none */
    else if (*symbol) *pfn = (void *)other_call;
    if (status) *status = *pfn ? 0 : 1; /* CU_GET_PROC_ADDRESS_SUCCESS / _SYMBOL_NOT_FOUND */
    return *pfn ? 0 : 500;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cuda_version, unsigned long long flags) {
    return cuGetProcAddress_v2(symbol, pfn, cuda_version, flags, NULL);
}
