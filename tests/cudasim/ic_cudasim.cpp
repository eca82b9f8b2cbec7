// The CPU SIMT emulator's runtime: fibers (ucontext), the block scheduler
// with its thread orders, warp collectives, fault reports and the host API.
// Single OS thread: launches from several host threads at once are not
// supported (nor needed by the tests).
#include "ic_cudasim.h"

#include <stdarg.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#define IC_CUDASIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IC_CUDASIM_ASAN 1
#endif
#endif
#ifdef IC_CUDASIM_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

// The static __shared__ section (absent when no kernel declares any).
extern "C" unsigned char __start_ic_cudasim_smem[] __attribute__((weak));
extern "C" unsigned char __stop_ic_cudasim_smem[] __attribute__((weak));

namespace cudasim {
namespace {

enum fstate { RUNNABLE, AT_BAR, AT_WARP, EXITED };

struct fiber {
    ucontext_t uc;
    unsigned char *stack = nullptr;  // usable stack (above the guard page)
    size_t stack_bytes = 0;
    fstate state = RUNNABLE;
    uint3 tid{0, 0, 0};
    const char *file = nullptr;  // where it waits
    int line = 0;
    const char *what = nullptr;
    unsigned mask = 0;
    void *payload = nullptr;
    warp_fn fn = nullptr;
    void *asan_fake = nullptr;
};

struct runtime {
    std::vector<fiber> fibers;
    int nthreads = 0;
    int cur = -1;
    ucontext_t sched;
    const void *sched_stack_bottom = nullptr;
    size_t sched_stack_size = 0;
    void (*invoke)(void *) = nullptr;
    void *pack = nullptr;
    const char *kernel = "";
    const char *launch_file = "";
    int launch_line = 0;
    bool block_failed = false;
    // dynamic shared memory: [base, base + map_bytes) with the last page PROT_NONE
    unsigned char *dyn_map = nullptr;
    size_t dyn_map_bytes = 0;
    unsigned char *dyn = nullptr;
    size_t dyn_bytes = 0;
    // order
    bool order_init = false;
    cudasim_order order = CUDASIM_FORWARD;
    unsigned long long seed = 0, rng = 0;
    char order_name[48] = "forward";
    // errors
    bool mode_init = false;
    cudasim_error_mode mode = CUDASIM_ABORT;
    std::string last_error;
    bool has_error = false;
    cudaError_t cuda_err = cudaSuccess;
    unsigned long long launches = 0;
};

runtime R;

size_t stack_bytes_wanted() {
    size_t kb = 64;
#ifdef IC_CUDASIM_ASAN
    kb = 256;  // ASan's redzones make frames larger
#endif
    if (const char *e = getenv("CUDASIM_STACK_KB")) {
        long v = atol(e);
        if (v >= 16) kb = (size_t)v;
    }
    return kb * 1024;
}

void init_order() {
    if (R.order_init) return;
    R.order_init = true;
    const char *e = getenv("CUDASIM_ORDER");
    if (!e || !*e || !strcmp(e, "forward")) cudasim_set_order(CUDASIM_FORWARD, 0);
    else if (!strcmp(e, "reverse")) cudasim_set_order(CUDASIM_REVERSE, 0);
    else if (!strncmp(e, "random", 6)) {
        unsigned long long s = e[6] == ':' ? strtoull(e + 7, nullptr, 10) : 1;
        cudasim_set_order(CUDASIM_RANDOM, s);
    } else {
        fprintf(stderr, "cudasim: CUDASIM_ORDER=%s: expected forward, reverse or random:SEED\n", e);
        exit(2);
    }
}

void init_mode() {
    if (R.mode_init) return;
    R.mode_init = true;
    const char *e = getenv("CUDASIM_ON_ERROR");
    R.mode = (e && !strcmp(e, "flag")) ? CUDASIM_FLAG : CUDASIM_ABORT;
}

unsigned long long next_rand() {  // splitmix64
    unsigned long long z = (R.rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Report a fault of the running launch; `t` is the thread it names (-1: none).
void fault(int t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fault(int t, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char buf[1200];
    if (t >= 0) {
        uint3 ti = R.fibers[t].tid;
        snprintf(buf, sizeof buf,
                 "kernel %s (launched at %s:%d), block (%u,%u,%u), thread (%u,%u,%u): %s",
                 R.kernel, R.launch_file, R.launch_line, blockIdx.x, blockIdx.y, blockIdx.z,
                 ti.x, ti.y, ti.z, msg);
    } else {
        snprintf(buf, sizeof buf, "kernel %s (launched at %s:%d): %s", R.kernel, R.launch_file,
                 R.launch_line, msg);
    }
    fprintf(stderr, "cudasim: error: %s [order %s]\n", buf, R.order_name);
    fflush(stderr);
    init_mode();
    if (R.mode == CUDASIM_ABORT) abort();
    if (!R.has_error) R.last_error = buf;
    R.has_error = true;
    R.block_failed = true;
}

// ---- fibers -----------------------------------------------------------------------
void ensure_fibers(int n) {
    if ((int)R.fibers.size() >= n) return;
    size_t bytes = stack_bytes_wanted();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t old = R.fibers.size();
    R.fibers.resize((size_t)n);
    for (size_t i = old; i < (size_t)n; i++) {
        void *m = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            fprintf(stderr, "cudasim: cannot map a fiber stack of %zu bytes\n", bytes);
            abort();
        }
        mprotect(m, page, PROT_NONE);  // stacks grow down: the guard sits below
        R.fibers[i].stack = (unsigned char *)m + page;
        R.fibers[i].stack_bytes = bytes;
    }
}

void to_scheduler(fiber &f, bool dying) {
#ifdef IC_CUDASIM_ASAN
    __sanitizer_start_switch_fiber(dying ? nullptr : &f.asan_fake, R.sched_stack_bottom,
                                   R.sched_stack_size);
#endif
    (void)dying;
    swapcontext(&f.uc, &R.sched);
#ifdef IC_CUDASIM_ASAN
    __sanitizer_finish_switch_fiber(f.asan_fake, &R.sched_stack_bottom, &R.sched_stack_size);
#endif
}

void fiber_entry() {
    fiber &f = R.fibers[R.cur];
#ifdef IC_CUDASIM_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &R.sched_stack_bottom, &R.sched_stack_size);
#endif
    R.invoke(R.pack);
    f.state = EXITED;
    to_scheduler(f, true);
    abort();  // never resumed
}

void resume(int t) {
    fiber &f = R.fibers[t];
    R.cur = t;
    threadIdx = f.tid;
#ifdef IC_CUDASIM_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f.stack, f.stack_bytes);
#endif
    swapcontext(&R.sched, &f.uc);
#ifdef IC_CUDASIM_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    R.cur = -1;
}

// ---- shared memory poison -----------------------------------------------------------
__attribute__((no_sanitize_address, noinline)) void poison(unsigned char *p, size_t n) {
    // A plain loop, not memset: the section holds ASan's redzones between
    // objects, which must be written without a report.
    volatile unsigned char *q = p;
    for (size_t i = 0; i < n; i++) q[i] = 0xFF;
}

void setup_dyn(size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (bytes + 15) / 16 * 16;
    size_t need = (body + page - 1) / page * page + page;
    if (need > R.dyn_map_bytes) {
        if (R.dyn_map) munmap(R.dyn_map, R.dyn_map_bytes);
        void *m = mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) abort();
        R.dyn_map = (unsigned char *)m;
        R.dyn_map_bytes = need;
        mprotect(R.dyn_map + need - page, page, PROT_NONE);
    }
    R.dyn = R.dyn_map + R.dyn_map_bytes - page - body;
    R.dyn_bytes = bytes;
}

const char *state_text(const fiber &f, char *buf, size_t n) {
    switch (f.state) {
    case EXITED: snprintf(buf, n, "exited"); break;
    case RUNNABLE: snprintf(buf, n, "runnable"); break;
    case AT_BAR: snprintf(buf, n, "waits at __syncthreads at %s:%d", f.file, f.line); break;
    case AT_WARP:
        snprintf(buf, n, "waits at %s(mask 0x%08x) at %s:%d", f.what, f.mask, f.file, f.line);
        break;
    }
    return buf;
}

// Completes every warp collective whose lanes have all arrived; returns
// whether any did.
bool complete_warp_groups() {
    bool progress = false;
    int n = R.nthreads;
    for (int w = 0; w * 32 < n; w++) {
        for (int l = 0; l < 32 && w * 32 + l < n; l++) {
            fiber &f = R.fibers[w * 32 + l];
            if (f.state != AT_WARP) continue;
            bool ok = true;
            for (int j = 0; j < 32 && ok; j++) {
                if (!(f.mask >> j & 1u)) continue;
                int t = w * 32 + j;
                if (t >= n) { ok = false; break; }
                const fiber &g = R.fibers[t];
                ok = g.state == AT_WARP && g.mask == f.mask && !strcmp(g.what, f.what);
            }
            if (!ok) continue;
            void *lanes[32] = {nullptr};
            for (int j = 0; j < 32; j++)
                if (f.mask >> j & 1u) lanes[j] = R.fibers[w * 32 + j].payload;
            unsigned mask = f.mask;
            warp_fn fn = f.fn;
            fn(lanes, mask);
            for (int j = 0; j < 32; j++)
                if (mask >> j & 1u) R.fibers[w * 32 + j].state = RUNNABLE;
            progress = true;
        }
    }
    return progress;
}

// Nothing runnable and no collective complete: the block must be at one
// barrier, or done; anything else is a fault.
bool release_or_fault() {
    int n = R.nthreads;
    char b1[256];
    for (int t = 0; t < n; t++) {
        const fiber &f = R.fibers[t];
        if (f.state != AT_WARP) continue;
        int w = t / 32;
        for (int j = 0; j < 32; j++) {
            if (!(f.mask >> j & 1u)) continue;
            int u = w * 32 + j;
            if (u >= n) {
                fault(t, "%s at %s:%d: mask 0x%08x names lane %d, which does not exist (block of %d threads)",
                      f.what, f.file, f.line, f.mask, j, n);
                return false;
            }
            const fiber &g = R.fibers[u];
            if (g.state == EXITED) {
                fault(t, "%s at %s:%d: mask 0x%08x names lane %d, which exited without arriving",
                      f.what, f.file, f.line, f.mask, j);
                return false;
            }
            if (g.state == AT_BAR) {
                fault(t, "%s at %s:%d: mask 0x%08x names lane %d, which %s",
                      f.what, f.file, f.line, f.mask, j, state_text(g, b1, sizeof b1));
                return false;
            }
            if (g.mask != f.mask || strcmp(g.what, f.what)) {
                fault(t, "mismatched warp collective: this lane calls %s(mask 0x%08x) at %s:%d, lane %d %s",
                      f.what, f.mask, f.file, f.line, j, state_text(g, b1, sizeof b1));
                return false;
            }
        }
    }
    int at_bar = -1, exited = -1, count = 0;
    for (int t = 0; t < n; t++) {
        const fiber &f = R.fibers[t];
        if (f.state == AT_BAR) {
            count++;
            if (at_bar < 0) at_bar = t;
            else if (f.line != R.fibers[at_bar].line || strcmp(f.file, R.fibers[at_bar].file)) {
                fault(t, "threads wait at different barriers: this one at __syncthreads at %s:%d, "
                         "thread (%u,%u,%u) at __syncthreads at %s:%d",
                      f.file, f.line, R.fibers[at_bar].tid.x, R.fibers[at_bar].tid.y,
                      R.fibers[at_bar].tid.z, R.fibers[at_bar].file, R.fibers[at_bar].line);
                return false;
            }
        } else if (f.state == EXITED && exited < 0) {
            exited = t;
        }
    }
    if (at_bar < 0) return false;  // all exited: the block is done
    if (exited >= 0) {
        fault(exited, "exited without reaching __syncthreads at %s:%d, which %d of %d threads "
                      "of the block reached (a barrier reached by part of the block)",
              R.fibers[at_bar].file, R.fibers[at_bar].line, count, n);
        return false;
    }
    for (int t = 0; t < n; t++) R.fibers[t].state = RUNNABLE;
    return true;
}

void run_block() {
    int n = R.nthreads;
    for (int t = 0; t < n; t++) {
        fiber &f = R.fibers[t];
        f.state = RUNNABLE;
        f.tid = uint3{(unsigned)t % blockDim.x, (unsigned)t / blockDim.x % blockDim.y,
                      (unsigned)t / (blockDim.x * blockDim.y)};
        getcontext(&f.uc);
        f.uc.uc_stack.ss_sp = f.stack;
        f.uc.uc_stack.ss_size = f.stack_bytes;
        f.uc.uc_link = nullptr;
        makecontext(&f.uc, fiber_entry, 0);
    }
    std::vector<int> order;
    order.reserve((size_t)n);
    for (;;) {
        order.clear();
        for (int t = 0; t < n; t++)
            if (R.fibers[t].state == RUNNABLE) order.push_back(t);
        if (!order.empty()) {
            if (R.order == CUDASIM_REVERSE) std::reverse(order.begin(), order.end());
            else if (R.order == CUDASIM_RANDOM)
                for (size_t i = order.size() - 1; i > 0; i--)
                    std::swap(order[i], order[next_rand() % (i + 1)]);
            for (int t : order) {
                resume(t);
                if (R.block_failed) return;
            }
            continue;
        }
        if (complete_warp_groups()) continue;
        if (!release_or_fault()) return;
    }
}

}  // namespace

// ---- entry points used by kernels ---------------------------------------------------
void syncthreads(const char *file, int line) {
    if (R.cur < 0) { fprintf(stderr, "cudasim: __syncthreads outside a kernel\n"); abort(); }
    fiber &f = R.fibers[R.cur];
    f.state = AT_BAR;
    f.file = file;
    f.line = line;
    to_scheduler(f, false);
}

void warp_collective(const char *file, int line, const char *what, unsigned mask, void *payload,
                     warp_fn fn) {
    if (R.cur < 0) { fprintf(stderr, "cudasim: %s outside a kernel\n", what); abort(); }
    fiber &f = R.fibers[R.cur];
    int lane = R.cur % 32;
    f.file = file;
    f.line = line;
    f.what = what;
    f.mask = mask;
    f.payload = payload;
    f.fn = fn;
    if (!(mask >> lane & 1u)) {
        fault(R.cur, "%s at %s:%d called by lane %d, which is not in its mask 0x%08x", what, file,
              line, lane, mask);
        f.state = EXITED;
        to_scheduler(f, true);  // abandoned: the block stops here
        abort();
    }
    f.state = AT_WARP;
    to_scheduler(f, false);
}

void *dyn_smem() { return R.dyn; }

void shfl_combine(void *const lanes[32], unsigned mask) {
    // PTX ISA, shfl.sync: source lane j from mode, b and c; a j outside the
    // segment takes the lane's own value; a j outside the mask reads an
    // undefined value, here all ones (NaN as float).
    uint64_t v[32];
    for (int l = 0; l < 32; l++) v[l] = lanes[l] ? static_cast<shfl_payload *>(lanes[l])->v : 0;
    for (int l = 0; l < 32; l++) {
        if (!lanes[l]) continue;
        shfl_payload *p = static_cast<shfl_payload *>(lanes[l]);
        int bval = (int)(p->b & 31u), cval = (int)(p->c & 31u), seg = (int)(p->c >> 8 & 31u);
        int maxl = (l & seg) | (cval & ~seg), minl = l & seg, j = l;
        bool ok = false;
        switch (p->mode) {
        case SHFL_UP: j = l - bval; ok = j >= maxl; break;
        case SHFL_DOWN: j = l + bval; ok = j <= maxl; break;
        case SHFL_BFLY: j = l ^ bval; ok = j <= maxl; break;
        default: j = minl | (bval & ~seg); ok = j <= maxl; break;
        }
        if (!ok) j = l;
        p->r = (mask >> j & 1u) ? v[j] : ~0ull;
    }
}

void vote_combine(void *const lanes[32], unsigned mask) {
    unsigned bits = 0;
    for (int l = 0; l < 32; l++)
        if (lanes[l] && static_cast<vote_payload *>(lanes[l])->pred) bits |= 1u << l;
    for (int l = 0; l < 32; l++)
        if (lanes[l]) static_cast<vote_payload *>(lanes[l])->r = bits & mask;
}

void nop_combine(void *const *, unsigned) {}

void launch_impl(const char *name, const char *file, int line, dim3 grid, dim3 block,
                 size_t smem, void (*invoke)(void *), void *pack) {
    init_order();
    init_mode();
    R.launches++;
    R.kernel = name;
    R.launch_file = file;
    R.launch_line = line;
    R.block_failed = false;
    unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
    blockIdx = uint3{0, 0, 0};
    if (nt == 0 || nt > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u) {
        fault(-1, "invalid launch configuration: grid (%u,%u,%u), block (%u,%u,%u) "
                  "(at most 1024 threads a block, block.z <= 64)",
              grid.x, grid.y, grid.z, block.x, block.y, block.z);
        return;
    }
    if (smem > 48 * 1024) {
        fault(-1, "dynamic shared memory of %zu bytes is larger than the 48 KiB a launch gets "
                  "without cudaFuncSetAttribute (not in the kernel contract)",
              smem);
        return;
    }
    size_t static_bytes = (size_t)(__stop_ic_cudasim_smem - __start_ic_cudasim_smem);
    ensure_fibers((int)nt);
    setup_dyn(smem);
    R.nthreads = (int)nt;
    R.invoke = invoke;
    R.pack = pack;
    gridDim = grid;
    blockDim = block;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx = uint3{x, y, z};
                if (static_bytes) poison(__start_ic_cudasim_smem, static_bytes);
                poison(R.dyn, smem);
                run_block();
                if (R.block_failed) return;  // flag mode: the test reads cudasim_last_error()
            }
}

}  // namespace cudasim

