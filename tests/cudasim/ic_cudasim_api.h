/* Control of the CPU SIMT emulator (tests/cudasim), callable from C and C++
 * test code: the thread order between barriers, what a detected fault does,
 * and the all-orders harness. See tests/cudasim/README.md. */
#ifndef IC_CUDASIM_API_H
#define IC_CUDASIM_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The order in which a block's runnable fibers are resumed between
 * synchronisation points. The default comes from the environment,
 * CUDASIM_ORDER=forward|reverse|random:SEED (forward when unset). */
typedef enum { CUDASIM_FORWARD = 0, CUDASIM_REVERSE = 1, CUDASIM_RANDOM = 2 } cudasim_order;
void cudasim_set_order(cudasim_order order, unsigned long long seed);
cudasim_order cudasim_get_order(unsigned long long *seed);
const char *cudasim_order_name(void); /* "forward", "reverse", "random:7" */

/* A fault (partial barrier, lane outside a mask, bad launch configuration,
 * ...) prints "cudasim: error: ..." to stderr, then either aborts the process
 * (CUDASIM_ABORT, the default; env CUDASIM_ON_ERROR=abort|flag) or records
 * the message, abandons the launch and returns (CUDASIM_FLAG), so that a test
 * can read it from cudasim_last_error() (NULL when none since the last
 * cudasim_clear_error). */
typedef enum { CUDASIM_ABORT = 0, CUDASIM_FLAG = 1 } cudasim_error_mode;
void cudasim_set_error_mode(cudasim_error_mode mode);
const char *cudasim_last_error(void);
void cudasim_clear_error(void);
/* Number of kernel launches (for tests that check a launcher launched). */
unsigned long long cudasim_launch_count(void);

/* Runs body once per thread order (forward, reverse, random:1, random:2),
 * each filling out[0..out_bytes) (zeroed before each run), and compares the
 * outputs bitwise with the forward run's. Returns 0 when all agree and no
 * launch failed; otherwise prints "result depends on thread order: data race
 * between barriers" (or the launch error) and returns 1. The previous order
 * is restored. */
typedef void (*cudasim_body_fn)(void *user, void *out, size_t out_bytes);
int cudasim_check_orders(const char *name, cudasim_body_fn body, void *user, size_t out_bytes);

#ifdef __cplusplus
}
#endif

#endif
