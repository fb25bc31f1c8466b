"""`python -m benchmarks.distributed [--quick]`: data-parallel steps/second, and where
scaling stops.

Times SGD steps of a compute-heavy MLP and of LeNet on one global batch: descent at 1 and
2 ranks (one BLAS thread each, DistributedDataParallel over MPI) against one process with
2 threads, and torch's DistributedDataParallel (gloo) on the same model and ranks. The
`global` rows are descent's GlobalBatch, what `descent train --ranks N` runs: every rank
holds the global batch, computes its rows, gathers the outputs and sums the gradients. Then
it measures MPI's allreduce latency and bandwidth and prints the ring-allreduce cost
model: per step, 2(N-1)/N * bytes / bandwidth + 2(N-1) * latency of communication
against 1/N of one rank's compute. Every rank runs this module (`--worker`) under mpiexec.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODELS = {"mlp": ((784,), 256), "lenet": ((1, 28, 28), 128)}  # sample shape, global batch


def build(nn, name: str):
    """The same model from torch.nn or descent.nn."""
    if name == "mlp":
        return nn.Sequential(
            nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
        )
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def worker(framework: str, model_name: str, steps: int) -> None:
    """One rank: time `steps` SGD steps on its share of the global batch; rank 0 prints."""
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", 0))
    world = int(os.environ.get("OMPI_COMM_WORLD_SIZE", 1))
    if framework == "torch":
        import torch
        import torch.distributed as dist

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29517")
        if world > 1:
            dist.init_process_group("gloo", rank=rank, world_size=world)
    else:
        import descent as torch
        import descent.distributed as dist
        from descent.distributed.global_batch import GlobalBatch

        if world > 1:
            dist.init_process_group("mpi")
    shape, global_batch = MODELS[model_name]
    model = build(torch.nn, model_name)
    share = global_batch // world
    if framework == "global":
        share = global_batch  # each rank takes its rows of the whole batch
        if world > 1:
            GlobalBatch(model)
    elif world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank if framework != "global" else 0)
    x = torch.tensor(rng.standard_normal((share, *shape)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, share))

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    for _ in range(3):
        step()
    if world > 1:
        dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if world > 1:
        dist.barrier()
    if rank == 0:
        print(json.dumps({"steps_per_s": steps / (time.perf_counter() - start)}))


def allreduce_worker() -> None:
    """Rank 0 prints the time of an in-place Allreduce of 8 bytes and of 8 MiB."""
    import descent as torch
    import descent.distributed as dist

    dist.init_process_group("mpi")
    times = {}
    for size, reps in ((2, 500), (2 * 2**20, 30)):
        buffer = torch.zeros(size)
        dist.all_reduce(buffer)
        dist.barrier()
        start = time.perf_counter()
        for _ in range(reps):
            dist.all_reduce(buffer)
        times[size * 4] = (time.perf_counter() - start) / reps
    if dist.get_rank() == 0:
        print(json.dumps(times))


def launch(ranks: int, threads: int, *args: str) -> dict:
    """Run this file's worker on `ranks` MPI ranks of `threads` BLAS threads each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    mpiexec = Path(sys.executable).parent / "mpiexec"
    # --bind-to none: Open MPI pins each rank to one core, which would starve 2 threads
    mpi = [str(mpiexec), "--oversubscribe", "--bind-to", "none", "-n", str(ranks)]
    command = [*mpi, sys.executable, "-m", "benchmarks.distributed", "--worker", *args]
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(  # noqa: S603  (our own mpiexec and this file)
        command, capture_output=True, text=True, env=env, check=True, cwd=root
    )
    # the last JSON line: a library's terminal reset (ESC [0m) may follow it at exit
    return json.loads(next(line for line in reversed(out.stdout.splitlines()) if "{" in line))


def parameter_bytes(name: str) -> int:
    import descent

    return sum(p.numel() * 4 for p in build(descent.nn, name).parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps: check it runs")
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        if args.worker == ["allreduce"]:
            return allreduce_worker()
        return worker(args.worker[0], args.worker[1], int(args.worker[2]))
    steps = "3" if args.quick else "30"
    print(f"{'model':6} {'framework':9} {'1 rank':>8} {'2 ranks':>8} {'1 proc x2':>10}  steps/s")
    one_rank = {}
    for model in MODELS:
        for framework in ("descent", "global", "torch"):
            r1 = launch(1, 1, framework, model, steps)["steps_per_s"]
            r2 = launch(2, 1, framework, model, steps)["steps_per_s"]
            t2 = launch(1, 2, framework, model, steps)["steps_per_s"]
            one_rank[model, framework] = r1
            print(
                f"{model:6} {framework:9} {r1:8.1f} {r2:8.1f} {t2:10.1f}  "
                f"2 ranks/1 rank {r2 / r1:.2f}, 2 ranks/2 threads {r2 / t2:.2f}"
            )
        ratio = one_rank[model, "descent"] / one_rank[model, "torch"]
        print(f"{model:6} descent/torch at 1 rank: {ratio:.2f}")
    times = {int(k): v for k, v in launch(2, 1, "allreduce").items()}
    latency = times[8] / 2  # ring at N=2: 2(N-1) = 2 latencies, a negligible payload
    big = max(times)
    bandwidth = big / (times[big] - 2 * latency)  # 2(N-1)/N = 1 payload at N=2
    print(f"\nallreduce, 2 local ranks: latency {latency * 1e6:.0f} us, {bandwidth / 1e9:.2f} GB/s")
    print("ring-allreduce model, speedup over 1 rank at N ranks (same global batch):")
    ranks = (2, 4, 8, 16, 32, 64)
    print(f"{'model':6} {'MB':>6} {'1-rank ms':>9} " + " ".join(f"{n:>6}" for n in ranks))
    for model in MODELS:
        size, compute = parameter_bytes(model), 1 / one_rank[model, "descent"]
        speedups = []
        for n in ranks:
            comm = 2 * (n - 1) / n * size / bandwidth + 2 * (n - 1) * latency
            speedups.append(compute / (compute / n + comm))
        cells = " ".join(f"{s:6.1f}" for s in speedups)
        print(f"{model:6} {size / 1e6:6.2f} {compute * 1e3:9.1f} {cells}")


if __name__ == "__main__":
    main()
