"""Save and load training state in one crash-safe safetensors file, never with pickle.

The file is a plain safetensors file. Its tensors are the model's parameters and
buffers (`model.{name}`) and every array in the other states (optimizer moments
as `optimizer.state.{index}.{field}`). The safetensors header's `__metadata__`
holds two strings: `descent`, one JSON document with everything else (optimizer
param groups and step counts, scheduler, data loader, descent's RNG, the format
version and the caller's `extra`), and `descent.sha256`, a digest of that JSON and
of every tensor's name, dtype, shape and bytes, so a damaged file is refused.

JSON has no tuples, numpy scalars or non-string keys, so those are written as
one-key objects: {"__tuple__": [...]}, {"__scalar__": [dtype, value]},
{"__items__": [[key, value], ...]}, and an array as {"__tensor__": name}.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
from typing import Any

import numpy as np
import safetensors.numpy

from descent.errors import CheckpointError
from descent.random import get_rng_state, set_rng_state
from descent.tensor import Tensor

FORMAT = "descent.checkpoint"
VERSION = 1
_META_KEY = "descent"
_DIGEST_KEY = "descent.sha256"
_MAX_HEADER = 100 * 2**20  # safetensors' own limit on the header's size
_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2,
    "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8,
}  # fmt: skip
_DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "float16", "uint32", "int32", "float32")
_DTYPES += ("uint64", "int64", "float64")
_TAGS = ("__tuple__", "__items__", "__scalar__", "__tensor__")
_PARTS = ("optimizer", "scheduler", "loader")


class _Bad(Exception):
    """A problem with the file's content; `load` adds the path and raises CheckpointError."""


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
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"checkpoint.save: extra must be a dict, got {type(extra).__name__}")
    tensors: dict[str, np.ndarray] = {}
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "model": model is not None}
    if model is not None:
        for name, array in model.state_dict().items():
            tensors[f"model.{name}"] = _array(np.asarray(array), f"model.{name}")
    for part, obj in zip(_PARTS, (optimizer, scheduler, loader)):
        if obj is not None:
            doc[part] = _encode(obj.state_dict(), part, tensors)
    doc["rng"] = _encode(get_rng_state(), "rng", tensors)
    doc["extra"] = _encode({} if extra is None else extra, "extra", tensors)
    text = json.dumps(doc, separators=(",", ":"))
    metadata = {_META_KEY: text, _DIGEST_KEY: _digest(text, tensors)}
    _write_atomic(os.fspath(path), safetensors.numpy.save(tensors, metadata=metadata))


def load(
    path: str | os.PathLike,
    *,
    model=None,
    optimizer=None,
    scheduler=None,
    loader=None,
    rng: bool = True,
) -> dict:
    """Restore the objects passed from the checkpoint at `path`; returns the saved `extra`.

    The whole file is read and checked first (safetensors layout, checksum, format
    version, the model's keys, shapes and dtypes); if anything is wrong a
    `CheckpointError` naming the file is raised and no object is touched. If an
    object then refuses its state, those already loaded are put back as they were.
    `rng=False` leaves descent's default RNG alone.
    """
    path = os.fspath(path)
    try:
        doc, tensors = _read(path)
        states = []
        if model is not None:
            states.append(("model", model, _model_state(model, doc, tensors)))
        for part, obj in zip(_PARTS, (optimizer, scheduler, loader)):
            if obj is not None:
                if part not in doc:
                    raise _Bad(f"it holds no {part} state (it was saved without {part}=)")
                states.append((part, obj, _decode(doc[part], tensors)))
        rng_state = _decode(doc.get("rng"), tensors) if rng else None
        extra = _decode(doc.get("extra", {}), tensors)
    except _Bad as error:
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


# -- writing ------------------------------------------------------------------------------


