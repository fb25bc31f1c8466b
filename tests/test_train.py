"""descent.train: fit's update counts and arithmetic, a digits MLP, callbacks, History."""

import json
import math
import os

import numpy as np
import pytest

import descent as dc
from descent import checkpoint, nn
from descent.data import DataLoader, TensorDataset
from descent.train import (
    Callback,
    CSVLogger,
    DivergenceGuard,
    EarlyStopping,
    History,
    JSONLogger,
    ModelCheckpoint,
    TrainingDiverged,
    evaluate,
    fit,
    metrics,
)


class CountSteps(Callback):
    def on_train_begin(self, logs=None):
        self.steps = 0
        opt = self.run.optimizer
        original = opt.step

        def step(*args, **kwargs):
            self.steps += 1
            return original(*args, **kwargs)

        opt.step = step


def regression(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=(d, 1)).astype(np.float32)
    y = (x @ w + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return TensorDataset(x, y)


@pytest.mark.parametrize("batch_size, expected", [(1, 37), (5, 8), (16, 3), ("full", 1)])
def test_one_epoch_makes_ceil_n_over_k_updates(batch_size, expected):
    dc.manual_seed(0)
    data = regression(n=37)
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=0.01)
    counter = CountSteps()
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, seed=0)
    history = fit(model, nn.MSELoss(), opt, loader, 1, metrics=(), callbacks=[counter],
                  progress=False)  # fmt: skip
    assert counter.steps == expected == math.ceil(37 / (37 if batch_size == "full" else batch_size))
    assert history.steps == expected and history.samples_seen == 37


def test_full_batch_update_is_w_minus_lr_mean_of_per_sample_gradients():
    dc.manual_seed(1)
    data = regression(n=12, d=4)
    xs = np.stack([np.asarray(data[i][0].data) for i in range(12)]).astype(np.float64)
    ys = np.stack([np.asarray(data[i][1].data) for i in range(12)]).astype(np.float64)
    model = nn.Linear(4, 1)
    w0, b0 = model.weight.data.astype(np.float64), model.bias.data.astype(np.float64)
    lr = 0.1
    # per-sample gradient of (w.x + b - y)^2: 2 (w.x + b - y) x, and 2 (w.x + b - y)
    residual = xs @ w0.T + b0 - ys  # (12, 1)
    grads_w = 2 * residual * xs  # (12, 4)
    grads_b = 2 * residual[:, 0]
    expected_w = w0 - lr * grads_w.mean(axis=0, keepdims=True)
    expected_b = b0 - lr * grads_b.mean()
    opt = dc.optim.SGD(model.parameters(), lr=lr)
    fit(model, nn.MSELoss(), opt, DataLoader(data, "full", shuffle=False), 1, metrics=(),
        progress=False)  # fmt: skip
    np.testing.assert_allclose(model.weight.data, expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.bias.data, expected_b, rtol=1e-5, atol=1e-6)


def test_mlp_on_digits_reaches_97_percent():
    dc.manual_seed(0)
    train, test = dc.data.load_dataset("digits", standardize=True)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = dc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(train, 32, shuffle=True, seed=0)
    history = fit(model, nn.CrossEntropyLoss(), opt, loader, 30, progress=False)
    # The test split is only looked at once, after training: no selection on it.
    result = evaluate(model, nn.CrossEntropyLoss(), DataLoader(test, 512, shuffle=False))
    assert result["accuracy"] >= 0.97, history["accuracy"]
    assert history.epochs == 30 and history["loss"][-1] < history["loss"][0] / 10


