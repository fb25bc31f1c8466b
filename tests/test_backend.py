"""The thread policy: `blas_threads` limits NumPy's BLAS for a block and restores it."""

import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

from descent import backend


def blas_threads_now() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_threads_limits_the_block_and_restores_after():
    before = blas_threads_now()
    with backend.blas_threads(1):
        assert all(n == 1 for n in blas_threads_now())
    assert blas_threads_now() == before


def test_blas_threads_restores_after_an_error():
    before = blas_threads_now()
    with pytest.raises(RuntimeError), backend.blas_threads(1):
        raise RuntimeError("inside")
    assert blas_threads_now() == before


def test_blas_threads_none_changes_nothing():
    before = blas_threads_now()
    with backend.blas_threads(None):
        assert blas_threads_now() == before


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "2"])
def test_blas_threads_rejects_a_bad_limit(limit):
    with pytest.raises(ValueError, match="blas_threads: limit="), backend.blas_threads(limit):
        pass


def test_small_products_run_on_one_thread():
    assert backend.blas_threads_for(backend.ONE_THREAD_WORK - 1) == 1
    assert backend.blas_threads_for(backend.ONE_THREAD_WORK) is None


def test_importing_descent_does_not_load_threadpoolctl():
    code = "import sys, descent; print('threadpoolctl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
