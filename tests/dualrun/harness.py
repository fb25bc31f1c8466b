"""Run one PyTorch program twice, under real `torch` and under `descent`, and compare results.

A program is the source text of a Python file that does `import torch` (and maybe
`import torch.nn as nn`, `import torch.nn.functional as F`, `from torch import nn`, ...),
computes something and records what it found in a dict named `results`. The harness executes
that source once with `torch` resolving to PyTorch and once with it resolving to descent,
then `assert_same` checks the two `results` dicts agree key for key.

Recorded values must be plain: python numbers, bools, strings, None, lists/tuples/dicts of
those, or NumPy arrays (`t.detach().numpy()`). A tensor left in `results` is an error in the
program. The harness hands each program `raises(fn)`, which calls `fn()` and names what it
raised (`"RuntimeError"` for any RuntimeError subclass, ...) or says `"no error"`.
"""

from __future__ import annotations

import importlib
import math
import sys
import traceback
from pathlib import Path
from types import ModuleType

import numpy as np

PROGRAMS = Path(__file__).with_name("programs")

RTOL = 1e-5
ATOL = 1e-6

# torch module name -> the descent module that stands in for it, by name.
MODULE_MAP = {
    "torch": "descent",
    "torch.nn": "descent.nn",
    "torch.nn.functional": "descent.nn.functional",
    "torch.nn.utils": "descent.nn.utils",
    "torch.optim": "descent.optim",
    "torch.optim.lr_scheduler": "descent.optim.lr_scheduler",
    "torch.autograd": "descent.autograd",
    "torch.utils": "descent.utils",
    "torch.utils.data": "descent.utils.data",
}

# `raises` names an exception that subclasses one of these by that standard base (what an
# `except` clause in user code would catch), anything else by its own class name.
_FAMILIES = (
    IndexError,
    KeyError,
    ZeroDivisionError,
    RuntimeError,  # also NotImplementedError and torch's own RuntimeError subclasses
    TypeError,
    ValueError,
    AttributeError,
    ImportError,
)


class ProgramError(AssertionError):
    """A program raised: says which program, under which library, where and what."""


def programs() -> list[Path]:
    """Every program file, sorted by name."""
    return sorted(p for p in PROGRAMS.glob("*.py") if not p.name.startswith("_"))


def raises(fn) -> str:
    """Call `fn()`; return the name of the exception family it raised, or "no error"."""
    try:
        fn()
    except Exception as error:  # naming whatever it raised is the point
        for family in _FAMILIES:
            if isinstance(error, family):
                return family.__name__
        return type(error).__name__
    return "no error"


def _library_name(module: ModuleType) -> str:
    return module.__name__.split(".")[0]


def _descent_modules() -> dict[str, ModuleType | None]:
    """The sys.modules entries a descent run sees: None for a descent module that is missing."""
    swapped: dict[str, ModuleType | None] = {}
    for torch_name, descent_name in MODULE_MAP.items():
        try:
            swapped[torch_name] = importlib.import_module(descent_name)
        except ImportError:
            swapped[torch_name] = None  # `import torch.utils.data` then fails, as it should
    return swapped


def _source_of(path_or_source) -> tuple[str, str]:
    if isinstance(path_or_source, Path) or (
        isinstance(path_or_source, str) and "\n" not in path_or_source
    ):
        path = Path(path_or_source)
        return path.read_text(), str(path)
    return path_or_source, "<dualrun program>"


def _where(error: BaseException, filename: str) -> str:
    """The innermost line of the program itself in the traceback, as 'line N: text'."""
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            where = f"line {frame.lineno}: {(frame.line or '').strip()}"
    return where


def run_program(path_or_source, module: ModuleType) -> dict:
    """Execute a program with `torch` meaning `module` (torch or descent); return its results.

    `path_or_source` is a Path, a path string, or the program's source (any text with a
    newline). Under torch the run uses one intra-op thread. Under descent, the `sys.modules`
    entries for torch and the submodules in MODULE_MAP point at descent's modules for the
    duration of the run (None where descent has no such module, so importing it fails), and
    every other `torch.*` entry is hidden, so that no part of real PyTorch leaks into the
    run; all of it is restored afterwards.
    """
    source, filename = _source_of(path_or_source)
    library = _library_name(module)
    code = compile(source, filename, "exec")
    namespace = {
        "__name__": "__dualrun__",
        "__file__": filename,
        "torch": module,
        "raises": raises,
        "results": {},
    }
    saved = None
    threads = None
    if library == "torch":
        # One thread: tiny ops run far faster without a pool to wake (more so on a busy
        # machine), and reductions add up in one order whatever the machine.
        threads = module.get_num_threads()
        module.set_num_threads(1)
    else:
        saved = {
            name: mod
            for name, mod in sys.modules.items()
            if name == "torch" or name.startswith("torch.")
        }
        for name in saved:
            del sys.modules[name]
        sys.modules.update(_descent_modules())
    try:
        exec(code, namespace)  # noqa: S102 - running the program is what the harness is for
    except Exception as error:
        where = _where(error, filename)
        name = Path(filename).name
        if library == "torch":
            hint = " (the program itself is wrong: it must be valid, deterministic PyTorch code)"
        elif isinstance(error, ModuleNotFoundError) and (error.name or "").startswith("torch"):
            missing = [MODULE_MAP[n] for n, m in _descent_modules().items() if m is None]
            hint = f" (descent has no {', '.join(missing)})" if missing else ""
        else:
            hint = ""
        raise ProgramError(
            f"{name} under {library}{hint}: {type(error).__name__}: {error}"
            + (f"\n    at {where}" if where else "")
        ) from error
    finally:
        if threads is not None:
            module.set_num_threads(threads)
        if saved is not None:
            for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
                del sys.modules[name]
            sys.modules.update(saved)
    results = namespace.get("results")
    if not isinstance(results, dict):
        raise ProgramError(f"{Path(filename).name} under {library}: `results` is not a dict")
    return results