def test_early_stopping_stops_and_restores_best_weights():
    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=0.05)
    losses = iter([1.0, 0.5, 0.8, 0.9, 0.7, 0.1, 0.1])
    snapshots = []

    class FakeVal(Callback):  # overwrite val_loss before EarlyStopping sees it
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(losses)
            snapshots.append({k: v.clone() for k, v in self.run.model.state_dict().items()})

    stopper = EarlyStopping("val_loss", patience=3)
    history = fit(model, nn.MSELoss(), opt, DataLoader(regression(), 8, shuffle=True, seed=0), 20,
                  metrics=(), callbacks=[FakeVal(), stopper], progress=False)  # fmt: skip
    assert history.epochs == 5 and stopper.stopped_epoch == 4 and stopper.best_epoch == 1
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[1][name])
    assert not np.array_equal(model.weight.data, snapshots[-1]["weight"])


def test_early_stopping_without_validation_names_the_fix():
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=0.01)
    with pytest.raises(KeyError, match="val_loader"):
        fit(model, nn.MSELoss(), opt, DataLoader(regression(), 8, shuffle=True), 2, metrics=(),
            callbacks=[EarlyStopping()], progress=False)  # fmt: skip


def test_divergence_guard_recovers_by_lowering_the_lr():
    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=50.0)
    guard = DivergenceGuard(max_retries=20, factor=0.5, explode=100)
    with pytest.warns(RuntimeWarning, match="rolled back"):
        loader = DataLoader(regression(), 8, shuffle=True, seed=0)
        history = fit(model, nn.MSELoss(), opt, loader, 15, metrics=("mse", "r2"),
                      callbacks=[guard], progress=False)  # fmt: skip
    assert guard.retries >= 1
    assert opt.param_groups[0]["lr"] < 1.0
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    assert history["loss"][-1] < history.step_loss[0] and history["r2"][-1] > 0.5
    assert all(math.isfinite(v) for v in history["loss"])
    events = [e for e in history.events if e["event"] == "divergence_rollback"]
    assert len(events) == guard.retries


def test_divergence_guard_scales_the_schedule():
    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=50.0)
    sched = dc.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)
    guard = DivergenceGuard(max_retries=20)
    with pytest.warns(RuntimeWarning):
        fit(model, nn.MSELoss(), opt, DataLoader(regression(), 8, shuffle=True, seed=0), 3,
            scheduler=sched, metrics=(), callbacks=[guard], progress=False)  # fmt: skip
    assert guard.retries > 0 and sched.lr_scale == pytest.approx(0.5**guard.retries)
    assert opt.param_groups[0]["lr"] == pytest.approx(50.0 * sched.lr_scale)
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0]


def test_divergence_guard_gives_up_with_step_and_lr():
    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=1e4)
    with pytest.warns(RuntimeWarning), pytest.raises(TrainingDiverged) as info:
        fit(model, nn.MSELoss(), opt, DataLoader(regression(), 8, shuffle=True, seed=0), 5,
            metrics=(), callbacks=[DivergenceGuard(max_retries=2)], progress=False)  # fmt: skip
    message = str(info.value)
    assert "step " in message and "learning rate 2500" in message and "range test" in message


def test_history_contents_and_json_round_trip(tmp_path):
    dc.manual_seed(0)
    train, test = dc.data.load_dataset("iris", standardize=True)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = dc.optim.SGD(model.parameters(), lr=0.1)
    sched = dc.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=3 * 8)
    loader = DataLoader(train, 16, shuffle=True, seed=0)
    accuracy_pct = lambda p, t: 100 * metrics.accuracy(p, t)  # noqa: E731
    history = fit(model, nn.CrossEntropyLoss(), opt, loader, 3, val_loader=DataLoader(test, 64),
                  scheduler=sched, metrics=("accuracy", accuracy_pct),
                  callbacks=[CSVLogger(tmp_path / "log.csv"), JSONLogger(tmp_path / "h.json")],
                  progress=False)  # fmt: skip
    n_steps = 3 * len(loader)
    assert len(history.step_loss) == len(history.step_lr) == n_steps
    assert len(set(history.step_lr)) > 3  # OneCycleLR was stepped per batch
    assert set(history.metrics) == {
        "loss", "accuracy", "<lambda>", "val_loss", "val_accuracy", "val_<lambda>", "lr"
    }  # fmt: skip
    assert all(len(v) == 3 for v in history.metrics.values())
    assert len(history.epoch_time) == 3 and history.samples == [len(train) * k for k in (1, 2, 3)]
    data = json.loads(json.dumps(history.to_dict(), allow_nan=False))
    again = History.from_dict(data)
    assert again.to_dict() == data and again.epochs == 3
    assert json.loads((tmp_path / "h.json").read_text()) == data
    rows = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 4 and rows[0].startswith("epoch,time,loss")


