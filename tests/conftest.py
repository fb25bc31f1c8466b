"""Fixtures shared by the tests of compiled kernels."""

import pytest

from descent import jit


@pytest.fixture
def jit_on(monkeypatch):
    """Kernels on whatever DESCENT_JIT says outside, for these tests."""
    monkeypatch.delenv("DESCENT_JIT", raising=False)
    jit.available.cache_clear()
    yield
    jit.available.cache_clear()
