"""Save and load training state in one crash-safe safetensors file, never with pickle.

The file is a `descent.safefile` container. Its tensors are the model's parameters
and buffers (`model.{name}`) and every array in the other states (optimizer moments
as `optimizer.state.{index}.{field}`); its JSON document holds everything else
(optimizer param groups and step counts, scheduler, data loader, descent's RNG, the
format version and the caller's `extra`). For weights alone, `descent.save` and
`descent.load` are torch's.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from descent import safefile
from descent.errors import CheckpointError
from descent.files import write_atomic
from descent.random import default_generator, get_rng_state, set_rng_state
from descent.tensor import Tensor

FORMAT = "descent.checkpoint"
VERSION = 1
_PARTS = ("optimizer", "scheduler", "loader")


def save(
    path: str | os.PathLike,
    *,
    model=None,
    optimizer=None,
    scheduler=None,
    loader=None,
    extra: dict | None = None,
) -> None:
    """Write a checkpoint to `path` atomically: the old file stays whole until the new one is.

    Args:
        path: the file to write (its directory must exist).
        model, optimizer, scheduler, loader: objects with `state_dict()`; any may be None.
        extra: your own values (epoch, history, ...): numbers, strings, None, lists,
            tuples, dicts and numpy arrays or scalars. `load` returns it.

    descent's default RNG state is always saved.
    """
    data = to_bytes(model=model, optimizer=optimizer, scheduler=scheduler, loader=loader,
                    extra=extra)  # fmt: skip
    write_atomic(os.fspath(path), data)


def to_bytes(*, model=None, optimizer=None, scheduler=None, loader=None,
             extra: dict | None = None) -> bytes:  # fmt: skip
    """The file `save` writes, as bytes: the state as it is now, which training may go on
    changing while the bytes are written (`descent.files.FileWriter`)."""
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"checkpoint.save: extra must be a dict, got {type(extra).__name__}")
    tensors: dict[str, np.ndarray] = {}
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "model": model is not None}
    if model is not None:
        for name, tensor in model.state_dict().items():
            tensors[f"model.{name}"] = safefile.contiguous(np.asarray(tensor), f"model.{name}")
    for part, obj in zip(_PARTS, (optimizer, scheduler, loader)):
        if obj is not None:
            doc[part] = safefile.encode(obj.state_dict(), part, tensors)
    doc["rng"] = safefile.encode(get_rng_state(), "rng", tensors)
    doc["extra"] = safefile.encode({} if extra is None else extra, "extra", tensors)
    return safefile.to_bytes(doc, tensors)


def load(
    path: str | os.PathLike,
    *,
    model=None,
    optimizer=None,
    scheduler=None,
    loader=None,
    rng: bool = False,
) -> dict:
    """Restore the objects passed from the checkpoint at `path`; returns the saved `extra`.

    The whole file is checked first (a regular file, its safetensors layout, checksum,
    format version, the model's keys, shapes and dtypes, and every value of the other
    states through each object's `check_state_dict`); if anything is wrong a
    `CheckpointError` naming the file is raised and no object is touched. If an
    object then refuses its state, those already loaded are put back as they were.
    `rng=True` also restores descent's default RNG, as resuming a run needs; loading
    weights leaves it alone.
    """
    path = os.fspath(path)
    try:
        doc, tensors = safefile.read(path, FORMAT, VERSION)
        states = []
        if model is not None:
            states.append(("model", model, _model_state(model, doc, tensors)))
        for part, obj in zip(_PARTS, (optimizer, scheduler, loader)):
            if obj is not None:
                if part not in doc:
                    raise safefile.Bad(f"it holds no {part} state (it was saved without {part}=)")
                state = safefile.decode(doc[part], tensors, where=part)
                _check(part, getattr(obj, "check_state_dict", None), state)
                states.append((part, obj, state))
        rng_state = safefile.decode(doc.get("rng"), tensors, where="rng") if rng else None
        if rng:
            _check("rng", _check_rng_state, rng_state)
        extra = safefile.decode(doc.get("extra", {}), tensors, where="extra")
    except safefile.Bad as error:
        raise CheckpointError(f"checkpoint {path!r}: {error}") from None

    undo: list[tuple[Any, Any]] = []
    if rng:
        states.append(("rng", None, rng_state))
    for part, obj, state in states:
        restore = set_rng_state if obj is None else obj.load_state_dict
        undo.append((restore, get_rng_state() if obj is None else _snapshot(obj.state_dict())))
        try:
            restore(state)
        except Exception as error:
            for put_back, before in reversed(undo):
                put_back(before)
            raise CheckpointError(
                f"checkpoint {path!r}: the {part} state does not fit ({error}); nothing was loaded"
            ) from error
    return extra


def _model_state(model, doc: dict, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The saved model state, once its keys, shapes and dtypes match `model`'s."""
    if not doc.get("model"):
        raise safefile.Bad("it holds no model state (it was saved without model=)")
    saved = {name[6:]: t for name, t in tensors.items() if name.startswith("model.")}
    own = model.state_dict()
    missing = [name for name in own if name not in saved]
    unexpected = [name for name in saved if name not in own]
    differ = [
        f"{name}: saved {saved[name].shape} {saved[name].dtype}, "
        f"model {np.shape(own[name])} {np.asarray(own[name]).dtype}"
        for name in own
        if name in saved
        and (saved[name].shape != np.shape(own[name]) or saved[name].dtype != own[name].dtype)
    ]
    if missing or unexpected or differ:
        raise safefile.Bad(
            f"the model state does not fit this {type(model).__name__}: missing keys {missing}, "
            f"unexpected keys {unexpected}, shapes or dtypes that differ {differ}; is it from "
            "another architecture or size?"
        )
    return saved


def _check(part: str, check, state: Any) -> None:
    """Run an object's `check_state_dict` on its saved state, as a `Bad` naming the part."""
    if check is None:
        return
    try:
        check(state)
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise safefile.Bad(f"the {part} state does not fit: {error}") from None


def _check_rng_state(state: Any) -> None:
    """Raise unless `state` would restore descent's default generator."""
    bit_generator = type(default_generator().bit_generator)()
    if not isinstance(state, dict) or state.get("bit_generator") != type(bit_generator).__name__:
        raise ValueError(f"not a {type(bit_generator).__name__} generator state")
    bit_generator.state = state


def _snapshot(state: dict) -> dict:
    """A state_dict with its top-level arrays and tensors copied (a module's state shares
    its memory)."""
    return {
        k: v.clone() if isinstance(v, Tensor) else v.copy() if isinstance(v, np.ndarray) else v
        for k, v in state.items()
    }
