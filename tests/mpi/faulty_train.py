"""Run under `mpiexec -n N`: `descent train` with the arguments given, in which rank
FAULT_RANK, after step FAULT_STEP, either kills itself (FAULT=kill: SIGKILL, no exception,
no MPI_Abort, as a crash or the out-of-memory killer would) or nudges one weight
(FAULT=drift: its replica no longer equals rank 0's, which the parameter digest must catch)."""

import os
import signal
import sys

import numpy as np

from descent.cli import build, main
from descent.train import Callback


class Fault(Callback):
    def __init__(self, kind: str, rank: int, step: int) -> None:
        self.kind, self.rank, self.step = kind, rank, step

    def on_batch_end(self, step, logs=None):
        if step + 1 != self.step or int(os.environ["OMPI_COMM_WORLD_RANK"]) != self.rank:
            return
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        weight = next(iter(self.run.model.parameters()))
        np.add(weight._data, 1e-3, out=weight._data)


def with_fault(callbacks):
    def callbacks_and_fault(setup):
        fault = Fault(os.environ["FAULT"], int(os.environ["FAULT_RANK"]),
                      int(os.environ["FAULT_STEP"]))  # fmt: skip
        return [*callbacks(setup), fault]

    return callbacks_and_fault


build.Setup.callbacks = with_fault(build.Setup.callbacks)
raise SystemExit(main(["train", *sys.argv[1:]]))