def _write_atomic(path: str, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync it, rename it over `path`, fsync the dir."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temp, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise
    if os.name == "posix":  # makes the rename durable; Windows cannot open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _array(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype.name not in _DTYPES:
        raise TypeError(
            f"checkpoint.save: {name} has dtype {array.dtype}, which a checkpoint does not "
            f"store; the dtypes are {', '.join(_DTYPES)}"
        )
    return array if array.flags.c_contiguous else array.copy(order="C")  # keeps 0-d arrays 0-d


def _encode(value: Any, where: str, tensors: dict[str, np.ndarray]) -> Any:
    """`value` as JSON-able data, its arrays moved into `tensors` (named after `where`)."""
    if isinstance(value, np.ndarray):
        name, n = where, 1
        while name in tensors:
            name, n = f"{where}#{n}", n + 1
        tensors[name] = _array(value, where)
        return {"__tensor__": name}
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        if value.dtype.kind not in "biuf":
            raise TypeError(f"checkpoint.save: {where} is a {value.dtype} scalar")
        return {"__scalar__": [value.dtype.name, value.item()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{where}.{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{where}.{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value)
        if plain and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return {k: _encode(v, f"{where}.{k}", tensors) for k, v in value.items()}
        return {
            "__items__": [
                [_encode(k, f"{where}.key", tensors), _encode(v, f"{where}.{k}", tensors)]
                for k, v in value.items()
            ]
        }
    raise TypeError(
        f"checkpoint.save: {where} is a {type(value).__name__}; a checkpoint stores arrays, "
        "numbers, strings, None, lists, tuples and dicts only (it never pickles)"
    )


def _digest(text: str, tensors: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256(text.encode())
    for name in sorted(tensors):
        array = tensors[name]
        digest.update(json.dumps([name, array.dtype.name, list(array.shape)]).encode())
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        digest.update(little.tobytes())
    return digest.hexdigest()


# -- reading ------------------------------------------------------------------------------


def _read(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The checked JSON document and tensors of the file; `_Bad` says what is wrong."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(2, "no checkpoint at this path", path) from None
    except OSError as error:
        raise _Bad(f"cannot be read: {error}") from None
    header, body = _header(data)
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or not isinstance(metadata.get(_META_KEY), str):
        raise _Bad("a safetensors file, but not a descent checkpoint (no 'descent' metadata)")
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as error:
        raise _Bad(f"safetensors cannot read it ({error})") from None
    text = metadata[_META_KEY]
    if _digest(text, tensors) != metadata.get(_DIGEST_KEY):
        raise _Bad("its checksum does not match its content: the file is damaged")
    doc = _json(text, "the descent metadata")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _Bad("its metadata is not a descent checkpoint document")
    version = doc.get("version")
    if version != VERSION:
        raise _Bad(
            f"format version {version!r} is not one this descent reads (version {VERSION}); "
            "was it written by a newer descent?"
        )
    return doc, tensors


def _header(data: bytes) -> tuple[dict, int]:
    """Check the safetensors layout ourselves, so that safetensors only ever sees a sane file."""
    size = len(data)
    if size < 8:
        raise _Bad(f"{size} bytes is too short for a safetensors file (empty or truncated)")
    length = int.from_bytes(data[:8], "little")
    if length > size - 8:
        raise _Bad(
            f"the header claims {length} bytes but only {size - 8} follow the length field; "
            "the file is truncated or not a safetensors file"
        )
    if length > _MAX_HEADER:
        raise _Bad(f"the header claims {length} bytes, more than the {_MAX_HEADER} allowed")
    header = _json(data[8 : 8 + length], "the safetensors header")
    if not isinstance(header, dict):
        raise _Bad("the safetensors header is not a JSON object")
    body = size - 8 - length
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _Bad(f"tensor {name!r} has a malformed header entry")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _ITEMSIZE:
            raise _Bad(f"tensor {name!r} has dtype {dtype!r}, which descent does not read")
        if not _ints(shape) or not _ints(offsets) or len(offsets) != 2:
            raise _Bad(f"tensor {name!r} has a malformed shape or data_offsets")
        begin, end = offsets
        if not begin <= end <= body:
            raise _Bad(
                f"tensor {name!r} lies at bytes {begin}..{end} of a {body}-byte data section; "
                "the file is truncated or damaged"
            )
        if end - begin != math.prod(shape) * _ITEMSIZE[dtype]:
            raise _Bad(
                f"tensor {name!r} of shape {shape} {dtype} does not fill {end - begin} bytes"
            )
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise _Bad("the tensors' data overlap or leave gaps: the file is damaged")
        position = end
    if position != body:
        raise _Bad(f"the tensors use {position} of {body} data bytes: the file is damaged")
    return header, body


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )


def _json(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise _Bad(f"{what} is not valid JSON ({error})") from None


def _decode(value: Any, tensors: dict[str, np.ndarray]) -> Any:
    """The inverse of `_encode`; anything malformed raises `_Bad`."""
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in _TAGS:
        ((tag, body),) = value.items()
        if tag == "__tensor__":
            if not isinstance(body, str) or body not in tensors:
                raise _Bad(f"the metadata refers to a tensor {body!r} the file does not hold")
            return tensors[body]
        if tag == "__scalar__":
            if not (isinstance(body, list) and len(body) == 2 and body[0] in _DTYPES):
                raise _Bad(f"malformed scalar {body!r} in the metadata")
            return np.dtype(body[0]).type(body[1])
        if not isinstance(body, list):
            raise _Bad(f"malformed {tag} in the metadata")
        if tag == "__tuple__":
            return tuple(_decode(v, tensors) for v in body)
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
            raise _Bad("malformed __items__ in the metadata")
        try:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in body}
        except TypeError:
            raise _Bad("an unhashable dict key in the metadata") from None
    return {k: _decode(v, tensors) for k, v in value.items()}


def _model_state(model, doc: dict, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The saved model state, once its keys, shapes and dtypes match `model`'s."""
    if not doc.get("model"):
        raise _Bad("it holds no model state (it was saved without model=)")
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
        raise _Bad(
            f"the model state does not fit this {type(model).__name__}: missing keys {missing}, "
            f"unexpected keys {unexpected}, shapes or dtypes that differ {differ}; is it from "
            "another architecture or size?"
        )
    return saved


def _snapshot(state: dict) -> dict:
    """A state_dict with its top-level arrays and tensors copied (a module's state shares
    its memory)."""
    return {
        k: v.clone() if isinstance(v, Tensor) else v.copy() if isinstance(v, np.ndarray) else v
        for k, v in state.items()
    }
