"""The command over MPI ranks: `descent train --ranks N`, `mpiexec -n N descent train`,
faults, resume, and `descent compare --ranks N`.

The jobs are real (`mpiexec`, through tests/test_distributed.py's helpers, which skip or
fail as those do when MPI is missing) and small: moons, a 16-unit MLP, a few epochs. One
process's run in this process is the reference: N ranks must give its numbers to float32
rounding (the ranks' shares of a batch are summed in another order), RTOL.
"""

import contextlib
import csv
import io
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import descent
from descent import checkpoint
from descent.cli import main
from descent.cli import ranks as mpi
from descent.cli.build import build
from descent.cli.config import RunConfig
from descent.distributed.global_batch import disagreeing_ranks, parameter_digest, share_bounds
from descent.nn.models import build_model
from descent.train import fit
from tests.test_distributed import SCRIPTS, mpiexec, run_job

RTOL, ATOL = 1e-5, 1e-7
TRAIN = ["--data", "moons", "--model", "mlp:16", "--no-progress"]
"""720 training samples: batches of 75, and an epoch's last of 45; 2 ranks share them 38 and
37, then 23 and 22."""


def descent_main(*args) -> tuple[int, str]:
    """`descent ARGS` in this process: its exit code and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        with warnings.catch_warnings():
            code = main([str(arg) for arg in args])
    return code, out.getvalue()


def only_run(out: Path) -> Path:
    runs = sorted(out.iterdir())
    assert len(runs) == 1, runs  # rank 0 alone made a run folder
    return runs[0]


def weights(run: Path) -> dict[str, np.ndarray]:
    """The model of the run's last checkpoint, by state_dict key."""
    model = build_model("mlp:16", (2,), 2)
    checkpoint.load(run / "checkpoints/last.safetensors", model=model)
    return {k: np.array(v) for k, v in model.state_dict().items()}


def assert_same_numbers(run: Path, reference: Path) -> None:
    """metrics.json and history.json equal to RTOL, times aside, and the last weights."""
    ours, theirs = (json.loads((r / "metrics.json").read_text()) for r in (run, reference))
    assert ours.keys() == theirs.keys()
    for key, value in theirs["test"].items():
        np.testing.assert_allclose(ours["test"][key], value, RTOL, ATOL, err_msg=key)
    assert (ours["epochs"], ours["samples_seen"]) == (theirs["epochs"], theirs["samples_seen"])
    ours, theirs = (json.loads((r / "history.json").read_text()) for r in (run, reference))
    for key, series in theirs["metrics"].items():
        np.testing.assert_allclose(ours["metrics"][key], series, RTOL, ATOL, err_msg=key)
    np.testing.assert_allclose(ours["step_loss"], theirs["step_loss"], RTOL, ATOL)
    for name, value in weights(reference).items():
        np.testing.assert_allclose(weights(run)[name], value, RTOL, ATOL, err_msg=name)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    """The reference: 2 epochs of mini-batch SGD at batch 75, in this process."""
    out = tmp_path_factory.mktemp("one")
    code, text = descent_main("train", *TRAIN, "--batch-size", 75, "--epochs", 2, "--out", out)
    assert code == 0, text
    return only_run(out)


def test_train_over_2_ranks_gives_one_process_numbers(one_process, tmp_path, capfd):
    mpiexec()  # skips, or fails in CI, without MPI
    out = tmp_path / "runs"
    args = ["train", *TRAIN, "--batch-size", 75, "--epochs", 2, "--out", out, "--ranks", 2]
    assert main([str(a) for a in args]) == 0
    printed = capfd.readouterr()
    assert_same_numbers(only_run(out), one_process)
    assert printed.out.count("val_accuracy") == 1, printed.out  # rank 1 prints nothing
    assert "run folder:" in printed.out and printed.err.strip() == "", printed.err


def test_a_killed_rank_ends_the_job_and_resume_gives_the_uninterrupted_run(one_process, tmp_path):
    out = tmp_path / "runs"
    args = [*TRAIN, "--batch-size", "75", "--epochs", "2", "--out", str(out)]
    start = time.monotonic()
    job = run_job(2, str(SCRIPTS / "faulty_train.py"), timeout=60, args=args,
                  env={"FAULT": "kill", "FAULT_RANK": "1", "FAULT_STEP": "15"})  # fmt: skip
    assert time.monotonic() - start < 10
    assert job.returncode != 0
    assert "rank 1" in job.stderr + job.stdout and "signal 9" in job.stderr + job.stdout
    run = only_run(out)  # step 15 of 20 is in epoch 2: the last checkpoint is epoch 1's
    assert checkpoint.load(run / "checkpoints/last.safetensors")["epoch"] == 1
    code, text = descent_main("resume", run)  # one process goes on where two stopped
    assert code == 0, text
    assert_same_numbers(run, one_process)


def test_ranks_that_drift_apart_are_named_and_stop_the_job(tmp_path):
    args = [*TRAIN, "--batch-size", "100", "--epochs", "2", "--out", str(tmp_path),
            "--check-every", "5"]  # fmt: skip
    job = run_job(2, str(SCRIPTS / "faulty_train.py"), timeout=60, args=args,
                  env={"FAULT": "drift", "FAULT_RANK": "1", "FAULT_STEP": "3"})  # fmt: skip
    assert job.returncode != 0
    assert "the parameters of rank 1 differ from rank 0's after step 5" in job.stderr


