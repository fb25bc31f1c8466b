"""Time descent's conv2d, conv1d and pooling against PyTorch's, in one process.

Workloads (float32, NCHW), each run by both libraries on the same numbers:

- conv2d forward + backward at LeNet's shapes (N=128: 1->6 5x5 padding 2 on
  28x28, whose input needs no gradient, as a first layer; 6->16 5x5 on
  14x14), at the official PyTorch MNIST example's (N=64: 1->32 3x3 on 28x28,
  a first layer; 32->64 3x3 on 26x26) and at a ResNet-like one (N=32: 64->64
  3x3 padding 1 on 32x32);
- conv1d forward + backward at the shapes of a 1-D CNN for MNIST-1D (N=100,
  length 40, kernel 5 padding 2: 1->32, a first layer, and 32->32);
- the same convolutions forward only, under no_grad (inference);
- max_pool2d and avg_pool2d 2x2 forward + backward on (128, 6, 28, 28).

Each convolution's forward + backward also runs its matmuls alone in NumPy's
BLAS, one product per matrix over the whole batch (a bound, not a peer):
descent's GFLOP/s against that row's is the share of BLAS's own speed it reaches;
and the same products in torch's BLAS (MKL on x86), the gap between the two.

The output and gradients must agree between the two before timing. How the
contenders are checked, timed and reported: benchmarks/harness.py.

    python benchmarks/conv.py                 # full run, a few minutes
    python benchmarks/conv.py --quick         # a few iterations, for CI smoke runs
    python benchmarks/conv.py --json out.json
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as `python benchmarks/conv.py`: import from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402  (first: it sets NumPy's BLAS threads)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402

import descent as dc  # noqa: E402
from benchmarks.harness import DESCENT, Step  # noqa: E402


@dataclass(frozen=True)
class Conv:
    name: str
    batch: int
    in_channels: int
    out_channels: int
    size: int
    kernel: int
    padding: int
    input_grad: bool  # False for a first layer: its input needs no gradient
    dims: int = 2  # 1 for conv1d: `size` is then the length


CONVS = [
    Conv("conv 1->6 5x5 pad 2, 28x28, N=128", 128, 1, 6, 28, 5, 2, input_grad=False),
    Conv("conv 6->16 5x5, 14x14, N=128", 128, 6, 16, 14, 5, 0, input_grad=True),
    Conv("conv 1->32 3x3, 28x28, N=64", 64, 1, 32, 28, 3, 0, input_grad=False),
    Conv("conv 32->64 3x3, 26x26, N=64", 64, 32, 64, 26, 3, 0, input_grad=True),
    Conv("conv 64->64 3x3 pad 1, 32x32, N=32", 32, 64, 64, 32, 3, 1, input_grad=True),
    Conv("conv1d 1->32 k5 pad 2, L=40, N=100", 100, 1, 32, 40, 5, 2, False, dims=1),
    Conv("conv1d 32->32 k5 pad 2, L=40, N=100", 100, 32, 32, 40, 5, 2, True, dims=1),
]
POOL_SHAPE = (128, 6, 28, 28)


# -- workloads ----------------------------------------------------------------------------


def conv_steps(conv: Conv, backward: bool, seed: int) -> dict[str, Step]:
    """One conv2d or conv1d (with bias) in descent and in torch; with `backward`, also its
    gradients."""
    c = conv
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c.batch, c.in_channels) + (c.size,) * c.dims, dtype=np.float32)
    bound = 1.0 / np.sqrt(c.in_channels * c.kernel**c.dims)  # nn.Conv2d's default init range
    w = rng.uniform(-bound, bound, (c.out_channels, c.in_channels) + (c.kernel,) * c.dims)
    b = rng.uniform(-bound, bound, c.out_channels)
    w, b = w.astype(np.float32), b.astype(np.float32)
    out_size = c.size + 2 * c.padding - c.kernel + 1
    g = rng.standard_normal((c.batch, c.out_channels) + (out_size,) * c.dims, dtype=np.float32)
    steps = {
        DESCENT: conv_step(dc, conv, backward, (x, w, b), g),
        f"F.conv{c.dims}d": conv_step(torch, conv, backward, (x, w, b), g),
    }
    if backward:
        steps["NumPy BLAS, the step's matmuls"] = blas_bound(conv, rng)
        steps[harness.TORCH_BOUND] = blas_bound(conv, rng, torch)
    return steps


def output_pixels(conv: Conv) -> int:
    """Output pixels (or positions) per sample and channel."""
    return (conv.size + 2 * conv.padding - conv.kernel + 1) ** conv.dims


def conv_flops(conv: Conv, backward: bool) -> float:
    """Floating-point operations of a call, as its matmuls count them: 2 * N * C_out * K * P
    forward (K = C_in * k^dims, P output pixels), as much again for the weight's gradient
    and for the input's."""
    c = conv
    forward = 2.0 * c.batch * c.out_channels * c.in_channels * c.kernel**c.dims * output_pixels(c)
    if not backward:
        return forward
    return forward * (3 if c.input_grad else 2)


