"""Reverse-mode automatic differentiation: grad mode, the backward sweep, torch-style
Functions, `grad` and gradcheck.

The forward pass records a graph, as torch's: every tensor made by an op
keeps the op's node (`Tensor.grad_fn`), and the node keeps edges to the
nodes that made its inputs, or to the leaves themselves. Edges point to
nodes, not tensors, so an in-place op that gives a tensor a new node leaves
the graph recorded before it intact. `backward` orders the nodes once, then
sweeps them from the output back to the leaves, summing each gradient back
to its input's shape (the one place broadcasting is undone) and adding up
the gradients of a reused node before it runs.
"""

from __future__ import annotations

import itertools
import operator
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


# Every in-place change ticks this clock and stamps the changed tensor's version counter,
# [version, clock at the last change]. A node notes the clock when it is made: at backward,
# if the clock has not moved since, nothing it saved can have changed (the fast path).
inplace_clock = [0]


class Node:
    """A recorded op as the backward sweep sees it: a gradient rule and the edges to its inputs.

    `next[i]` is where input i's gradient goes: the node that made input i,
    the leaf tensor itself (whose `.grad` accumulates it), or None when input
    i needs no gradient. `shapes[i]` is input i's shape, to undo broadcasting. `made_at`
    is `inplace_clock` when the node was made; `saved_tensors_changed()` says
    whether a tensor whose data it kept changed in place since.
    """

    next: tuple | None = None  # None once the sweep freed the node
    shapes: tuple = ()
    saves: tuple | None = None  # the attributes holding saved arrays; () when none (no checks)
    made_at = 0
    sequence_nr = 0  # set when recorded: next_sequence_nr()
    output_changed = False  # set when the values this node made are changed in place
    hooks: list | None = None  # tensor hooks of the node's output
    retained = None  # the output tensor, when retain_grad() was called on it
    watched = False  # True once it has hooks or a retained output (one check in the sweep)

    def backward(self, grad):
        raise NotImplementedError

    def changed_saved_tensor(self) -> str | None:
        """Which tensor this node saved has changed in place since, or None."""
        return None

    def name(self) -> str:
        return f"{type(self).__name__}Backward0"

    @property
    def next_functions(self) -> tuple:
        """torch's window onto the graph: ((node, AccumulateGrad or None, 0), ...)."""
        return tuple(
            (edge if edge is None or isinstance(edge, Node) else AccumulateGrad(edge), 0)
            for edge in self.next or ()
        )

    def register_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(grad_inputs, grad_outputs)` is not supported; hook the tensor instead."""
        raise NotImplementedError(
            "grad_fn.register_hook is not supported; use tensor.register_hook(fn), which gets "
            "and may replace the tensor's gradient"
        )

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """Where a leaf's gradient ends, its `.grad`, as `next_functions` shows it."""

    next = ()

    def __init__(self, variable: Tensor):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"


class RemovableHandle:
    """Returned by `register_hook`: `remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def sum_to_shape(grad, shape: tuple):
    """Undo broadcasting: sum `grad` over the axes along which `shape` was stretched."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


# Every node takes the next number when it is recorded, after the nodes of its inputs: the
# nodes sorted by it, latest first, are in an order that the sweep can follow (torch's
# sequence_nr).
next_sequence_nr = itertools.count(1).__next__
_sequence_nr = operator.attrgetter("sequence_nr")


def _topological_order(roots: list[Node]) -> list[Node]:
    """The nodes behind `roots`, each before every node it feeds: the reachable nodes,
    latest recorded first."""
    seen = set(roots)
    stack = list(seen)
    push, pop, mark, is_node = stack.append, stack.pop, seen.add, isinstance  # hot loop
    while stack:
        node = pop()
        edges = node.next
        if edges is None:
            raise RuntimeError(
                f"backward: the graph through {node.name()} was already freed by an earlier "
                "backward(); pass retain_graph=True to the first backward() to call it twice"
            )
        for edge in edges:
            if edge not in seen and is_node(edge, Node):
                mark(edge)
                push(edge)
    return sorted(seen, key=_sequence_nr, reverse=True)


def check_saved_tensors(node: Node) -> None:
    """torch's error when a tensor `node` saved for its gradient changed in place since."""
    if inplace_clock[0] == node.made_at:
        return
    changed = node.changed_saved_tensor()
    if changed is not None:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: {changed}, which {node.name()} saved, was changed after it "
            "was saved. Use an out-of-place op (x = x + 1, not x += 1) or clone() the tensor "
            "before changing it"
        )


