"""chainrule's benchmark suite: ``python -m benchmarks [--quick] [--only W1,W2] [--json out]``.

BLAS (and XLA's CPU thread pool, for JAX) is pinned to one thread before NumPy is imported,
so that ratios measure the code and not the thread pool; PyTorch is pinned with
``torch.set_num_threads(1)`` where it is used. JAX is told to use the CPU.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS",
                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