def blas_bound(conv: Conv, rng, lib=np) -> Step:
    """A BLAS running only the matmuls of a forward and backward, each one product over the
    whole batch, (C_out, K) by (K, N * P) and its transposes: the speed NumPy's BLAS (`lib`
    np) or torch's (`lib` torch) reaches at these shapes, to read descent's GFLOP/s against.
    Computes nothing to check."""
    c = conv
    k, columns = c.in_channels * c.kernel**c.dims, c.batch * output_pixels(c)
    weight = rng.standard_normal((c.out_channels, k), dtype=np.float32)
    cols = rng.standard_normal((k, columns), dtype=np.float32)
    grad = rng.standard_normal((c.out_channels, columns), dtype=np.float32)
    if lib is torch:
        weight, cols, grad = (torch.from_numpy(a) for a in (weight, cols, grad))

    def step():
        weight @ cols
        grad @ cols.T
        if c.input_grad:
            weight.T @ grad

    return step


def conv_step(lib, conv: Conv, backward: bool, arrays: tuple, upstream: np.ndarray) -> Step:
    """The convolution in `lib` (descent or torch) on copies of `arrays`, x, w and b."""
    wants = (backward and conv.input_grad, backward, backward)
    tensors = [lib.tensor(v, requires_grad=r) for v, r in zip(arrays, wants)]
    upstream = lib.tensor(upstream)
    convolve = getattr(lib.nn.functional, f"conv{conv.dims}d")

    def step():
        for t in tensors:
            t.grad = None
        if not backward:
            with lib.no_grad():
                return convolve(*tensors, padding=conv.padding)
        out = convolve(*tensors, padding=conv.padding)
        out.backward(upstream)
        return [out] + [t.grad for t in tensors if t.requires_grad]

    return step


def pool_steps(name: str, seed: int) -> dict[str, Step]:
    """A 2x2 pool (`name` is max_pool2d or avg_pool2d) forward + backward in descent and torch."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(POOL_SHAPE, dtype=np.float32)
    n, c, h, w = POOL_SHAPE
    g = rng.standard_normal((n, c, h // 2, w // 2), dtype=np.float32)
    return {DESCENT: pool_step(dc, name, x, g), f"F.{name}": pool_step(torch, name, x, g)}


def pool_step(lib, name: str, x: np.ndarray, upstream: np.ndarray) -> Step:
    """The pool `name` in `lib` (descent or torch) on a copy of `x`."""
    x, upstream = lib.tensor(x, requires_grad=True), lib.tensor(upstream)
    pool = getattr(lib.nn.functional, name)

    def step():
        x.grad = None
        out = pool(x, 2)
        out.backward(upstream)
        return [out, x.grad]

    return step


WORKLOADS: dict[str, harness.Work | harness.Workload] = {
    **{
        f"{c.name}, fwd+bwd": harness.Work(
            lambda c=c: conv_steps(c, backward=True, seed=0), conv_flops(c, backward=True)
        )
        for c in CONVS
    },
    **{
        f"{c.name}, fwd only": harness.Work(
            lambda c=c: conv_steps(c, backward=False, seed=1), conv_flops(c, backward=False)
        )
        for c in CONVS
    },
    "max_pool2d 2x2, (128, 6, 28, 28), fwd+bwd": lambda: pool_steps("max_pool2d", seed=2),
    "avg_pool2d 2x2, (128, 6, 28, 28), fwd+bwd": lambda: pool_steps("avg_pool2d", seed=3),
}


def main(argv: list[str] | None = None) -> int:
    return harness.main(argv, __doc__.splitlines()[0], {"conv": WORKLOADS})


if __name__ == "__main__":
    sys.exit(main())
