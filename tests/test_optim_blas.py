"""descent.optim.blas: BLAS's one-pass axpy gives torch's `add_(x, alpha=a)` within one ulp
(OpenBLAS rounds its last few elements twice, torch none), and NumPy's two passes stand in
wherever BLAS cannot run."""

import threading

import numpy as np
import pytest
import torch
from test_optim import one_torch_thread  # noqa: F401  (autouse: torch on one thread)

import descent as dc
from descent import optim
from descent.optim import blas

NUMPYS_BLAS = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
needs_openblas = pytest.mark.skipif(
    "openblas" not in NUMPYS_BLAS, reason=f"NumPy runs {NUMPYS_BLAS}: BLAS's path is OpenBLAS's"
)


def openblas_kernels() -> str:
    from threadpoolctl import threadpool_info

    return next(i.get("architecture", "") for i in threadpool_info() if i["user_api"] == "blas")


SIZES = [(blas.BLAS_FROM + 7,), (256, 784)]
"""An odd size (a tail past the kernel's blocks of 32) and a layer's weight."""


def torch_axpy(alpha, x, y):
    out = torch.tensor(y)
    out.add_(torch.tensor(x), alpha=alpha)
    return out.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SIZES)
@needs_openblas
def test_axpy_gives_torchs_numbers(shape, dtype):
    assert blas._openblas(), "NumPy's OpenBLAS was not found"
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    expected = torch_axpy(-0.0123, x, y)
    blas.axpy(-0.0123, x, y, np.empty_like(y))
    np.testing.assert_array_max_ulp(y, expected, maxulp=1)
    if openblas_kernels() == "Haswell":
        body = y.size // 32 * 32  # all but the last < 32 elements: rounded once, as torch's
        np.testing.assert_array_equal(y.reshape(-1)[:body], expected.reshape(-1)[:body])


@needs_openblas
def test_threads_stepping_at_once_each_get_their_sums():
    x = np.ones(blas.BLAS_FROM, np.float32)
    ys = [np.zeros_like(x) for _ in range(2)]
    workers = [
        threading.Thread(target=lambda y=y: [blas.axpy(1.0, x, y, x) for _ in range(2000)])
        for y in ys
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for y in ys:
        np.testing.assert_array_equal(y, 2000.0)


@pytest.mark.parametrize(
    "shape, dtype, transposed",
    [((300, 200), np.float32, True), ((blas.BLAS_FROM,), np.float16, False),
     ((blas.BLAS_FROM - 1,), np.float32, False), ((5,), np.float64, False)],
    ids=["not-contiguous", "float16", "just-below-blas", "small"],
)  # fmt: skip
def test_arrays_blas_does_not_take_get_numpys_two_passes(shape, dtype, transposed):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape[::-1] if transposed else shape).astype(dtype)
    x = x.T if transposed else x
    y = rng.standard_normal(shape).astype(dtype)
    expected = y + dtype(-0.37) * x
    blas.axpy(-0.37, x, y, np.empty_like(y))
    np.testing.assert_array_equal(y, expected)


def test_a_read_only_array_is_refused_as_numpy_refuses_it():
    y = np.ones(blas.BLAS_FROM, np.float32)
    y.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        blas.axpy(1.0, np.ones_like(y), y, np.empty_like(y))
    np.testing.assert_array_equal(y, 1.0)


def test_without_blas_the_update_is_numpys(monkeypatch):
    monkeypatch.setattr(blas, "_openblas", lambda: None)
    rng = np.random.default_rng(3)
    x, y = (rng.standard_normal(blas.BLAS_FROM).astype(np.float32) for _ in range(2))
    expected = y + np.float32(0.25) * x
    blas.axpy(0.25, x, y, np.empty_like(y))
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize(
    "name, options",
    [
        ("SGD", {}),
        ("SGD", {"momentum": 0.9}),
        ("SGD", {"momentum": 0.9, "dampening": 0.3}),
        ("SGD", {"momentum": 0.9, "nesterov": True}),
        ("Adam", {}),
        ("Adam", {"amsgrad": True, "weight_decay": 0.01}),
    ],
    ids=["sgd", "momentum", "dampening", "nesterov", "adam", "amsgrad-decay"],
)
def test_float32_steps_through_blas_are_torchs(name, options):
    rng = np.random.default_rng(4)
    start = rng.standard_normal((300, 130)).astype(np.float32)  # through BLAS
    ours, theirs = dc.nn.Parameter(dc.tensor(start)), torch.nn.Parameter(torch.tensor(start))
    mine = getattr(optim, name)([ours], lr=0.01, **options)
    torchs = getattr(torch.optim, name)([theirs], lr=0.01, **options)
    assert not mine.fused_path()
    for _ in range(5):
        grad = rng.standard_normal(start.shape).astype(np.float32)
        ours.grad, theirs.grad = dc.tensor(grad), torch.tensor(grad)
        mine.step()
        torchs.step()
    assert np.abs(ours.data - start).max() > 1e-2
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", SIZES)
def test_xpby_gives_torchs_momentum_buffer_exactly(shape):
    rng = np.random.default_rng(5)
    x, y = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    expected = torch.tensor(y).mul_(0.9).add_(torch.tensor(x)).numpy()
    blas.xpby(x, 0.9, y)
    np.testing.assert_array_equal(y, expected)


def test_xpby_without_blas_is_numpys(monkeypatch):
    monkeypatch.setattr(blas, "_openblas", lambda: None)
    rng = np.random.default_rng(6)
    x, y = (rng.standard_normal(blas.BLAS_FROM).astype(np.float32) for _ in range(2))
    expected = y * np.float32(0.9) + x
    blas.xpby(x, 0.9, y)
    np.testing.assert_array_equal(y, expected)
