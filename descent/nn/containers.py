"""Containers that register what they hold: `Sequential`, `ModuleList`, `ModuleDict`,
`ParameterList` and `ParameterDict`, as torch's."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from descent.errors import ShapeError
from descent.nn.module import Module
from descent.nn.parameter import Parameter


class Sequential(Module):
    """Modules applied one after another; child i is named "i" (or as an OrderedDict says)."""

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, _module(module, name))
            return
        for index, module in enumerate(modules):
            self.add_module(str(index), _module(module, index))

    def forward(self, x):
        for index, module in enumerate(self._modules.values()):
            try:
                x = module(x)
            except ShapeError as error:
                raise ShapeError(f"layer {index}: {error}") from None
        return x

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        modules = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(modules[index]))
        return modules[_position(index, len(modules))][1]

    def __setitem__(self, index: int, module: Module) -> None:
        name = list(self._modules)[_position(index, len(self._modules))]
        self.add_module(name, _module(module, index))

    def __delitem__(self, index: int) -> None:
        delattr(self, list(self._modules)[_position(index, len(self._modules))])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), _module(module, len(self._modules)))
        return self


class ModuleList(Module):
    """A list of modules that registers them; index it, iterate over it, append to it."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_position(index, len(modules))]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_position(index, len(self))), _module(module, index))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _module(module, len(self)))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, _module(module, index))
        for name in list(self._modules):
            delattr(self, name)
        for position, item in enumerate(modules):
            self.add_module(str(position), item)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in yours")


class ModuleDict(Module):
    """A dict of modules that registers them under their keys."""

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _module(module, key))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key: str) -> Module:
        module = self._modules[key]
        delattr(self, key)
        return module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: look up its modules in yours")


class ParameterList(Module):
    """A list of parameters that registers them."""

    def __init__(self, values: Iterable[Parameter] | None = None):
        super().__init__()
        for value in values or ():
            self.append(value)

    def __getitem__(self, index: int) -> Parameter:
        return list(self._parameters.values())[_position(index, len(self))]

    def __setitem__(self, index: int, value) -> None:
        self.register_parameter(str(_position(index, len(self))), _parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def append(self, value) -> ParameterList:
        self.register_parameter(str(len(self)), _parameter(value))
        return self

    def extend(self, values: Iterable) -> ParameterList:
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"({i}): Parameter of shape {tuple(p.shape)}" for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters that registers them under their keys."""

    def __init__(self, parameters: Mapping | None = None):
        super().__init__()
        for key, value in (parameters or {}).items():
            self[key] = value

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value) -> None:
        self.register_parameter(key, _parameter(value))

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()


def _module(value, where) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"item {where} is {type(value).__name__}, not a Module")
    return value


def _parameter(value) -> Parameter:
    return value if isinstance(value, Parameter) else Parameter(value)


def _position(index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for {length} items")
    return index % length
