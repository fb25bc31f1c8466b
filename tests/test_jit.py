"""descent.jit: kernels compile on first call, not at import, and DESCENT_JIT=0 turns them off."""

import subprocess
import sys

import numpy as np
import pytest

from descent import jit


@pytest.fixture
def fresh_availability():
    jit.available.cache_clear()
    yield
    jit.available.cache_clear()


def test_descent_jit_0_turns_kernels_off(monkeypatch, fresh_availability):
    monkeypatch.setenv("DESCENT_JIT", "0")
    assert not jit.available()


def test_kernels_are_on_where_numba_is_installed(monkeypatch, fresh_availability):
    monkeypatch.delenv("DESCENT_JIT", raising=False)
    pytest.importorskip("numba")
    assert jit.available()


def test_importing_descent_and_declaring_a_kernel_does_not_import_numba():
    code = (
        "import sys, descent\n"
        "from descent import jit\n"
        "@jit.kernel\n"
        "def double(x):\n"
        "    return 2 * x\n"
        "assert 'numba' not in sys.modules, 'numba imported before a kernel ran'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_kernel_computes_what_its_python_function_does(fresh_availability):
    pytest.importorskip("numba")

    @jit.kernel
    def scaled_sum(x, scale):
        total = 0.0
        for value in x:
            total += value * scale
        return total

    x = np.arange(7, dtype=np.float64)
    assert scaled_sum(x, 0.5) == scaled_sum.function(x, 0.5) == 10.5
    assert scaled_sum.__name__ == "scaled_sum"
