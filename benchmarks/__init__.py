"""chainrule's benchmark suite: ``python -m benchmarks [--quick] [--only W1,W2] [--json out]``.

BLAS is pinned to one thread before NumPy is imported, so that ratios measure the code and
not the thread pool.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
