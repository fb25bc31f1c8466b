"""Every file descent writes goes through `write_atomic`: a crash leaves the old file whole.

The bytes go to a temporary file beside the target, are fsynced, and are renamed over
it; then the directory is fsynced, so the rename itself survives a power cut. A reader
never sees half a file, and a failed write leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import warnings
from typing import Any

from descent.errors import MissingFolderError

TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")
"""The name of `write_atomic`'s temporary file: .<name>.<12 hex digits>.tmp."""


def is_temporary(name: str) -> bool:
    """Whether a file name is one of `write_atomic`'s temporary files (a crash's leftover)."""
    return TEMPORARY.fullmatch(name) is not None


def write_atomic(path: str | os.PathLike, data: bytes | str, *, durable: bool = True) -> None:
    """Replace `path` with `data` (str is written as UTF-8) in one step.

    `durable=False` skips the two fsyncs: a killed process still leaves the old or the new
    file whole, but a power cut may lose the last write. It is for files rewritten every
    epoch from state that the (durable) checkpoint also holds.
    """
    path = os.fspath(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):  # else the error would name the temporary file
        raise MissingFolderError(
            errno.ENOENT, f"cannot write {path!r}: its folder does not exist", directory
        )
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # (the form TEMPORARY matches)
    try:
        with open(temporary, "xb") as file:
            file.write(data)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    if durable and os.name == "posix":  # Windows cannot open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FileWriter:
    """Writes files with `write_atomic` on one background thread, in the order given, so
    that training goes on while the bytes reach the disk (an fsync waits for the disk, and
    releases the GIL meanwhile).

    Each file is whole or absent at every moment, as with `write_atomic` itself; a file is
    in place (and durable, unless written with durable=False) once `wait()` returns, which
    raises the first error a write met since the last `wait()`. `close()` waits, then ends
    the thread. No thread is started until the first write; from then on the process has
    a thread of its own, which a fork (DataLoader workers under the fork start method)
    does not copy: only the thread that forks goes on in the child.
    """

    def __init__(self) -> None:
        self._executor = None
        self._pending: list = []

    def write(self, path: str | os.PathLike, data: bytes | str, *, durable: bool = True) -> None:
        """Queue `write_atomic(path, data, durable=durable)`; `data` must not change after."""
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(1, thread_name_prefix="descent-files")
        self._pending.append(self._executor.submit(write_atomic, path, data, durable=durable))

    def wait(self) -> None:
        """Return once every queued file is in place; raise the first error a write met."""
        errors = [future.exception() for future in self._pending]
        self._pending = []
        first = next((error for error in errors if error is not None), None)
        if first is not None:
            raise first

    def close(self, raise_errors: bool = True) -> None:
        """`wait()`, then end the thread (a later write starts another). With raise_errors
        False, as while another error is on its way out, a write's error is warned of."""
        try:
            self.wait()
        except Exception as error:
            if raise_errors:
                raise
            warnings.warn(f"a run's file was not written: {error}", RuntimeWarning, stacklevel=2)
        finally:
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None


def json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, Inf) become None; containers are walked."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if finite_floats(value):  # a history's series: checked in C, not walked here
            return list(value)
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def finite_floats(values: list | tuple) -> bool:
    """Whether `values` holds Python floats alone, all finite (one NaN or Inf makes the sum
    non-finite; a sum that overflows only sends the caller the long way)."""
    return all(type(v) is float for v in values) and math.isfinite(sum(values))


def write_json(
    path: str | os.PathLike, value: Any, indent: int | None = 2, *, durable: bool = True
) -> None:
    """`value` as strict JSON (NaN and Inf as null), written atomically."""
    write_atomic(path, json_text(value, indent), durable=durable)


def json_text(value: Any, indent: int | None = 2) -> str:
    """`value` as strict JSON text (NaN and Inf as null), ending in a newline."""
    return json.dumps(json_safe(value), indent=indent, allow_nan=False) + "\n"
