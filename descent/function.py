"""`Function`, one built-in op recorded in the graph: its forward and its gradient rule."""

from __future__ import annotations

from descent.autograd import Node, grad_mode
from descent.backend import shares_memory
from descent.errors import ShapeError
from descent.tensor import Tensor, wrap


class _NoGrad:
    """`needs_grad` of an op run outside the graph: no input wants a gradient."""

    def __getitem__(self, index: int) -> bool:
        return False


class Function(Node):
    """One op in the graph: its forward and its gradient rule side by side.

    Subclasses write `forward(self, *arrays, **options) -> array` and
    `backward(self, grad)` returning one gradient (or None) per input, in
    the output's shape or broadcast-compatible with the input (the engine
    sums it back). `self.needs_grad[i]` says whether input i wants a
    gradient, already in forward, so that forward saves only what backward
    will read (the engine checks that no saved array changed in place).
    A view op also defines `view_fn(self)`, a function that takes the same
    view of another array.
    """

    needs_grad = _NoGrad()

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def view_fn(self):
        return None

    @classmethod
    def apply(cls, *inputs: Tensor, **options) -> Tensor:
        node = cls()
        recording = False
        if grad_mode.enabled:
            for t in inputs:
                if t._requires_grad:
                    recording = True
                    break
        if recording:
            node.needs_grad = [t._requires_grad for t in inputs]
        try:
            data = node.forward(*[t._data for t in inputs], **options)
        except ShapeError:
            raise
        except ValueError as error:  # NumPy's own words, e.g. on broadcasting: name the op
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise ShapeError(
                f"{cls.__name__.lower()}: inputs of shapes {shapes}: {error}"
            ) from None
        out = wrap(data)
        if recording:
            node.saved_versions = _saved_versions(node, inputs, out)
            node.next = tuple(t._edge() for t in inputs)
            node.shapes = tuple(t._data.shape for t in inputs)
            out._requires_grad = True
            out._ctx = node
        view_fn = node.view_fn()
        if view_fn is not None and data.base is not None and shares_memory(data, inputs[0]._data):
            out._mark_view_of(inputs[0], view_fn)
        return out


def _saved_versions(node: Function, inputs: tuple[Tensor, ...], out: Tensor) -> tuple:
    """(counter, version, shape, dtype) of each input or output array the node kept."""
    saved = ()
    for value in node.__dict__.values():
        for t in (*inputs, out):
            if value is t._data:
                counter = t._counter()
                saved += ((counter, counter.value, t.shape, t.dtype),)
                break
    return saved
