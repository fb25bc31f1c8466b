"""Import time and peak memory of descent against torch, each in fresh processes, and the
seconds a user waits for the `descent` command.

A child process imports one library (timing the import: NumPy's import
counts for descent, everything torch loads for torch), then runs one
training run of the 784-256-256-10 MLP (float32, plain SGD, lr 0.01): an
epoch of 10,000 random rows at batch 128, then two full-batch steps, and
reports its peak resident memory (VmHWM). Children of the two libraries
alternate, the medians are reported.

The command's rows time `descent train` with its defaults (the digits, an MLP) against
the training seconds it records in metrics.json, and `descent --help`, each against its
target (issue #17): what the user waits for beyond training, and before any help. A row
adds the CPU seconds of the command and the processes it starts (the report's renderer
works on another core while the model trains), against its wall seconds.

The compiled kernels' rows time what numba costs once per process: LeNet-5's first
training step in a fresh process (numba's import and its kernels loaded from the cache,
or compiled into an empty one), against the same process's later steps; and the warm step
against NumPy's alone (`DESCENT_JIT=0`), what the kernels buy.

This module imports neither library itself: `python -m benchmarks.footprint
CHILD descent|torch [rows]` and `python -m benchmarks.footprint FIRST-STEPS` are the
children.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.nets import MLP_SIZES, lenet, mlp

ROWS = 10_000
BATCH = 128
ROUNDS = 5  # children per library in a full run (one under --quick)
TRAIN_OVERHEAD_TARGET = 1.0  # seconds of `descent train`'s wall time beyond its training
HELP_TARGET = 0.3  # seconds of `descent --help`
LENET_BATCH = 128
WARM_STEPS = 10  # the steps after the first, whose median is the warm step


def child(library: str, rows: int) -> dict:
    """Import `library`, train the MLP, and return the seconds of the import and the peak MB."""
    start = time.perf_counter()
    lib = __import__("descent" if library == "descent" else "torch")
    import_seconds = time.perf_counter() - start
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, MLP_SIZES[0]), dtype=np.float32)
    y = rng.integers(0, MLP_SIZES[-1], rows)
    model = mlp(lib.nn)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01)
    batches = [(start, BATCH) for start in range(0, rows, BATCH)] + [(0, rows)] * 2
    for start, size in batches:
        inputs = lib.tensor(x[start : start + size])
        labels = lib.tensor(y[start : start + size])
        optimizer.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
    return {"import_s": import_seconds, "peak_mb": peak_mb(), "loss": float(loss.item())}


def first_steps() -> dict:
    """Import descent and train LeNet-5 for 1 + WARM_STEPS steps on one random batch: the
    first step's seconds, the median of the others, and whether numba was loaded (the
    kernels ran)."""
    import numpy as np

    import descent as dc

    model = lenet(dc.nn)
    optimizer = dc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = dc.tensor(rng.standard_normal((LENET_BATCH, 1, 28, 28), dtype=np.float32))
    y = dc.tensor(rng.integers(0, 10, LENET_BATCH))
    seconds = []
    for _ in range(1 + WARM_STEPS):
        start = time.perf_counter()
        optimizer.zero_grad()
        dc.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return {
        "first_s": seconds[0],
        "warm_s": statistics.median(seconds[1:]),
        "numba": "numba" in sys.modules,
    }


def peak_mb() -> float:
    """This process's peak resident memory in MiB: VmHWM, which starts afresh at exec (Linux;
    ru_maxrss elsewhere, which on Linux would report the parent's peak from before the exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # bytes on macOS: rough


