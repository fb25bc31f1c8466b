"""`descent train` killed with SIGKILL at each moment that matters, then `descent resume`d:
the run folder ends as an uninterrupted run's does, file for file.

The kills are deterministic, not timed: the killed `descent train` runs in a wrapper that
patches `os.replace`, with which `descent.files.write_atomic` (every file a run writes goes
through it) puts each finished temporary file in place. The wrapper kills its own process
just before (the temporary file stays behind, as after a kill mid-write) or just after the
chosen file is put in place for the Nth time. The resume runs in this process.

The run: 3 epochs in which the validation loss improves at epochs 1 and 2, so epoch 2
writes best.safetensors a second time and epoch 3 does not (the reference run checks it).
Files written each epoch, in order: best.safetensors (when better), last.safetensors,
history.json, history.csv, diagnostics.json.
"""

import contextlib
import csv
import io
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from descent import checkpoint, safefile
from descent.cli import main

TRAIN = ["train", "--data", "moons", "--model", "mlp:8", "--epochs", "3", "--no-progress"]

KILLER = textwrap.dedent("""
    import os, signal, sys

    name, nth, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    replace, count = os.replace, 0

    def kill_at(moment):
        if count == nth and when == moment:
            os.kill(os.getpid(), signal.SIGKILL)

    def replace_or_die(source, target, *args, **kwargs):
        global count
        chosen = os.path.basename(target) == name
        count += chosen
        if chosen:
            kill_at("before")
        replace(source, target, *args, **kwargs)
        if chosen:
            kill_at("after")

    os.replace = replace_or_die
    from descent.cli import main

    sys.exit(main(sys.argv[4:]))
""")


def quietly(*args) -> None:
    """`descent ARGS` in this process, its output kept out of the test's."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main([str(arg) for arg in args]) == 0


def only_run(cwd: Path) -> Path:
    (run,) = (cwd / "runs").iterdir()
    return run


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    with contextlib.chdir(cwd):
        quietly(*TRAIN)
    run = only_run(cwd)
    assert checkpoint.load(run / "checkpoints" / "best.safetensors")["epoch"] == 2
    assert checkpoint.load(run / "checkpoints" / "last.safetensors")["epoch"] == 3
    return run


def _checkpoint(path: Path):
    doc, tensors = safefile.read(str(path), checkpoint.FORMAT, checkpoint.VERSION)
    del doc["extra"]["history"]["epoch_time"]
    return doc, {name: (t.dtype.str, t.shape, t.tobytes()) for name, t in tensors.items()}


def _history(path: Path) -> dict:
    history = json.loads(path.read_text())
    del history["epoch_time"]
    return history


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as file:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(file)]


def _metrics(path: Path) -> dict:
    metrics = json.loads(path.read_text())
    del metrics["seconds"]
    return metrics


READERS = {"history.json": _history, "history.csv": _csv, "metrics.json": _metrics}


def contents(run: Path) -> dict:
    """Every file of a run folder as comparable data, wall-clock times left out; the plots
    and the report (which show those times) by name only."""
    files = {}
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        name = path.relative_to(run).as_posix()
        if path.suffix == ".safetensors":
            files[name] = _checkpoint(path)
        elif path.suffix in (".png", ".html"):
            files[name] = None
        else:
            files[name] = READERS.get(path.name, Path.read_text)(path)
    return files


def killed_train(cwd: Path, name: str, nth: int, when: str) -> Path:
    command = [sys.executable, "-c", KILLER, name, str(nth), when, *TRAIN]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert result.returncode == -signal.SIGKILL, result.stderr
    return only_run(cwd)


@pytest.mark.parametrize(
    ("name", "nth", "when"),
    [
        ("last.safetensors", 1, "after"),  # epoch 1 saved, its history not
        ("last.safetensors", 2, "before"),  # killed writing the last of the best epoch
        ("last.safetensors", 2, "after"),  # the best epoch's last saved, its history not
        ("metrics.json", 1, "before"),  # every epoch saved, the run not finished
    ],
)
def test_a_run_killed_at_any_moment_resumes_to_the_uninterrupted_runs_files(
    tmp_path, uninterrupted, name, nth, when
):
    run = killed_train(tmp_path, name, nth, when)
    leftovers = list(run.rglob(".*.tmp"))
    assert len(leftovers) == (when == "before"), leftovers
    if (name, nth) == ("last.safetensors", 1):  # as an older descent left it: resume
        for derived in ("history.json", "history.csv", "diagnostics.json"):  # needs none
            (run / derived).unlink(missing_ok=True)

    quietly("resume", run, "--no-progress")

    assert not list(run.rglob(".*.tmp"))
    resumed, expected = contents(run), contents(uninterrupted)
    assert sorted(resumed) == sorted(expected)
    for file in expected:
        assert resumed[file] == expected[file], file


def test_a_killed_run_with_early_stopping_resumes_to_the_uninterrupted_run(tmp_path):
    """EarlyStopping's wait and best (and the guard's counts) travel in the checkpoint: a run
    killed after epoch 10, one epoch into its patience, stops where, and with the weights,
    the uninterrupted one does (epoch 11, weights of epoch 9)."""
    stopping = ["train", "--data", "breast_cancer", "--model", "mlp:8", "--epochs", "30",
                "--early-stopping", "2", "--no-progress"]  # fmt: skip
    whole = tmp_path / "whole"
    whole.mkdir()
    with contextlib.chdir(whole):
        quietly(*stopping)
    expected = contents(only_run(whole))
    events = _history(only_run(whole) / "history.json")["events"]
    assert [e["event"] for e in events] == ["early_stopping", "restored_best_weights"]
    assert (events[0]["epoch"], events[0]["best_epoch"]) == (11, 9)

    killed = tmp_path / "killed"
    killed.mkdir()
    command = [sys.executable, "-c", KILLER, "last.safetensors", "10", "after", *stopping]
    result = subprocess.run(command, cwd=killed, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert result.returncode == -signal.SIGKILL, result.stderr
    run = only_run(killed)
    quietly("resume", run, "--no-progress")
    resumed = contents(run)
    assert sorted(resumed) == sorted(expected)
    for file in expected:
        assert resumed[file] == expected[file], file
