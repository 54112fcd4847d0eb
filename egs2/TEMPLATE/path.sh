# Sourced by the recipes (egs2/<corpus>/path.sh is a symlink to this file).
# Puts the project's virtual environment first on PATH, creating it first if
# needed: tools/install.sh is idempotent and returns at once when nothing changed.
#
#   CFFMA_VENV=DIR          use another venv (default: <repo>/tools/venv)
#   CFFMA_SKIP_INSTALL=1    do not run tools/install.sh (an environment you manage)
cffma_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cffma_venv=${CFFMA_VENV:-${cffma_root}/tools/venv}
if [ "${CFFMA_SKIP_INSTALL:-0}" != 1 ]; then
  bash "${cffma_root}/tools/install.sh" || {
    echo "path.sh: tools/install.sh failed (see above); fix it or set CFFMA_SKIP_INSTALL=1" >&2
    return 1 2>/dev/null || exit 1
  }
fi
if [ -x "${cffma_venv}/bin/python" ]; then
  export PATH="${cffma_venv}/bin:${PATH}"
  export VIRTUAL_ENV="${cffma_venv}"
fi
export CFFMA_PYTHON=${CFFMA_PYTHON:-python}
# C collation everywhere: scp files must be sorted the same way by every tool.
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
# One BLAS/OpenMP thread per process unless told otherwise: the stages run
# several jobs in parallel (nj), which would otherwise oversubscribe the CPUs.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# No GUI backend for the pictures of stage 7.
export MPLBACKEND=Agg
