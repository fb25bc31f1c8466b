"""`descent.save(obj, f)` and `descent.load(f)`, as torch's for state dicts and containers
of tensors, numbers and strings: a safetensors file with JSON beside it, never pickle.

`torch.save(model.state_dict(), "m.pt")` and
`model.load_state_dict(torch.load("m.pt", weights_only=True))` run as written. A
path is written atomically (a crash leaves the old file whole); a binary file
object (io.BytesIO) works too. Loading weights never touches the random state:
that belongs to resuming a run (`descent.checkpoint`).
"""

from __future__ import annotations

import os

from descent import safefile
from descent.device import as_device
from descent.errors import CheckpointError

FORMAT = "descent.save"
VERSION = 1


def save(obj, f, pickle_module=None, pickle_protocol=None, **kwargs) -> None:
    """Write `obj` (tensors, arrays, numbers, strings, None, and lists, tuples and dicts of
    them, e.g. a state_dict or {"model": ..., "optimizer": ..., "epoch": 3}) to `f`."""
    _refuse_training_state_keywords("save", kwargs)
    if pickle_module is not None:
        raise ValueError("save: descent never pickles, so it takes no pickle_module")
    if isinstance(obj, str | os.PathLike) and not isinstance(f, str | os.PathLike):
        raise TypeError(
            f"save(obj, f): the object comes first and the file second; got a path as obj and "
            f"a {type(f).__name__} as f"
        )
    if hasattr(obj, "state_dict") and hasattr(obj, "parameters"):
        raise TypeError(
            f"save: descent saves state, not whole {type(obj).__name__} objects (that would "
            "need pickle); save model.state_dict() and load it into a new model with "
            "model.load_state_dict(descent.load(f))"
        )
    tensors: dict = {}
    doc = {"format": FORMAT, "version": VERSION, "obj": safefile.encode(obj, "obj", tensors)}
    safefile.write(f, doc, tensors)


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True, mmap=None,
         **kwargs):  # fmt: skip
    """Read what `save` wrote: tensors come back as descent tensors, containers and numbers
    as they were. A damaged or foreign file raises `CheckpointError` naming it."""
    _refuse_training_state_keywords("load", kwargs)
    if not weights_only:
        raise ValueError(
            "load: weights_only=False would unpickle arbitrary objects, and descent never "
            "unpickles; files written by descent.save load with weights_only=True"
        )
    if pickle_module is not None:
        raise ValueError("load: descent never unpickles, so it takes no pickle_module")
    if (
        map_location is not None
        and not callable(map_location)
        and not isinstance(map_location, dict)
    ):
        as_device(map_location)
    name = f if isinstance(f, str | os.PathLike) else getattr(f, "name", "<file object>")
    try:
        doc, tensors = safefile.read(f, FORMAT, VERSION)
        return safefile.decode(doc.get("obj"), tensors, as_tensors=True, where="obj")
    except safefile.Bad as error:
        hint = ""
        if "descent.checkpoint" in str(error):
            hint = "; it is a training checkpoint: read it with descent.checkpoint.load"
        raise CheckpointError(f"load {os.fspath(name)!r}: {error}{hint}") from None


def _refuse_training_state_keywords(name: str, kwargs: dict) -> None:
    if kwargs:
        raise TypeError(
            f"{name}() got unexpected keyword arguments {sorted(kwargs)}; descent.{name} is "
            f"torch's (one object, one file). For a whole training state use "
            f"descent.checkpoint.{name}(path, model=..., optimizer=..., ...)"
        )
