"""`Optimizer`: the loop over parameter groups and parameters that every update rule shares."""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from descent import jit
from descent.autograd import enable_grad
from descent.backend import array_module
from descent.optim.state import check_field, loaded_value, saved_value
from descent.tensor import Tensor


@dataclass(frozen=True)
class Range:
    """The values an option accepts, declared as data and checked by the one `check`.

    A number from `low` to `high` (each bound itself only if `closed_low`/`closed`), an
    integral one with `integer`; with `shape` "pair", two such numbers (Adam's betas),
    with "list", any number of them. `what` is torch's word for the option in its message
    ("learning rate"); by default "<option> value", as torch says for most. Optimizers
    and schedulers declare their options so, and both a constructor and a loaded state
    pass through `check`, so no option is checked two ways.
    """

    low: float = 0.0
    high: float = math.inf
    closed: bool = False
    pair: bool = False
    what: str | None = None
    closed_low: bool = True
    integer: bool = False
    shape: str = "one"

    def check(self, owner: str, option: str, value: Any) -> None:
        """Raise TypeError (not a number) or ValueError (out of range) naming the owner, the
        option and the value; a NaN or infinity is out of every finite range."""
        what = self.what or f"{option} value"
        shape = "pair" if self.pair else self.shape
        if shape == "one":
            self._check_one(owner, f"{option} must be", what, value)
            return
        accepts = f"{option} must be {'two numbers' if shape == 'pair' else 'numbers'}"
        if not isinstance(value, (tuple, list)) or (shape == "pair" and len(value) != 2):
            raise ValueError(f"{owner}: Invalid {what}s: {value!r}; {accepts} {self}")
        for i, number in enumerate(value):
            self._check_one(owner, accepts, f"{what} at index {i}", number)

    def _check_one(self, owner: str, accepts: str, what: str, value: Any) -> None:
        number = _number(value)
        if number is None:
            raise TypeError(
                f"{owner}: Invalid {what}: {value!r}; {accepts} {self}, not a "
                f"{type(value).__name__}"
            )
        low_ok = self.low <= number if self.closed_low else self.low < number
        high_ok = number <= self.high if self.closed else number < self.high
        integral = not self.integer or float(number).is_integer()
        if not (low_ok and high_ok and integral):
            raise ValueError(f"{owner}: Invalid {what}: {value!r}; {accepts} {self}")

    def __str__(self) -> str:
        kind = "an integer " if self.integer else ""
        if self.high == math.inf:
            return f"{kind}{'>=' if self.closed_low else '>'} {self.low:.16g} and finite"
        if self.low == -math.inf:
            return f"{kind}{'<=' if self.closed else '<'} {self.high:.16g}"
        left, right = "[" if self.closed_low else "(", "]" if self.closed else ")"
        return f"{kind}in {left}{self.low:.16g}, {self.high:.16g}{right}"


def _number(value: Any) -> float | int | None:
    """`value` as a plain number if it is one (a one-element tensor or array counts), else
    None; a bool counts, as torch's comparisons take it."""
    if isinstance(value, (Tensor, np.ndarray)) and value.size == 1:
        value = value.item()
    if isinstance(value, numbers.Real):
        return value
    return None


NONNEGATIVE = Range()
LEARNING_RATE = Range(what="learning rate")
EPSILON = Range(what="epsilon value")
BETAS = Range(0.0, 1.0, pair=True, what="beta parameter")
ADAM_RANGES = {"lr": LEARNING_RATE, "eps": EPSILON, "betas": BETAS, "weight_decay": NONNEGATIVE}
"""The options Adam and its variants (AdamW, Adamax, NAdam, RAdam) share."""
FINITE = Range(-math.inf, closed_low=False)
_SCALAR_RANGES = {"step": Range(0.0, 2.0**53, closed=True, integer=True, what="step count")}
"""A step count is a whole number of steps; past 2**53 a float cannot count one more."""


_SET_MESSAGE = (
    "{name}: params must be an ordered collection (a list), not a set: a set's order "
    "changes between runs, and with it which state belongs to which parameter"
)