def test_ranks_without_mpi4py_say_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    code, text = descent_main("train", *TRAIN, "--ranks", 2, "--out", tmp_path)
    assert code == 1
    assert 'pip install "descent[mpi]"' in text
    assert not any(tmp_path.iterdir())


def test_ranks_that_contradict_mpiexec_are_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    code, text = descent_main("train", *TRAIN, "--ranks", 3, "--out", tmp_path)
    assert code == 1
    assert "--ranks 3, but mpiexec started 2 ranks" in text


def test_commands_that_run_in_one_process_refuse_mpiexec(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    code, text = descent_main("lr-find", "--data", "moons")
    assert code == 2
    assert "descent lr-find runs in one process, not under mpiexec" in text


@pytest.mark.parametrize("error", [RuntimeError("a bug"), KeyboardInterrupt()])
def test_a_rank_that_fails_unexpectedly_still_ends_the_job(error, monkeypatch):
    # the other ranks would wait for it in a collective forever
    from descent.cli.command import _run_ranked

    ended = []
    monkeypatch.setattr(mpi.Ranks, "end_job", lambda self, error: ended.append(error))

    def job():
        raise error

    with pytest.raises(type(error)):
        _run_ranked(mpi.Ranks(rank=1, size=2), job)
    assert ended == [error]


def test_the_relaunch_drops_only_the_ranks_option():
    argv = ["train", "--ranks", "4", "--lr", "0.1", "--ranks=2", "--data", "moons"]
    assert mpi.without_ranks(argv) == ["train", "--lr", "0.1", "--data", "moons"]


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 50])
@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
def test_shares_are_contiguous_cover_the_batch_and_differ_by_at_most_one(rows, ranks):
    bounds = share_bounds(rows, ranks)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == rows and len(sizes) == ranks
    assert sizes.max() - sizes.min() <= 1 and list(sizes) == sorted(sizes, reverse=True)


def test_the_digest_sees_one_changed_bit_and_names_the_disagreeing_ranks():
    model = descent.nn.Sequential(descent.nn.Linear(3, 2), descent.nn.BatchNorm1d(2))
    before = parameter_digest(model)
    assert parameter_digest(model) == before
    model[1].running_var._data.view(np.uint32)[0] ^= 1  # a buffer's last bit
    assert parameter_digest(model) != before
    assert disagreeing_ranks([5, 5, 7, 5, 8]) == [2, 4]
    assert disagreeing_ranks([5, 5]) == []


TIMES = ("seconds_per_epoch", "seconds_per_update", "updates_per_second", "seconds_to_target",
         "seconds")  # fmt: skip


def comparison_table(out: Path) -> list[dict]:
    """comparison.csv's rows without the columns that are times."""
    with open(only_run(out) / "comparison.csv", newline="") as file:
        return [{k: v for k, v in row.items() if k not in TIMES} for row in csv.DictReader(file)]


def test_compare_over_2_ranks_prints_and_writes_one_process_table(tmp_path, capfd):
    mpiexec()
    args = ["compare", "--data", "moons", "--model", "mlp:16", "--budget", "epochs=1",
            "--seeds", 2, "--arm", "full:sgd:0.5", "--arm", "32:adam:0.01"]  # fmt: skip
    code, one = descent_main(*args, "--out", tmp_path / "one")
    assert code == 0, one
    assert main([str(a) for a in args + ["--out", tmp_path / "two", "--ranks", 2]]) == 0
    two = capfd.readouterr().out
    table = comparison_table(tmp_path / "one")
    assert len(table) == 2 and comparison_table(tmp_path / "two") == table
    assert printed_table(two) == printed_table(one)
    assert two.count("Each arm trained") == 1  # rank 0 alone prints


def printed_table(output: str) -> list[list[str]]:
    """The printed table's rows, by cell, up to the first time column (s/epoch)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("arm "))
    end = next(i for i, line in enumerate(lines) if line.startswith("Each arm trained"))
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[start:end]]
    return [row[: rows[0].index("s/epoch")] for row in rows]


@pytest.mark.parametrize(
    "schedule, expected",
    [
        ("constant", [0.01, 0.025, 0.04, 0.04]),
        ("step", [0.01, 0.025, 0.04, 0.02]),
        ("cosine", [0.01, 0.025, 0.04, 0.02]),  # the cosine spans the 2 epochs left
    ],
)
def test_linear_scaling_warms_up_from_lr_to_lr_times_ranks(schedule, expected):
    # Goyal et al.: lr x 4 ranks = 0.04, reached linearly over 2 epochs from 0.01; then the
    # schedule (a step of x0.5 every epoch) runs on the scaled rate
    config = RunConfig(data="moons", model="mlp:8", lr=0.01, epochs=4, scale_lr="linear",
                       scale_ranks=4, warmup_epochs=2, schedule=schedule, step_size=1,
                       gamma=0.5)  # fmt: skip
    setup = build(config)
    history = fit(setup.model, setup.loss_fn, setup.optimizer, setup.train_loader, 4,
                  scheduler=setup.scheduler, metrics=None, progress=False)  # fmt: skip
    np.testing.assert_allclose(history["lr"], expected, rtol=1e-12)
    assert "sgd lr 0.01 x 4 ranks = 0.04 (linear scaling, warm-up 2 epochs)" in (
        config.optimizer_summary()
    )


def test_linear_scaling_is_refused_with_onecycle_and_off_by_default():
    with pytest.raises(ValueError, match="onecycle has its own warm-up"):
        RunConfig(scale_lr="linear", schedule="onecycle")
    plain = RunConfig()
    assert plain.scaled_lr == plain.lr and "scale_lr" not in plain.to_toml()
