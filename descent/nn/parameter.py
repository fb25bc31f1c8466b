"""`Parameter`: a tensor that a module owns and an optimizer updates."""

from descent.tensor import Tensor, as_array


class Parameter(Tensor):
    """A leaf tensor that requires grad; modules find theirs by walking attributes.

    A tensor passed in keeps its dtype; other data becomes float32.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        array = data._data if isinstance(data, Tensor) else as_array(data)
        super().__init__(array, dtype=array.dtype, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
