"""Run under `mpiexec -n 2`: rank 1 raises while rank 0 waits in an all_reduce. The
exception hook of `init_process_group` must end the whole job, non-zero, naming rank 1."""

import descent as torch
import descent.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == 1:
    raise ValueError("rank 1 fails on purpose")
dist.all_reduce(torch.ones(3))  # never completes: rank 1 is gone
