"""A run's files written on its file thread (`descent.files.FileWriter`, `Run.files`): in
order, whole, on disk when `fit` returns, and an error never lost."""

import json
import threading

import numpy as np
import pytest

import descent as dc
from descent import checkpoint, nn
from descent.data import DataLoader, TensorDataset
from descent.errors import MissingFolderError
from descent.files import FileWriter, json_safe
from descent.train import Callback, JSONLogger, ModelCheckpoint, fit


def regression(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return TensorDataset(x, y)


def fit_briefly(callbacks, epochs=3):
    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = dc.optim.SGD(model.parameters(), lr=0.05)
    return fit(model, nn.MSELoss(), optimizer, DataLoader(regression(), 8), epochs, metrics=(),
               callbacks=callbacks, progress=False)  # fmt: skip


def test_the_writer_writes_in_order_on_another_thread(tmp_path, monkeypatch):
    import descent.files

    written = []
    real = descent.files.write_atomic

    def recording(path, data, durable=True):
        written.append((path.name, data, durable, threading.current_thread().name))
        real(path, data, durable=durable)

    monkeypatch.setattr(descent.files, "write_atomic", recording)
    writer = FileWriter()
    writer.write(tmp_path / "a", "first")
    writer.write(tmp_path / "b", b"second", durable=False)
    writer.write(tmp_path / "a", "third")
    writer.close()
    assert [(name, data, durable) for name, data, durable, _ in written] == [
        ("a", "first", True), ("b", b"second", False), ("a", "third", True)]  # fmt: skip
    assert all(thread.startswith("descent-files") for *_, thread in written)
    assert (tmp_path / "a").read_text() == "third" and (tmp_path / "b").read_bytes() == b"second"


def test_the_writer_raises_a_failed_write_at_the_next_wait(tmp_path):
    writer = FileWriter()
    writer.write(tmp_path / "missing" / "a", "lost")  # queued: no error yet
    writer.write(tmp_path / "b", "kept")
    with pytest.raises(MissingFolderError, match="its folder does not exist"):
        writer.wait()
    assert (tmp_path / "b").read_text() == "kept"
    writer.wait()  # the error was reported once
    writer.close()


class ReadsTheLastCheckpoint(Callback):
    """After ModelCheckpoint at each epoch's end: the epoch the file on disk holds."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(checkpoint.load(self.path)["epoch"] if self.path.exists() else None)


def test_a_crash_loses_at_most_the_newest_checkpoint_and_fit_returns_with_all(tmp_path):
    """At each epoch's end the file already holds the epoch before (the write of this
    epoch's may still be under way); when fit returns, it holds the last."""
    path = tmp_path / "last.ckpt"
    reader = ReadsTheLastCheckpoint(path)
    fit_briefly([ModelCheckpoint(path, save_best=False), reader], epochs=4)
    assert all(seen is None or seen >= epoch for epoch, seen in enumerate(reader.seen))
    assert None not in reader.seen[1:]  # from the second epoch on, the first is on disk
    assert checkpoint.load(path)["epoch"] == 4


def test_a_checkpoint_that_cannot_be_written_fails_the_run_and_every_end_hook_runs(tmp_path):
    log = JSONLogger(tmp_path / "history.json")
    with pytest.raises(MissingFolderError):
        fit_briefly([ModelCheckpoint(tmp_path / "gone" / "last.ckpt", save_best=False), log])
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["epoch_time"]) >= 1  # the logger's end-of-training write landed


def test_a_log_that_cannot_be_written_fails_the_run_at_an_epochs_end_not_the_runs(tmp_path):
    epochs_begun = []

    class Counts(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs_begun.append(epoch)

    with pytest.raises(MissingFolderError), pytest.warns(RuntimeWarning, match="not written"):
        fit_briefly([JSONLogger(tmp_path / "gone" / "history.json"), Counts()], epochs=5)
    assert epochs_begun == [
        0
    ]  # the write queued at the start failed: the first epoch's end says so


def test_a_write_error_does_not_hide_the_error_that_ends_the_run(tmp_path):
    class Interrupts(Callback):  # while the logger's first write is queued
        def on_batch_begin(self, step, logs=None):
            raise KeyboardInterrupt

    log = JSONLogger(tmp_path / "gone" / "history.json")
    with pytest.warns(RuntimeWarning, match="was not written"), pytest.raises(KeyboardInterrupt):
        fit_briefly([log, Interrupts()])


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        ([0.5, 0.25], [0.5, 0.25]),
        ([0.5, float("nan"), float("inf")], [0.5, None, None]),
        ([1e308, 1e308], [1e308, 1e308]),  # the sum overflows; every value is finite
        ([np.float32(0.5), 2, True], [0.5, 2, True]),
        ((0.5, float("-inf")), [0.5, None]),
    ],
)
def test_json_safe_series_whatever_their_values(series, expected):
    assert json_safe({"series": series}) == {"series": expected}


def test_a_checkpoint_keeps_series_of_every_kind(tmp_path):
    extra = {"floats": [0.5, float("nan")], "mixed": [1, "a", None, True, 0.5],
             "arrays": [np.arange(3), np.float64(2.5)], "nested": [[1.0], (2, 3)]}  # fmt: skip
    checkpoint.save(tmp_path / "c", extra=extra)
    loaded = checkpoint.load(tmp_path / "c")
    assert loaded["floats"][0] == 0.5 and np.isnan(loaded["floats"][1])
    assert loaded["mixed"] == [1, "a", None, True, 0.5]
    assert np.array_equal(loaded["arrays"][0], np.arange(3))
    assert loaded["arrays"][1] == np.float64(2.5) and type(loaded["arrays"][1]) is np.float64
    assert loaded["nested"] == [[1.0], (2, 3)]


def test_an_epochs_best_and_last_checkpoints_are_one_state_taken_once(tmp_path, monkeypatch):
    """Both written at an epoch whose val_loss is the best so far: the same bytes, from one
    serialization of the state an epoch."""
    taken = []
    real = checkpoint.to_bytes
    monkeypatch.setattr(checkpoint, "to_bytes", lambda **parts: taken.append(1) or real(**parts))
    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = dc.optim.SGD(model.parameters(), lr=0.01)
    saving = ModelCheckpoint(tmp_path / "last.ckpt", best_path=tmp_path / "best.ckpt")
    fit(model, nn.MSELoss(), optimizer, DataLoader(regression(), 8), 3, metrics=(),
        val_loader=DataLoader(regression(), 8), callbacks=[saving],
        progress=False)  # fmt: skip
    assert saving.saved == [str(tmp_path / name) for name in ["best.ckpt", "last.ckpt"] * 3]
    assert (tmp_path / "best.ckpt").read_bytes() == (tmp_path / "last.ckpt").read_bytes()
    assert checkpoint.load(tmp_path / "best.ckpt")["epoch"] == 3
    assert len(taken) == 3
