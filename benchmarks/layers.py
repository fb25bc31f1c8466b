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
  descent is held to the fastest. descent takes its fused path here (one
  compiled pass per parameter, on one thread: descent.optim.kernels); the
  bound beside it, "NumPy reference path", is the same optimizer with the
  fused path off (as under DESCENT_JIT=0; NumPy, with BLAS's axpy for the
  updates that are one, descent.optim.blas): the before and after in one run;
- conv1d and conv_transpose2d: forward + backward of nn.Conv1d(64, 64, 5,
  padding=2) on (32, 64, 256) sequences and of nn.ConvTranspose2d(64, 32, 4,
  stride=2, padding=1) (a DCGAN upsampling step) on (16, 64, 16, 16) images,
  from torch's initial weights, gradients of the input and every parameter.

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
from benchmarks.nets import lenet  # noqa: E402

LENET_BATCH = 128
MLP_SIZES = (784, 1024, 256, 10)  # its weights and biases: 1,068,810 parameters
TORCH_IMPLEMENTATIONS = {
    "for-loop (CPU default)": {},
    "foreach=True": {"foreach": True},
    "fused=True": {"fused": True},
}


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

    steps = {}
    for label, fused in ((DESCENT, True), (f"{harness.BOUND} reference path", False)):
        params = [dc.nn.Parameter(v.copy()) for v in values]
        for p, g in zip(params, grads):
            p.grad = g.copy()
        optimizer = getattr(dc.optim, name)(params, **options)
        steps[label] = just_step(optimizer, params, fused)
    for label, implementation in TORCH_IMPLEMENTATIONS.items():
        theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
        for p, g in zip(theirs, grads):
            p.grad = torch.tensor(g)
        optimizer = getattr(torch.optim, name)(theirs, **options, **implementation)
        steps[f"optim.{name}, {label}"] = just_step(optimizer, theirs)
    return steps


LAYER_ROWS = {
    "Conv1d 64->64 k5 pad 2, (32, 64, 256), fwd+bwd": (
        lambda nn: nn.Conv1d(64, 64, 5, padding=2),
        (32, 64, 256),
    ),
    "ConvTranspose2d 64->32 k4 s2 pad 1, (16, 64, 16, 16), fwd+bwd": (
        lambda nn: nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
        (16, 64, 16, 16),
    ),
}


def layer_steps(build, shape: tuple[int, ...], seed: int) -> dict[str, Step]:
    """Forward + backward of the layer `build(nn)` makes, in descent and torch, from torch's
    initial weights, on the same input (its batch scaled under --quick) and upstream
    gradient."""
    torch.manual_seed(seed)
    torch_layer = build(torch.nn)
    layer = harness.copy_weights(build(dc.nn), torch_layer)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((harness.scaled(shape[0]), *shape[1:]), dtype=np.float32)
    with torch.no_grad():
        out_shape = torch_layer(torch.from_numpy(x)).shape
    g = rng.standard_normal(tuple(out_shape), dtype=np.float32)
    label = f"nn.{type(torch_layer).__name__}"
    return {DESCENT: layer_step(dc, layer, x, g), label: layer_step(torch, torch_layer, x, g)}


def layer_step(lib, layer, x: np.ndarray, upstream: np.ndarray) -> Step:
    """One forward and backward through `layer` in `lib`; returns the output and gradients."""
    x, upstream = lib.tensor(x, requires_grad=True), lib.tensor(upstream)

    def step():
        x.grad = None
        layer.zero_grad()
        out = layer(x)
        out.backward(upstream)
        return [out, x.grad, *(p.grad for p in layer.parameters())]

    return step


def just_step(optimizer, params: list, fused: bool = True) -> Step:
    """optimizer.step() alone; the parameters are returned for the agreement check. A
    descent optimizer with `fused` False runs its NumPy reference path."""
    if not fused:
        optimizer.fused_path = lambda: False

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
    **{
        name: lambda build=build, shape=shape: layer_steps(build, shape, seed=3)
        for name, (build, shape) in LAYER_ROWS.items()
    },
}


def main(argv: list[str] | None = None) -> int:
    return harness.main(argv, __doc__.splitlines()[0], {"layers": WORKLOADS})


if __name__ == "__main__":
    sys.exit(main())
