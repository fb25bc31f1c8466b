"""Data-parallel training over MPI with torch.distributed's names (`import descent as torch;
torch.distributed.all_reduce(...)`).

Start N ranks with `mpiexec -n N python train.py`; each calls `init_process_group("mpi")`,
wraps its model in `descent.nn.parallel.DistributedDataParallel` and reads its share of the
data through `descent.utils.data.DistributedSampler`. Needs the `mpi` extra:
`pip install -e ".[mpi]"` (mpi4py and Open MPI, imported only when a group is made).

Beyond torch's names: `global_batch.GlobalBatch` shares each global batch among the ranks
so that their numbers are one process's whatever the shares' sizes (what `descent train
--ranks N` runs), with `ReplicaCheck` comparing the ranks' parameter digests; and
`objects.all_gather_json` gathers JSON values where torch's `all_gather_object` pickles.
"""

from descent.distributed.collectives import ReduceOp, all_reduce, barrier, broadcast
from descent.distributed.process_group import (
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)

__all__ = [
    "ReduceOp",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
]
