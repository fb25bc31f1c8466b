"""Data parallelism over MPI ranks, with torch's names: `DistributedDataParallel` keeps the
ranks' replicas equal by averaging their gradients, `SyncBatchNorm` normalises over the
global batch.

N ranks that each run forward and backward on their share of a global batch, then the
same optimizer step, take the step one process would take on the whole batch: the mean
of the ranks' mean losses is the global mean loss when the shares are equal in size (as
`DistributedSampler` makes them). Collectives come from `descent.distributed` (imported on
use: it sits above nn and needs mpi4py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from descent.autograd import Function, is_grad_enabled, no_grad
from descent.errors import ShapeError
from descent.nn.module import Module
from descent.nn.normalization import _BatchNorm
from descent.tensor import Tensor, wrap


def _distributed():
    from descent import distributed

    return distributed


class _Bucket:
    """Parameters whose gradients travel in one flat array, reduced by one in-place
    Allreduce once every one of them has its gradient for this backward pass."""

    def __init__(self, params: list[Tensor]):
        self.params = params
        sizes = [p.numel() for p in params]
        self.offsets = dict(zip(map(id, params), np.cumsum([0, *sizes[:-1]]).tolist()))
        self.flat = np.empty(sum(sizes), dtype=params[0].dtype)
        self.pending = len(params)

    def slot(self, param: Tensor) -> np.ndarray:
        start = self.offsets[id(param)]
        return self.flat[start : start + param.numel()].reshape(param.shape)


class _Reducer:
    """Averages the parameters' gradients over the ranks from their gradient hooks.

    descent's engine runs a leaf's hooks after the backward sweep, just before the leaf's
    `.grad` is accumulated, so the hooks fill the buckets in the order the gradients
    arrived (about the reverse of the parameters', hence buckets in that order). A hook
    that completes its bucket reduces it, writes the mean into the `.grad` of the bucket's
    earlier parameters, and returns it as its own gradient. A `.grad` left from an earlier
    backward (accumulation) is folded in first, so the mean is of the whole `.grad`, as
    torch's. With `op` SUM instead, the sum: for ranks whose gradients are already weighted
    by their share of the batch (`descent.distributed.GlobalBatch`).
    """

    def __init__(self, named_params: list[tuple[str, Tensor]], bucket_bytes: int, op=None):
        self.op = op  # None: ReduceOp.AVG, the mean of the ranks' gradients
        self.names = {id(p): name for name, p in named_params}
        self.buckets: list[_Bucket] = []
        group: list[Tensor] = []
        for _, p in reversed(named_params):
            if group and (
                p.dtype != group[0].dtype
                or sum(q.numel() for q in group) * group[0]._data.itemsize >= bucket_bytes
            ):
                self.buckets.append(_Bucket(group))
                group = []
            group.append(p)
        if group:
            self.buckets.append(_Bucket(group))
        self.ready: set[int] = set()
        self.sync = True
        for bucket in self.buckets:
            for p in bucket.params:
                p.register_hook(self._hook(p, bucket))

    def _hook(self, param: Tensor, bucket: _Bucket):
        def hook(grad: Tensor) -> Tensor | None:
            if not self.sync:
                return None
            local = grad._data
            if param.grad is not None:  # accumulate here, so that the mean is of all of it
                local = param.grad._data + local
                param.grad = None
            bucket.slot(param)[...] = local
            self.ready.add(id(param))
            bucket.pending -= 1
            if bucket.pending:
                return wrap(local)  # becomes .grad, overwritten by the mean below
            _distributed().all_reduce(wrap(bucket.flat), self.op or _distributed().ReduceOp.AVG)
            bucket.pending = len(bucket.params)
            for p in bucket.params:
                if p is not param:
                    np.copyto(p.grad._data, bucket.slot(p))
            return wrap(bucket.slot(param))

        return hook

    def start_iteration(self) -> None:
        """Check that the last backward reduced every bucket: a parameter that got no
        gradient leaves its bucket waiting, and the ranks' replicas would drift apart."""
        waiting = [name for key, name in self.names.items() if key not in self.ready]
        if self.ready and waiting:
            names = ", ".join(waiting)
            raise RuntimeError(
                "DistributedDataParallel: the last backward pass gave no gradient to "
                f"{names}; every parameter that requires grad must take part in the loss "
                "(or set requires_grad=False on the unused ones)"
            )
        self.ready.clear()
        for bucket in self.buckets:
            bucket.pending = len(bucket.params)


class DistributedDataParallel(Module):
    """Wraps `module` so that N ranks train one model: rank 0's parameters and buffers
    are broadcast at construction, gradients are averaged over the ranks during
    `backward()` (in buckets of about `bucket_cap_mb`), and, with `broadcast_buffers`,
    rank 0's buffers (BatchNorm's running statistics) are broadcast before each forward
    that records a graph. The wrapped model is `.module`; `state_dict()` keys start with
    `module.`, as torch's. Plain BatchNorm layers still normalise with each rank's own
    batch: convert them with `SyncBatchNorm.convert_sync_batchnorm` for the statistics of
    the global batch.
    """

    def __init__(
        self,
        module: Module,
        device_ids=None,
        output_device=None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group=None,
        bucket_cap_mb: float = 25.0,
        find_unused_parameters: bool = False,
    ):
        super().__init__()
        if device_ids or output_device is not None:
            raise ValueError(
                f"DistributedDataParallel: {device_ids=}, {output_device=}: descent runs on "
                "the CPU; leave both out"
            )
        if find_unused_parameters:
            raise NotImplementedError(
                "DistributedDataParallel: find_unused_parameters=True is not supported; set "
                "requires_grad=False on the parameters the loss does not use"
            )
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: {bucket_cap_mb=} must be > 0")
        distributed = _distributed()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        with no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                distributed.broadcast(tensor, src=0)
        params = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        self.reducer = _Reducer(params, int(bucket_cap_mb * 2**20))

    def forward(self, *args, **kwargs):
        if is_grad_enabled():
            self.reducer.start_iteration()
            if self.broadcast_buffers:
                for buffer in self.module.buffers():
                    _distributed().broadcast(buffer, src=0)
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate each rank's own gradients; the first one
        after it averages the accumulated sum, as torch's."""
        self.reducer.sync = False
        try:
            yield
        finally:
            self.reducer.sync = True


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over the global batch: in training, the mean and variance are
    those of all ranks' samples together (one Allreduce of 2C+1 numbers forward, 2C
    backward), so N ranks match one process on the whole batch. Outside training, or
    without a process group of more than one rank, it is plain BatchNorm; so it is while
    `local_batch` is set, for a batch that every rank holds whole (`GlobalBatch` sets it).
    """

    local_batch = False

    expected_ndim = (2, 3, 4, 5)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group=None,
        device=None,
        dtype=None,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        distributed = _distributed()
        if self.local_batch or not (
            self.training and distributed.is_initialized() and distributed.get_world_size() > 1
        ):
            return super().forward(x)
        if x.ndim not in self.expected_ndim or x.shape[1] != self.num_features:
            raise ShapeError(
                f"{self!r}: input of shape {x.shape} needs 2 to 5 dims "
                f"with {self.num_features} channels on axis 1"
            )
        mean, var, count = _global_moments(x._data)
        dtype = x._data.dtype
        if self.track_running_stats:
            with no_grad():
                m = self.momentum
                self.num_batches_tracked.add_(1)
                self.running_mean.mul_(1 - m).add_(wrap(m * mean.astype(dtype)))
                unbiased = var * (count / (count - 1))
                self.running_var.mul_(1 - m).add_(wrap(m * unbiased.astype(dtype)))
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(dtype)
        out = _GlobalNormalize.apply(x, mean.astype(dtype), invstd, count)
        shape = _channel_shape(x._data)
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """`module` with every BatchNorm layer replaced by a SyncBatchNorm that shares its
        parameters and running statistics (a BatchNorm `module` itself is replaced)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            converted = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                dtype=module.weight.dtype if module.affine else None,
            )
            for name in ("weight", "bias"):
                if getattr(module, name) is not None:
                    setattr(converted, name, getattr(module, name))
            for name, buffer in module.named_buffers(recurse=False):
                setattr(converted, name, buffer)
            converted.train(module.training)
            return converted
        for name, child in list(module.named_children()):
            module.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return module


