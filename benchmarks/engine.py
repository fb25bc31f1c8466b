"""Time descent's engine and an MLP training step against PyTorch's, in one process.

Workloads, each run by both libraries on the same numbers:

- tiny: forward + backward of a 20-op expression on (8, 8) tensors, which is
  all per-op overhead (graph building, dispatch, the backward sweep);
- mlp: one training step of a 784-256-256-10 MLP (float32, ReLU, softmax
  cross-entropy, plain SGD, lr 0.01) at batch 1, 32 and 128, from torch's
  initial weights. descent runs it as a user writes it: nn.Sequential of
  nn.Linear and nn.ReLU, F.cross_entropy, optim.SGD with zero_grad and step.
  torch runs it that way too, and with F.linear and a manual in-place SGD
  update (less Python per step); descent is held to the faster.

How the contenders are checked, timed and reported: benchmarks/harness.py.

    python benchmarks/engine.py                 # full run, under a minute
    python benchmarks/engine.py --quick         # a few iterations, for CI smoke runs
    python benchmarks/engine.py --json out.json --torch-threads 1,2
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

if not __package__:  # run as `python benchmarks/engine.py`: import from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402  (first: it sets NumPy's BLAS threads)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import descent as dc  # noqa: E402
from benchmarks.harness import DESCENT, Step  # noqa: E402

LEARNING_RATE = 0.01
MLP_SIZES = (784, 256, 256, 10)


# -- workload 1: per-op overhead on tiny arrays -----------------------------------------


def expression(x, y):
    """20 differentiable ops, written with operators and methods both libraries share."""
    a = x * y + x - y  # 3 ops
    b = a / (y * y + 1.0)  # 3
    c = b.exp().tanh().sigmoid()  # 3
    d = (c * x).relu()  # 2
    e = d + (x.abs() + 1.0).log()  # 4
    f = e.sum(0)  # 1
    return ((f * f + 1.0).sqrt()).mean()  # 4


def tiny_steps(shape: tuple, seed: int) -> dict[str, Step]:
    """Forward + backward of `expression` on two leaves of `shape`, in descent and in torch."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape, dtype=np.float32)
    y0 = rng.standard_normal(shape, dtype=np.float32)
    dx, dy = (dc.tensor(v, requires_grad=True) for v in (x0, y0))
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x0, y0))

    def descent_step():
        dx.grad = dy.grad = None
        out = expression(dx, dy)
        out.backward()
        return out

    def torch_step():
        tx.grad = ty.grad = None
        out = expression(tx, ty)
        out.backward()
        return out

    return {DESCENT: descent_step, "tensor ops": torch_step}


# -- workload 2: an MLP training step -----------------------------------------------------


def mlp(nn):
    """The MLP, built from `nn` (descent.nn or torch.nn): Linear and ReLU in a Sequential."""
    layers = []
    for fan_in, fan_out in itertools.pairwise(MLP_SIZES):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def torch_raw_mlp_step(model: torch.nn.Module, data: list) -> Step:
    """The step in torch with the least Python: F.linear on raw tensors, in-place SGD."""
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    w1, b1, w2, b2, w3, b3 = params
    batches = itertools.cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data])

    def step():
        x, y = next(batches)
        h = F.relu(F.linear(x, w1, b1))
        h = F.relu(F.linear(h, w2, b2))
        loss = F.cross_entropy(F.linear(h, w3, b3), y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-LEARNING_RATE)
                p.grad = None
        return loss

    return step


def mlp_steps(batch: int, seed: int) -> dict[str, Step]:
    torch.manual_seed(seed)
    torch_model = mlp(torch.nn)
    model = harness.copy_weights(mlp(dc.nn), torch_model)
    data = harness.random_batches(np.random.default_rng(seed), (batch, MLP_SIZES[0]), 10)
    optimizer = dc.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=LEARNING_RATE)
    return {
        DESCENT: harness.training_step(dc, model, optimizer, data),
        "nn.Linear + optim.SGD": harness.training_step(torch, torch_model, torch_optimizer, data),
        "F.linear + manual SGD": torch_raw_mlp_step(torch_model, data),  # copies the weights
    }


WORKLOADS: dict[str, harness.Workload] = {
    "tiny expr (8, 8), 20 ops, fwd+bwd": lambda: tiny_steps((8, 8), seed=0),
    "mlp step, batch 1": lambda: mlp_steps(1, seed=1),
    "mlp step, batch 32": lambda: mlp_steps(32, seed=2),
    "mlp step, batch 128": lambda: mlp_steps(128, seed=3),
}


def main(argv: list[str] | None = None) -> int:
    return harness.main(argv, __doc__.splitlines()[0], {"engine": WORKLOADS})


if __name__ == "__main__":
    sys.exit(main())
