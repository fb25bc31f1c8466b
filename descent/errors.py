"""descent's own exceptions, each a subclass of the built-in one a caller would catch."""

import difflib
from collections.abc import Iterable


class ShapeError(ValueError, RuntimeError):
    """Tensor shapes that an op cannot combine; the message names the op and the shapes.

    A RuntimeError, as torch raises for shapes, and a ValueError, as NumPy does."""


class LabelError(ValueError, IndexError):
    """A class label outside [0, classes): an IndexError as in torch, a ValueError as before."""


class OutOfRangeError(ValueError, RuntimeError):
    """Values outside the range an op is defined on: a RuntimeError as in torch, a ValueError
    too."""


class DtypeError(TypeError, RuntimeError):
    """A tensor of a dtype an op cannot take: a RuntimeError as in torch, a TypeError too."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit; the message names the file."""


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> ValueError:
    """The error for a name that is not one of `choices`, suggesting the closest ones."""
    choices = list(choices)
    close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    return ValueError(f"unknown {kind} {name!r}; {hint}choose from: {', '.join(choices)}")
