# mpi_env.sh — how the tests launch MPI jobs (sourced after tap.sh).
# Sets MPI_LAUNCH (mpirun with the options a CI box needs: run as root,
# more ranks than cores, no binding, shared-memory transport only so no
# network interface is needed), or MPI_SKIP with the reason it cannot run.
MPIRUN=${MPIRUN:-$(command -v mpirun 2>/dev/null || true)}
MPI_SKIP=""
if [ -z "$MPIRUN" ] || ! [ -x "$MPIRUN" ]; then
    MPI_SKIP="mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)"
fi
OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
OMPI_MCA_rmaps_base_oversubscribe=1
OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_btl \
    OMPI_MCA_btl_vader_single_copy_mechanism OMPI_MCA_rmaps_base_oversubscribe \
    OMPI_MCA_hwloc_base_binding_policy
# Sanitizer builds: Open MPI's own allocations are not leaks of ours
# (tests/lsan_mpi.supp); full malloc stacks and MCA components kept loaded
# so the suppressions can match their frames. No effect without ASan.
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$TOP_SRCDIR/tests/lsan_mpi.supp:print_suppressions=0"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
OMPI_MCA_mca_base_component_disable_dlclose=1
export LSAN_OPTIONS ASAN_OPTIONS OMPI_MCA_mca_base_component_disable_dlclose
# Each rank gets a private session directory under the test's temp dir.
OMPI_MCA_orte_tmpdir_base=$TMP_ROOT
export OMPI_MCA_orte_tmpdir_base
MPI_LAUNCH="$MPIRUN --oversubscribe --bind-to none"
