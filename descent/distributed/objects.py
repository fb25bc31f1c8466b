"""`all_gather_json`: torch's `all_gather_object`, with JSON where torch pickles.

A rank's value travels as UTF-8 JSON through buffer collectives (the lengths, then the
bytes), so nothing received is ever unpickled, and mpi4py's lowercase (pickling) methods
are never called. NaN and infinities travel as Python's json writes them (NaN, Infinity),
so floats come back exactly as they left.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from descent.distributed.process_group import _communicator


def all_gather_json(value: Any) -> list[Any]:
    """Every rank's `value` (anything `json.dumps` takes), in rank order, on every rank."""
    comm = _communicator()
    mine = np.frombuffer(json.dumps(value).encode(), np.uint8)
    lengths = np.empty(comm.size, np.int64)
    comm.Allgather(np.array([mine.size], np.int64), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    everything = np.empty(int(starts[-1]), np.uint8)
    comm.Allgatherv(mine, [everything, (lengths, starts[:-1])])
    return [json.loads(everything[a:b].tobytes()) for a, b in zip(starts[:-1], starts[1:])]


def wait_for_all_ranks(poll_seconds: float = 0.005) -> None:
    """A barrier that sleeps while it waits: a rank done early with uneven work (compare's
    arms) leaves its core to the ranks still working, where MPI's own wait would spin."""
    request = _communicator().Ibarrier()
    while not request.Test():
        time.sleep(poll_seconds)
