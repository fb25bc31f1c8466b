"""Time descent's engine and an MLP training step against PyTorch's, in one process.

Workloads, each run by both libraries on the same numbers:

- tiny: forward + backward of a 20-op expression on (8, 8) tensors, which is
  all per-op overhead (graph building, dispatch, the backward sweep);
- mlp: one training step of a 784-256-256-10 MLP (float32, ReLU, softmax
  cross-entropy, plain SGD, lr 0.01) at batch 1, 32, 128 and the full
  10,000 rows, and with Adam (lr 1e-3) at batch 128, from torch's initial
  weights. descent runs it as a user writes it: nn.Sequential of nn.Linear
  and nn.ReLU, F.cross_entropy, optim.SGD with zero_grad and step. torch
  runs it that way too, and (SGD) with F.linear and a manual in-place
  update (less Python per step); descent is held to the faster. The bound
  beside them, "NumPy matmuls alone", runs only the step's eight matrix
  products with NumPy on the same shapes: descent's limit for this step,
  against which the GFLOP/s column is read; "torch's matmuls alone" runs the
  same products in torch's BLAS (MKL on x86), so that the gap between the
  two BLAS libraries on these shapes is measured, not guessed;
- activations: forward + backward of ReLU on the MNIST example's two conv
  outputs, (64, 32, 26, 26) and (64, 64, 24, 24) float32, and of dropout
  (p 0.25) on its pooled (64, 64, 12, 12) ones. descent runs its compiled
  kernels there (descent.ops.elementwise_kernels; numba loaded first, as a
  conv net's pool kernels load it in its first step); the bound beside it,
  "NumPy reference path", is the same op with the kernels off: the before and
  after in one run. The dropout masks differ between the libraries, so only
  descent's two paths are checked against each other (same seeded draws).

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
from benchmarks.nets import MLP_SIZES, mlp  # noqa: E402

LEARNING_RATE = 0.01
FULL_BATCH = 10_000


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


def matmuls_alone(lib, batch: int, seed: int) -> Step:
    """The step's matrix products alone, in NumPy's BLAS (`lib` np) or torch's (`lib`
    torch), with descent's shapes and layouts: per layer x @ W.T forward, g.T @ x for the
    weight and g @ W for the input (all but the first layer's). No autograd, no
    elementwise work: what each BLAS alone takes."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.standard_normal((fan_out, fan_in), dtype=np.float32) * 0.05
        for fan_in, fan_out in itertools.pairwise(MLP_SIZES)
    ]
    x = rng.standard_normal((batch, MLP_SIZES[0]), dtype=np.float32)
    grads = [rng.standard_normal((batch, w.shape[0]), dtype=np.float32) for w in weights]
    ins = [x] + [rng.standard_normal((batch, w.shape[0]), dtype=np.float32) for w in weights]
    if lib is torch:
        weights, grads, ins = (
            [torch.from_numpy(a) for a in arrays] for arrays in (weights, grads, ins)
        )
    product = torch.mm if lib is torch else np.dot  # np.dot: BLAS for every 2-d product

    def step():
        for w, h in zip(weights, ins):
            product(h, w.T)
        for i, (w, g) in enumerate(zip(weights, grads)):
            product(g.T, ins[i])
            if i:
                product(g, w)

    return step


def mlp_flops(batch: int) -> float:
    """Multiply-adds of the step's products, twice: forward, weight and (but the first
    layer) input gradients."""
    sizes = [fan_in * fan_out for fan_in, fan_out in itertools.pairwise(MLP_SIZES)]
    return 2.0 * batch * (2 * sizes[0] + 3 * sum(sizes[1:]))


