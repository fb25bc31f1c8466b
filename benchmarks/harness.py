"""The timing, checking and reporting that every benchmark shares: descent against torch.

A workload is a function that builds its contenders, each with state of its
own: descent's step under `DESCENT`, and one or more torch versions under
their names, all on the same numbers. Before timing, the first two calls of
every contender must agree with descent's (the loss, or the outputs and
gradients, or the parameters), so all really compute one thing. After a
warm-up the contenders are timed in rounds of one block each (drift in
machine load hits all alike) and the median block is reported. descent is
held to the fastest torch version: ratio = torch time / descent time, the
median over rounds, above 1 descent is faster. Pairing blocks by round keeps
the ratio right where the machine shifts between a fast and a slow state in
the middle of a run (a shared VM does; the medians of the two columns can
then come from different states).

Contenders whose names start with "NumPy" or "torch's matmuls alone" are
bounds, not peers (the step's matrix products alone in NumPy's BLAS, or in
torch's: the gap between the two BLAS libraries, measured): descent's ratio to
them is shown, but it is held to the fastest of the others.
A contender whose step returns None is timed but not checked: a peer that
cannot give descent's numbers (scikit-learn's MLPClassifier, which draws its
own initial weights) or a bound rather than a library (NumPy running just the
step's matrix products). A workload given as `Work(build, flops)` also
reports GFLOP/s: `flops` floating-point operations per call.

Where the library changes from one block to the next, the run first sleeps a
moment: OpenBLAS's idle worker threads spin for about 0.1 s after a call
(torch's OpenMP workers for less), and on a small machine that spinning takes
a core from the next block: on a 2-CPU machine it slowed torch after descent
by 30% to 2x.

NumPy's OpenBLAS gets OPENBLAS_NUM_THREADS threads if it is set, else 2: set
here, so a benchmark imports this module before NumPy. torch runs at 2
threads unless --torch-threads names other counts (e.g. 1,2: on a small
shared machine one thread can win), each count a contender of its own.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # before NumPy loads OpenBLAS

import argparse  # noqa: E402
import itertools  # noqa: E402
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

import descent as dc  # noqa: E402

DESCENT = "descent"
BOUND = "NumPy"  # contenders named so are limits, not peers: never the one descent is held to
TORCH_BOUND = "torch's matmuls alone"  # a limit too: the peer's BLAS on the step's products
SCALE = 1.0  # the share of the full data size that workloads use; main sets 0.1 under --quick
TORCH_THREADS = "2"  # comma-separated thread counts to time torch at, e.g. "1,2"
OTHERS_WARNING = 0.2  # CPUs busy elsewhere above which a row is flagged as noisy

Step = Callable[[], object]  # one call; returns what the agreement check compares
Workload = Callable[[], dict[str, Step]]  # builds fresh contenders, descent's under DESCENT


@dataclass(frozen=True)
class Work:
    """A workload with the floating-point operations of one call, for a GFLOP/s column."""

    build: Workload
    flops: float


def scaled(rows: int, least: int = 1) -> int:
    """`rows` at full size, a tenth (at least `least`) under --quick."""
    return max(least, int(rows * SCALE))


@dataclass(frozen=True)
class Settings:
    warmup_seconds: float  # each contender runs this long before calibrating
    repeats: int  # timed blocks per contender; the median is reported
    block_seconds: float  # a block runs at least this long
    pause_seconds: float  # sleep before a block whose library differs from the last one's


FULL = Settings(warmup_seconds=0.2, repeats=9, block_seconds=0.2, pause_seconds=0.15)
QUICK = Settings(warmup_seconds=0.0, repeats=3, block_seconds=0.01, pause_seconds=0.0)


# -- shared workload pieces ---------------------------------------------------------------


def random_batches(
    rng: np.random.Generator, shape: tuple[int, ...], classes: int, count: int = 8
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` batches of standard-normal float32 inputs of `shape` and integer labels."""
    return [
        (rng.standard_normal(shape, dtype=np.float32), rng.integers(0, classes, shape[0]))
        for _ in range(count)
    ]


