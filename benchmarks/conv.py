"""Time descent's conv2d and pooling against PyTorch's in one process and compare speeds.

Workloads (float32, NCHW), each run by both libraries on the same numbers:

- conv2d forward + backward at LeNet's shapes (N=128: 1->6 5x5 padding 2 on
  28x28, whose input needs no gradient, as a first layer; 6->16 5x5 on
  14x14) and at a ResNet-like one (N=32: 64->64 3x3 padding 1 on 32x32);
- the same convolutions forward only, under no_grad (inference);
- max_pool2d and avg_pool2d 2x2 forward + backward on (128, 6, 28, 28).

Both libraries get the same number of threads: OPENBLAS_NUM_THREADS if it is
set, else 2 (set here before NumPy loads OpenBLAS; torch.set_num_threads).
Before timing, each workload's output and gradients must agree between the
two. The libraries are then timed in alternating blocks (drift in machine
load hits both alike) and the median block is reported. ratio = torch time /
descent time: above 1, descent is faster.

    python benchmarks/conv.py                 # full run, about a minute
    python benchmarks/conv.py --quick         # a few iterations, for CI smoke runs
    python benchmarks/conv.py --json out.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # before NumPy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout as `python benchmarks/conv.py`

import descent as dc  # noqa: E402
from descent.ops.conv import conv2d  # noqa: E402
from descent.ops.pool import avg_pool2d, max_pool2d  # noqa: E402

THREADS = int(os.environ["OPENBLAS_NUM_THREADS"])

Step = Callable[[], list]  # one call; returns the output and gradients as arrays, to compare


@dataclass(frozen=True)
class Settings:
    warmup: int  # calls of each library before calibrating
    repeats: int  # timed blocks per library; the median is reported
    block_seconds: float  # a block runs at least this long


FULL = Settings(warmup=5, repeats=9, block_seconds=0.3)
QUICK = Settings(warmup=1, repeats=3, block_seconds=0.01)


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


CONVS = [
    Conv("conv 1->6 5x5 pad 2, 28x28, N=128", 128, 1, 6, 28, 5, 2, input_grad=False),
    Conv("conv 6->16 5x5, 14x14, N=128", 128, 6, 16, 14, 5, 0, input_grad=True),
    Conv("conv 64->64 3x3 pad 1, 32x32, N=32", 32, 64, 64, 32, 3, 1, input_grad=True),
]
POOL_SHAPE = (128, 6, 28, 28)


# -- workloads ----------------------------------------------------------------------------


def conv_steps(conv: Conv, rng: np.random.Generator, backward: bool) -> tuple[Step, Step]:
    """One conv2d (with bias) in descent and in torch; with `backward`, also its gradients."""
    c = conv
    x = rng.standard_normal((c.batch, c.in_channels, c.size, c.size), dtype=np.float32)
    bound = 1.0 / np.sqrt(c.in_channels * c.kernel**2)  # nn.Conv2d's default init range
    w = rng.uniform(-bound, bound, (c.out_channels, c.in_channels, c.kernel, c.kernel))
    b = rng.uniform(-bound, bound, c.out_channels)
    w, b = w.astype(np.float32), b.astype(np.float32)
    out_size = c.size + 2 * c.padding - c.kernel + 1
    g = rng.standard_normal((c.batch, c.out_channels, out_size, out_size), dtype=np.float32)
    wants = (backward and c.input_grad, backward, backward)
    ours = [dc.tensor(v, requires_grad=r) for v, r in zip((x, w, b), wants)]
    theirs = [torch.tensor(v, requires_grad=r) for v, r in zip((x, w, b), wants)]
    g_torch = torch.from_numpy(g)

    def descent_step():
        for t in ours:
            t.grad = None
        if not backward:
            with dc.no_grad():
                return [conv2d(*ours, padding=c.padding).data]
        out = conv2d(*ours, padding=c.padding)
        out.backward(g)
        return [out.data] + [t.grad for t in ours if t.requires_grad]

    def torch_step():
        for t in theirs:
            t.grad = None
        if not backward:
            with torch.no_grad():
                return [F.conv2d(*theirs, padding=c.padding).numpy()]
        out = F.conv2d(*theirs, padding=c.padding)
        out.backward(g_torch)
        return [out.detach().numpy()] + [t.grad.numpy() for t in theirs if t.requires_grad]

    return descent_step, torch_step


def pool_steps(ours_fn, torch_fn, rng: np.random.Generator) -> tuple[Step, Step]:
    """A 2x2 pool forward + backward in descent and in torch."""
    x = rng.standard_normal(POOL_SHAPE, dtype=np.float32)
    n, c, h, w = POOL_SHAPE
    g = rng.standard_normal((n, c, h // 2, w // 2), dtype=np.float32)
    x_ours, x_torch, g_torch = dc.tensor(x, requires_grad=True), torch.tensor(x), torch.tensor(g)
    x_torch.requires_grad_(True)

    def descent_step():
        x_ours.grad = None
        out = ours_fn(x_ours, 2)
        out.backward(g)
        return [out.data, x_ours.grad]

    def torch_step():
        x_torch.grad = None
        out = torch_fn(x_torch, 2)
        out.backward(g_torch)
        return [out.detach().numpy(), x_torch.grad.numpy()]

    return descent_step, torch_step


# -- timing -------------------------------------------------------------------------------


def time_block(step: Step, number: int) -> float:
    """Seconds for `number` calls of `step`."""
    start = time.perf_counter()
    for _ in range(number):
        step()
    return time.perf_counter() - start


def calibrate(step: Step, seconds: float) -> int:
    """The number of calls (a power of two) that takes at least `seconds`."""
    number = 1
    while time_block(step, number) < seconds:
        number *= 2
    return number


def check_same_results(name: str, descent_step: Step, torch_step: Step) -> None:
    """Output and gradients must agree (float32 tolerances), or the timing means nothing."""
    ours, theirs = descent_step(), torch_step()
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        scale = float(np.abs(b).max()) or 1.0
        if not np.allclose(a, b, rtol=1e-3, atol=1e-4 * scale):
            worst = float(np.abs(a - b).max())
            raise AssertionError(f"{name}: result {i} differs from torch's by up to {worst}")


def compare(name: str, descent_step: Step, torch_step: Step, settings: Settings) -> dict:
    """Median seconds per call of each library, timed in alternating blocks."""
    check_same_results(name, descent_step, torch_step)
    time_block(descent_step, settings.warmup)
    time_block(torch_step, settings.warmup)
    steps = {"descent": descent_step, "torch": torch_step}
    numbers = {lib: calibrate(step, settings.block_seconds) for lib, step in steps.items()}
    samples: dict[str, list[float]] = {"descent": [], "torch": []}
    for _ in range(settings.repeats):
        for library, step in steps.items():
            samples[library].append(time_block(step, numbers[library]) / numbers[library])
    descent_s, torch_s = statistics.median(samples["descent"]), statistics.median(samples["torch"])
    return {
        "name": name,
        "descent_us": descent_s * 1e6,
        "torch_us": torch_s * 1e6,
        "ratio": torch_s / descent_s,
        "calls_per_block": numbers,
        "samples_us": {k: [s * 1e6 for s in v] for k, v in samples.items()},
    }


def run(settings: Settings) -> list[dict]:
    rng = np.random.default_rng(0)
    workloads = [(f"{c.name}, fwd+bwd", conv_steps(c, rng, backward=True)) for c in CONVS]
    workloads += [(f"{c.name}, fwd only", conv_steps(c, rng, backward=False)) for c in CONVS]
    workloads += [
        ("max_pool2d 2x2, (128, 6, 28, 28), fwd+bwd", pool_steps(max_pool2d, F.max_pool2d, rng)),
        ("avg_pool2d 2x2, (128, 6, 28, 28), fwd+bwd", pool_steps(avg_pool2d, F.avg_pool2d, rng)),
    ]
    results = []
    for name, steps in workloads:
        results.append(compare(name, *steps, settings))
        print(f"timed {name}", file=sys.stderr, flush=True)
    return results


# -- reporting ----------------------------------------------------------------------------


def machine_info() -> dict:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": f"{blas.get('name')} {blas.get('version')}",
        "blas_threads": THREADS,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "descent": dc.__version__,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine(info: dict) -> None:
    print(f"descent {info['descent']} vs torch {info['torch']}")
    print(f"cpu: {info['cpu']}, {info['cpu_count']} logical CPUs, {info['platform']}")
    print(
        f"python {info['python']}, numpy {info['numpy']} ({info['numpy_blas']}, "
        f"{info['blas_threads']} threads), torch threads {info['torch_threads']}"
    )
    print(flush=True)


def print_table(results: list[dict], settings: Settings) -> None:
    width = max(len(r["name"]) for r in results)
    header = f"{'workload':<{width}}  {'descent us':>11}  {'torch us':>11}  {'ratio':>7}"
    print(f"{header}  {'spread':>7}")
    for r in results:
        print(
            f"{r['name']:<{width}}  {r['descent_us']:>11.1f}  {r['torch_us']:>11.1f}"
            f"  {r['ratio']:>7.3f}  {spread(r):>6.0%}"
        )
    print()
    print(
        f"us per call, median of {settings.repeats} blocks of at least "
        f"{settings.block_seconds} s. ratio = torch time / descent time (>1: descent faster).\n"
        "spread = slowest block / fastest block - 1, the worse library's: a large one means "
        "the machine was busy and the row is not to be trusted."
    )


def spread(result: dict) -> float:
    return max(max(s) / min(s) - 1 for s in result["samples_us"].values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations, for smoke runs")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    args = parser.parse_args(argv)

    torch.set_num_threads(THREADS)
    settings = QUICK if args.quick else FULL
    info = machine_info()
    print_machine(info)
    results = run(settings)
    print_table(results, settings)
    if args.json:
        report = {"machine": info, "settings": asdict(settings), "results": results}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
