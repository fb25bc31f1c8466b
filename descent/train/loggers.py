"""Loggers that keep a run's record on disk, rewritten whole when training begins, after
every epoch and when it ends.

Each file is written atomically (`descent.files.write_atomic`, on the run's file thread
`Run.files`) from what the run holds in memory, never appended to: a crash never leaves
half a row, and a resumed run rewrites its files from the checkpoint's history at once,
whatever a crash left in them.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

from descent.files import json_text
from descent.train.callbacks import Callback


class _Rewrite(Callback):
    """Rewrite one file, whole, at each of the hooks a logger's readers rely on."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def write(self, durable: bool = True) -> None:
        raise NotImplementedError

    def on_train_begin(self, logs=None):
        self.write()

    def on_epoch_end(self, epoch, logs=None):
        # no fsync: the checkpoint holds this history, and a resumed run rewrites the file
        self.write(durable=False)

    def on_train_end(self, logs=None):
        self.write()


class CSVLogger(_Rewrite):
    """One CSV row per epoch of the `History`: epoch, time and every logged value."""

    def write(self, durable: bool = True) -> None:
        history = self.run.history
        keys = list(history.metrics)
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["epoch", "time", *keys])
        for i, seconds in enumerate(history.epoch_time):
            writer.writerow([i + 1, seconds, *(_cell(history.metrics[k], i) for k in keys)])
        self.run.files.write(self.path, text.getvalue(), durable=durable)


def _cell(series: list, index: int):
    return series[index] if index < len(series) and series[index] is not None else ""


class JSONLogger(_Rewrite):
    """`History.to_dict()` at `path`, or `record.to_dict()` for another record of the run
    (e.g. a `LayerDiagnostics` placed before this logger among the callbacks)."""

    def __init__(self, path: str | os.PathLike, record: Any = None) -> None:
        super().__init__(path)
        self.record = record

    def write(self, durable: bool = True) -> None:
        record = self.run.history if self.record is None else self.record
        self.run.files.write(self.path, json_text(record.to_dict(), indent=None), durable=durable)