def test_reduce_lr_on_plateau_gets_the_validation_loss():
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=0.0)  # nothing learns: the loss plateaus
    sched = dc.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    opt.param_groups[0]["lr"] = 0.0
    data = regression()
    fit(model, nn.MSELoss(), opt, DataLoader(data, 8, shuffle=True), 3,
        val_loader=DataLoader(data, 40), scheduler=sched, metrics=(), progress=False)  # fmt: skip
    assert sched.last_epoch == 3 and sched.num_bad_epochs == 0  # cut after epoch 2 and 3


def test_model_checkpoint_writes_every_epoch_and_best(tmp_path):
    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=0.05)
    data = regression()
    ckpt = ModelCheckpoint(tmp_path / "ck-{epoch}.dc", every=2, monitor="val_loss")
    fit(model, nn.MSELoss(), opt, DataLoader(data, 8, shuffle=True), 4,
        val_loader=DataLoader(data, 40), metrics=(), callbacks=[ckpt], progress=False)  # fmt: skip
    assert (tmp_path / "ck-2.dc").exists() and (tmp_path / "ck-4.dc").exists()
    assert not (tmp_path / "ck-1.dc").exists()
    fresh = nn.Linear(3, 1)
    extra = checkpoint.load(tmp_path / "ck.best.dc", model=fresh)
    assert extra["epoch"] == 4  # the loss falls every epoch here
    np.testing.assert_array_equal(fresh.weight.data, model.weight.data)


def test_model_checkpoint_resumed_keeps_the_best_of_the_history_it_continues(tmp_path):
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=0.0)  # the loss stays where it is
    data = regression()
    history = History()
    history.record_epoch({"loss": 1.0, "val_loss": 1e-9}, 1.0)  # a saved epoch beat it
    ckpt = ModelCheckpoint(tmp_path / "last.dc", monitor="val_loss")
    fit(model, nn.MSELoss(), opt, DataLoader(data, 8), 2, val_loader=DataLoader(data, 40),
        metrics=(), callbacks=[ckpt], progress=False, initial_epoch=1, history=history)  # fmt: skip
    assert ckpt.best == 1e-9 and not (tmp_path / "last.best.dc").exists()


class Ends(Callback):
    ended = False

    def on_train_end(self, logs=None):
        self.ended = True


class FailsAtStep(Callback):
    def on_batch_end(self, step, logs=None):
        if step == 3:
            raise RuntimeError("this callback failed")


def test_every_callbacks_end_hook_runs_when_training_raises(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    opt = dc.optim.SGD(model.parameters(), lr=0.05)
    first, last = Ends(), Ends()
    log = JSONLogger(tmp_path / "history.json")
    with pytest.raises(RuntimeError, match="this callback failed"):
        fit(model, nn.MSELoss(), opt, DataLoader(regression(), 8), 2, metrics=(),
            callbacks=[first, log, FailsAtStep(), last], progress=False)  # fmt: skip
    assert first.ended and last.ended and model.training
    assert len(json.loads((tmp_path / "history.json").read_text())["step_loss"]) == 4


def test_metrics():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert metrics.accuracy(logits, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    pred, target = np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 5.0])
    assert metrics.mse(pred, target) == pytest.approx(4 / 3)
    assert metrics.mae(pred, target) == pytest.approx(2 / 3)
    assert metrics.r2(target, target) == 1.0
    with pytest.raises(ValueError, match="regression"):
        metrics.accuracy(pred, np.array([0.5, 1.5, 2.5]))
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.resolve(["acc"])


