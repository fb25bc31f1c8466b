"""Lazy layers, whose input size is read from their first input: LazyLinear."""

from __future__ import annotations

from descent.autograd import no_grad
from descent.errors import ShapeError
from descent.nn.factory import floating_dtype, new_buffer
from descent.nn.layers import Linear
from descent.nn.parameter import Parameter
from descent.tensor import Tensor


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (a lazy layer's, before its first call).

    It holds no values (shape (0,)) but has its dtype; `materialize(shape)` gives
    it zeros of that shape and makes it a plain Parameter, the same object, so an
    optimizer or a reference taken before keeps working.
    """

    __slots__ = ()

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        dtype = floating_dtype("UninitializedParameter", dtype, device)
        super().__init__(new_buffer((0,), dtype), requires_grad)

    def materialize(self, shape) -> None:
        self._data = new_buffer(tuple(shape), self._data.dtype)._data
        self._bump_version()
        self.__class__ = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class LazyLinear(Linear):
    """A Linear whose in_features is the last size of its first input; the weight and bias
    are then created and initialised as Linear's, and the layer becomes a Linear (its
    class too, as torch's does). Run one batch through it before saving its state."""

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        if out_features <= 0:
            raise ValueError(f"LazyLinear: {out_features=} must be positive")
        self.in_features, self.out_features = 0, out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.bias = UninitializedParameter(device=device, dtype=dtype) if bias else None

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in (self.weight, self.bias))

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params():
            super().reset_parameters()

    def initialize_parameters(self, x: Tensor) -> None:
        """Shape the parameters for input `x` and initialise them (once)."""
        if not self.has_uninitialized_params():
            return
        if x.ndim == 0:
            raise ShapeError(f"{self!r}: a 0-d input has no features to infer in_features from")
        with no_grad():
            self.in_features = x.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        self.initialize_parameters(x)
        self.__class__ = Linear
        return Linear.forward(self, x)

    def load_state_dict(self, state_dict: dict, strict: bool = True):
        """Take in_features from the saved weight first, then load as a Linear."""
        weight = state_dict.get("weight")
        if weight is not None and self.has_uninitialized_params() and len(weight.shape) == 2:
            with no_grad():
                self.in_features = weight.shape[1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
            self.__class__ = Linear
        return Linear.load_state_dict(self, state_dict, strict)
