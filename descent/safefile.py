"""descent's file container: one safetensors file whose tensors are the arrays and whose
metadata is a JSON document for everything else, with a checksum over both.

It never pickles. Reading checks the safetensors layout itself before safetensors sees
the bytes, then the checksum, the format and its version, so a damaged or hostile file
is refused with `Bad` saying what is wrong. JSON has no tuples, numpy scalars or
non-string keys, so those are written as one-key objects: {"__tuple__": [...]},
{"__scalar__": [dtype, value]}, {"__items__": [[key, value], ...]}, and an array as
{"__tensor__": name} ({"__leaf__": name} for a tensor that requires grad).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from typing import Any

import numpy as np
import safetensors.numpy

from descent.files import write_atomic
from descent.tensor import Tensor, wrap

_META_KEY = "descent"
_DIGEST_KEY = "descent.sha256"
_MAX_HEADER = 100 * 2**20  # safetensors' own limit on the header's size
_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2,
    "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8,
}  # fmt: skip
_DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "float16", "uint32", "int32", "float32")
_DTYPES += ("uint64", "int64", "float64")
_TAGS = ("__tuple__", "__items__", "__scalar__", "__tensor__", "__leaf__")
_JSON_SCALARS = (float, int, str, bool, type(None))  # exact types: a numpy scalar is none
MAX_DEPTH = 100  # levels of nesting in the metadata: far more than any state holds


class Bad(Exception):
    """A problem with a file's content; callers add the path and raise their own error."""


def contiguous(array: np.ndarray, name: str) -> np.ndarray:
    """`array` as safetensors stores it, refused with a clear error for a dtype it cannot."""
    if array.dtype.name not in _DTYPES:
        raise TypeError(
            f"save: {name} has dtype {array.dtype}, which descent does not "
            f"store; the dtypes are {', '.join(_DTYPES)}"
        )
    return array if array.flags.c_contiguous else array.copy(order="C")  # keeps 0-d arrays 0-d


