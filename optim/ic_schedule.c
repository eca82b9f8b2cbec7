#include "ic_schedule.h"

#include <math.h>

int ic_lr_schedule_check(const ic_lr_schedule *s, ic_error *err) {
    if (!(s->lr_max > 0) || !isfinite(s->lr_max))
        return ic_error_set(err, "--lr must be a positive number, got %g", s->lr_max);
    if (!(s->lr_min >= 0) || s->lr_min > s->lr_max)
        return ic_error_set(err, "minimum learning rate must lie in [0, --lr = %g], got %g",
                            s->lr_max, s->lr_min);
    if (s->warmup < 0)
        return ic_error_set(err, "--warmup must be >= 0, got %lld", (long long)s->warmup);
    if (s->total < s->warmup)
        return ic_error_set(err, "--steps (%lld) must be >= --warmup (%lld)",
                            (long long)s->total, (long long)s->warmup);
    return 0;
}

double ic_lr_at(const ic_lr_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    if (step < s->warmup) return s->lr_max * (double)(step + 1) / (double)s->warmup;
    if (step >= s->total) return s->lr_min;
    double r = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    return s->lr_min + (s->lr_max - s->lr_min) * 0.5 * (1.0 + cos(M_PI * r));
}