// ---- control API ----------------------------------------------------------------------
using cudasim::R;

extern "C" void cudasim_set_order(cudasim_order order, unsigned long long seed) {
    R.order_init = true;
    R.order = order;
    R.seed = seed;
    R.rng = seed;
    if (order == CUDASIM_FORWARD) snprintf(R.order_name, sizeof R.order_name, "forward");
    else if (order == CUDASIM_REVERSE) snprintf(R.order_name, sizeof R.order_name, "reverse");
    else snprintf(R.order_name, sizeof R.order_name, "random:%llu", seed);
}

extern "C" cudasim_order cudasim_get_order(unsigned long long *seed) {
    cudasim::init_order();
    if (seed) *seed = R.seed;
    return R.order;
}

extern "C" const char *cudasim_order_name(void) {
    cudasim::init_order();
    return R.order_name;
}

extern "C" void cudasim_set_error_mode(cudasim_error_mode mode) {
    R.mode_init = true;
    R.mode = mode;
}

extern "C" const char *cudasim_last_error(void) {
    return R.has_error ? R.last_error.c_str() : nullptr;
}

extern "C" void cudasim_clear_error(void) {
    R.has_error = false;
    R.last_error.clear();
}

extern "C" unsigned long long cudasim_launch_count(void) { return R.launches; }

