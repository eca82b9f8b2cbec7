#include "train/ic_param_hash.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ic_check.h"
#include "ic_log.h"
#include "kernels/ic_ctx.h"

#define CHUNK ((size_t)1 << 20)   /* floats per download */

uint64_t ic_trainer_param_hash(ic_trainer *t) {
    uint64_t h = 0xcbf29ce484222325ull;
    float *host = malloc(sizeof(float) * CHUNK);
    if (!host) IC_FATAL("out of host memory for the parameter hash");
    int64_t total = 0;
    for (int i = 0; i < t->n_params; i++) {
        const ic_param *p = &t->params[i];
        for (int64_t off = 0; off < p->n; off += (int64_t)CHUNK) {
            size_t n = (size_t)(p->n - off) < CHUNK ? (size_t)(p->n - off) : CHUNK;
            ic_buf_download(t->ctx, host, p->value + off, sizeof(float) * n);
            const unsigned char *b = (const unsigned char *)host;
            for (size_t k = 0; k < sizeof(float) * n; k++) { h ^= b[k]; h *= 0x100000001b3ull; }
        }
        total += p->n;
    }
    free(host);
    h ^= (uint64_t)total;
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;
    return h;
}

int ic_trainer_report_param_hash(ic_trainer *t, const ic_comm *comm) {
    const uint64_t h = ic_trainer_param_hash(t);
    int64_t floats = 0;
    for (int i = 0; i < t->n_params; i++) floats += t->params[i].n;
    if (ic_log_get_level() >= IC_LOG_INFO) {
        fprintf(stderr, "train: rank %d/%d parameter hash %016" PRIx64 " (%" PRId64 " floats)\n",
                ic_comm_rank(comm), ic_comm_world(comm), h, floats);
        fflush(stderr);
    }
    /* both 32-bit halves are exact in a double: max(x) == -max(-x) iff all agree */
    const double hi = (double)(h >> 32), lo = (double)(h & 0xffffffffu);
    const int same = ic_comm_max1_f64(comm, hi) == -ic_comm_max1_f64(comm, -hi) &&
                     ic_comm_max1_f64(comm, lo) == -ic_comm_max1_f64(comm, -lo);
    if (!same && ic_comm_rank(comm) == 0)
        ic_log_warn("train: the ranks' parameters differ after training (see each rank's hash): "
                    "their optimizer steps drifted apart");
    return same;
}
