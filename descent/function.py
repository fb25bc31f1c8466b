"""`Function`, one built-in op recorded in the graph: its forward and its gradient rule."""

from __future__ import annotations

from numpy import ndarray

from descent.autograd import Node, describe_changed, grad_mode, inplace_clock, next_sequence_nr
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
    will read. `saves` names the attributes that may hold an input's or the
    output's array (None: any may), so that the engine can check that none
    changed in place before backward reads it. A view op sets `is_view` and
    defines `view_fn(self)`, a function that takes the same view of another
    array.
    """

    needs_grad = _NoGrad()
    saves: tuple[str, ...] | None = None
    is_view = False

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def view_fn(self):
        raise NotImplementedError

    def changed_saved_tensor(self) -> str | None:
        """Which input or output whose array this node saved changed in place since (asked
        only once the in-place clock has moved)."""
        attributes = self.__dict__
        for name in list(attributes if self.saves is None else self.saves):
            value = attributes.get(name)
            if type(value) is not ndarray:
                continue
            if id(value) == self.out_id and self.output_changed:
                shape = list(value.shape)
                return f"the output of {self.name()}, a {value.dtype} tensor of shape {shape}"
            for t in self.inputs:
                counter = t._version_counter
                if value is t._data and counter is not None and counter[1] > self.made_at:
                    return describe_changed(t)
        return None

    @classmethod
    def apply(cls, *inputs: Tensor, **options) -> Tensor:
        node = cls()
        # Unrolled for one to three inputs, nearly every op: this runs once per op.
        n = len(inputs)
        if n == 2:
            a, b = inputs
            needs, arrays = (a._requires_grad, b._requires_grad), (a._data, b._data)
        elif n == 1:
            a = inputs[0]
            needs, arrays = (a._requires_grad,), (a._data,)
        elif n == 3:
            a, b, c = inputs
            needs = (a._requires_grad, b._requires_grad, c._requires_grad)
            arrays = (a._data, b._data, c._data)
        else:
            needs = tuple([t._requires_grad for t in inputs])
            arrays = tuple([t._data for t in inputs])
        recording = grad_mode.enabled and True in needs
        if recording:
            node.needs_grad = needs
        try:
            data = node.forward(*arrays, **options)
        except ShapeError:
            raise
        except ValueError as error:  # NumPy's own words, e.g. on broadcasting: name the op
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise ShapeError(
                f"{cls.__name__.lower()}: inputs of shapes {shapes}: {error}"
            ) from None
        out = wrap(data)
        if recording:
            if cls.saves != ():
                node.made_at = inplace_clock[0]
                node.inputs, node.out_id = inputs, id(data)
            if n == 1:
                node.next, node.shapes = (_edge(a),), (arrays[0].shape,)
            elif n == 2:
                node.next = (_edge(a), _edge(b))
                node.shapes = (arrays[0].shape, arrays[1].shape)
            elif n == 3:
                node.next = (_edge(a), _edge(b), _edge(c))
                node.shapes = (arrays[0].shape, arrays[1].shape, arrays[2].shape)
            else:
                node.next = tuple([_edge(t) for t in inputs])
                node.shapes = tuple([array.shape for array in arrays])
            node.sequence_nr = next_sequence_nr()
            out._requires_grad = True
            out._ctx = node
        if cls.is_view and data.base is not None and shares_memory(data, inputs[0]._data):
            out._mark_view_of(inputs[0], node.view_fn())
        return out


def _edge(t: Tensor):
    """Where `t`'s gradient goes: nowhere, the node that made it, or itself, a leaf."""
    if not t._requires_grad:
        return None
    if t._base is not None:
        return t._edge()  # a view: its node may need renewing
    ctx = t._ctx
    return t if ctx is None else ctx