def _channel_axes(x: np.ndarray) -> tuple[int, ...]:
    return (0, *range(2, x.ndim))


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _global_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean and (biased) variance per channel over every rank's batch, and the count.
    The sums are float64, so that the one-pass variance loses nothing a float32 input has."""
    axes = _channel_axes(x)
    x64 = x.astype(np.float64)
    sums = np.concatenate([x64.sum(axes), (x64 * x64).sum(axes), [x.size / x.shape[1]]])
    distributed = _distributed()
    distributed.all_reduce(wrap(sums))
    channels = x.shape[1]
    count = float(sums[-1])
    if count < 2:
        raise ValueError(
            f"SyncBatchNorm: training needs more than one value per channel over all ranks, "
            f"got {count:g}"
        )
    mean = sums[:channels] / count
    var = np.maximum(sums[channels : 2 * channels] / count - mean * mean, 0.0)
    return mean, var, count


class _GlobalNormalize(Function):
    """x -> (x - mean) * invstd with the global batch's statistics. Its gradient needs two
    global sums per channel as well (of the upstream gradient g and of g * x_hat):

        dx = invstd * (g - sum(g) / n - x_hat * sum(g * x_hat) / n)
    """

    @staticmethod
    def forward(ctx, x: Tensor, mean: np.ndarray, invstd: np.ndarray, count: float) -> Tensor:
        shape = _channel_shape(x._data)
        x_hat = (x._data - mean.reshape(shape)) * invstd.reshape(shape)
        ctx.x_hat, ctx.invstd, ctx.count = x_hat, invstd.reshape(shape), count
        return wrap(x_hat)

    @staticmethod
    def backward(ctx, grad: Tensor):
        g, x_hat = grad._data, ctx.x_hat
        axes, shape = _channel_axes(g), _channel_shape(g)
        sums = np.concatenate([g.sum(axes, dtype=np.float64), (g * x_hat).sum(axes, np.float64)])
        _distributed().all_reduce(wrap(sums))
        channels = g.shape[1]
        mean_g = (sums[:channels] / ctx.count).astype(g.dtype).reshape(shape)
        mean_gx = (sums[channels:] / ctx.count).astype(g.dtype).reshape(shape)
        return wrap(ctx.invstd * (g - mean_g - x_hat * mean_gx)), None, None, None
