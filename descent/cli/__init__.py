"""The `descent` command: the application on top of the library.

    command.py      the click group: flags, subcommands, errors as one line and exit code 1
    arms.py         compare's arms and budget, read from its flags
    config.py       `RunConfig`: every choice a run makes, from TOML and flags, checked
    schedules.py    the learning-rate schedules a config names
    data.py         a run's data: read, split by the seed, standardized; new samples alike
    build.py        a run's objects (model, loss, optimizer, loaders, callbacks) from a config
    jobs.py         train, resume, evaluate, predict, lr-find, sharpness, compare
    ranks.py        the command over MPI ranks: --ranks relaunches under mpiexec; rank 0 writes
    run_folder.py   the folder a run writes, and the names of what it holds
    report.py       the report page and plots, drawn from a run folder's files
    renderer.py     the report drawn by a child process started before training

A config's route: `command.train` parses flags into a `RunConfig`; `jobs.train` builds its
objects (`build.build`), makes a `RunFolder`, trains with `descent.train.fit` and the
folder's callbacks, and `report.write_report` draws the page from the files written.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The `descent` command: `descent.cli.command.main`, imported when it runs, so that
    the report's child process (`python -m descent.cli.renderer`) does without click."""
    from descent.cli.command import main as run

    return run(argv)
