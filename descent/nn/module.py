"""`Module`, the base of every layer and model.

As in `torch/nn/modules/module.py`, assignment sorts a module's parts:
`self.x = Parameter(...)` lands in `_parameters`, a Module in `_modules`,
and `register_buffer` puts state that is saved but not trained in
`_buffers`. A plain tensor attribute is just an attribute (a cache), and a
plain list or dict of modules or parameters warns and names the container
that registers them. Everything is kept in insertion order, which is the
order of `parameters()` and `state_dict()`.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from descent.autograd import RemovableHandle
from descent.device import device
from descent.dtypes import float16, float32, float64
from descent.errors import ShapeError
from descent.nn.parameter import Parameter
from descent.tensor import Tensor


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict` returns, as torch's `_IncompatibleKeys`."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class StateDictError(KeyError, RuntimeError):
    """A state dict that does not fit a module: torch raises RuntimeError, descent did KeyError."""

    def __str__(self) -> str:
        return str(self.args[0])


class Module:
    """Base class for layers and models: subclasses set parts in __init__ and write forward."""

    training: bool = True
    _hooks: _Hooks | None = None

    def __init__(self) -> None:
        self._ensure_registries()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if self._hooks is None:
            return self.forward(*args, **kwargs)
        return self._hooks.call(self, args, kwargs)

    # -- registration ------------------------------------------------------------------------

    def _ensure_registries(self) -> None:
        if "_parameters" not in self.__dict__:
            object.__setattr__(self, "_parameters", OrderedDict())
            object.__setattr__(self, "_buffers", OrderedDict())
            object.__setattr__(self, "_non_persistent", set())
            object.__setattr__(self, "_modules", OrderedDict())

    def __setattr__(self, name: str, value: Any) -> None:
        self._ensure_registries()
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._register(params, name, value)
        elif isinstance(value, Module):
            self._register(modules, name, value)
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' "
                    "(descent.nn.Parameter or None expected)"
                )
            self._register(params, name, None)
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' "
                    "(a Tensor or None expected)"
                )
            self._register(buffers, name, value)
        elif name in modules and value is None:
            self._register(modules, name, None)
        else:
            _warn_if_unregistered_collection(self, name, value)
            object.__setattr__(self, name, value)

    def _register(self, registry: OrderedDict, name: str, value: Any) -> None:
        """Put `value` in one registry (out of the others), and in __dict__ too: a plain
        attribute read, `self.weight`, then costs no `__getattr__` call in forward."""
        for other in (self._parameters, self._buffers, self._modules):
            if other is not registry:
                other.pop(name, None)
        registry[name] = value
        self.__dict__[name] = value

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def __dir__(self):
        parts = [*self._parameters, *self._buffers, *self._modules]
        return sorted(set(super().__dir__()) | set(parts))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} object to parameter '{name}' "
                "(descent.nn.Parameter or None required)"
            )
        self._ensure_registries()
        self._register(self._parameters, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Keep `tensor` as state that moves with the module; `persistent` ones are saved."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign {type(tensor).__name__} object to buffer '{name}' "
                "(a Tensor or None required)"
            )
        self._ensure_registries()
        self._register(self._buffers, name, tensor)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._ensure_registries()
        self._register(self._modules, name, module)

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        module = self
        for part in target.split(".") if target else []:
            module = module._modules[part]
        return module

    # -- walking the parts ---------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        self._ensure_registries()
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            module._ensure_registries()
            for name, value in getattr(module, registry).items():
                if value is not None and id(value) not in seen:  # a shared one is listed once
                    seen.add(id(value))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator:
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters(recurse=recurse):
            yield parameter

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # -- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode: dropout drops, batch norm uses and updates batch statistics."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
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

    # -- hooks ---------------------------------------------------------------------------------

    def _hook_lists(self) -> _Hooks:
        hooks = self._hooks
        if hooks is None:
            hooks = _Hooks()
            object.__setattr__(self, "_hooks", hooks)
        return hooks

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, args)` runs before forward; a returned value replaces the args."""
        return _register(self._hook_lists().forward_pre, hook)

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, args, output)` runs after forward; a returned value replaces the
        output."""
        return _register(self._hook_lists().forward, hook)

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, grad_input, grad_output)` runs once the gradients with respect to
        the module's inputs are known; a returned tuple replaces grad_input."""
        return _register(self._hook_lists().backward, hook)

    # -- state -----------------------------------------------------------------------------

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> dict:
        """Parameters and persistent buffers by dotted name, in torch's order (each module's
        own parameters, then its buffers, then its children's), as detached tensors that
        share memory with the module."""
        state = OrderedDict() if destination is None else destination
        self._ensure_registries()
        for name, param in self._parameters.items():
            if param is not None:
                state[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent:
                state[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, child in self.named_children():
            child.state_dict(state, f"{prefix}{name}.", keep_vars)
        return state

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and buffers, in place.

        With `strict`, missing or unexpected keys are an error; a shape that
        differs always is, and nothing is changed then. Returns torch's
        `(missing_keys, unexpected_keys)`.
        """
        own = self.state_dict(keep_vars=True)
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise StateDictError(
                f"load_state_dict: the state does not fit {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}; is it from another "
                "architecture? Pass strict=False to load the keys that match"
            )
        mismatched = [
            f"{name}: saved {tuple(np.shape(state_dict[name]))}, model {own[name].shape}"
            for name in own
            if name in state_dict and tuple(np.shape(state_dict[name])) != own[name].shape
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
        return IncompatibleKeys(missing, unexpected)

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


class _Hooks:
    """A module's forward and backward hooks, and the call that runs them around forward."""

    def __init__(self):
        self.forward_pre: list = []
        self.forward: list = []
        self.backward: list = []

    def call(self, module: Module, args: tuple, kwargs: dict):
        for hook in list(self.forward_pre):
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward = _BackwardHookCall(module, self.backward) if self.backward else None
        if backward is not None:
            args = backward.wrap_inputs(args)
        output = module.forward(*args, **kwargs)
        for hook in list(self.forward):
            result = hook(module, args, output)
            if result is not None:
                output = result
        return output if backward is None else backward.wrap_output(output)


class _BackwardHookCall:
    """One forward call with backward hooks: it gathers the gradients of the outputs and
    of the inputs, and calls each hook once both are known."""

    def __init__(self, module: Module, hooks: list):
        self.module, self.hooks = module, hooks
        self.grad_outputs: tuple = ()
        self.grad_inputs: list = []
        self.waiting = 0

    def wrap_inputs(self, args: tuple) -> tuple:
        from descent import ops

        wrapped = list(args)
        self.grad_inputs = [None] * len(args)
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor) and arg.requires_grad:
                wrapped[i] = ops.reshape(arg, arg.shape)  # a node of its own to hook
                wrapped[i].register_hook(self._input_hook(i))
                self.waiting += 1
        return tuple(wrapped)

    def _input_hook(self, i: int):
        def hook(grad):
            self.grad_inputs[i] = grad
            self.waiting -= 1
            if self.waiting == 0:
                self._fire()

        return hook

    def wrap_output(self, output):
        if isinstance(output, Tensor) and output.requires_grad:

            def hook(grad):
                self.grad_outputs = (grad,)
                if self.waiting == 0:
                    self._fire()

            output.register_hook(hook)
        return output

    def _fire(self) -> None:
        for hook in list(self.hooks):
            hook(self.module, tuple(self.grad_inputs), self.grad_outputs)


def _register(hooks: list, hook: Callable) -> RemovableHandle:
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def _warn_if_unregistered_collection(module: Module, name: str, value: Any) -> None:
    """torch ignores a plain list or dict of modules silently; descent says what to use."""
    items = (
        value.values()
        if isinstance(value, dict)
        else value
        if isinstance(value, list | tuple)
        else ()
    )
    kinds = {type(item) for item in items}
    if any(issubclass(kind, Module) for kind in kinds):
        container = "ModuleDict" if isinstance(value, dict) else "ModuleList"
    elif any(issubclass(kind, Parameter) for kind in kinds):
        container = "ParameterDict" if isinstance(value, dict) else "ParameterList"
    else:
        return
    warnings.warn(
        f"{type(module).__name__}.{name} is a plain {type(value).__name__}, so its "
        f"{'modules' if 'Module' in container else 'parameters'} are not registered: "
        f"parameters() and state_dict() will not see them. Wrap it: "
        f"self.{name} = nn.{container}(...)",
        stacklevel=3,
    )
