/* Learning-rate schedule: linear warm-up, then cosine decay to a floor.
 *
 * `step` is the 0-based index of the update about to be taken (the first
 * update has step 0). With W = warmup, T = total, lr_max, lr_min:
 *
 *   step <  W            lr = lr_max * (step + 1) / W
 *   W <= step < T        lr = lr_min + (lr_max - lr_min) * (1 + cos(pi * r)) / 2,
 *                        r  = (step - W) / (T - W)      (r in [0, 1))
 *   step >= T            lr = lr_min
 *
 * The warm-up counts from 1 so that the first update is not wasted with
 * lr = 0 (the llm.c / nanoGPT convention); warm-up ends exactly at lr_max
 * (step W - 1), the cosine starts at lr_max (step W) and approaches lr_min
 * as step -> T. W = 0 means no warm-up; lr_min = lr_max gives a constant
 * rate after warm-up. */
#ifndef IC_SCHEDULE_H
#define IC_SCHEDULE_H

#include <stdint.h>

#include "ic_error.h"

typedef struct {
    double  lr_max;   /* peak rate (--lr) */
    double  lr_min;   /* floor of the cosine, 0 <= lr_min <= lr_max */
    int64_t warmup;   /* W, >= 0 */
    int64_t total;    /* T, >= W: the run's step count */
} ic_lr_schedule;

/* Checks the arguments; the message names the offending one. */
int    ic_lr_schedule_check(const ic_lr_schedule *s, ic_error *err);
double ic_lr_at(const ic_lr_schedule *s, int64_t step);

#endif
