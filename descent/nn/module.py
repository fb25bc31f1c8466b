"""`Module`, the base of every layer and model, and `Sequential`.

A module finds its parts by walking its attributes, in the order they were
set: a `Parameter` is a parameter, any other `Tensor` is a buffer (state
such as running statistics, saved but not trained), a `Module` is a child.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from descent.device import device
from descent.dtypes import float16, float32, float64
from descent.errors import ShapeError
from descent.nn.parameter import Parameter
from descent.tensor import Tensor


class Module:
    """Base class for layers and models: subclasses set parts in __init__ and write forward."""

    training: bool = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- walking the parts ---------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _named_tensors(self, kind: type, exclude: type | None = None):
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, kind) and not (exclude and isinstance(value, exclude)):
                    if id(value) not in seen:  # a shared parameter is listed once
                        seen.add(id(value))
                        yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        return self._named_tensors(Parameter)

    def parameters(self) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters():
            yield parameter

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        return self._named_tensors(Tensor, exclude=Parameter)

    def buffers(self) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers():
            yield buffer

    # -- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode: dropout drops, batch norm uses and updates batch statistics."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode, the same as `train(False)`."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.parameters():
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.zero_()

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for parameter in self.parameters():
            parameter.requires_grad = requires_grad
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move to a device (the CPU is the only one) and/or cast floating parameters and
        buffers to a dtype, in place, as `torch.nn.Module.to`."""
        probe = Tensor(np.zeros(0, np.float32)).to(*args, **kwargs)  # checks the arguments
        dtype = None
        if kwargs.get("dtype") is not None or any(not isinstance(a, str | device) for a in args):
            dtype = probe.dtype
        if dtype is not None:
            for tensor in (*self.parameters(), *self.buffers()):
                if tensor.is_floating_point():
                    tensor._data = tensor._data.astype(dtype)
                    if tensor._grad is not None:
                        tensor._grad._data = tensor._grad._data.astype(dtype)
        return self

    def float(self) -> Module:
        return self.to(float32)

    def double(self) -> Module:
        return self.to(float64)

    def half(self) -> Module:
        return self.to(float16)

    def cpu(self) -> Module:
        return self

    def apply(self, fn) -> Module:
        """Call `fn` on every submodule and then on this one (e.g. to initialise weights)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Tensor]:
        """Every parameter and buffer by dotted name, as detached tensors sharing memory."""
        state = {name: p.detach() for name, p in self.named_parameters()}
        state.update((name, b.detach()) for name, b in self.named_buffers())
        return state

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> tuple[list, list]:
        """Copy arrays into this module's parameters and buffers, in place.

        With `strict`, missing or unexpected keys are an error; a shape that
        differs always is. Returns (missing_keys, unexpected_keys).
        """
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: the state does not fit {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}; is it from another "
                "architecture? Pass strict=False to load the keys that match"
            )
        mismatched = [
            f"{name}: saved {np.shape(state_dict[name])}, model {own[name].shape}"
            for name in own
            if name in state_dict and np.shape(state_dict[name]) != own[name].shape
        ]
        if mismatched:
            raise ShapeError(
                "load_state_dict: shapes differ (" + "; ".join(mismatched) + "); the state is "
                "from a model of another size"
            )
        for name, tensor in own.items():
            if name in state_dict:
                value = state_dict[name]
                tensor._data[...] = value._data if isinstance(value, Tensor) else value
                tensor._bump_version()
        return missing, unexpected

    # -- printing --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The arguments shown inside this module's parentheses in its repr."""
        return ""

    def __repr__(self) -> str:
        children = [
            f"({name}): " + repr(child).replace("\n", "\n  ")
            for name, child in self.named_children()
        ]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = ([self.extra_repr()] if self.extra_repr() else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another; child i is named "i"."""

    def __init__(self, *modules: Module):
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: item {index} is {type(module).__name__}, not a Module"
                )
            setattr(self, str(index), module)

    def forward(self, x):
        for index, module in enumerate(self.children()):
            try:
                x = module(x)
            except ShapeError as error:
                raise ShapeError(f"layer {index}: {error}") from None
        return x

    def __getitem__(self, index: int) -> Module:
        return list(self.children())[index]

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __iter__(self) -> Iterator[Module]:
        return self.children()
