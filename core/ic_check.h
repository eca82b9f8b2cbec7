/* Fatal checks for library calls that must not fail in a correct program
 * (device/communication set-up, kernel launches). Each prints file:line and
 * the library's own message, then ends the process with status 1, "the
 * work failed" (docs/DESIGN.md s6: 2 is for a bad command line only). A broken
 * internal invariant (IC_ASSERT) is a bug: it prints file:line and aborts.
 * Input parsing never uses these: it returns an ic_error instead. */
#ifndef IC_CHECK_H
#define IC_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define IC_FATAL(...) do { \
    fprintf(stderr, "fatal: %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

/* Shape precondition where an op is built (ggml style): a bug when false. */
#define IC_ASSERT(cond) do { if (!(cond)) { \
    fprintf(stderr, "internal error: %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
    fflush(stderr); abort(); } } while (0)

#ifdef __CUDACC__
#define IC_HAVE_CUDA_HEADERS 1
#endif

#if defined(IC_HAVE_CUDA_HEADERS) || defined(CUDART_VERSION)
#include <cuda_runtime.h>
#define cuda_check(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) \
    IC_FATAL("CUDA error %s: %s (%s)", cudaGetErrorName(e_), cudaGetErrorString(e_), #call); } while (0)
#endif

#ifdef CUBLAS_VER_MAJOR
#define cublas_check(call) do { cublasStatus_t s_ = (call); if (s_ != CUBLAS_STATUS_SUCCESS) \
    IC_FATAL("cuBLAS error %d: %s (%s)", (int)s_, cublasGetStatusString(s_), #call); } while (0)
#endif

#ifdef CUDNN_MAJOR
#define cudnn_check(call) do { cudnnStatus_t s_ = (call); if (s_ != CUDNN_STATUS_SUCCESS) \
    IC_FATAL("cuDNN error %d: %s (%s)", (int)s_, cudnnGetErrorString(s_), #call); } while (0)
#endif

#ifdef NCCL_MAJOR
#define nccl_check(call) do { ncclResult_t r_ = (call); if (r_ != ncclSuccess) \
    IC_FATAL("NCCL error %d: %s (%s)", (int)r_, ncclGetErrorString(r_), #call); } while (0)
#endif

#ifdef MPI_VERSION
#define mpi_check(call) do { int rc_ = (call); if (rc_ != MPI_SUCCESS) { \
    char s_[MPI_MAX_ERROR_STRING]; int n_ = 0; MPI_Error_string(rc_, s_, &n_); \
    fprintf(stderr, "fatal: %s:%d: MPI error %d: %s (%s)\n", __FILE__, __LINE__, rc_, s_, #call); \
    MPI_Abort(MPI_COMM_WORLD, 1); } } while (0)
#endif

#endif