extern "C" int cudasim_check_orders(const char *name, cudasim_body_fn body, void *user,
                                    size_t out_bytes) {
    static const struct {
        cudasim_order o;
        unsigned long long seed;
    } orders[] = {{CUDASIM_FORWARD, 0}, {CUDASIM_REVERSE, 0}, {CUDASIM_RANDOM, 1}, {CUDASIM_RANDOM, 2}};
    unsigned long long old_seed = 0;
    cudasim_order old = cudasim_get_order(&old_seed);
    std::vector<unsigned char> ref(out_bytes), got(out_bytes);
    int rc = 0;
    for (size_t i = 0; i < sizeof orders / sizeof orders[0] && rc == 0; i++) {
        cudasim_set_order(orders[i].o, orders[i].seed);
        std::vector<unsigned char> &out = i == 0 ? ref : got;
        std::fill(out.begin(), out.end(), 0);
        bool had = R.has_error;
        body(user, out.data(), out_bytes);
        if (!had && R.has_error) {
            fprintf(stderr, "cudasim: %s: launch failed under order %s: %s\n", name,
                    R.order_name, R.last_error.c_str());
            rc = 1;
            break;
        }
        if (i == 0) continue;
        for (size_t k = 0; k < out_bytes; k++)
            if (out[k] != ref[k]) {
                fprintf(stderr,
                        "cudasim: %s: result depends on thread order: data race between "
                        "barriers (order %s differs from forward first at byte %zu of %zu)\n",
                        name, R.order_name, k, out_bytes);
                rc = 1;
                break;
            }
    }
    cudasim_set_order(old, old_seed);
    return rc;
}

// ---- host API ----------------------------------------------------------------------------
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) {
    if (bytes) memset(p, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind,
                            cudaStream_t) {
    if (bytes) memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaGetLastError(void) {
    cudaError_t e = R.cuda_err;
    R.cuda_err = cudaSuccess;
    return e;
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure (see the cudasim: error line)";
    }
    return "unknown error";
}

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}