def child_env(folder: str) -> dict:
    """A child's environment: this checkout's descent and benchmarks importable, and bytecode
    cached under `folder` from one child to the next, as an installed package has it (with
    PYTHONDONTWRITEBYTECODE set, each child would compile descent's source anew)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": path, "PYTHONPYCACHEPREFIX": os.path.join(folder, "bytecode")}


def run_checked(command: list[str], env: dict, cwd: str | None = None) -> str:
    """The stdout of `command`; its stderr in the error where it fails."""
    # our own interpreter running our own modules: no untrusted input
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)  # noqa: S603
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def run_child(library: str, rows: int, env: dict) -> dict:
    command = [sys.executable, "-m", "benchmarks.footprint", "CHILD", library, str(rows)]
    return json.loads(run_checked(command, env).splitlines()[-1])


def run_first_steps(env: dict, numba: bool) -> dict:
    """first_steps() in a fresh process under `env`; an error if numba was (not) loaded as
    `numba` says, so that no row times another path than it names."""
    command = [sys.executable, "-m", "benchmarks.footprint", "FIRST-STEPS"]
    result = json.loads(run_checked(command, env).splitlines()[-1])
    if result["numba"] != numba:
        raise RuntimeError(f"LeNet-5's steps loaded numba: {result['numba']}, not {numba}")
    return result


def time_command(*args: str, cwd: str, env: dict) -> float:
    """The wall seconds of `python -m descent ARGS`, from start to exit."""
    return cpu_and_wall(*args, cwd=cwd, env=env)[1]


def cpu_and_wall(*args: str, cwd: str, env: dict) -> tuple[float, float]:
    """The CPU seconds (user + system, of the command and every process it waited for) and
    the wall seconds of `python -m descent ARGS`."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run_checked([sys.executable, "-m", "descent", *args], env, cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def time_train(folder: str, env: dict) -> dict:
    """`descent train` with its defaults into a fresh folder: its wall seconds and the
    training seconds it recorded (metrics.json's, the epochs' sum)."""
    out = tempfile.mkdtemp(dir=folder)
    cpu, wall = cpu_and_wall("train", "--out", out, cwd=folder, env=env)
    (metrics,) = Path(out).glob("*/metrics.json")
    training = json.loads(metrics.read_text())["seconds"]
    return {"wall": wall, "training": training, "overhead": wall - training, "cpu": cpu}


def measure(settings) -> list[dict]:
    """Rows for harness.print_table: import seconds and peak MB, descent against torch."""
    from benchmarks import harness

    rows = harness.scaled(ROWS, BATCH)
    rounds = ROUNDS if harness.SCALE == 1.0 else 1
    samples: dict[str, list[dict]] = {"descent": [], "torch": []}
    with tempfile.TemporaryDirectory() as folder:
        env = child_env(folder)
        for library in samples:  # untimed: fills the bytecode cache
            run_child(library, rows, env)
        before = harness.machine_busy_seconds(), time.process_time(), time.perf_counter()
        for _ in range(rounds):
            for library in samples:
                samples[library].append(run_child(library, rows, env))
        others = harness.other_load(*before)
        commands = measure_commands(rounds, folder, env)
        kernels = measure_kernels(rounds, folder, env)
    results = []
    for key, name, unit, scale in (
        ("import_s", "import time", "us", 1e6),
        ("peak_mb", f"peak memory, mlp epoch at {BATCH} + 2 full-batch steps", "MB", 1.0),
    ):
        ours = [s[key] * scale for s in samples["descent"]]
        theirs = [s[key] * scale for s in samples["torch"]]
        ratio = statistics.median(t / d for t, d in zip(theirs, ours))
        peer = f"import torch ({rounds} processes)" if key == "import_s" else "torch"
        results.append({
            "name": name, "unit": unit,
            "descent": statistics.median(ours), "peer": statistics.median(theirs),
            "peer_name": peer, "ratio": ratio, "gflops": None, "other_load": others,
            "spread": max(max(v) / min(v) - 1 for v in (ours, theirs)),
            "median_us": {}, "ratios": {},
            "samples": {"descent": ours, "torch": theirs},
        })  # fmt: skip
    print("timed import and memory", file=sys.stderr, flush=True)
    return results + commands + kernels