def encode(value: Any, where: str, tensors: dict[str, np.ndarray]) -> Any:
    """`value` as JSON-able data, its arrays and tensors moved into `tensors` (named after
    `where`); a tensor that requires grad is tagged so that it comes back requiring it."""
    if isinstance(value, Tensor):
        encoded = encode(value._data, where, tensors)
        return {"__leaf__": encoded["__tensor__"]} if value.requires_grad else encoded
    if isinstance(value, np.ndarray):
        name, n = where, 1
        while name in tensors:
            name, n = f"{where}#{n}", n + 1
        tensors[name] = contiguous(value, where)
        return {"__tensor__": name}
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        if value.dtype.kind not in "biuf":
            raise TypeError(f"save: {where} is a {value.dtype} scalar")
        return {"__scalar__": [value.dtype.name, value.item()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, f"{where}.{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        if all(type(v) in _JSON_SCALARS for v in value):  # a history's series: as it is
            return list(value)
        return [encode(v, f"{where}.{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value)
        if plain and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return {k: encode(v, f"{where}.{k}", tensors) for k, v in value.items()}
        return {
            "__items__": [
                [encode(k, f"{where}.key", tensors), encode(v, f"{where}.{k}", tensors)]
                for k, v in value.items()
            ]
        }
    raise TypeError(
        f"save: {where} is a {type(value).__name__}; descent stores tensors, arrays, "
        "numbers, strings, None, lists, tuples and dicts only (it never pickles); for a "
        "model, save model.state_dict()"
    )


def digest(text: str, tensors: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256(text.encode())
    for name in sorted(tensors):
        array = tensors[name]
        digest.update(json.dumps([name, array.dtype.name, list(array.shape)]).encode())
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        digest.update(little.tobytes())
    return digest.hexdigest()


def read(source, fmt: str, version: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The checked JSON document and tensors of a file (a path or a binary file object)
    written by `write` with format `fmt`; `Bad` says what is wrong.

    A path must be a regular file (a pipe would block, a device never ends), and no
    more is read than its header declares, which must match the file's size."""
    if hasattr(source, "read"):
        header, data = _read_layout(source, None)
    else:
        header, data = _read_path(os.fspath(source))
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or not isinstance(metadata.get(_META_KEY), str):
        raise Bad("a safetensors file, but not one descent wrote (no 'descent' metadata)")
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as error:
        raise Bad(f"safetensors cannot read it ({error})") from None
    text = metadata[_META_KEY]
    if digest(text, tensors) != metadata.get(_DIGEST_KEY):
        raise Bad("its checksum does not match its content: the file is damaged")
    doc = _json(text, "the descent metadata")
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise Bad(f"it holds a {found!r} document, not a {fmt!r} one")
    if doc.get("version") != version:
        raise Bad(
            f"format version {doc.get('version')!r} is not one this descent reads (version "
            f"{version}); was it written by a newer descent?"
        )
    return doc, tensors


def to_bytes(doc: dict, tensors: dict[str, np.ndarray]) -> bytes:
    """The file `write` writes: `doc` (JSON-able, with "format" and "version") and `tensors`,
    copied into new bytes."""
    text = json.dumps(doc, separators=(",", ":"))
    metadata = {_META_KEY: text, _DIGEST_KEY: digest(text, tensors)}
    return safetensors.numpy.save(tensors, metadata=metadata)


def write(target, doc: dict, tensors: dict[str, np.ndarray]) -> None:
    """Write `doc` (JSON-able, with "format" and "version") and `tensors` to `target`: a path,
    atomically, or a binary file object."""
    data = to_bytes(doc, tensors)
    if hasattr(target, "write"):
        target.write(data)
    else:
        write_atomic(os.fspath(target), data)


def _read_path(path: str) -> tuple[dict, bytes]:
    """Open `path` only if it is a regular file, without blocking, and read it checked."""
    try:
        _regular(os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FileNotFoundError(2, "no file at this path", path) from None
    except OSError as error:
        raise Bad(f"cannot be read: {error}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        _regular(info.st_mode)  # the path may have been swapped since the stat
        return _read_layout(file, info.st_size)


def _regular(mode: int) -> None:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    for test, kind in kinds:
        if test(mode):
            raise Bad(f"it is {kind}, not a regular file")
    if not stat.S_ISREG(mode):
        raise Bad("it is not a regular file")


def _read_layout(file, size: int | None) -> tuple[dict, bytes]:
    """The safetensors header of `file` and all its bytes, checked by ourselves before any
    tensor data is read, so that safetensors only ever sees a sane file. `size` is the
    file's size where known (a path); a file object must end where the tensors do."""
    first = file.read(8)
    if len(first) < 8:
        raise Bad(f"{len(first)} bytes is too short for a safetensors file (empty or truncated)")
    length = int.from_bytes(first, "little")
    if size is not None and length > size - 8:
        raise Bad(
            f"the header claims {length} bytes but only {size - 8} follow the length field; "
            "the file is truncated or not a safetensors file"
        )
    if length > _MAX_HEADER:
        raise Bad(f"the header claims {length} bytes, more than the {_MAX_HEADER} allowed")
    raw = file.read(length)
    if len(raw) < length:
        raise Bad(f"the header claims {length} bytes but only {len(raw)} follow: truncated")
    header = _json(raw, "the safetensors header")
    if not isinstance(header, dict):
        raise Bad("the safetensors header is not a JSON object")
    body = _data_size(header, None if size is None else size - 8 - length)
    data = file.read(body + 1)
    if len(data) != body:
        raise Bad(f"the header declares {body} data bytes and {len(data)} follow: damaged")
    return header, first + raw + data


def _data_size(header: dict, available: int | None) -> int:
    """The size of the data section the header describes: every tensor's extent checked,
    the extents tiling it with no gap or overlap, and fitting the `available` bytes."""
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise Bad(f"tensor {name!r} has a malformed header entry")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _ITEMSIZE:
            raise Bad(f"tensor {name!r} has dtype {dtype!r}, which descent does not read")
        if not _ints(shape) or not _ints(offsets) or len(offsets) != 2:
            raise Bad(f"tensor {name!r} has a malformed shape or data_offsets")
        begin, end = offsets
        if not begin <= end or (available is not None and end > available):
            raise Bad(
                f"tensor {name!r} lies at bytes {begin}..{end} of a {available}-byte data "
                "section; the file is truncated or damaged"
            )
        if end - begin != math.prod(shape) * _ITEMSIZE[dtype]:
            raise Bad(f"tensor {name!r} of shape {shape} {dtype} does not fill {end - begin} bytes")
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise Bad("the tensors' data overlap or leave gaps: the file is damaged")
        position = end
    if available is not None and position != available:
        raise Bad(f"the tensors use {position} of {available} data bytes: the file is damaged")
    return position


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )


def _json(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise Bad(f"{what} is not valid JSON ({error})") from None


def decode(value: Any, tensors: dict[str, np.ndarray], as_tensors: bool = False, where: str = "",
           depth: int = 0) -> Any:  # fmt: skip
    """The inverse of `encode`; anything malformed raises `Bad` naming its key (`where`, as
    encode names it: "optimizer.state.0.step"). Stored arrays come back as arrays, or as
    descent tensors with `as_tensors`. Nesting deeper than `MAX_DEPTH` is refused, so a
    forged file cannot exhaust the stack."""
    if depth > MAX_DEPTH:
        raise Bad(f"{where[:40]}...: the metadata nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [
            decode(v, tensors, as_tensors, f"{where}.{i}", depth + 1) for i, v in enumerate(value)
        ]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in _TAGS:
        ((tag, body),) = value.items()
        if tag in ("__tensor__", "__leaf__"):
            if not isinstance(body, str) or body not in tensors:
                raise Bad(
                    f"{where}: the metadata refers to a tensor {body!r} the file does not hold"
                )
            if not as_tensors:
                return tensors[body]
            return wrap(tensors[body], requires_grad=tag == "__leaf__")
        if tag == "__scalar__":
            return _scalar(body, where)
        if not isinstance(body, list):
            raise Bad(f"{where}: malformed {tag} in the metadata")
        if tag == "__tuple__":
            return tuple(
                decode(v, tensors, as_tensors, f"{where}.{i}", depth + 1)
                for i, v in enumerate(body)
            )
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
            raise Bad(f"{where}: malformed __items__ in the metadata")
        items = {}
        for k, v in body:
            key = decode(k, tensors, False, f"{where}.key", depth + 1)
            try:
                items[key] = decode(v, tensors, as_tensors, f"{where}.{key}", depth + 1)
            except TypeError:
                raise Bad(f"{where}: an unhashable dict key {key!r} in the metadata") from None
        return items
    return {k: decode(v, tensors, as_tensors, f"{where}.{k}", depth + 1) for k, v in value.items()}


def _scalar(body: Any, where: str) -> np.generic:
    """A numpy scalar from its [dtype, value], refused unless the value is a number that
    the dtype holds (a float dtype takes any float: one too large becomes inf, as numpy's)."""
    if not (isinstance(body, list) and len(body) == 2 and body[0] in _DTYPES):
        raise Bad(f"{where}: malformed scalar {body!r} in the metadata")
    dtype, number = np.dtype(body[0]), body[1]
    if dtype.kind == "b":
        fits = isinstance(number, bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        fits = type(number) is int and info.min <= number <= info.max
    else:
        fits = isinstance(number, (int, float)) and not isinstance(number, bool)
    if not fits:
        raise Bad(f"{where}: {number!r} is not a scalar of dtype {dtype.name}")
    try:
        with np.errstate(over="ignore"):
            return dtype.type(number)
    except OverflowError:  # an int too large for any float
        raise Bad(f"{where}: {number!r} is not a scalar of dtype {dtype.name}") from None
