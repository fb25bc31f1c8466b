"""`compare`: batch, stochastic and mini-batch descent, optimizers and learning rates, side by side.

Every arm of a grid trains the same model from the same initial weights (per seed)
on the same data, for the same budget: epochs, samples seen, updates or training
seconds. At evaluation points (the start, `EVALS_PER_EPOCH` times per epoch, at least
`MIN_POINTS` times over a budget counted in updates, each epoch's end and the stop)
the loss and accuracy are measured on the whole training set and on the validation
set with the weights of that moment, so that every arm's curve stands on the same
footing whatever its batch size. The training clock counts the training steps
only: evaluations, gradient-noise probes and sharpness estimates are left out.

Training goes through `descent.train.fit`; a callback records the points, stops at
the budget (mid-epoch if need be) and stops an arm whose loss diverges, so that the
others still finish. Everything but the wall-clock numbers is reproducible: the
same seeds give the same numbers.

The data types are in `descent.lab.comparison`, the bands and table rows in
`descent.lab.summary`, the learning-rate labels and the sentences in
`descent.lab.verdicts`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from descent.data.loader import DataLoader
from descent.errors import unknown_name
from descent.lab.comparison import (
    Arm,
    ArmResult,
    Budget,
    Comparison,
    Trace,
    arm_label,
    default_arms,
    max_updates,
    variant,
)
from descent.lab.diagnostics import LayerDiagnostics
from descent.lab.sharpness import sharpness
from descent.lab.summary import bands, table_row
from descent.lab.verdicts import auto_target, lr_labels
from descent.nn.loss import CrossEntropyLoss, MSELoss
from descent.nn.models import build_model
from descent.optim import BY_NAME
from descent.random import get_rng_state, manual_seed, set_rng_state
from descent.train.callbacks import Callback
from descent.train.loop import evaluate, fit

OPTIMIZERS = BY_NAME
EVALS_PER_EPOCH = 4
"""Evaluation points per epoch (fewer when an epoch has fewer updates): enough to place
a stochastic arm's time-to-target within a quarter epoch, cheap enough to ignore."""
MIN_POINTS = 20
"""Evaluation points at least over a budget known in updates, so that a short run (a
fraction of an epoch) still has a curve to read its learning rate from."""
DIVERGENCE_FACTOR = 1e4
"""An update whose mini-batch loss is NaN, infinite or above this many times the
initial training loss diverged. The factor is large because a single sample's loss
(stochastic descent) can exceed the mean loss many times over without anything
being wrong; a diverging run passes any such bound within a few more steps."""
GRAD_COSINE_BATCHES = 16
"""Mini-batches whose gradients are compared with the full-batch gradient at a point."""
SHARPNESS_SAMPLES = 1024
SHARPNESS_ITERATIONS = 20


# -- measurements at a point ------------------------------------------------------------------


def _gradient(model, loss_fn, x, y) -> np.ndarray:
    for p in model.parameters():
        p.grad = None
    loss_fn(model(x), y).backward()
    return np.concatenate(
        [
            np.zeros(p._data.size) if p._grad is None else p._grad._data.ravel().astype(np.float64)
            for p in model.parameters()
        ]
    )


def gradient_cosine(model, loss_fn, x, y, batch_size: int,
                    batches: int = GRAD_COSINE_BATCHES, seed: int = 0) -> float:  # fmt: skip
    """The mean cosine between mini-batch gradients and the full-batch gradient, at the
    model's current weights: 1 for batch descent, lower the noisier the updates.

    `batches` mini-batches of `batch_size` samples are drawn without replacement by a
    generator seeded with `seed`. For SGD the update direction is minus that gradient;
    for adaptive optimizers it is the gradient the update is built from. The model's
    weights, buffers, gradients and descent's random generator are left as they were.
    Returns NaN when the full-batch gradient is zero or not finite.
    """
    state = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    rng_state = get_rng_state()
    n = int(np.shape(getattr(x, "data", x))[0])
    try:
        full = _gradient(model, loss_fn, x, y)
        if batch_size >= n:
            return 1.0 if np.isfinite(full).all() and full.any() else math.nan
        generator, cosines = np.random.default_rng(seed), []
        for _ in range(batches):
            rows = generator.choice(n, batch_size, replace=False)
            g = _gradient(model, loss_fn, x[rows], y[rows])
            cosines.append(float(g @ full) / (np.linalg.norm(g) * np.linalg.norm(full) or math.nan))
        value = float(np.mean(cosines))
        return value if math.isfinite(value) else math.nan
    finally:
        model.load_state_dict(state)
        for p, grad in zip(model.parameters(), grads):
            p.grad = grad
        set_rng_state(rng_state)


