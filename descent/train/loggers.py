"""Loggers that keep a run's history on disk, rewritten whole after every epoch.

Each file is written atomically from the `History` (`descent.files.write_atomic`): a
resumed run continues it without gaps or repeats, and a crash never leaves half a row.
"""

from __future__ import annotations

import csv
import io
import os

from descent.files import write_atomic, write_json
from descent.train.callbacks import Callback


class CSVLogger(Callback):
    """One CSV row per epoch: epoch, time and every logged value."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch, logs=None):
        history = self.run.history
        keys = list(history.metrics)
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["epoch", "time", *keys])
        for i, seconds in enumerate(history.epoch_time):
            writer.writerow([i + 1, seconds, *(_cell(history.metrics[k], i) for k in keys)])
        write_atomic(self.path, text.getvalue())


def _cell(series: list, index: int):
    return series[index] if index < len(series) and series[index] is not None else ""


class JSONLogger(Callback):
    """Rewrite `path` after every epoch, and when training ends, with `History.to_dict()`."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch, logs=None):
        write_json(self.path, self.run.history.to_dict(), indent=None)

    def on_train_end(self, logs=None):
        write_json(self.path, self.run.history.to_dict(), indent=None)
