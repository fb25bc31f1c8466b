"""Layers that own parameters or a setting: Linear, Embedding, Dropout, activations, shapes."""

from __future__ import annotations

import numpy as np

from descent import ops
from descent.autograd import no_grad
from descent.errors import OutOfRangeError, ShapeError
from descent.nn import functional as F
from descent.nn import init
from descent.nn.factory import floating_dtype, new_parameter
from descent.nn.module import Module
from descent.nn.parameter import Parameter
from descent.tensor import Tensor, check_tensor


def check_sizes(layer: str, low: int, **sizes) -> None:
    """A layer's sizes must be whole numbers >= `low`: torch's TypeError for one that is not
    an int (2.5, "2"), and for one below `low` an error that is both a ValueError and, as
    torch's, a RuntimeError. Checked before any weight is allocated."""
    for name, size in sizes.items():
        if not isinstance(size, int | np.integer):
            raise TypeError(
                f"{layer}: {name}={size!r} must be a whole number (an int), not "
                f"{type(size).__name__}"
            )
    if any(size < low for size in sizes.values()):
        given = " and ".join(f"{name}={size}" for name, size in sizes.items())
        raise OutOfRangeError(f"{layer}: {given} must be " + ("positive" if low else ">= 0"))


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ):
        check_sizes("Linear", 1, in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        dtype = floating_dtype("Linear", dtype, device)
        self.weight = new_parameter((out_features, in_features), dtype)
        self.bias = new_parameter((out_features,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if type(x) is not Tensor:
            check_tensor("Linear", x)
        if x.shape[-1:] != (self.in_features,):
            raise ShapeError(
                f"{self!r}: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} "
                f"features, the layer expects {self.in_features}"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Embedding(Module):
    """A table of `num_embeddings` vectors, looked up by integer index; initialised N(0, 1)
    with the `padding_idx` row zero (its gradient stays zero)."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ):
        check_sizes("Embedding", 0, num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: {padding_idx=} must lie within [-{num_embeddings}, "
                    f"{num_embeddings - 1}]"
                )
            if padding_idx < 0:
                padding_idx += num_embeddings
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dtype = floating_dtype("Embedding", dtype, device)
        if _weight is None:
            self.weight = new_parameter((num_embeddings, embedding_dim), dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(
                    f"Embedding: _weight of shape {tuple(_weight.shape)} must be "
                    f"({num_embeddings}, {embedding_dim})"
                )
            self.weight = Parameter(_weight)
        self.weight.requires_grad_(not _freeze)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding holding `embeddings` (a 2-d tensor), frozen unless `freeze=False`."""
        if embeddings.ndim != 2:
            raise ShapeError(
                f"Embedding.from_pretrained: embeddings of shape {tuple(embeddings.shape)} "
                "must be 2-d (num_embeddings, embedding_dim)"
            )
        rows, dim = embeddings.shape
        return cls(
            rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
            _weight=embeddings, _freeze=freeze,
        )  # fmt: skip

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, indices) -> Tensor:
        return F.embedding(
            indices, self.weight, self.padding_idx, self.max_norm, self.norm_type,
            self.scale_grad_by_freq, self.sparse,
        )  # fmt: skip

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text + (", sparse=True" if self.sparse else "")


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: {p=} must be between 0 and 1")
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability p in training; the identity in evaluation."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input with probability p in training (Tompson
    et al., 2015: neighbouring pixels are correlated, so single ones carry little)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training, self.inplace)


class Identity(Module):
    """Returns its input; takes and ignores any arguments, as torch's."""

    def __init__(self, *args, **kwargs):
        pass

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Merge the axes from start_dim to end_dim; by default all but the batch axis."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        if type(x) is not Tensor:
            check_tensor("Flatten", x)
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis `dim` into `unflattened_size`: flat pixels back into an image."""

    def __init__(self, dim: int, unflattened_size):
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        if type(x) is not Tensor:
            check_tensor("Unflatten", x)
        dim = self.dim % x.ndim
        return ops.reshape(x, x.shape[:dim] + self.unflattened_size + x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class ReLU(Module):
    def __init__(self, inplace: bool = False):
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        if type(x) is not Tensor:
            check_tensor("Sigmoid", x)
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        if type(x) is not Tensor:
            check_tensor("Tanh", x)
        return ops.tanh(x)


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class _SoftmaxNd(Module):
    def __init__(self, dim: int | None = None):
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxNd):
    """exp(x) / sum exp(x) along `dim`; without a dim, torch's implicit choice (and its
    warning): dim 0 for 0-, 1- and 3-d input, else 1."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim, _stacklevel=5)


class LogSoftmax(_SoftmaxNd):
    """log(softmax(x)) along `dim`, computed stably; feeds NLLLoss."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim, _stacklevel=5)
