"""Reverse-mode automatic differentiation: grad mode, the backward sweep and gradcheck.

The forward pass records a graph: every tensor made by an op keeps the op's
node (`Tensor._ctx`), and the node keeps its input tensors (`parents`).
`backward` orders that graph once, then sweeps it from the output back to
the leaves, summing each gradient back to its input's shape (the one place
broadcasting is undone) and accumulating it with `+` so a reused tensor is
right.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import ContextDecorator
from typing import TYPE_CHECKING

import numpy as np

from descent.backend import array_module

if TYPE_CHECKING:
    from descent.tensor import Tensor


class _GradMode(threading.local):
    enabled = True


grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops record the graph right now (on this thread)."""
    return grad_mode.enabled


class _GradModeSwitch(ContextDecorator):
    """Set grad mode on entry and restore the previous one on exit."""

    mode: bool = True

    def __enter__(self):
        self.previous = grad_mode.enabled
        grad_mode.enabled = self.mode

    def __exit__(self, *exc_info):
        grad_mode.enabled = self.previous
        return False

    def _recreate_cm(self):
        # A decorated function gets a fresh switch per call: recursion and threads are safe.
        switch = _GradModeSwitch()
        switch.mode = self.mode
        return switch


class no_grad(_GradModeSwitch):
    """Build no graph: for evaluation and weight updates. A context manager and a decorator."""

    mode = False


class enable_grad(_GradModeSwitch):
    """Record the graph again inside a `no_grad` region."""

    mode = True


class set_grad_enabled(_GradModeSwitch):
    """Turn graph recording on or off: at once when called, until the end of a `with` block."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.previous = grad_mode.enabled
        grad_mode.enabled = self.mode  # as PyTorch: a plain call switches the mode too

    def __enter__(self):
        pass  # switched in __init__


def sum_to_shape(grad, shape: tuple):
    """Undo broadcasting: sum `grad` over the axes along which `shape` was stretched."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def _topological_order(root: Tensor) -> list[Tensor]:
    """The recorded tensors behind `root`, each after all of its inputs (iterative DFS)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        parents = tensor._ctx.parents
        if parents is None:
            raise RuntimeError(
                f"backward: the graph through {type(tensor._ctx).__name__} was already freed by "
                "an earlier backward(); pass retain_graph=True to the first backward() to "
                "call it twice"
            )
        for parent in parents:
            if parent._ctx is not None and id(parent) not in seen:
                stack.append((parent, False))
    return order


def backward(root: Tensor, grad=None, retain_graph: bool = False) -> None:
    """Backpropagate from `root`, accumulating into the `.grad` of every leaf that needs it."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph; "
            "create its inputs with requires_grad=True, outside no_grad()"
        )
    xp = array_module(root.data)
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: a gradient can be created implicitly only for a scalar output, "
                f"got shape {root.shape}; pass grad= (an array of that shape), or reduce "
                "the output first, e.g. loss.sum()"
            )
        grad = xp.ones(root.shape, dtype=root.dtype)
    else:
        grad = xp.asarray(grad, dtype=root.dtype)
        if grad.shape != root.shape:
            raise ValueError(f"backward: grad has shape {grad.shape}, the output {root.shape}")
    if root._ctx is None:
        _accumulate_leaf(root, grad, handed_out={id(grad)})
        return

    grads = {id(root): grad}
    handed_out: set[int] = {id(grad)}  # the caller's own array must not become a leaf's .grad
    for tensor in reversed(_topological_order(root)):
        node = tensor._ctx
        out_grad = grads.pop(id(tensor), None)
        if out_grad is not None:
            input_grads = node.backward(out_grad)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, input_grad in zip(node.parents, input_grads):
                if input_grad is None or not parent._requires_grad:
                    continue
                if input_grad.shape != parent.data.shape:
                    input_grad = sum_to_shape(input_grad, parent.data.shape)
                if parent._ctx is None:
                    _accumulate_leaf(parent, input_grad, handed_out)
                else:
                    key = id(parent)
                    previous = grads.get(key)
                    grads[key] = input_grad if previous is None else previous + input_grad
        if not retain_graph:
            node.__dict__.clear()  # drops saved arrays and parents; `parents` reads None after


def _accumulate_leaf(leaf: Tensor, grad, handed_out: set[int]) -> None:
    """Add `grad` into `leaf.grad`, which must own its memory (optimizers update it in place)."""
    if grad.dtype != leaf.data.dtype:
        grad = grad.astype(leaf.data.dtype)
    if leaf.grad is None:
        # A view, or an array already given to another leaf, would alias: copy it.
        if grad.base is not None or id(grad) in handed_out or not grad.flags.writeable:
            grad = grad.copy()
        handed_out.add(id(grad))
        leaf.grad = grad
    else:
        leaf.grad = leaf.grad + grad


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference one."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check `fn`'s gradients against central finite differences in float64.

    A non-scalar output is reduced with a random upstream gradient, so every
    output element's gradient is tested. Inputs that require grad are
    checked; they must be float64 (float32 differences are too coarse).

    Returns True, or raises GradcheckError naming the input, the element and
    both values.
    """
    from descent.tensor import Tensor

    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need "
                "float64 inputs, e.g. dc.tensor(x, dtype='float64', requires_grad=True)"
            )

    with no_grad():
        reference = fn(*inputs)
    # A scalar output is checked as it is; a larger one through a random projection.
    upstream = np.random.default_rng(seed).standard_normal(reference.shape)
    if reference.size == 1:
        upstream = np.ones(reference.shape)

    def objective() -> float:
        with no_grad():
            return float(np.sum(fn(*inputs).data * upstream))

    for i in checked:
        inputs[i].grad = None
    fn(*inputs).backward(upstream)

    for i in checked:
        tensor = inputs[i]
        analytic = tensor.grad if tensor.grad is not None else np.zeros(tensor.shape)
        tensor.data = np.ascontiguousarray(tensor.data)
        flat = tensor.data.reshape(-1)  # a view: perturbing it perturbs the input
        for flat_index in range(flat.size):
            original = flat[flat_index]
            flat[flat_index] = original + eps
            above = objective()
            flat[flat_index] = original - eps
            below = objective()
            flat[flat_index] = original
            numeric = (above - below) / (2 * eps)
            index = np.unravel_index(flat_index, tensor.shape)
            value = analytic[index]
            if not abs(value - numeric) <= atol + rtol * abs(numeric):
                raise GradcheckError(
                    f"gradcheck: input {i} element {tuple(int(k) for k in index)}: "
                    f"analytic gradient {value:.8g}, numeric {numeric:.8g}"
                )
    return True
