#include "ic_dist.h"

#include <stdlib.h>

#include "ic_log.h"
#ifdef IC_WITH_MPI
#include <mpi.h>
#endif

static ic_dist g_dist = {0, 1, 0, 0};

static int launched_by_mpirun(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

void ic_dist_init(int *argc, char ***argv) {
#ifdef IC_WITH_MPI
    if (launched_by_mpirun()) {
        MPI_Init(argc, argv);
        g_dist.mpi_active = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &g_dist.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &g_dist.world);
        MPI_Comm local;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_dist.rank, MPI_INFO_NULL, &local);
        MPI_Comm_rank(local, &g_dist.local_rank);
        MPI_Comm_free(&local);
    }
#else
    (void)argc; (void)argv;
    (void)launched_by_mpirun;
#endif
    ic_log_set_rank(g_dist.rank, g_dist.world);
}

const ic_dist *ic_dist_get(void) { return &g_dist; }

void ic_dist_finalize(void) {
#ifdef IC_WITH_MPI
    if (g_dist.mpi_active) MPI_Finalize();
    g_dist.mpi_active = 0;
#endif
}
