#include "ic_comm.h"

/* world <= 1: the local value is the reduction, so no callback runs (a
 * one-process comm may leave them NULL). */
static int multi(const ic_comm *c) { return c && c->world > 1; }

static const ic_comm g_single = { 0, 1, NULL, NULL, NULL, NULL, NULL, NULL };

const ic_comm *ic_comm_single(void) { return &g_single; }

int ic_comm_rank(const ic_comm *c) { return multi(c) ? c->rank : 0; }
int ic_comm_world(const ic_comm *c) { return multi(c) ? c->world : 1; }

void ic_comm_mean_f32(const ic_comm *c, float *buf, size_t n) {
    if (multi(c)) c->mean_f32(c->user, buf, n);
}

void ic_comm_sum_f64(const ic_comm *c, double *buf, size_t n) {
    if (multi(c)) c->sum_f64(c->user, buf, n);
}

double ic_comm_sum1_f64(const ic_comm *c, double x) {
    ic_comm_sum_f64(c, &x, 1);
    return x;
}

double ic_comm_max1_f64(const ic_comm *c, double x) {
    return multi(c) ? c->max_f64(c->user, x) : x;
}

void ic_comm_minloc(const ic_comm *c, double *value, int *index) {
    if (multi(c)) c->minloc(c->user, value, index);
}

int ic_comm_all_ok(const ic_comm *c, int ok) {
    return multi(c) ? c->all_ok(c->user, ok) : ok != 0;
}
