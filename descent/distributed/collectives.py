"""Collectives on tensors, in place, over the default process group: all_reduce, broadcast,
barrier.

They use mpi4py's buffer methods (`Allreduce`, `Bcast`) on the tensor's own array: no
pickling, one copy only when the tensor is not contiguous.
"""

from __future__ import annotations

import enum
from contextlib import contextmanager

import numpy as np

from descent.distributed.process_group import _communicator, _mpi
from descent.tensor import Tensor


class ReduceOp(enum.Enum):
    """How `all_reduce` combines the ranks' values (torch's names; AVG is SUM / world size)."""

    SUM = "SUM"
    PRODUCT = "PROD"
    MIN = "MIN"
    MAX = "MAX"
    AVG = "AVG"


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Replace `tensor` on every rank by the reduction of all ranks' values."""
    comm, MPI = _communicator(), _mpi()  # noqa: N806  (mpi4py's module name)
    if not isinstance(op, ReduceOp):
        raise ValueError(f"all_reduce: {op=} must be a descent.distributed.ReduceOp, e.g. SUM")
    mpi_op = getattr(MPI, "SUM" if op is ReduceOp.AVG else op.value)
    with _in_place(tensor, "all_reduce") as array:
        comm.Allreduce(MPI.IN_PLACE, array, op=mpi_op)
        if op is ReduceOp.AVG:
            array /= comm.size
    return None


def broadcast(tensor: Tensor, src: int, group=None, async_op: bool = False):
    """Replace `tensor` on every rank by rank `src`'s."""
    comm = _communicator()
    if not 0 <= src < comm.size:
        raise ValueError(f"broadcast: {src=} must be a rank, 0 to {comm.size - 1}")
    with _in_place(tensor, "broadcast") as array:
        comm.Bcast(array, root=src)
    return None


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every rank has reached this call."""
    _communicator().Barrier()
    return None


@contextmanager
def _in_place(tensor: Tensor, who: str):
    """The tensor's array to communicate in place: its own memory when contiguous, else a
    contiguous copy that is written back afterwards."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: expected a descent Tensor, got {type(tensor).__name__}")
    target = tensor.detach().numpy()
    if target.flags.c_contiguous and target.flags.writeable:
        yield target
    else:
        array = np.ascontiguousarray(target)
        yield array
        target[...] = array