def test_progress_bar_runs_quietly(capsys):
    model = nn.Linear(3, 1)
    opt = dc.optim.SGD(model.parameters(), lr=0.01)
    fit(model, nn.MSELoss(), opt, DataLoader(regression(), 8, shuffle=True), 2, metrics=("mae",),
        progress=True)  # fmt: skip
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest


def test_divergence_guard_stops_a_loss_rising_for_epochs_above_its_best():
    """lr 0.17 on digits: the loss climbs slowly, never exploding; `rising` stops it."""
    from types import SimpleNamespace

    guard = DivergenceGuard(rising=3)
    history = History()
    model = nn.Linear(2, 1)
    guard.set_run(
        SimpleNamespace(
            history=history, model=model, optimizer=dc.optim.SGD(model.parameters(), 0.17)
        )
    )
    for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.8, 0.9, 0.95]):  # rising, under the first
        history.record_epoch({"loss": loss}, 0.0)
        guard.on_epoch_end(epoch, {"loss": loss})
    history.record_epoch({"loss": 1.2}, 0.0)  # rising, over the first: its progress lost
    with pytest.raises(TrainingDiverged, match="rose for 3 epochs in a row.*--clip-grad-norm"):
        guard.on_epoch_end(6, {"loss": 1.2})


def test_gradient_clipping_bounds_each_update():
    from descent.train.callbacks import GradientClipping

    dc.manual_seed(0)
    model = nn.Linear(3, 1)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    opt = dc.optim.SGD(model.parameters(), lr=1.0)
    data = regression()
    fit(model, nn.MSELoss(), opt, DataLoader(data, len(data)), 1, metrics=(),
        callbacks=[GradientClipping(1e-3)], progress=False)  # fmt: skip
    moved = np.sqrt(
        sum(np.sum((p.detach().numpy() - b) ** 2) for p, b in zip(model.parameters(), before))
    )
    assert 0 < moved <= 1e-3 * (1 + 1e-5)


def test_early_stopping_and_guard_state_round_trip():
    stopping, guard = EarlyStopping(patience=3), DivergenceGuard(rising=3)
    stopping.best, stopping.best_epoch, stopping.wait = 0.25, 4, 2
    stopping.best_weights = {"weight": np.ones(3)}
    guard.retries, guard.first_loss = 1, 2.5
    again, guard_again = EarlyStopping(patience=3), DivergenceGuard(rising=3)
    again.load_state_dict(checkpoint_round_trip(stopping.state_dict()))
    guard_again.load_state_dict(checkpoint_round_trip(guard.state_dict()))
    assert (again.best, again.best_epoch, again.wait) == (0.25, 4, 2)
    assert np.array_equal(again.best_weights["weight"], np.ones(3))
    assert (guard_again.retries, guard_again.first_loss) == (1, 2.5)
    assert EarlyStopping().state_dict()["best"] is None  # inf is not JSON


def checkpoint_round_trip(state: dict) -> dict:
    from descent import safefile

    tensors: dict = {}
    return safefile.decode(safefile.encode(state, "state", tensors), tensors, where="state")


def test_loggers_fsync_at_start_and_end_not_every_epoch(tmp_path, monkeypatch):
    # the checkpoint (fsynced) holds the history and a resumed run rewrites the logs, so
    # the per-epoch rewrites skip fsync; the first and the last write stay durable
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    model = nn.Sequential(nn.Linear(2, 1))
    data = TensorDataset(np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32))
    fit(model, nn.MSELoss(), dc.optim.SGD(model.parameters(), lr=0.1), DataLoader(data, 4), 5,
        callbacks=[CSVLogger(tmp_path / "log.csv")], progress=False)  # fmt: skip
    assert len(synced) == 2 * 2  # two writes (begin, end), each fsyncing file and folder
    assert len((tmp_path / "log.csv").read_text().strip().splitlines()) == 6
