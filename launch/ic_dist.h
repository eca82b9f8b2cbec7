/* Process group: rank / world size, MPI when launched by mpirun, a single
 * process otherwise. A plain run needs no mpirun and never touches MPI. */
#ifndef IC_DIST_H
#define IC_DIST_H

#include <stddef.h>

typedef struct {
    int rank;        /* 0..world-1 */
    int world;       /* 1 without mpirun */
    int local_rank;  /* rank on this host: picks the GPU */
    int mpi_active;  /* MPI_Init was called */
} ic_dist;

/* Starts MPI only when a launcher set the environment (OMPI_/PMI_/PMIX_
 * variables); sets the log rank. */
void ic_dist_init(int *argc, char ***argv);
const ic_dist *ic_dist_get(void);
void ic_dist_finalize(void);

#endif