def describe_changed(tensor: Tensor) -> str:
    return (
        f"a {tensor.dtype} tensor of shape {list(tensor.shape)} (now at version {tensor._version})"
    )


def _seed(tensor: Tensor, grad):
    """The gradient that starts the sweep at `tensor`: `grad`, or 1 for a scalar."""
    if grad is None:
        if tensor._data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this output has "
                f"shape {tensor.shape}: pass gradient= (a tensor of that shape) or reduce it "
                "first, e.g. loss.sum()"
            )
        return array_module(tensor._data).ones(tensor.shape, dtype=tensor.dtype)
    grad = grad._data if hasattr(grad, "_data") else grad
    grad = array_module(tensor._data).asarray(grad, dtype=tensor.dtype)
    if grad.shape != tensor.shape:
        raise RuntimeError(
            f"backward: gradient has shape {grad.shape} but the output has shape {tensor.shape}"
        )
    return grad


def run_backward(
    tensors: Sequence[Tensor],
    grads: Sequence,
    retain_graph: bool = False,
    capture: Sequence[Tensor] | None = None,
) -> list | None:
    """Sweep the graph back from `tensors` (seeded with `grads`).

    Without `capture`, every leaf that requires grad accumulates into its
    `.grad`. With it, no `.grad` changes and the gradients of the tensors
    in `capture` are returned instead (None for one that got none).
    """
    grads_of: dict[Node, object] = {}  # node -> its output's gradient so far
    leaf_grads: dict[int, list] = {}  # leaf id -> [leaf, its gradient summed over its uses]
    roots: list[Node] = []
    for tensor, grad in zip(tensors, grads):
        if not tensor._requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "create its inputs with requires_grad=True, outside no_grad()"
            )
        seed = _seed(tensor, grad)
        root = tensor._edge()
        if isinstance(root, Node):
            previous = grads_of.get(root)
            grads_of[root] = seed if previous is None else previous + seed
            roots.append(root)
        else:
            _add_to_leaf(leaf_grads, root, seed)
    handed_out = {id(g) for g in grads_of.values()} | {id(e[1]) for e in leaf_grads.values()}
    captured = None if capture is None else {id(t._edge()): None for t in capture}

    clock, capturing = inplace_clock[0], captured is not None
    take, get = grads_of.pop, grads_of.get  # hot loop
    for node in _topological_order(roots):
        grad = take(node, None)
        if grad is not None:
            if node.made_at != clock and node.saves != ():
                check_saved_tensors(node)
            if node.watched or capturing:
                grad = _watch(node, grad, captured, handed_out)
            input_grads = node.backward(grad)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            for edge, shape, input_grad in zip(node.next, node.shapes, input_grads):
                if input_grad is None or edge is None:
                    continue
                if input_grad.shape != shape:
                    input_grad = sum_to_shape(input_grad, shape)
                if isinstance(edge, Node):
                    previous = get(edge)
                    grads_of[edge] = input_grad if previous is None else previous + input_grad
                elif edge._hooks is None and not capturing:
                    _accumulate_leaf(edge, input_grad, handed_out)  # no hook: add at once
                else:
                    _add_to_leaf(leaf_grads, edge, input_grad)
        if not retain_graph:
            node.__dict__.clear()  # drops saved arrays and edges; `next` reads None after

    # A leaf with hooks gets its gradient summed over all its uses, hooks run once, as torch's.
    for key, (leaf, grad) in leaf_grads.items():
        if leaf._hooks:
            grad = _run_hooks(leaf._hooks, grad)
        if not capturing:
            _accumulate_leaf(leaf, grad, handed_out)
        elif key in captured:
            captured[key] = grad
    if captured is None:
        return None
    return [captured[id(t._edge())] for t in capture]


