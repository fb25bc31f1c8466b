"""`read_idx`: MNIST's IDX format, raw or gzipped, checked before it is trusted."""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

# IDX type codes and the big-endian NumPy dtype each stands for.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CHUNK = 1 << 20


def _read_at_most(path, limit: int) -> bytes:
    """The file's bytes (gunzipped when it starts with gzip's magic), at most `limit` of them."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    chunks, size = [], 0
    try:
        with opener(path, "rb") as file:
            while size < limit:
                chunk = file.read(min(_CHUNK, limit - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: a damaged gzip stream ({error})") from None
    return b"".join(chunks)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's images or labels) into an array in native byte order.

    The header (two zero bytes, a type code, the number of dimensions, then each
    dimension as a big-endian uint32) is validated, and the data must have exactly
    the byte count the header announces.
    """
    head = _read_at_most(path, 4)
    if len(head) < 4:
        raise ValueError(f"{path}: {len(head)} bytes is too short for an IDX header")
    if head[:2] != b"\x00\x00":
        raise ValueError(f"{path}: not an IDX file (magic {head.hex()} does not start with 0000)")
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header declares 0 dimensions")
    header_size = 4 + 4 * ndim
    head = _read_at_most(path, header_size)
    if len(head) < header_size:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions need {header_size} B)")
    shape = tuple(int(d) for d in np.frombuffer(head, ">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    data = _read_at_most(path, header_size + expected + 1)[header_size:]
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(
            f"{path}: {state}: shape {shape} of {dtype.str[1:]} needs {expected} data bytes, "
            f"the file has {len(data)}{'' if len(data) < expected else ' or more'}"
        )
    return np.frombuffer(data, dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)