def copy_weights(model: dc.nn.Module, torch_model: torch.nn.Module) -> dc.nn.Module:
    """`model` with `torch_model`'s parameters copied in, so both start from the same point."""
    model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    return model


def training_step(lib, model, optimizer, data: list) -> Step:
    """One step in `lib` (descent or torch) as a user writes it: the next batch, zero grads,
    forward, cross-entropy, backward, optimizer step."""
    batches = itertools.cycle([(lib.tensor(x), lib.tensor(y)) for x, y in data])

    def step():
        x, y = next(batches)
        optimizer.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


# -- timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    step: Step
    torch_threads: int  # torch's intra-op thread count while this contender runs

    def use_threads(self) -> None:
        if torch.get_num_threads() != self.torch_threads:
            torch.set_num_threads(self.torch_threads)

    def __call__(self) -> object:
        self.use_threads()
        return self.step()

    def time_block(self, number: int) -> float:
        """Seconds for `number` calls of the step (torch's threads set before the clock)."""
        self.use_threads()
        step = self.step
        start = time.perf_counter()
        for _ in range(number):
            step()
        return time.perf_counter() - start

    def warm_up(self, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            self()

    def calibrate(self, seconds: float) -> int:
        """The number of calls (a power of two) that takes at least `seconds`."""
        number = 1
        while self.time_block(number) < seconds:
            number *= 2
        return number


def contenders(build: Workload, torch_threads: list[int]) -> dict[str, Contender]:
    """descent, and each torch version at each thread count, each with state of its own."""
    result = {}
    for n in torch_threads:
        built = build()
        result.setdefault(DESCENT, Contender(built.pop(DESCENT), n))
        for name, step in built.items():
            if name.startswith(BOUND):  # NumPy's threads are set once, for the whole run
                result.setdefault(name, Contender(step, n))
            else:
                result[f"{name}, {n} thread{'s' if n > 1 else ''}"] = Contender(step, n)
    return result


def as_arrays(result) -> list[np.ndarray]:
    """A step's result (tensors of either library, arrays, or lists of them) as array copies."""
    if isinstance(result, (list, tuple)):
        return [array for item in result for array in as_arrays(item)]
    if isinstance(result, torch.Tensor | dc.Tensor):
        return [result.detach().numpy().copy()]
    return [np.array(result)]


def check_agreement(name: str, steps: dict[str, Contender], calls: int = 2) -> None:
    """Every contender must give descent's results on the first calls (float32 tolerances)."""
    for call in range(calls):
        results = {contender: step() for contender, step in steps.items()}
        ours = as_arrays(results.pop(DESCENT))
        for contender, result in results.items():
            if result is None:  # a peer that computes something else: timed only
                continue
            theirs = as_arrays(result)
            if len(theirs) != len(ours):
                raise AssertionError(
                    f"{name}: {contender} gives {len(theirs)} results, descent {len(ours)}"
                )
            for i, (a, b) in enumerate(zip(ours, theirs)):
                scale = float(np.abs(b).max(initial=0.0)) or 1.0
                if a.shape != b.shape or not np.allclose(a, b, rtol=1e-3, atol=1e-4 * scale):
                    worst = float(np.abs(a - b).max()) if a.shape == b.shape else a.shape
                    raise AssertionError(
                        f"{name}: call {call}, result {i}: {contender} differs from descent "
                        f"by up to {worst}"
                    )


def machine_busy_seconds() -> float | None:
    """CPU-seconds all processes have spent busy since boot, from /proc/stat (Linux only)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def other_load(busy_before: float | None, cpu_before: float, wall_before: float) -> float | None:
    """CPUs that other processes kept busy on average since the `*_before` readings.

    Anything well above 0 means they competed with this run for the cores.
    """
    busy_after = machine_busy_seconds()
    if busy_before is None or busy_after is None:
        return None
    ours = time.process_time() - cpu_before
    return max(0.0, (busy_after - busy_before - ours) / (time.perf_counter() - wall_before))


def compare(name: str, work: Work | Workload, settings: Settings, torch_threads: list[int]) -> dict:
    """Median seconds per call of each contender, timed in alternating blocks.

    descent is compared with the fastest other contender (its peer); every
    contender's ratio to descent is kept too.
    """
    if not isinstance(work, Work):
        work = Work(work, 0.0)
    steps = contenders(work.build, torch_threads)
    check_agreement(name, steps)
    for step in steps.values():
        step.warm_up(settings.warmup_seconds)
    numbers = {c: step.calibrate(settings.block_seconds) for c, step in steps.items()}
    samples: dict[str, list[float]] = {c: [] for c in steps}
    before = machine_busy_seconds(), time.process_time(), time.perf_counter()
    last_library = None
    for _ in range(settings.repeats):
        for c, step in steps.items():
            # bounds run NumPy's OpenBLAS, whose spinning threads would slow torch's next block
            library = c if c == DESCENT or c.startswith(BOUND) else "torch"
            if library != last_library:
                time.sleep(settings.pause_seconds)  # the other library's threads stop spinning
                last_library = library
            samples[c].append(step.time_block(numbers[c]) / numbers[c])
    others = other_load(*before)
    medians = {c: statistics.median(times) for c, times in samples.items()}
    peers = [c for c in steps if c != DESCENT and not c.startswith((BOUND, TORCH_BOUND))]
    peer = min(peers, key=medians.__getitem__)
    ratios = {
        c: statistics.median(t / d for t, d in zip(times, samples[DESCENT]))
        for c, times in samples.items()
        if c != DESCENT
    }
    return {
        "name": name,
        "unit": "us",
        "descent": medians[DESCENT] * 1e6,
        "peer": medians[peer] * 1e6,
        "peer_name": peer,
        "ratio": ratios[peer],
        "gflops": {c: work.flops / t / 1e9 for c, t in medians.items()} if work.flops else None,
        "other_load": others,
        "spread": max(max(s) / min(s) - 1 for s in samples.values()),
        "median_us": {c: t * 1e6 for c, t in medians.items()},
        "ratios": ratios,
        "calls_per_block": numbers,
        "samples_us": {c: [t * 1e6 for t in times] for c, times in samples.items()},
    }


Group = dict[str, Work | Workload] | Callable[[Settings], list[dict]]


def run(group: Group, settings: Settings, torch_threads: list[int]) -> list:
    """Time every workload of `group`; a group that is a function measures itself."""
    if callable(group):
        return group(settings)
    results = []
    for name, work in group.items():
        results.append(compare(name, work, settings, torch_threads))
        print(f"timed {name}", file=sys.stderr, flush=True)
    return results


# -- reporting ----------------------------------------------------------------------------


def machine_info(torch_threads: list[int]) -> dict:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": f"{blas.get('name')} {blas.get('version')}",
        "numpy_blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
        "numpy_blas_kernels": _blas_kernels(),
        "torch": torch.__version__,
        "scikit-learn": _version("sklearn"),
        "torch_threads": torch_threads,
        "descent": dc.__version__,
    }


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def _blas_kernels() -> str:
    """OpenBLAS's kernel family (e.g. Haswell, SkylakeX): it sets the speed of every matrix
    product, and OPENBLAS_CORETYPE can force it (this workplace's machines set Haswell,
    half the float32 speed of SkylakeX on their AVX-512 cores)."""
    from threadpoolctl import threadpool_info

    found = [pool.get("architecture") for pool in threadpool_info() if pool.get("architecture")]
    forced = " (forced by OPENBLAS_CORETYPE)" if os.environ.get("OPENBLAS_CORETYPE") else ""
    return f"{found[0]}{forced}" if found else "unknown"


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
    print(
        f"descent {info['descent']} vs torch {info['torch']}, scikit-learn {info['scikit-learn']}"
    )
    print(f"cpu: {info['cpu']}, {info['cpu_count']} logical CPUs, {info['platform']}")
    print(
        f"python {info['python']}, numpy {info['numpy']} ({info['numpy_blas']}, "
        f"{info['numpy_blas_threads']} thread(s), {info['numpy_blas_kernels']} kernels), torch at "
        f"{', '.join(map(str, info['torch_threads']))} thread(s)"
    )
    print(flush=True)


def print_table(groups: dict[str, list[dict]], settings: Settings, seconds: float) -> None:
    """One table, a section per benchmark module; the other contenders on lines below."""
    rows = [r for results in groups.values() for r in results]
    width = max(len(r["name"]) for r in rows)
    print(
        f"{'workload':<{width}}  {'descent':>10}  {'peer':>10}  {'ratio':>6}  {'GFLOP/s':>11}"
        f"  {'others':>6}  {'spread':>6}  peer"
    )
    for group, results in groups.items():
        print(f"[{group}]")
        for r in results:
            others = "n/a" if r["other_load"] is None else f"{r['other_load']:.2f}"
            gflops = r.get("gflops") or {}
            rate = f"{gflops[DESCENT]:>5.1f}/{gflops[r['peer_name']]:<5.1f}" if gflops else ""
            print(
                f"{r['name']:<{width}}  {_value(r['descent'], r['unit'])}"
                f"  {_value(r['peer'], r['unit'])}  {r['ratio']:>6.2f}  {rate:>11}"
                f"  {others:>6}  {r['spread']:>6.0%}  {r['peer_name']}"
            )
            for contender, median in sorted(r["median_us"].items(), key=lambda item: item[1]):
                if contender not in (DESCENT, r["peer_name"]):
                    rate = f"{'':>5} {gflops[contender]:<5.1f}" if gflops else ""
                    print(
                        f"{'':<{width}}  {'':>10}  {_value(median, r['unit'])}"
                        f"  {r['ratios'][contender]:>6.2f}  {rate:>11}  {'':>6}  {'':>6}"
                        f"  {contender}"
                    )
    print()
    print(
        f"Times per call: median of {settings.repeats} blocks of >= {settings.block_seconds} s, "
        f"{settings.pause_seconds} s pause where the library changes (whole run {seconds:.0f} s)."
    )
    print(
        "ratio = peer / descent (time or memory), the median over rounds of blocks timed one\n"
        "after the other, against the fastest peer (others below it): >1, descent wins."
    )
    print("GFLOP/s = descent's / the peer's, from the step's matrix-product operations.")
    print("others = CPUs kept busy by other processes while timing; well above 0, trust less.")
    print("spread = slowest block / fastest block - 1, the worst contender's.")
    if any((r["other_load"] or 0) > OTHERS_WARNING for r in rows):
        print("warning: other processes competed for the CPUs; these numbers are noisy.")


def _value(value: float, unit: str) -> str:
    """A time in microseconds shown in us, ms or s as it fits; other units as they are."""
    if unit == "us":
        value, unit = next((value / f, u) for f, u in ((1e6, "s"), (1e3, "ms"), (1, "us"))
                           if value >= f or u == "us")  # fmt: skip
    return f"{value:>7.1f} {unit:<2}"


# -- the command line ---------------------------------------------------------------------


def main(argv: list[str] | None, description: str, groups: dict[str, Group]) -> int:
    """Parse the flags, time every group's workloads, print one table, write JSON if asked."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="few iterations, for smoke runs")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    parser.add_argument(
        "--torch-threads",
        default=TORCH_THREADS,
        metavar="N[,N...]",
        help=f"thread counts to time torch at, the fastest counts (default {TORCH_THREADS})",
    )
    args = parser.parse_args(argv)
    torch_threads = _thread_counts(args.torch_threads, parser)

    settings = QUICK if args.quick else FULL
    global SCALE
    SCALE = 0.1 if args.quick else 1.0
    info = machine_info(torch_threads)
    print_machine(info)
    start = time.perf_counter()
    results = {
        group: run(workloads, settings, torch_threads) for group, workloads in groups.items()
    }
    seconds = time.perf_counter() - start
    print_table(results, settings, seconds)
    if args.json:
        report = {
            "machine": info,
            "settings": asdict(settings),
            "seconds": seconds,
            "results": results,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _thread_counts(text: str, parser: argparse.ArgumentParser) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        parser.error(f"--torch-threads {text!r} must be positive integers, e.g. 2 or 1,2")
    return counts