_BLAS = ThreadpoolController()  # finds the BLAS libraries once; each limit is then cheap


def _one_blas_thread():
    """Measurements run on one BLAS thread: a multi-threaded product over the whole data
    set leaves OpenBLAS's threads spinning, which slowed the tiny stochastic steps after
    it two- to threefold on two cores, a cost of measuring and not of training."""
    return _BLAS.limit(limits=1, user_api="blas")


def _eval_every(per_epoch: int, limit: int | None) -> int:
    """Updates between evaluation points (counted from each epoch's start)."""
    every = math.ceil(per_epoch / EVALS_PER_EPOCH)
    if limit is not None:
        every = min(every, limit // MIN_POINTS)
    return max(every, 1)


class _Recorder(Callback):
    """Records evaluation points on the training clock, stops at the budget or divergence,
    and estimates the sharpness every `sharpness_every` epochs."""

    def __init__(self, measure, per_epoch: int, limit: int | None, seconds: float | None,
                 sharp, sharpness_every: int | None) -> None:  # fmt: skip
        self.measure, self.per_epoch, self.limit, self.seconds = measure, per_epoch, limit, seconds
        self.sharp, self.sharpness_every = sharp, sharpness_every
        self.every = _eval_every(per_epoch, limit)
        self.points: dict[str, list[float]] = {}
        self.sharpness: dict[str, list[float]] = {}
        self.updates = self.samples = 0
        self.clock = 0.0
        self.stopped_by, self.diverged_at = "budget", None

    def _point(self) -> None:
        pause = time.perf_counter()
        where = {"updates": self.updates, "samples": self.samples,
                 "epochs": self.updates / self.per_epoch, "seconds": self.clock}  # fmt: skip
        with _one_blas_thread():
            measured = self.measure()
        for key, value in {**where, **measured}.items():
            self.points.setdefault(key, []).append(value)
        self._start += time.perf_counter() - pause  # the evaluation is off the clock

    def _sharpness(self) -> None:
        if self.sharp is None:
            return
        with _one_blas_thread():
            try:
                value = self.sharp()
            except FloatingPointError:  # the loss is not finite at these weights
                value = math.nan
        self.sharpness.setdefault("epochs", []).append(self.updates / self.per_epoch)
        self.sharpness.setdefault("value", []).append(value)

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._point()
        self.first_loss = self.points["loss"][0]
        self._sharpness()

    def on_epoch_begin(self, epoch, logs=None):
        self._base, self._start = self.clock, time.perf_counter()

    def on_batch_end(self, step, logs=None):
        self.clock = self._base + time.perf_counter() - self._start
        self.updates += 1
        self.samples += int(logs["batch_size"])
        loss = float(logs["loss"])
        if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * abs(self.first_loss):
            self.stopped_by, self.diverged_at = "diverged", self.updates
            self.stop_training = True
        elif (self.limit is not None and self.updates >= self.limit) or (
            self.seconds is not None and self.clock >= self.seconds
        ):
            self.stop_training = True
        position = logs["batch"] + 1
        if self.stop_training or position % self.every == 0 or position == self.per_epoch:
            self._point()

    def on_epoch_end(self, epoch, logs=None):
        every = self.sharpness_every
        if every and (epoch + 1) % every == 0 and self.stopped_by != "diverged":
            self._sharpness()


# -- running the grid ------------------------------------------------------------------------


@dataclass
class _Setup:
    """What every arm of one seed shares."""

    model: object
    initial: dict
    loss_fn: object
    data: tuple
    val: tuple | None
    metrics: tuple
    train: object
    budget: Budget
    sharpness_every: int | None
    diagnostics: bool


def _measure(setup: _Setup) -> Callable[[], dict[str, float]]:
    def measure() -> dict[str, float]:
        out = evaluate(setup.model, setup.loss_fn, [setup.data], setup.metrics)
        if setup.val is not None:
            val = evaluate(setup.model, setup.loss_fn, [setup.val], setup.metrics)
            out.update({"val_" + k: v for k, v in val.items()})
        return out

    return measure


def _sharpness_probe(setup: _Setup, seed: int) -> Callable[[], float] | None:
    """Sharpness on a fixed subset of the training set (the same for every arm of a seed)."""
    if not setup.sharpness_every:
        return None
    x, y = setup.data
    n = int(np.shape(x)[0])
    rows = np.sort(np.random.default_rng(seed).permutation(n)[:SHARPNESS_SAMPLES])
    xs, ys = x[rows], y[rows]

    def probe() -> float:
        return sharpness(setup.model, setup.loss_fn, xs, ys, SHARPNESS_ITERATIONS, 1e-3, seed)

    return probe


def _train(setup: _Setup, arm: Arm, batch_size: int, per_epoch: int, limit: int | None,
           seed: int) -> Trace:  # fmt: skip
    """Train one arm from the seed's initial weights; its `Trace`."""
    model, loss_fn = setup.model, setup.loss_fn
    model.load_state_dict(setup.initial)
    x, y = setup.data
    with _one_blas_thread():
        start = gradient_cosine(model, loss_fn, x, y, batch_size, seed=seed)
    manual_seed(seed)
    optimizer = OPTIMIZERS[arm.optimizer](model.parameters(), lr=arm.lr, **arm.options)
    loader = DataLoader(setup.train, batch_size, shuffle=True, seed=seed)
    seconds = setup.budget.amount if setup.budget.kind == "seconds" else None
    recorder = _Recorder(_measure(setup), per_epoch, limit, seconds,
                         _sharpness_probe(setup, seed), setup.sharpness_every)  # fmt: skip
    callbacks = [recorder] + ([LayerDiagnostics()] if setup.diagnostics else [])
    epochs = math.ceil(limit / per_epoch) if limit is not None else 2**62
    history = fit(model, loss_fn, optimizer, loader, epochs, metrics=None, callbacks=callbacks,
                  progress=False)  # fmt: skip
    end = math.nan
    if recorder.stopped_by != "diverged":
        with _one_blas_thread():
            end = gradient_cosine(model, loss_fn, x, y, batch_size, seed=seed)
    return Trace(seed, recorder.points, list(history.step_loss), recorder.sharpness, start, end,
                 recorder.stopped_by, recorder.diverged_at,
                 callbacks[1].to_dict() if setup.diagnostics else None)  # fmt: skip


def _prepare(train, val, model, loss_fn):
    """The full-batch arrays, the task, the loss, and a model builder."""
    x, y = next(iter(DataLoader(train, "full", shuffle=False)))
    task = getattr(train, "task", None) or (
        "classification" if np.issubdtype(np.asarray(y).dtype, np.integer) else "regression"
    )
    if loss_fn is None:
        loss_fn = CrossEntropyLoss() if task == "classification" else MSELoss()
    if callable(model) and not isinstance(model, (str, Mapping)):
        return x, y, task, loss_fn, model, getattr(model, "__name__", "custom")
    classes = getattr(train, "num_classes", None) or int(np.max(np.asarray(y))) + 1
    out = classes if task == "classification" else int(np.prod(y.shape[1:]))
    shape = tuple(x.shape[1:])
    name = model if isinstance(model, str) else str(dict(model))
    return x, y, task, loss_fn, lambda: build_model(model, shape, out), name


def _check(arms: Sequence[Arm], seeds: Sequence[int], sharpness_every) -> None:
    if len(arms) == 0:
        raise ValueError(
            "compare: the grid is empty; give at least one arm, e.g. grid(batch_sizes=['full', "
            "1, 32], optimizers=['sgd'], lrs=[0.1])"
        )
    if len(seeds) == 0:
        raise ValueError("compare: seeds is empty; give at least one, e.g. seeds=(0, 1, 2)")
    for arm in arms:
        if arm.optimizer not in OPTIMIZERS:
            raise unknown_name("optimizer", arm.optimizer, OPTIMIZERS)
        if not (isinstance(arm.lr, (int, float)) and math.isfinite(arm.lr) and arm.lr > 0):
            raise ValueError(f"compare: arm {arm}: lr={arm.lr!r} must be a finite number > 0")
    if sharpness_every is not None and not (int(sharpness_every) == sharpness_every >= 1):
        raise ValueError(f"compare: {sharpness_every=} must be a whole number of epochs >= 1")


def compare(
    train,
    val=None,
    model: str | Mapping | Callable = "mlp:64",
    arms: Sequence[Arm] | None = None,
    budget: Budget | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    loss_fn=None,
    target_loss: float | None = None,
    sharpness_every: int | None = None,
    diagnostics: bool = False,
    progress: Callable[[str], None] | None = None,
    blas_threads: int | None = 1,
) -> Comparison:
    """Train every arm from the same initial weights per seed, on an equal budget.

    Args:
        train, val: data sets of (inputs, targets); `val` may be None.
        model: a model spec for `build_model` ('mlp:64', 'linear', ...), sized from the
            data, or a function of no arguments returning a fresh `Module`.
        arms: the variants (see `grid`); None means `default_arms()`.
        budget: what every arm gets; None means `Budget('epochs', DEFAULT_EPOCHS)`.
        seeds: each seed fixes the initial weights, the shuffling and the probes.
        loss_fn: None means cross-entropy for classification, MSE for regression.
        target_loss: the training loss for the to-target columns; None picks the
            highest best loss among the arms with a good learning rate, so that each
            of them reached it.
        sharpness_every: estimate the sharpness every this many epochs (and at the
            start), on up to `SHARPNESS_SAMPLES` training samples; None: never. It is
            `sharpness`'s eigenvalue of largest magnitude, negative early in training
            where negative curvature dominates.
        diagnostics: record `LayerDiagnostics` in every trace.
        progress: called with a line of text after each arm and seed.
        blas_threads: BLAS threads while training; None keeps the library's default.
            One by default: on small models a multi-threaded product costs more than
            it saves, and on a busy machine (two cores, measured) it made a full-batch
            step 60 times slower, so the timings measured the load, not the variant.

    Raises:
        ValueError: an empty grid or seed list, a bad learning rate, or a budget that
            cannot give some arm even one update.
    """
    arms = default_arms() if arms is None else list(arms)
    budget = budget or Budget()
    _check(arms, seeds, sharpness_every)
    x, y, task, loss_fn, build, name = _prepare(train, val, model, loss_fn)
    n = int(x.shape[0])
    plans = _plan(arms, train, n, budget)
    val_data = next(iter(DataLoader(val, "full", shuffle=False))) if val is not None else None
    metrics = ("accuracy",) if task == "classification" else ()

    traces: list[list[Trace]] = [[] for _ in arms]
    with _BLAS.limit(limits=blas_threads, user_api="blas"):
        for seed in seeds:
            manual_seed(seed)
            net = build()
            initial = {k: np.array(v, copy=True) for k, v in net.state_dict().items()}
            setup = _Setup(net, initial, loss_fn, (x, y), val_data, metrics, train, budget,
                           sharpness_every, diagnostics)  # fmt: skip
            for arm, plan, arm_traces in zip(arms, plans, traces):
                arm_traces.append(_train(setup, arm, *plan[1:], int(seed)))
                if progress is not None:
                    progress(_progress_line(plan[0], arm_traces[-1]))

    results = [ArmResult(arm, label, variant(size, n), size, per_epoch, t, bands(t), {})
               for arm, (label, size, per_epoch, _), t in zip(arms, plans, traces)]  # fmt: skip
    labels = lr_labels(results)
    target = target_loss if target_loss is not None else auto_target(results, labels)
    for result, label in zip(results, labels):
        result.row = table_row(result, target, label)
    return Comparison(results, budget, [int(s) for s in seeds], target, target_loss is None, n,
                      task, name)  # fmt: skip


def _plan(arms: list[Arm], train, n: int, budget: Budget) -> list[tuple]:
    """Per arm: (label, samples per update, updates per epoch, update limit or None)."""
    plans = []
    for arm in arms:
        size = DataLoader(train, arm.batch_size, shuffle=False).batch_size  # checks the size
        label = arm_label(arm, n, size)
        plans.append((label, size, math.ceil(n / size), max_updates(budget, size, n, label)))
    labels = [plan[0] for plan in plans]
    if len(set(labels)) < len(labels):
        raise ValueError(f"compare: two arms are the same: {labels}; drop the duplicates")
    return plans


def _progress_line(label: str, trace: Trace) -> str:
    points = trace.points
    end = "diverged" if trace.stopped_by == "diverged" else f"loss {points['loss'][-1]:.4g}"
    return (f"{label}, seed {trace.seed}: {points['updates'][-1]} updates, "
            f"{points['epochs'][-1]:.3g} epochs, {points['seconds'][-1]:.2f} s, {end}")  # fmt: skip
