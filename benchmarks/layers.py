"""Time a LeNet-5 training step and single optimizer steps in descent against PyTorch's.

Workloads, each run by both libraries in one process on the same numbers:

- lenet: one training step of LeNet-5 (Conv2d(1, 6, 5, padding=2), ReLU,
  MaxPool2d(2), Conv2d(6, 16, 5), ReLU, MaxPool2d(2), Flatten, Linear(400,
  120), ReLU, Linear(120, 84), ReLU, Linear(84, 10)) on a batch of 128 28x28
  images: cross-entropy, SGD with lr 0.01 and momentum 0.9, from torch's
  initial weights copied into descent's model;
- optimizer: one step() of SGD (lr 0.01, momentum 0.9) and of Adam (lr 1e-3)
  over the 1,068,810 parameters of a 784-1024-256-10 MLP, six arrays, with
  gradients filled in beforehand; only step() is timed. torch runs three
  implementations: its default, which on CPU is the for-loop over parameters
  (torch picks foreach only on accelerators), foreach=True and fused=True;
  descent is held to the fastest.

How the contenders are checked, timed and reported: benchmarks/harness.py.

    python benchmarks/layers.py                 # full run, about half a minute
    python benchmarks/layers.py --quick         # a few iterations, for CI smoke runs
    python benchmarks/layers.py --json out.json
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

if not __package__:  # run as `python benchmarks/layers.py`: import from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402  (first: it sets NumPy's BLAS threads)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402

import descent as dc  # noqa: E402
from benchmarks.harness import DESCENT, Step  # noqa: E402

LENET_BATCH = 128
MLP_SIZES = (784, 1024, 256, 10)  # its weights and biases: 1,068,810 parameters
TORCH_IMPLEMENTATIONS = {
    "for-loop (CPU default)": {},
    "foreach=True": {"foreach": True},
    "fused=True": {"fused": True},
}


def lenet(nn):
    """LeNet-5 for 28x28 inputs, built from `nn` (descent.nn or torch.nn)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip


def lenet_steps(seed: int) -> dict[str, Step]:
    torch.manual_seed(seed)
    torch_model = lenet(torch.nn)
    model = harness.copy_weights(lenet(dc.nn), torch_model)
    data = harness.random_batches(np.random.default_rng(seed), (LENET_BATCH, 1, 28, 28), 10)
    optimizer = dc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.01, momentum=0.9)
    return {
        DESCENT: harness.training_step(dc, model, optimizer, data),
        "nn + optim.SGD": harness.training_step(torch, torch_model, torch_optimizer, data),
    }


def optimizer_steps(name: str, seed: int, **options) -> dict[str, Step]:
    """One `step()` of optimizer `name` (SGD or Adam) over the MLP's arrays, gradients given."""
    rng = np.random.default_rng(seed)
    shapes = []
    for fan_in, fan_out in itertools.pairwise(MLP_SIZES):
        shapes += [(fan_out, fan_in), (fan_out,)]
    values = [rng.uniform(-0.05, 0.05, shape).astype(np.float32) for shape in shapes]
    grads = [rng.standard_normal(shape, dtype=np.float32) * 0.01 for shape in shapes]

    params = [dc.nn.Parameter(v.copy()) for v in values]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    steps = {DESCENT: just_step(getattr(dc.optim, name)(params, **options), params)}
    for label, implementation in TORCH_IMPLEMENTATIONS.items():
        theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
        for p, g in zip(theirs, grads):
            p.grad = torch.tensor(g)
        optimizer = getattr(torch.optim, name)(theirs, **options, **implementation)
        steps[f"optim.{name}, {label}"] = just_step(optimizer, theirs)
    return steps


def just_step(optimizer, params: list) -> Step:
    """optimizer.step() alone; the parameters are returned for the agreement check."""

    def step():
        optimizer.step()
        return params

    return step


WORKLOADS: dict[str, harness.Workload] = {
    f"lenet-5 step, batch {LENET_BATCH}, SGD momentum": lambda: lenet_steps(seed=0),
    "SGD momentum 0.9 step, 1.07M params": lambda: optimizer_steps(
        "SGD", seed=1, lr=0.01, momentum=0.9
    ),
    "Adam step, 1.07M params": lambda: optimizer_steps("Adam", seed=2, lr=1e-3),
}


def main(argv: list[str] | None = None) -> int:
    return harness.main(argv, __doc__.splitlines()[0], {"layers": WORKLOADS})


if __name__ == "__main__":
    sys.exit(main())