def mlp_steps(batch: int, seed: int, optimizer: str = "SGD") -> dict[str, Step]:
    torch.manual_seed(seed)
    torch_model = mlp(torch.nn)
    model = harness.copy_weights(mlp(dc.nn), torch_model)
    count = 1 if batch >= FULL_BATCH else 8  # the full batch is one batch, as in batch descent
    shape = (batch, MLP_SIZES[0])
    data = harness.random_batches(np.random.default_rng(seed), shape, 10, count)
    lr = LEARNING_RATE if optimizer == "SGD" else 1e-3
    ours = getattr(dc.optim, optimizer)(model.parameters(), lr=lr)
    theirs = getattr(torch.optim, optimizer)(torch_model.parameters(), lr=lr)
    steps = {
        DESCENT: harness.training_step(dc, model, ours, data),
        f"nn.Linear + optim.{optimizer}": harness.training_step(torch, torch_model, theirs, data),
    }
    if optimizer == "SGD":
        steps["F.linear + manual SGD"] = torch_raw_mlp_step(torch_model, data)  # copies weights
    steps[f"{harness.BOUND} matmuls alone"] = matmuls_alone(np, batch, seed)
    steps[harness.TORCH_BOUND] = matmuls_alone(torch, batch, seed)
    return steps


def mlp_work(batch: int, seed: int, optimizer: str = "SGD") -> harness.Work:
    return harness.Work(lambda: mlp_steps(batch, seed, optimizer), mlp_flops(batch))


# -- workload 3: elementwise ops on a conv net's activations ----------------------------


def activation_steps(op: str, shape: tuple, seed: int) -> dict[str, Step]:
    """Forward + backward of `op` ("relu" or "dropout") on `shape`: descent compiled, descent
    with the kernels off (the NumPy reference), torch."""
    from descent.ops import elementwise

    if dc.jit.available():
        import numba  # noqa: F401  (loaded, as in a conv net: see the module's docstring)
    rng = np.random.default_rng(seed)
    x0, g0 = (rng.standard_normal(shape, dtype=np.float32) for _ in range(2))

    def descent_step(min_elements: int) -> Step:
        x, upstream = dc.tensor(x0, requires_grad=True), dc.tensor(g0)
        generator = np.random.default_rng(seed)  # each path its own, in step: same draws

        def step():
            default = elementwise.JIT_MIN_ELEMENTS
            elementwise.JIT_MIN_ELEMENTS = min_elements
            try:
                x.grad = None
                if op == "relu":
                    out = dc.nn.functional.relu(x)
                else:
                    out = dc.nn.functional.dropout(x, 0.25, generator=generator)
                out.backward(upstream)
            finally:
                elementwise.JIT_MIN_ELEMENTS = default
            return out, x.grad

        return step

    tx, tg = torch.tensor(x0, requires_grad=True), torch.tensor(g0)

    def torch_step():
        tx.grad = None
        out = F.relu(tx) if op == "relu" else F.dropout(tx, 0.25)
        out.backward(tg)
        return (out, tx.grad) if op == "relu" else None  # another mask: timed only

    return {
        DESCENT: descent_step(elementwise.JIT_MIN_ELEMENTS),
        f"F.{op}": torch_step,
        f"{harness.BOUND} reference path": descent_step(1 << 62),
    }


WORKLOADS: dict[str, harness.Work | harness.Workload] = {
    "tiny expr (8, 8), 20 ops, fwd+bwd": lambda: tiny_steps((8, 8), seed=0),
    "mlp step, batch 1": mlp_work(1, seed=1),
    "mlp step, batch 32": mlp_work(32, seed=2),
    "mlp step, batch 128": mlp_work(128, seed=3),
    f"mlp step, full batch ({FULL_BATCH:,})": mlp_work(FULL_BATCH, seed=4),
    "mlp step, batch 128, Adam": mlp_work(128, seed=5, optimizer="Adam"),
    "relu (64, 32, 26, 26), fwd+bwd": lambda: activation_steps("relu", (64, 32, 26, 26), 6),
    "relu (64, 64, 24, 24), fwd+bwd": lambda: activation_steps("relu", (64, 64, 24, 24), 7),
    "dropout (64, 64, 12, 12), fwd+bwd": lambda: activation_steps("dropout", (64, 64, 12, 12), 8),
}


def main(argv: list[str] | None = None) -> int:
    return harness.main(argv, __doc__.splitlines()[0], {"engine": WORKLOADS})


if __name__ == "__main__":
    sys.exit(main())