class Optimizer:
    """Base class: owns the parameter groups, the per-parameter state and the step loop.

    A subclass writes its update rule once, for one parameter, in
    `update_step(param, grad, state, group)`: `param` is the parameter's
    array (update it in place), `grad` its gradient (never modified),
    `state` the parameter's named fields from `init_state`, and `group` its
    options (`group["lr"]`, ...). `step()` skips parameters whose `.grad`
    is None, as PyTorch does, and calls `advance` (which counts
    `state["step"]`) before `update_step`.

    The state is torch's: `optimizer.state[param]` is a dict of descent
    Tensors (`exp_avg`, `momentum_buffer`, ...), and `step` is a 0-d float
    tensor of the default dtype's precision (float32), as torch keeps it. A
    rule works on the arrays underneath, `state["exp_avg"]._data`, in place.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) with a
            "params" entry and any options that differ from the defaults.
        defaults: the options of a group that does not set them.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._buffers: dict[tuple, Any] = {}  # scratch arrays reused by every step
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params must be an iterable of tensors or of dicts, got one "
                "Tensor; pass [tensor]"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name=self._name))
        self.check_options(self.defaults)
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- what a subclass writes ------------------------------------------------------

    scalar_fields: tuple[str, ...] = ("step",)
    """State fields that are one number per parameter (0-d tensors), not arrays like it."""

    fused_min_elements: int = 500_000
    """Below this many parameter elements in all, steps stay on the NumPy path and never
    import numba. The first fused step of a process costs about 1 s (numba's import and
    set-up, with its kernels cached on disk), which must pay back within a short run:
    Adam's kernel saves 1.1 us per thousand elements a step (1.4 ms against 0.26 ms on
    1.07M), so from here in about 1,800 steps. SGD, with fewer passes to save, sets its
    own."""

    option_ranges: Mapping[str, Range] = {}
    """The values each checked option accepts; the defaults and every group are checked."""

    def check_options(self, options: dict[str, Any]) -> None:
        """Raise ValueError for an option outside its range (the defaults and every group
        pass here). A subclass extends this only for a rule that ties options together."""
        for option, accepted in self.option_ranges.items():
            accepted.check(self._name, option, options[option])

    def init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Tensor]:
        """The named, zero-initialised state fields of one parameter (its array is `param`)."""
        return {}

    def advance(self, state: dict[str, Tensor], group: dict[str, Any]) -> None:
        """Advance the scalar fields, once per parameter and step, before `update_step`:
        here, t = t + 1."""
        step = state.get("step")
        if step is not None:
            step._data[()] = step._data.item() + 1  # rounded to the count's dtype, as torch's

    def update_step(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Update `param` in place from `grad`, this parameter's `state` and its `group`."""
        raise NotImplementedError

    def fused_update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> bool:
        """`update_step` in one compiled pass (descent.optim.kernels), or False where it cannot
        run (an array it does not take), and then `update_step` runs. Only for rules with a
        kernel; `update_step` stays the reference that tests compare it with."""
        return False

    # -- the loop --------------------------------------------------------------------

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return `closure()`'s loss if given.

        The closure re-evaluates the model and its gradients (zero_grad, forward,
        backward) and returns the loss; it runs with grad mode on.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        fused = self.fused_path()
        for group in self.param_groups:
            for param in group["params"]:
                if param._grad is None:
                    continue
                grad, data = param._grad._data, param._data
                if grad.shape != data.shape:
                    raise ValueError(
                        f"{self._name}.step: a parameter of shape {data.shape} has a "
                        f"gradient of shape {grad.shape}"
                    )
                state = self.state.get(param)
                if not state:  # no entry yet, or an empty one that reading state[param] made
                    state = self.state[param] = self.init_state(data, group)
                self.advance(state, group)
                if not (fused and self.fused_update(data, grad, state, group)):
                    self.update_step(data, grad, state, group)
                param._bump_version()  # a backward through the old values now raises, as torch
        return loss

    def fused_path(self) -> bool:
        """Whether this step runs the compiled kernels: the rule has one, `jit.available()`,
        and the parameters hold at least `fused_min_elements` elements in all."""
        if type(self).fused_update is Optimizer.fused_update or not jit.available():
            return False
        total = sum(p._data.size for group in self.param_groups for p in group["params"])
        return total >= self.fused_min_elements

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: set it to None (the default) or fill it with 0."""
        for group in self.param_groups:
            for param in group["params"]:
                if param._grad is not None:
                    if set_to_none:
                        param._grad = None
                    else:
                        param._grad._data[...] = 0

    def scratch(self, like: np.ndarray, slot: int = 0) -> np.ndarray:
        """A work array shaped like `like`, reused across steps; different slots never alias.

        One buffer per (dtype, slot), as large as the largest parameter, so a step
        allocates nothing once the first one has run.
        """
        key = (type(like), like.dtype, slot)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = self._buffers[key] = array_module(like).empty(like.size, like.dtype)
        return buffer[: like.size].reshape(like.shape)

    def effective_grad(
        self, param: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool
    ) -> np.ndarray:
        """g = (-grad if maximize else grad) + weight_decay * param: PyTorch's coupled L2 term.

        Returns `grad` itself when there is nothing to add, else scratch slot 0.
        """
        if weight_decay == 0 and not maximize:
            return grad
        g = self.scratch(param, 0)
        if weight_decay == 0:
            return np.negative(grad, out=g)
        np.multiply(param, weight_decay, out=g)
        if maximize:
            g -= grad
        else:
            g += grad
        return g

    # -- groups ----------------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (the rest come from the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{self._name}: a param group must be a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a param group needs a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name=self._name))
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:  # from named_parameters(): (name, tensor) pairs
            if len(names) != len(params):
                raise ValueError(f"{self._name}: give every parameter a name, or none")
            group["param_names"] = names
            params = [p[1] for p in params]
        for i, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"{self._name}: can only optimize descent Tensors, but parameter {i} is a "
                    f"{type(param).__name__}"
                )
            if not param.is_leaf:
                raise ValueError(
                    f"{self._name}: parameter {i} was computed by an op (not a leaf); optimize "
                    "the tensors it was computed from, or pass tensor.detach()"
                )
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self.check_options(group)

        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self._name}: a parameter appears twice in one param group")
        if seen.intersection(ids):
            raise ValueError(f"{self._name}: a parameter appears in more than one param group")
        if any(("param_names" in g) != ("param_names" in group) for g in self.param_groups):
            raise ValueError(f"{self._name}: param groups must all have names, or none")
        self.param_groups.append(group)

    # -- saving and loading ----------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout, as copies (later steps do not change it).

        {'state': {index: {'step': tensor(3.), 'exp_avg': tensor, ...}},
         'param_groups': [{'lr': ..., ..., 'params': [index, ...]}]},
        indices counting the parameters through the groups in order, the values
        descent Tensors (torch hands out its live state; these are copies).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = copy.deepcopy({k: v for k, v in group.items() if k != "params"})
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(param)]: {key: saved_value(value) for key, value in fields.items()}
            for param, fields in self.state.items()
            if fields and id(param) in index  # plain SGD keeps no state, as in torch
        }
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def check_state_dict(self, state_dict: Any) -> None:
        """Raise ValueError or TypeError naming the key unless `state_dict` would load: the
        layout of `state_dict()`, as many groups and parameters, every option as the
        constructor accepts it, and each parameter's state the fields `init_state` makes,
        arrays of its shape and a floating dtype, and finite counts. Touches nothing."""
        name = f"{self._name}.load_state_dict"
        _expect(state_dict, dict, f"{name}: the state")
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"{name}: the state lacks {key!r}")
        saved_groups = _expect(state_dict["param_groups"], list, f"{name}: 'param_groups'")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state has {len(saved_groups)} parameter groups, this optimizer "
                f"has {len(self.param_groups)}"
            )
        by_index: dict[int, tuple[Tensor, dict[str, Any]]] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            where = f"{name}: param group {i}"
            self._check_group(_expect(saved, dict, where), group, where)
            for index, param in zip(_index_list(saved["params"]), group["params"]):
                if index in by_index:
                    raise ValueError(f"{where}: parameter index {index} appears twice")
                by_index[index] = (param, {**group, **saved})
        for index, fields in _expect(state_dict["state"], dict, f"{name}: 'state'").items():
            where = f"{name}: the state of parameter {index!r}"
            number = _index(index)
            if number not in by_index:
                raise ValueError(f"{where}: the state has an entry for unknown parameter {index}")
            param, group = by_index[number]
            _expect(fields, dict, where)
            if not fields:
                continue
            expected = set(self.init_state(param._data, group))
            if set(fields) != expected:
                raise ValueError(
                    f"{where}: the fields {sorted(map(str, fields))} are not the "
                    f"{sorted(expected)} that {self._name} keeps for this parameter"
                )
            for key, value in fields.items():
                scalar = _SCALAR_RANGES.get(key, FINITE) if key in self.scalar_fields else None
                check_field(value, param, scalar, f"{name}: state {key!r} of parameter {index}")

    def _check_group(self, saved: dict[str, Any], group: dict[str, Any], where: str) -> None:
        """One saved param group against this optimizer's `group` at the same place."""
        params = saved.get("params")
        if not isinstance(params, list) or _index_list(params) is None:
            raise ValueError(f"{where}: 'params' must be a list of parameter indices")
        if len(params) != len(group["params"]):
            raise ValueError(
                f"{where} has {len(params)} parameters in the state and "
                f"{len(group['params'])} in this optimizer"
            )
        missing = sorted(set(self.defaults) - set(saved))
        if missing:
            raise ValueError(
                f"{where} lacks the options {missing} of {self._name}; was it saved from "
                "another optimizer?"
            )
        for option, default in self.defaults.items():
            if option not in self.option_ranges and not same_kind(default, saved[option]):
                raise TypeError(
                    f"{where}: {option!r} is {saved[option]!r}; {self._name} takes a "
                    f"{type(default).__name__} there"
                )
        for option, value in saved.items():  # unranged, torch's and the schedulers' entries
            if option not in self.option_ranges and isinstance(value, numbers.Real):
                FINITE.check(where, option, value)
        try:
            self.check_options(saved)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{where}: {error}") from None

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a `state_dict()` once `check_state_dict` passes it; else nothing changes.

        Tensors and arrays (descent's, NumPy's or torch's) are copied and cast to
        their parameter's dtype; a scalar field (`step`) keeps a floating dtype it
        has, and an int (older states) becomes torch's float count.
        """
        self.check_state_dict(state_dict)
        saved_groups = state_dict["param_groups"]
        by_index = {}
        for group, saved in zip(self.param_groups, saved_groups):
            by_index.update(zip(_index_list(saved["params"]), group["params"]))
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, fields in state_dict["state"].items():
            param = by_index[_index(index)]
            state[param] = {
                key: loaded_value(value, param, key in self.scalar_fields)
                for key, value in fields.items()
            }
        self.state = state
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            loaded = copy.deepcopy({k: v for k, v in saved.items() if k != "params"})
            if "param_names" in group:
                loaded.setdefault("param_names", group["param_names"])
            groups.append({**loaded, "params": group["params"]})
        self.param_groups = groups

    # -- words -----------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join([*lines, ")"])


def _expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"{where} must be a {kind.__name__}, not a {type(value).__name__}")
    return value


def _index(index: Any) -> int | None:
    """A saved parameter index: an int, or its digits (JSON keys are strings)."""
    if isinstance(index, str) and index.isdigit():
        return int(index)
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        return int(index)
    return None


def _index_list(indices: list) -> list[int] | None:
    numbers_ = [_index(i) for i in indices]
    return None if None in numbers_ else numbers_


def same_kind(default: Any, value: Any) -> bool:
    """Whether a saved value is of the kind its default is: a flag a bool, a number a
    number (its range is checked apart); None (torch's "not set", as foreach) takes a flag
    or None."""
    if isinstance(default, bool) or default is None:
        return value is None or isinstance(value, bool)
    if isinstance(default, numbers.Real):
        return _number(value) is not None
    return type(value) is type(default)
