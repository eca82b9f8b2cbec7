#include "ic_backend.h"

#include <stdio.h>
#include <string.h>

#include "ic_log.h"

static ic_backend_info g_info;

void ic_backend_init(int force_cpu, int local_rank) {
    memset(&g_info, 0, sizeof g_info);
    g_info.cuda_compiled = ic_cuda_compiled();
    g_info.kind = IC_BACKEND_CPU;
    if (force_cpu) {
        snprintf(g_info.reason, sizeof g_info.reason, "--cpu given");
    } else if (!g_info.cuda_compiled) {
        snprintf(g_info.reason, sizeof g_info.reason, "built without CUDA");
    } else {
        g_info.device_count = ic_cuda_device_count(g_info.reason, sizeof g_info.reason);
        if (g_info.device_count > 0) {
            g_info.device = local_rank % g_info.device_count;
            if (ic_cuda_select_device(g_info.device, g_info.device_name,
                                      sizeof g_info.device_name) == 0)
                g_info.kind = IC_BACKEND_CUDA;
            else
                snprintf(g_info.reason, sizeof g_info.reason, "cannot use GPU %d", g_info.device);
        }
    }
    if (g_info.kind == IC_BACKEND_CUDA)
        ic_log_note("backend: CUDA on GPU %d (%s)", g_info.device, g_info.device_name);
    else
        ic_log_note("backend: CPU (%s)", g_info.reason);
}

const ic_backend_info *ic_backend_get(void) { return &g_info; }
int ic_backend_is_cuda(void) { return g_info.kind == IC_BACKEND_CUDA; }
