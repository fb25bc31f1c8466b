"""Normalisation layers: BatchNorm1d, BatchNorm2d (running statistics) and LayerNorm."""

from __future__ import annotations

import numpy as np

from descent.errors import ShapeError
from descent.nn import functional as F
from descent.nn.factory import floating_dtype, new_buffer, new_parameter
from descent.nn.module import Module
from descent.tensor import Tensor, wrap


class _BatchNorm(Module):
    """Normalise each channel over the batch; `expected_ndim` says which inputs fit."""

    expected_ndim: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        dtype = floating_dtype(type(self).__name__, dtype, device)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = new_parameter((num_features,), dtype, fill=1.0) if affine else None
        self.bias = new_parameter((num_features,), dtype) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", new_buffer((num_features,), dtype))
            self.register_buffer("running_var", new_buffer((num_features,), dtype, fill=1.0))
            self.register_buffer("num_batches_tracked", wrap(np.zeros((), np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.expected_ndim or x.shape[1] != self.num_features:
            dims = " or ".join(map(str, self.expected_ndim))
            raise ShapeError(
                f"{self!r}: input of shape {x.shape} needs {dims} dims "
                f"with {self.num_features} channels on axis 1"
            )
        use_batch_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
        return F.batch_norm(
            x,
            self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=self.momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs (Ioffe and Szegedy, 2015)."""

    expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel over N, H and W."""

    expected_ndim = (4,)


class LayerNorm(Module):
    """Normalise each sample over its last axes (Ba et al., 2016)."""

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        dtype = floating_dtype("LayerNorm", dtype, device)
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        affine_bias = elementwise_affine and bias
        shape = self.normalized_shape
        self.weight = new_parameter(shape, dtype, fill=1.0) if elementwise_affine else None
        self.bias = new_parameter(shape, dtype) if affine_bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
