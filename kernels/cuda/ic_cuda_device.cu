// Device discovery for the CUDA backend. A machine with the toolkit but no
// driver or GPU (CI) answers with an error here, and the CPU path runs.
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" {
#include "kernels/ic_backend.h"
}

extern "C" int ic_cuda_compiled(void) { return 1; }

extern "C" int ic_cuda_device_count(char *why, int why_len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, (size_t)why_len, "no usable GPU: %s", cudaGetErrorString(e));
        cudaGetLastError();  // clear the sticky error so later probes start clean
        return 0;
    }
    if (n == 0) snprintf(why, (size_t)why_len, "no GPU found");
    return n;
}

extern "C" int ic_cuda_select_device(int index, char *name, int name_len) {
    if (cudaSetDevice(index) != cudaSuccess) return -1;
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, index) != cudaSuccess) return -1;
    snprintf(name, (size_t)name_len, "%s, sm_%d%d, %d SMs, %.0f GiB", p.name, p.major, p.minor,
             p.multiProcessorCount, (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return 0;
}
