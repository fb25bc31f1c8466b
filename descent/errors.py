"""descent's own exceptions, each a subclass of the built-in one a caller would catch."""

import difflib
import os
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


class MissingFolderError(FileNotFoundError, RuntimeError):
    """A file to write into a folder that does not exist: a RuntimeError as torch.save
    raises, a FileNotFoundError too."""


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> ValueError:
    """The error for a name that is not one of `choices`, suggesting the closest ones."""
    choices = list(choices)
    close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    return ValueError(f"unknown {kind} {name!r}; {hint}choose from: {', '.join(choices)}")


def not_utf8(path) -> ValueError:
    """The error for a text file that does not decode as UTF-8: the first bad byte, where it
    lies, what descent reads and how to convert. Re-reads the file, so that the offset is the
    byte's place in the file, not in the block a text reader was decoding."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        stem, suffix = os.path.splitext(os.path.basename(path))
        return ValueError(
            f"{path}: not UTF-8 text: byte 0x{data[error.start]:02x} at byte offset "
            f"{error.start} (line {line}) is not valid UTF-8; descent reads text files as "
            "UTF-8 (plain ASCII is UTF-8 too, and a byte-order mark is fine). Save the file "
            f"as UTF-8, e.g. from Latin-1: iconv -f latin1 -t utf-8 {stem}{suffix} > "
            f"{stem}-utf8{suffix}"
        )
    return ValueError(f"{path}: not UTF-8 text")  # it changed since the caller read it
