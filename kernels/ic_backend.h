/* Which backend runs the ops. Chosen once at start-up: CUDA when the binary
 * was built with it and a GPU answers, else the CPU reference path. Model and
 * train code ask this module, never CUDA directly. */
#ifndef IC_BACKEND_H
#define IC_BACKEND_H

typedef enum { IC_BACKEND_CPU = 0, IC_BACKEND_CUDA = 1 } ic_backend_kind;

typedef struct {
    ic_backend_kind kind;
    int  cuda_compiled;      /* built with the CUDA backend */
    int  device_count;       /* GPUs visible (0 without a driver) */
    int  device;             /* the GPU this process uses */
    char device_name[256];
    char reason[256];        /* why the CPU was chosen, for the start-up line */
} ic_backend_info;

/* force_cpu: ignore any GPU (--cpu). local_rank picks the GPU under MPI.
 * Prints one line saying which backend runs (rank 0 only). */
void ic_backend_init(int force_cpu, int local_rank);
const ic_backend_info *ic_backend_get(void);
int  ic_backend_is_cuda(void);

/* Implemented by kernels/cuda (or kernels/nocuda when built without CUDA). */
int  ic_cuda_compiled(void);
int  ic_cuda_device_count(char *why, int why_len);
int  ic_cuda_select_device(int index, char *name, int name_len);

#endif