# -- comparing -----------------------------------------------------------------------------


def _kind(value) -> str:
    """A value's comparison kind; python numbers and NumPy scalars are kept apart on purpose."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, complex):
        return "complex"
    if isinstance(value, str):
        return "str"
    if isinstance(value, np.ndarray):
        return "ndarray"
    if isinstance(value, np.generic):
        return f"numpy scalar {type(value).__name__}"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return f"unsupported {type(value).__module__}.{type(value).__qualname__}"


def check_plain(results: dict, library: str = "torch") -> None:
    """Refuse values a comparison can't trust, e.g. a tensor left in `results`."""

    def walk(value, path):
        kind = _kind(value)
        if kind.startswith("unsupported"):
            raise ProgramError(
                f"results{path} under {library} is a {kind[12:]}: record plain values "
                f"(.item(), .tolist(), .detach().numpy(), list(t.shape), str(t.dtype))"
            )
        if kind in ("list", "tuple"):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif kind == "dict":
            for k, item in value.items():
                walk(item, f"{path}[{k!r}]")
        elif kind == "ndarray" and value.dtype == object:
            raise ProgramError(f"results{path} under {library} is an object array")

    for key, value in results.items():
        walk(value, f"[{key!r}]")


def _floats_close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= ATOL + RTOL * abs(a)


def _differences(expected, actual, path: str) -> list[str]:
    """What differs between torch's value and descent's, as readable lines (empty if same)."""
    kind_e, kind_a = _kind(expected), _kind(actual)
    if kind_e != kind_a:
        return [f"{path}: torch gave {kind_e} {expected!r}, descent gave {kind_a} {actual!r}"]
    if kind_e in ("None", "bool", "int", "str"):
        if expected != actual:
            return [f"{path}: torch {expected!r} != descent {actual!r}"]
        return []
    if kind_e in ("float", "complex"):
        close = (
            _floats_close(expected, actual)
            if kind_e == "float"
            else _floats_close(expected.real, actual.real)
            and _floats_close(expected.imag, actual.imag)
        )
        return [] if close else [f"{path}: torch {expected!r} != descent {actual!r}"]
    if kind_e.startswith("numpy scalar"):
        return _differences(np.asarray(expected), np.asarray(actual), path)
    if kind_e in ("list", "tuple"):
        if len(expected) != len(actual):
            return [
                f"{path}: torch has {len(expected)} items {expected!r}, "
                f"descent has {len(actual)} {actual!r}"
            ]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += _differences(e, a, f"{path}[{i}]")
        return out
    if kind_e == "dict":
        if set(expected) != set(actual):
            return [f"{path}: keys differ: torch {sorted(expected)} descent {sorted(actual)}"]
        out = []
        for k in expected:
            out += _differences(expected[k], actual[k], f"{path}[{k!r}]")
        return out
    # ndarray
    if expected.dtype != actual.dtype:
        return [f"{path}: torch array dtype {expected.dtype}, descent {actual.dtype}"]
    if expected.shape != actual.shape:
        return [f"{path}: torch array shape {expected.shape}, descent {actual.shape}"]
    if expected.dtype.kind in "fc":
        try:
            np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, equal_nan=True)
        except AssertionError as error:
            detail = " ".join(str(error).split())
            return [f"{path}: arrays differ: {detail[:400]}"]
        return []
    if not np.array_equal(expected, actual):
        return [f"{path}: torch {expected.tolist()!r} != descent {actual.tolist()!r}"]
    return []


def differences(torch_results: dict, descent_results: dict) -> list[str]:
    """Every difference between the two runs' results, in torch's key order."""
    out = []
    missing = [k for k in torch_results if k not in descent_results]
    extra = [k for k in descent_results if k not in torch_results]
    if missing:
        out.append(f"keys only torch recorded: {missing}")
    if extra:
        out.append(f"keys only descent recorded: {extra}")
    for key in torch_results:
        if key in descent_results:
            out += _differences(torch_results[key], descent_results[key], f"[{key!r}]")
    return out


def assert_same(torch_results: dict, descent_results: dict) -> None:
    """Assert both runs recorded the same keys and equal values (floats to rtol 1e-5)."""
    check_plain(torch_results, "torch")
    check_plain(descent_results, "descent")
    found = differences(torch_results, descent_results)
    if found:
        shown = "\n  ".join(found[:20])
        more = f"\n  ... and {len(found) - 20} more" if len(found) > 20 else ""
        raise AssertionError(f"{len(found)} difference(s), torch vs descent:\n  {shown}{more}")