def measure_commands(rounds: int, folder: str, env: dict) -> list[dict]:
    """Rows for harness.print_table: `descent train` (defaults) and `descent --help`, each
    the median of `rounds` fresh processes (the two alternating), against its target."""
    from benchmarks import harness

    time_train(folder, env)  # untimed: fills the bytecode cache
    trains, helps = [], []
    before = harness.machine_busy_seconds(), time.process_time(), time.perf_counter()
    for _ in range(rounds):
        trains.append(time_train(folder, env))
        helps.append(time_command("--help", cwd=folder, env=env))
    others = harness.other_load(*before)
    overhead = [t["overhead"] * 1e6 for t in trains]
    wall = [t["wall"] * 1e6 for t in trains]
    training = [t["training"] * 1e6 for t in trains]
    cpu = [t["cpu"] * 1e6 for t in trains]
    help_us = [h * 1e6 for h in helps]
    rows = [
        ("descent train (defaults): wall - training", overhead,
         [TRAIN_OVERHEAD_TARGET * 1e6] * rounds, f"target {TRAIN_OVERHEAD_TARGET:g} s"),
        ("descent train (defaults): wall, peer: training", wall, training,
         "its training seconds (metrics.json): ratio = training share"),
        ("descent train (defaults): CPU of its processes, peer: wall", cpu, wall,
         "its wall seconds: ratio = wall / CPU (below 1: both cores at work)"),
        ("descent --help: wall", help_us, [HELP_TARGET * 1e6] * rounds,
         f"target {HELP_TARGET:g} s"),
    ]  # fmt: skip
    print("timed the descent command", file=sys.stderr, flush=True)
    return [command_row(name, ours, peer, peer_name, others)
            for name, ours, peer, peer_name in rows]  # fmt: skip


def measure_kernels(rounds: int, folder: str, env: dict) -> list[dict]:
    """Rows for harness.print_table: LeNet-5's first step in fresh processes (numba's
    kernels cached, compiled into an empty cache, off) against the warm steps, `rounds`
    processes each, the three alternating."""
    from benchmarks import harness

    cached_env = {**env, "NUMBA_CACHE_DIR": os.path.join(folder, "numba")}
    run_first_steps(cached_env, numba=True)  # untimed: fills that cache
    samples: dict[str, list[dict]] = {"cached": [], "compiled": [], "numpy": []}
    before = harness.machine_busy_seconds(), time.process_time(), time.perf_counter()
    for _ in range(rounds):
        samples["cached"].append(run_first_steps(cached_env, numba=True))
        empty = {**env, "NUMBA_CACHE_DIR": tempfile.mkdtemp(dir=folder)}
        samples["compiled"].append(run_first_steps(empty, numba=True))
        samples["numpy"].append(run_first_steps({**env, "DESCENT_JIT": "0"}, numba=False))
    others = harness.other_load(*before)

    def column(kind: str, key: str) -> list[float]:
        return [sample[key] * 1e6 for sample in samples[kind]]

    warm = "its warm steps: ratio = warm / first"
    rows = [
        ("LeNet-5 step 1, fresh process: numba's kernels cached",
         column("cached", "first_s"), column("cached", "warm_s"), warm),
        ("LeNet-5 step 1, fresh process: numba compiling (empty cache)",
         column("compiled", "first_s"), column("compiled", "warm_s"), warm),
        ("LeNet-5 step 1, fresh process: DESCENT_JIT=0 (NumPy only)",
         column("numpy", "first_s"), column("numpy", "warm_s"), warm),
        ("LeNet-5 warm step, kernels on, peer: NumPy only",
         column("cached", "warm_s"), column("numpy", "warm_s"), "DESCENT_JIT=0"),
    ]  # fmt: skip
    print("timed the compiled kernels' first calls", file=sys.stderr, flush=True)
    return [command_row(name, ours, peer, peer_name, others)
            for name, ours, peer, peer_name in rows]  # fmt: skip


def command_row(name: str, ours: list, peer: list, peer_name: str, others) -> dict:
    """A table row of wall times in microseconds; ratio = peer / ours, >= 1 meets a target."""
    return {
        "name": name, "unit": "us",
        "descent": statistics.median(ours), "peer": statistics.median(peer),
        "peer_name": peer_name, "ratio": statistics.median(p / o for p, o in zip(peer, ours)),
        "gflops": None, "other_load": others,
        "spread": max(ours) / min(ours) - 1, "median_us": {}, "ratios": {},
        "samples": {"descent": ours, "peer": peer},
    }  # fmt: skip


if __name__ == "__main__" and sys.argv[1:2] == ["CHILD"]:
    print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
elif __name__ == "__main__" and sys.argv[1:2] == ["FIRST-STEPS"]:
    print(json.dumps(first_steps()))