def _watch(node: Node, grad, captured: dict | None, handed_out: set[int]):
    """Run the hooks of `node`'s output, then capture its gradient (autograd.grad) or keep
    it in a retained output's `.grad`; returns the gradient the hooks left."""
    if node.hooks:
        grad = _run_hooks(node.hooks, grad)
    if captured is not None:
        if id(node) in captured:
            captured[id(node)] = grad
    elif node.retained is not None:
        _accumulate_leaf(node.retained, grad, handed_out)
    return grad


def _add_to_leaf(leaf_grads: dict, leaf: Tensor, grad) -> None:
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, grad]
    else:
        entry[1] = entry[1] + grad


def _tensor(array):
    """`descent.tensor.wrap`, imported at the first call: tensor.py imports this module."""
    global _wrap
    if _wrap is None:
        from descent.tensor import wrap as _wrap
    return _wrap(array)


_wrap = None


def _run_hooks(hooks: list, grad):
    for hook in list(hooks):
        replaced = hook(_tensor(grad))
        if replaced is not None:
            grad = replaced._data
    return grad


def _accumulate_leaf(leaf: Tensor, grad, handed_out: set[int]) -> None:
    """Add `grad` into `leaf.grad`, a tensor that owns its memory (optimizers update it)."""
    if grad.dtype != leaf._data.dtype:
        grad = grad.astype(leaf._data.dtype)
    existing = leaf._grad
    if existing is None:
        # A view, a NumPy scalar, or an array already given to another leaf would alias.
        if (
            type(grad) is not np.ndarray
            or grad.base is not None
            or id(grad) in handed_out
            or not grad.flags.writeable
        ):
            grad = np.array(grad, copy=True) if type(grad) is not np.ndarray else grad.copy()
        handed_out.add(id(grad))
        leaf._grad = _tensor(grad)
    elif existing._data.flags.writeable and existing._data.shape == grad.shape:
        existing._data += grad  # in place, as torch: `g = w.grad` sees later backwards
    else:
        leaf._grad = _tensor(existing._data + grad)


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs=None,
) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves behind them."""
    tensors, grad_tensors = _as_sequences(tensors, grad_tensors)
    _refuse_create_graph(create_graph)
    if inputs is not None:
        inputs = [inputs] if hasattr(inputs, "_data") else list(inputs)
        found = run_backward(tensors, grad_tensors, bool(retain_graph), capture=inputs)
        for tensor, grad in zip(inputs, found):
            if grad is not None:
                _accumulate_leaf(tensor, grad, set())
        return
    run_backward(tensors, grad_tensors, bool(retain_graph))


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, without touching any `.grad`."""
    from descent.tensor import wrap

    outputs, grad_outputs = _as_sequences(outputs, grad_outputs)
    _refuse_create_graph(create_graph)
    single = hasattr(inputs, "_data")
    inputs = [inputs] if single else list(inputs)
    for i, tensor in enumerate(inputs):
        if not tensor._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    found = run_backward(outputs, grad_outputs, bool(retain_graph), capture=inputs)
    result = []
    for i, (tensor, value) in enumerate(zip(inputs, found)):
        if value is None:
            if materialize_grads:
                value = np.zeros_like(tensor._data)
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used in the graph; pass allow_unused=True to get "
                    "None for it"
                )
        result.append(None if value is None else wrap(np.array(value, copy=True)))
    return tuple(result)


def _as_sequences(tensors, grads) -> tuple[list, list]:
    tensors = [tensors] if hasattr(tensors, "_data") else list(tensors)
    if grads is None:
        grads = [None] * len(tensors)
    elif hasattr(grads, "_data") or isinstance(grads, np.ndarray):
        grads = [grads]
    else:
        grads = list(grads)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} outputs and {len(grads)} gradients for them")
    return tensors, grads


