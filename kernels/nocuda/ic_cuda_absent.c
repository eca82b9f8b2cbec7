/* Built instead of kernels/cuda when CUDA is off: the GPU is never chosen. */
#include <stdio.h>

#include "kernels/ic_backend.h"

int ic_cuda_compiled(void) { return 0; }

int ic_cuda_device_count(char *why, int why_len) {
    snprintf(why, (size_t)why_len, "built without CUDA");
    return 0;
}

int ic_cuda_select_device(int index, char *name, int name_len) { (void)index; (void)name; (void)name_len; return -1; }
