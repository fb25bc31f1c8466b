"""`GlobalBatch`: N ranks train one model on the global batch, with one process's numbers.

Every rank reads the same global batches (the same loader, seed and order as one process)
and hands the model the whole batch; a forward hook gives the model only this rank's rows
(a contiguous share, sizes differing by at most one), and another gathers every rank's
outputs back into the whole batch's, in order. So the loss, the metrics and every decision
taken from them are one process's, computed identically on every rank. The loss is the
mean over the global batch, so backward hands each rank the gradient of its rows already
weighted 1/n; the ranks' parameter gradients are then summed (not averaged), giving the
gradient of the global batch whatever the shares' sizes (3 ranks on a batch of 32). A
batch with fewer rows than ranks (stochastic descent) is computed whole by every rank.

Unlike `DistributedDataParallel` (each rank's own batch, gradients averaged, equal shares
needed), this keeps `--batch-size` the global batch: batch, stochastic and mini-batch
descent keep their meaning, and the global batch order does not depend on the ranks, so a
run may resume on another number of them. Only forward passes that record a graph are
shared out; evaluation under `no_grad` runs whole on every rank (and equal everywhere).
"""

from __future__ import annotations

import zlib

import numpy as np

from descent.autograd import Function, is_grad_enabled
from descent.distributed.collectives import ReduceOp
from descent.distributed.process_group import _communicator
from descent.nn.module import Module
from descent.nn.parallel import SyncBatchNorm, _Reducer
from descent.tensor import Tensor, wrap
from descent.train.callbacks import Callback

BUCKET_BYTES = 25 * 2**20


def share_bounds(rows: int, ranks: int) -> np.ndarray:
    """Where each rank's rows start and end: rank r has rows bounds[r] to bounds[r + 1].
    The first `rows % ranks` ranks take one row more than the others."""
    sizes = np.full(ranks, rows // ranks)
    sizes[: rows % ranks] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


class GlobalBatch:
    """Share every training batch of `model` among the ranks of the process group.

    Installs hooks on `model` (its own object and state_dict keys stay as they are, so its
    checkpoints are one process's): the forward pre-hook takes this rank's rows, the forward
    hook gathers the outputs, the parameters' gradient hooks sum the ranks' gradients.
    BatchNorm layers become `SyncBatchNorm`, normalising over the global batch.
    """

    def __init__(self, model: Module) -> None:
        self.comm = _communicator()
        self.model = SyncBatchNorm.convert_sync_batchnorm(model)
        if self.model is not model:
            raise TypeError("GlobalBatch: give the network that holds the BatchNorm layer")
        self.norms = [m for m in model.modules() if isinstance(m, SyncBatchNorm)]
        params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        self.reducer = _Reducer(params, BUCKET_BYTES, op=ReduceOp.SUM)
        self._bounds: np.ndarray | None = None
        self.handles = [
            model.register_forward_pre_hook(self._take_share),
            model.register_forward_hook(self._gather),
        ]

    def remove(self) -> None:
        """Take the sharing hooks off the model (the gradient hooks stay)."""
        for handle in self.handles:
            handle.remove()

    def _take_share(self, module, args):
        x, *rest = args
        rows = int(x.shape[0])
        self._bounds = None
        if not is_grad_enabled():
            return None
        self.reducer.start_iteration()
        # Fewer rows than ranks (stochastic descent): every rank computes the whole batch
        # and its whole gradient, identical everywhere, with nothing to sum.
        self.reducer.sync = rows >= self.comm.size
        for norm in self.norms:
            norm.local_batch = not self.reducer.sync
        if not self.reducer.sync:
            return None
        self._bounds = share_bounds(rows, self.comm.size)
        start, end = self._bounds[self.comm.rank], self._bounds[self.comm.rank + 1]
        return (x[int(start) : int(end)], *rest)

    def _gather(self, module, args, output):
        if self._bounds is None:
            return None
        bounds, self._bounds = self._bounds, None
        return _GatherRows.apply(output, bounds, self.comm)


class _GatherRows(Function):
    """Every rank's rows of the output, in rank order: the global batch's output. Its
    gradient is this rank's rows of the upstream gradient."""

    @staticmethod
    def forward(ctx, local: Tensor, bounds: np.ndarray, comm) -> Tensor:
        mine = np.ascontiguousarray(local._data)
        per_row = int(np.prod(mine.shape[1:], dtype=np.int64))
        whole = np.empty((int(bounds[-1]), *mine.shape[1:]), mine.dtype)
        counts = (np.diff(bounds) * per_row).astype(np.int64)
        comm.Allgatherv(mine, [whole, (counts, (bounds[:-1] * per_row).astype(np.int64))])
        ctx.rows = slice(int(bounds[comm.rank]), int(bounds[comm.rank + 1]))
        return wrap(whole)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return wrap(np.ascontiguousarray(grad._data[ctx.rows])), None, None


class ReplicasDiverged(RuntimeError):
    """Ranks whose copies of the model should be identical are not."""


def parameter_digest(model: Module) -> int:
    """A CRC-32 of every parameter's and buffer's bytes, in state_dict order: equal on two
    ranks exactly when their models are bit for bit equal (but for a 2**-32 chance)."""
    digest = 0
    for value in model.state_dict().values():
        array = np.ascontiguousarray(np.asarray(getattr(value, "_data", value)))
        digest = zlib.crc32(array.view(np.uint8).reshape(-1), digest)
    return digest


def disagreeing_ranks(digests) -> list[int]:
    """The ranks whose digest differs from rank 0's."""
    return [rank for rank, digest in enumerate(digests) if digest != digests[0]]


class ReplicaCheck(Callback):
    """Stop every rank, naming the ones that disagree, when the ranks' models differ: at
    the start (another config, seed or data version) and every `every` steps (a bug or a
    fault that made the replicas drift apart). One Allgather of a number each time."""

    def __init__(self, every: int = 100) -> None:
        if every < 1:
            raise ValueError(f"ReplicaCheck: {every=} must be >= 1")
        self.every = int(every)

    def on_train_begin(self, logs=None):
        self.check("at the start of training")

    def on_batch_end(self, step, logs=None):
        if (step + 1) % self.every == 0:
            self.check(f"after step {step + 1}")

    def check(self, when: str) -> None:
        comm = _communicator()
        digests = np.empty(comm.size, np.int64)
        comm.Allgather(np.array([parameter_digest(self.run.model)], np.int64), digests)
        differ = disagreeing_ranks(digests.tolist())
        if differ:
            who = ("rank " if len(differ) == 1 else "ranks ") + ", ".join(map(str, differ))
            raise ReplicasDiverged(
                f"the parameters of {who} differ from rank 0's {when} (digests "
                f"{digests.tolist()}); every rank must run the same command on the same data"
            )
