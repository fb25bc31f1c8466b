"""Worker processes for `DataLoader(num_workers=k)`: fetch and collate batches in parallel,
served in the sampler's order.

The main process hands batch i to worker i mod k (so which worker loads which batch,
and what its seeded generators draw, is the same every run) and keeps
`prefetch_factor` batches per worker in flight. Each worker sends its batches back
through its own pipe; a worker that dies closes its pipe, so the main process notices
at once instead of waiting forever. Batches travel by multiprocessing's own pickling
over the pipe, never through a file.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import wait

import numpy as np

from descent.data.dataset import fetch_samples

_PARENT_CHECK_S = 1.0  # how often an idle worker checks that the main process still lives
_JOIN_S = 5.0  # how long closing waits for workers to leave before terminating them


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` tells code running in a worker (torch's fields)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a `DataLoader` worker process: its id, the number of workers, its seed and its
    copy of the data set. In the main process: None."""
    return _worker_info


def fetch(dataset, collate_fn, auto_collation: bool, indices):
    """One batch: the samples at `indices`, collated (or one sample, converted)."""
    if auto_collation:
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()  # a data set sees Python ints, as in torch
        return collate_fn(fetch_samples(dataset, list(indices)))
    return collate_fn(dataset[indices])


class _Failure:
    """An exception raised in a worker, carried back to be raised again in the main process."""

    def __init__(self, error: BaseException, where: str) -> None:
        self.kind = type(error)
        self.name = type(error).__name__
        self.message = f"Caught {self.name} {where}.\nOriginal {traceback.format_exc()}"

    def __getstate__(self):
        state = dict(self.__dict__)
        try:
            multiprocessing.reduction.ForkingPickler.dumps(self.kind)
        except Exception:  # a class the main process could not find: a RuntimeError instead
            state["kind"] = RuntimeError
        return state

    def reraise(self):
        try:
            error = self.kind(self.message)
        except Exception:  # an exception class that wants other arguments
            error = RuntimeError(self.message)
        raise error


def _seed_worker(seed: int) -> None:
    from descent.random import manual_seed

    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(1)[0])


def _worker_loop(dataset, collate_fn, auto_collation, tasks, results, stop, info, init_fn, parent):
    """Load the batches named on `tasks` and send them on `results` until told to stop."""
    global _worker_info
    _worker_info = info
    where = f"in DataLoader worker process {info.id}"
    failure = None
    try:
        _seed_worker(info.seed)
        if init_fn is not None:
            init_fn(info.id)
    except Exception as error:
        failure = _Failure(error, where)
    try:
        while True:
            try:
                task = tasks.get(timeout=_PARENT_CHECK_S)
            except queue.Empty:
                if os.getppid() != parent:  # the main process is gone: nobody will read
                    return
                continue
            if task is None or stop.is_set():
                return
            key, indices = task
            result = failure
            if result is None:
                try:
                    result = fetch(dataset, collate_fn, auto_collation, indices)
                except Exception as error:
                    result = _Failure(error, where)
            try:
                results.send((key, result))
            except OSError:
                return  # the main process closed the pipe: the loader is shutting down
            except Exception as error:  # the batch could not be pickled
                results.send((key, _Failure(error, f"{where} while sending a batch")))
    except KeyboardInterrupt:
        return


class WorkerPool:
    """`num_workers` processes loading batches of `dataset`; `close()` ends them."""

    def __init__(
        self,
        dataset,
        collate_fn,
        auto_collation: bool,
        num_workers: int,
        base_seed: int,
        worker_init_fn=None,
        context=None,
    ) -> None:
        self.workers, self.tasks, self.results = [], [], []
        if context is None or isinstance(context, str):
            context = multiprocessing.get_context(context)
        self.stop = context.Event()
        try:
            for worker_id in range(num_workers):
                tasks = context.Queue()
                reader, writer = context.Pipe(duplex=False)
                info = WorkerInfo(worker_id, num_workers, base_seed + worker_id, dataset)
                process = context.Process(
                    target=_worker_loop,
                    args=(
                        dataset,
                        collate_fn,
                        auto_collation,
                        tasks,
                        writer,
                        self.stop,
                        info,
                        worker_init_fn,
                        os.getpid(),
                    ),  # fmt: skip
                    daemon=True,
                )
                process.start()
                writer.close()  # the worker holds the only writing end: its death means EOF
                self.workers.append(process)
                self.tasks.append(tasks)
                self.results.append(reader)
        except BaseException:
            self.close()
            raise

    def batches(self, index_batches, prefetch_factor: int, timeout: float):
        """Load every batch of `index_batches` in the workers; yield them in that order."""
        count = len(self.workers)
        pending = iter(enumerate(index_batches))
        done: dict[int, object] = {}
        sent = 0

        def send_one() -> None:
            nonlocal sent
            item = next(pending, None)
            if item is not None:
                key, indices = item
                self.tasks[key % count].put((key, indices))
                sent += 1

        for _ in range(prefetch_factor * count):
            send_one()
        key = 0
        while key < sent:
            while key not in done:
                self._receive(done, key % count, timeout)
            result = done.pop(key)
            key += 1
            send_one()
            if isinstance(result, _Failure):
                result.reraise()
            yield result

    def _receive(self, done: dict, worker: int, timeout: float) -> None:
        """Wait for the next message from `worker` (the one that owes the next batch)."""
        reader = self.results[worker]
        if not wait([reader], timeout if timeout > 0 else None):
            raise RuntimeError(
                f"DataLoader timed out after {timeout} seconds waiting for worker {worker}; "
                "raise timeout= or make the data set's __getitem__ faster"
            )
        try:
            key, result = reader.recv()
        except (EOFError, OSError):
            process = self.workers[worker]
            process.join(timeout=1.0)
            raise RuntimeError(
                f"DataLoader worker {worker} (pid {process.pid}) exited unexpectedly with exit "
                f"code {process.exitcode}; it may have run out of memory or been killed"
            ) from None
        done[key] = result

    def close(self) -> None:
        """Stop the workers: each leaves after its current batch; any still busy after a
        few seconds is terminated. Batches still on their way are read and dropped."""
        self.stop.set()
        for tasks in self.tasks:
            tasks.put(None)  # wakes a worker waiting for work
        open_pipes, deadline = list(self.results), time.monotonic() + _JOIN_S
        while open_pipes and time.monotonic() < deadline:
            for reader in wait(open_pipes, max(0.0, deadline - time.monotonic())):
                try:
                    reader.recv()
                except (EOFError, OSError):  # the worker has left
                    open_pipes.remove(reader)
        for process in self.workers:
            process.join(timeout=0.5)
            if process.is_alive():
                process.terminate()
                process.join()
        for reader in self.results:
            reader.close()
        for tasks in self.tasks:
            tasks.cancel_join_thread()
            tasks.close()
        self.workers, self.tasks, self.results = [], [], []

    def __del__(self) -> None:
        if self.workers:
            self.close()
