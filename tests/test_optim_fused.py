"""The fused optimizer steps (descent.optim.kernels) give the NumPy reference's numbers and
torch's, and small models never take them."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from test_optim import CASES, IDS, TRAJECTORY_LR, assert_close_to_torch, train_descent, train_torch
from test_optim_more import test_a_state_dict_from_torch_continues_torchs_run as continues_torch

import descent as dc
from descent import jit, optim

FUSED = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam")
FUSED_CASES = [case for case in CASES if case[1] in FUSED]
FUSED_IDS = [id_ for id_, case in zip(IDS, CASES) if case[1] in FUSED]
SHAPES = [(37, 11), (5,), (1,), (3, 4, 5), (0,), (2, 3)]
"""Odd sizes, an empty one; the last parameter gets a gradient only on some steps, and one
more (below) never does."""
TOLERANCE = {"float32": 2e-6, "float64": 1e-13}


def fused_from(monkeypatch, elements: int) -> None:
    """Take the compiled path from this many parameter elements on, in every optimizer."""
    for kind in (optim.Optimizer, optim.SGD):
        monkeypatch.setattr(kind, "fused_min_elements", elements)


def compiled(monkeypatch):
    """Every step takes the compiled path, however small the parameters."""
    if not jit.available():
        pytest.skip("DESCENT_JIT=0: the compiled path is turned off")
    fused_from(monkeypatch, 0)


def reference(monkeypatch):
    fused_from(monkeypatch, 2**62)


@pytest.fixture
def fused(monkeypatch):
    compiled(monkeypatch)


def gradients(dtype: str, steps: int) -> list[list[np.ndarray | None]]:
    rng = np.random.default_rng(7)
    return [
        [rng.standard_normal(shape).astype(dtype) for shape in SHAPES[:-1]]
        + [rng.standard_normal(SHAPES[-1]).astype(dtype) if step % 3 else None]
        for step in range(steps)
    ]


def run(name: str, options: dict, dtype: str, grads: list) -> tuple[list, dict, optim.Optimizer]:
    """Steps of optimizer `name` with the given gradients, in two param groups (the second
    with its own lr and weight decay) and one parameter that never gets a gradient."""
    rng = np.random.default_rng(3)
    params = [dc.nn.Parameter(dc.tensor(rng.standard_normal(s), dtype=dtype)) for s in SHAPES]
    idle = dc.nn.Parameter(dc.ones(4, dtype=dtype))
    groups = [
        {"params": params[:3]},
        {"params": [*params[3:], idle], "lr": options["lr"] / 3, "weight_decay": 0.05},
    ]
    optimizer = getattr(optim, name)(groups, **options)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else dc.tensor(g)
        optimizer.step()
    assert np.array_equal(idle.data, np.ones(4)) and idle not in optimizer.state
    return [p.detach().numpy().copy() for p in params], optimizer.state_dict(), optimizer


def assert_same_state(ours: dict, theirs: dict, rtol: float) -> None:
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for index, fields in theirs["state"].items():
        assert ours["state"][index].keys() == fields.keys()
        for key, value in fields.items():
            mine = ours["state"][index][key]
            assert mine.dtype == value.dtype, (index, key)
            np.testing.assert_allclose(mine, value, rtol=rtol, atol=rtol, err_msg=f"{index} {key}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", FUSED_CASES, ids=FUSED_IDS)
def test_fused_steps_give_the_reference_numbers(case, dtype, monkeypatch):
    _, name, options, _, _, _ = case
    options = {**options, "lr": TRAJECTORY_LR[name]}
    grads = gradients(dtype, steps=12)
    reference(monkeypatch)
    expected, expected_state, _ = run(name, options, dtype, grads)
    compiled(monkeypatch)
    ours, state, _ = run(name, options, dtype, grads)
    rtol = TOLERANCE[dtype]
    for a, b in zip(ours, expected):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    assert_same_state(state, expected_state, rtol)


@pytest.mark.parametrize("case", FUSED_CASES, ids=FUSED_IDS)
def test_fused_trajectory_matches_torch(case, fused):
    _, name, options, _, _, _ = case
    options = {**options, "lr": TRAJECTORY_LR[name]}
    sign = -1.0 if options.get("maximize") else 1.0
    ours, optimizer = train_descent(lambda ps: getattr(optim, name)(ps, **options), 200, sign)
    theirs = train_torch(lambda ps: getattr(torch.optim, name)(ps, **options), 200, sign)
    assert optimizer.fused_path()
    assert_close_to_torch(ours, theirs)


@pytest.mark.parametrize("case", FUSED_CASES, ids=FUSED_IDS)
def test_a_state_dict_from_torch_continues_on_the_fused_path(case, fused):
    continues_torch(case)


@pytest.mark.parametrize("name", FUSED)
def test_fused_float32_steps_match_torchs_fused_step(name, fused):
    rng = np.random.default_rng(5)
    start = rng.standard_normal((33, 7)).astype(np.float32)
    ours = dc.nn.Parameter(dc.tensor(start))
    theirs = torch.nn.Parameter(torch.tensor(start))
    options = {"lr": 1.0 if name == "Adadelta" else 0.01, "weight_decay": 0.01}
    options.update({"SGD": {"momentum": 0.9, "nesterov": True}, "Adam": {"amsgrad": True}}.get(
        name, {}))  # fmt: skip
    implementation = {"fused": True} if name in ("SGD", "Adam", "AdamW", "Adagrad") else {}
    mine = getattr(optim, name)([ours], **options)
    torchs = getattr(torch.optim, name)([theirs], **options, **implementation)
    for _ in range(20):
        grad = rng.standard_normal(start.shape).astype(np.float32)
        ours.grad, theirs.grad = dc.tensor(grad), torch.tensor(grad)
        mine.step()
        torchs.step()
    assert np.abs(ours.data - start).max() > 1e-2
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_a_gradient_that_is_not_contiguous_takes_the_reference_path(fused, monkeypatch):
    from descent.optim import kernels

    def refuse(*args):
        raise AssertionError("the kernel ran on a gradient that is not contiguous")

    monkeypatch.setattr(kernels, "adam", refuse)
    rng = np.random.default_rng(2)
    start, grad = rng.standard_normal((6, 9)), rng.standard_normal((9, 6))
    results = []
    for threshold in (0, 2**62):
        fused_from(monkeypatch, threshold)
        w = dc.nn.Parameter(dc.tensor(start))
        optimizer = optim.Adam([w], lr=0.1)
        for _ in range(3):
            w.grad = dc.tensor(grad).T
            assert not w.grad.numpy().flags.c_contiguous
            optimizer.step()
        results.append(w.detach().numpy().copy())
    np.testing.assert_array_equal(results[0], results[1])


class WithoutKernel(optim.Optimizer):
    """A rule written for the NumPy path alone."""

    def update_step(self, param, grad, state, group):
        param -= grad


def test_only_large_models_take_the_compiled_path(monkeypatch):
    small = dc.nn.Linear(64, 100)
    large = dc.nn.Linear(1000, optim.Optimizer.fused_min_elements // 1000)
    larger = dc.nn.Linear(1000, optim.SGD.fused_min_elements // 1000)
    assert not optim.Adam(small.parameters()).fused_path()
    assert not WithoutKernel(large.parameters(), {}).fused_path()
    assert optim.Adam(large.parameters()).fused_path() == jit.available()
    assert not optim.SGD(large.parameters(), momentum=0.9).fused_path()
    assert optim.SGD(larger.parameters(), momentum=0.9).fused_path() == jit.available()
    monkeypatch.setenv("DESCENT_JIT", "0")
    jit.available.cache_clear()
    try:
        assert not optim.Adam(large.parameters()).fused_path()
    finally:
        jit.available.cache_clear()


def test_training_a_small_model_never_imports_numba():
    code = (
        "import sys, descent as dc\n"
        "model = dc.nn.Sequential(dc.nn.Linear(64, 128), dc.nn.ReLU(), dc.nn.Linear(128, 10))\n"
        "x, y = dc.randn(32, 64), dc.randint(0, 10, (32,))\n"
        "for make in (dc.optim.Adam, lambda ps: dc.optim.SGD(ps, lr=0.1, momentum=0.9)):\n"
        "    optimizer = make(model.parameters())\n"
        "    for _ in range(3):\n"
        "        optimizer.zero_grad()\n"
        "        dc.nn.functional.cross_entropy(model(x), y).backward()\n"
        "        optimizer.step()\n"
        "assert 'numba' not in sys.modules, 'a small model imported numba'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
