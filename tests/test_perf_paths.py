"""Fast paths give the numbers of the plain ones: threaded optimizer steps, outer products."""

import numpy as np
import pytest

import descent as dc
from descent import optim
from descent.optim import optimizer as optimizer_module

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
]


def trajectory(name, options, shapes, steps=4):
    rng = np.random.default_rng(0)
    params = [dc.nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    opt = getattr(optim, name)(params, **options)
    for _ in range(steps):
        for p in params:
            p.grad = rng.standard_normal(p.shape).astype(np.float32)
        opt.step()
    return [p.detach().numpy().copy() for p in params], opt


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_threaded_step_is_bit_identical(monkeypatch, name, options):
    shapes = [(37, 11), (5,), (3, 4, 9)]
    expected, plain = trajectory(name, options, shapes)
    monkeypatch.setattr(optimizer_module, "SPLIT_SIZE", 16)
    monkeypatch.setattr(optimizer_module, "THREADS", 3)
    got, split = trajectory(name, options, shapes)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    for ours, theirs in zip(split.state_dict()["state"].values(),
                            plain.state_dict()["state"].values()):  # fmt: skip
        assert ours.keys() == theirs.keys()
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key])


def test_rmsprop_momentum_turned_on_later_is_gathered(monkeypatch):
    monkeypatch.setattr(optimizer_module, "SPLIT_SIZE", 16)
    monkeypatch.setattr(optimizer_module, "THREADS", 2)
    w = dc.nn.Parameter(np.ones((10, 10), np.float32))
    opt = optim.RMSprop([w], lr=0.01)
    w.grad = np.full((10, 10), 0.5, np.float32)
    opt.step()
    opt.param_groups[0]["momentum"] = 0.9
    opt.step()
    buffer = opt.state[w]["momentum_buffer"]
    buffer = buffer.numpy()
    assert buffer.shape == (10, 10) and np.all(buffer == buffer.flat[0]) and buffer.flat[0] > 0


def test_batch_one_linear_gradient_is_the_outer_product():
    rng = np.random.default_rng(1)
    x = dc.tensor(rng.standard_normal((1, 7)).astype(np.float32), requires_grad=True)
    w = dc.tensor(rng.standard_normal((5, 7)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((1, 5)).astype(np.float32)
    dc.nn.functional.linear(x, w).backward(g)
    np.testing.assert_allclose(w.grad, g.T * x.data, rtol=1e-6)
    a = dc.tensor(rng.standard_normal((2, 3, 1)), dtype="float64", requires_grad=True)
    b = dc.tensor(rng.standard_normal((2, 1, 4)), dtype="float64", requires_grad=True)
    upstream = rng.standard_normal((2, 3, 4))
    (a @ b).backward(upstream)
    np.testing.assert_allclose(a.grad, upstream @ b.data.swapaxes(1, 2))


def _large_adam_step(queue):
    param = dc.nn.Parameter(np.ones(optimizer_module.SPLIT_SIZE, dtype=np.float32))
    param.grad = np.ones_like(param.data)
    dc.optim.Adam([param], lr=0.1).step()
    queue.put(float(param.data[0]))


def test_a_forked_child_can_take_a_threaded_step():
    """The parent's thread pool does not survive a fork; the child must start its own."""
    import multiprocessing

    parent = dc.nn.Parameter(np.ones(optimizer_module.SPLIT_SIZE, dtype=np.float32))
    parent.grad = np.ones_like(parent.data)
    dc.optim.Adam([parent], lr=0.1).step()  # the parent's pool now exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_large_adam_step, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0, "the child hung or failed"
    assert queue.get(timeout=5) == pytest.approx(0.9)