def _refuse_create_graph(create_graph: bool) -> None:
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (gradients of gradients) is not supported by descent yet; "
            "compute second-order quantities with finite differences of gradients instead, "
            "as descent.lab.sharpness does"
        )


class FunctionCtx(Node):
    """The `ctx` of a torch-style `Function`, which is also its node in the graph."""

    needs_input_grad: tuple = ()
    _saved_tensors: tuple = ()
    materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        """Keep `tensors` for backward; changing one in place before then is an error."""
        self._saved_tensors = tensors

    def changed_saved_tensor(self) -> str | None:
        for t in self._saved_tensors:
            if t is not None and t._version_counter is not None:
                if t._version_counter[1] > self.made_at:
                    return describe_changed(t)
        return None

    @property
    def saved_tensors(self) -> tuple:
        check_saved_tensors(self)
        return self._saved_tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Accepted for compatibility: every output of a custom function is differentiable."""

    def mark_dirty(self, *tensors) -> None:
        """Accepted for compatibility: the output is always returned as a new tensor."""

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    def name(self) -> str:
        return f"{self._function.__name__}Backward"

    def backward(self, grad):
        from descent.tensor import wrap

        with no_grad():
            grads = self._function.backward(self, wrap(grad))
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.next):
            raise RuntimeError(
                f"{self._function.__name__}.backward returned {len(grads)} gradients, but "
                f"forward took {len(self.next)} inputs: return one per input (None for an "
                "input that needs none)"
            )
        return tuple(None if g is None else g._data for g in grads)


def Variable(tensor, requires_grad: bool = False):  # noqa: N802  (torch's old name)
    """torch's old wrapper, now the tensor itself: `Variable(t, requires_grad=True)`."""
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


class Function:
    """A user-defined op, as `torch.autograd.Function`.

    Subclasses write static `forward(ctx, *args)` and `backward(ctx, *grads)`
    (returning one gradient per forward argument) and are called through
    `apply`. `ctx.save_for_backward(...)`, `ctx.saved_tensors` and
    `ctx.needs_input_grad` work as in torch. The built-in ops use descent's
    own node protocol (`descent.function.Function`); this class adapts a
    torch-style definition onto it.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        from descent.tensor import Tensor, wrap

        ctx = FunctionCtx()
        ctx._function = cls
        ctx.made_at = inplace_clock[0]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        separate_setup = cls.setup_context is not Function.setup_context
        with no_grad():
            output = (
                cls.forward(*args, **kwargs)
                if separate_setup
                else cls.forward(ctx, *args, **kwargs)
            )
            if separate_setup:
                cls.setup_context(ctx, args, output)
        if not isinstance(output, Tensor):
            raise NotImplementedError(
                f"{cls.__name__}.forward returned {type(output).__name__}; descent's custom "
                "functions return exactly one tensor"
            )
        output = wrap(output._data)
        if grad_mode.enabled and any(ctx.needs_input_grad):
            ctx.next = tuple(
                a._edge() if needs else None for a, needs in zip(args, ctx.needs_input_grad)
            )
            ctx.sequence_nr = next_sequence_nr()
            ctx.shapes = tuple(a.shape if isinstance(a, Tensor) else () for a in args)
            output._requires_grad = True
            output._ctx = ctx
        return output


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
    inputs = list(inputs)
    # A scalar output is checked as it is; a larger one through a random projection.
    upstream = np.random.default_rng(seed).standard_normal(reference.shape)
    if reference.numel() == 1:
        upstream = np.ones(reference.shape)

    def objective() -> float:
        with no_grad():
            return float(np.sum(fn(*inputs)._data * upstream))

    for i in checked:
        inputs[i].grad = None
    fn(*inputs).backward(upstream)

    for i in checked:
        tensor = inputs[i]
        analytic = tensor._grad._data if tensor._grad is not None else np.zeros(tensor.shape)
        tensor._data = np.ascontiguousarray(tensor._data)
        flat = tensor._data.reshape(-1)  # a view: perturbing it perturbs the input
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
