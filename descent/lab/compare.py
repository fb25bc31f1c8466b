"""`compare`: batch, stochastic and mini-batch descent, optimizers and learning rates, side by side.

Every arm of a grid trains the same model from the same initial weights (per seed)
on the same data, for the same budget: epochs, samples seen, updates or training
seconds. At evaluation points (the start, `EVALS_PER_EPOCH` times per epoch, at least
`MIN_POINTS` times over a budget counted in updates, each epoch's end and the stop)
the loss and accuracy are measured on the whole training set and on the validation
set with the weights of that moment, so that every arm's curve stands on the same
footing whatever its batch size. For the first seed, the loss along the line from the
shared initial weights to each arm's final weights (`loss_along_line`) shows whether
an arm ended in a sharp or a flat minimum. The training clock counts the training steps
only: evaluations, gradient-noise probes and sharpness estimates are left out.
Measurements run on one BLAS thread (`MEASURE_THREADS`).

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

from descent import backend
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
from descent.lab.gradients import gradient_probe
from descent.lab.landscape import loss_along_line
from descent.lab.sharpness import SharpnessTracker
from descent.lab.summary import bands, table_row
from descent.lab.verdicts import auto_target, lr_labels
from descent.nn.loss import loss_for_task
from descent.nn.models import build_model
from descent.optim import OPTIMIZERS, create
from descent.random import manual_seed
from descent.train.callbacks import Callback
from descent.train.divergence import divergence
from descent.train.loop import evaluate, fit
from descent.train.state import TrainingState

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
SHARPNESS_SAMPLES = 1024
SHARPNESS_ITERATIONS = 20
SHARPNESS_TOL = 1e-3
LANDSCAPE_STEPS = 13
"""Points on the line from the initial (t = 0) to each arm's final weights (t = 1), and 3
more on each side (19 from t = -0.25 to 1.25), measured on the sharpness subset."""
MEASURE_THREADS = 1
"""BLAS threads while measuring: a multi-threaded product over the whole data set leaves
OpenBLAS's threads spinning, which slowed the tiny stochastic steps after it two- to
threefold on two cores, a cost of measuring and not of training."""


Job = tuple[int, int]
"""One arm trained from one seed: (the arm's index, the seed)."""
RunJobs = Callable[[list[Job], Callable[[Job], Trace]], list[Trace]]


def run_locally(jobs: list[Job], train_one: Callable[[Job], Trace]) -> list[Trace]:
    """Every job in this process, in order."""
    return [train_one(job) for job in jobs]


# -- recording an arm -------------------------------------------------------------------------


def _eval_every(per_epoch: int, limit: int | None) -> int:
    """Updates between evaluation points (counted from each epoch's start)."""
    every = math.ceil(per_epoch / EVALS_PER_EPOCH)
    if limit is not None:
        every = min(every, limit // MIN_POINTS)
    return max(every, 1)


class _Recorder(Callback):
    """Records evaluation points on the training clock, stops at the budget or divergence,
    and drives the sharpness tracker (if any), which stops measuring once the arm has
    diverged: there is no curvature to read at exploded weights."""

    def __init__(self, measure, per_epoch: int, limit: int | None, seconds: float | None,
                 tracker: SharpnessTracker | None, clock: Callable[[], float]) -> None:  # fmt: skip
        self.measure, self.per_epoch, self.limit, self.seconds = measure, per_epoch, limit, seconds
        self.tracker, self.now = tracker, clock
        self.every = _eval_every(per_epoch, limit)
        self.points: dict[str, list[float]] = {}
        self.updates = self.samples = 0
        self.clock = 0.0
        self.stopped_by, self.diverged_at = "budget", None

    def set_run(self, run) -> None:
        super().set_run(run)
        if self.tracker is not None:
            self.tracker.set_run(run)

    def _point(self) -> None:
        pause = self.now()
        where = {"updates": self.updates, "samples": self.samples,
                 "epochs": self.updates / self.per_epoch, "seconds": self.clock}  # fmt: skip
        with backend.blas_threads(MEASURE_THREADS):
            measured = self.measure()
        for key, value in {**where, **measured}.items():
            self.points.setdefault(key, []).append(value)
        self._start += self.now() - pause  # the evaluation is off the clock

    def sharpness(self) -> dict[str, list[float]]:
        """The tracker's measurements as a `Trace`'s sharpness: 'epochs' and 'value'."""
        records = self.tracker.records if self.tracker is not None else []
        if not records:
            return {}
        return {"epochs": [r["update"] / self.per_epoch for r in records],
                "value": [r["sharpness"] for r in records]}  # fmt: skip

    def on_train_begin(self, logs=None):
        self._start = self.now()
        self._point()
        self.first_loss = self.points["loss"][0]
        if self.tracker is not None:
            with backend.blas_threads(MEASURE_THREADS):
                self.tracker.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._base, self._start = self.clock, self.now()

    def on_batch_end(self, step, logs=None):
        self.clock = self._base + self.now() - self._start
        self.updates += 1
        self.samples += int(logs["batch_size"])
        if divergence(float(logs["loss"]), self.first_loss, DIVERGENCE_FACTOR) is not None:
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
        if self.tracker is not None and self.stopped_by != "diverged":
            with backend.blas_threads(MEASURE_THREADS):
                self.tracker.on_epoch_end(epoch, logs)


# -- running the grid ------------------------------------------------------------------------


@dataclass
class _Setup:
    """What every arm of one seed shares."""

    model: object
    initial: TrainingState
    loss_fn: object
    data: tuple
    val: tuple | None
    metrics: tuple
    train: object
    budget: Budget
    sharpness_every: int | None
    diagnostics: bool
    clock: Callable[[], float]


def _measure(setup: _Setup, arm: Arm, batch_size: int, seed: int) -> Callable[[], dict]:
    """The measurements at an evaluation point: the losses (and accuracies), and a
    `gradient_probe` of the arm's batch size: its gradient cosine and noise, the spread of
    the loss change one update makes ('loss_step_noise', SGD only) and the gradient noise scale."""
    probes = np.random.default_rng(seed)
    lr = arm.lr if arm.optimizer == "sgd" else math.nan

    def measure() -> dict[str, float]:
        out = evaluate(setup.model, setup.loss_fn, [setup.data], setup.metrics)
        if setup.val is not None:
            val = evaluate(setup.model, setup.loss_fn, [setup.val], setup.metrics)
            out.update({"val_" + k: v for k, v in val.items()})
        x, y = setup.data
        probe = gradient_probe(setup.model, setup.loss_fn, x, y, batch_size, lr, seed=probes)
        return {
            **out,
            "grad_cosine": probe.cosine,
            "gradient_noise": probe.gradient_noise,
            "loss_step_noise": probe.loss_step_noise,
            "noise_scale": probe.noise_scale,
        }

    return measure


def _subset(x, seed: int) -> np.ndarray:
    """Up to `SHARPNESS_SAMPLES` training rows, the same for every arm of a seed."""
    n = int(np.shape(x)[0])
    return np.sort(np.random.default_rng(seed).permutation(n)[:SHARPNESS_SAMPLES])


def _landscape(setup: _Setup, seed: int) -> dict:
    """The loss on the line from the seed's initial weights to the model's weights now."""
    x, y = setup.data
    rows = _subset(x, seed)
    with backend.blas_threads(MEASURE_THREADS):
        line = loss_along_line(setup.model, setup.loss_fn, x[rows], y[rows],
                               setup.initial.weights, setup.model.state_dict(),
                               LANDSCAPE_STEPS)  # fmt: skip
    return line.to_dict()


def _sharpness_tracker(setup: _Setup, batch_size: int, seed: int) -> SharpnessTracker | None:
    """Sharpness on the whole training set for a batch arm (the loss it descends), else on
    a fixed subset of it (the same for every arm of a seed)."""
    if not setup.sharpness_every:
        return None
    x, y = setup.data
    rows = _subset(x, seed) if batch_size < int(np.shape(x)[0]) else slice(None)
    return SharpnessTracker(x[rows], y[rows], setup.sharpness_every, SHARPNESS_ITERATIONS, seed,
                            SHARPNESS_TOL)  # fmt: skip


def _train(setup: _Setup, arm: Arm, batch_size: int, per_epoch: int, limit: int | None,
           seed: int, landscape: bool) -> Trace:  # fmt: skip
    """Train one arm from the seed's initial weights; its `Trace`, with the loss along the
    line to its final weights when `landscape` (and it did not diverge)."""
    model, loss_fn = setup.model, setup.loss_fn
    setup.initial.restore()
    manual_seed(seed)
    optimizer = create(arm.optimizer, model.parameters(), lr=arm.lr, **arm.options)
    loader = DataLoader(setup.train, batch_size, shuffle=True, seed=seed)
    seconds = setup.budget.amount if setup.budget.kind == "seconds" else None
    recorder = _Recorder(_measure(setup, arm, batch_size, seed), per_epoch, limit, seconds,
                         _sharpness_tracker(setup, batch_size, seed), setup.clock)  # fmt: skip
    callbacks = [recorder] + ([LayerDiagnostics()] if setup.diagnostics else [])
    epochs = math.ceil(limit / per_epoch) if limit is not None else 2**62
    history = fit(model, loss_fn, optimizer, loader, epochs, metrics=None, callbacks=callbacks,
                  progress=False)  # fmt: skip
    cosines = recorder.points["grad_cosine"]
    line = _landscape(setup, seed) if landscape and recorder.stopped_by != "diverged" else None
    return Trace(seed, recorder.points, list(history.step_loss), recorder.sharpness(), cosines[0],
                 cosines[-1],
                 recorder.stopped_by, recorder.diverged_at,
                 callbacks[1].to_dict() if setup.diagnostics else None, line)  # fmt: skip


def _prepare(train, val, model, loss_fn):
    """The full-batch arrays, the task, the loss, and a model builder."""
    x, y = next(iter(DataLoader(train, "full", shuffle=False)))
    task = getattr(train, "task", None) or (
        "classification" if np.issubdtype(np.asarray(y).dtype, np.integer) else "regression"
    )
    if loss_fn is None:
        loss_fn = loss_for_task(None, task)
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
    clock: Callable[[], float] = time.perf_counter,
    run_jobs: RunJobs | None = None,
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
        clock: the training clock's source of seconds; `time.process_time` counts the
            process's CPU time instead, which other load on the machine does not inflate.
        run_jobs: `run_jobs(jobs, train_one)` trains the (arm index, seed) jobs, each by
            `train_one(job) -> Trace`, and returns their traces in the jobs' order; None
            runs them here, one after the other (`run_locally`). Every job starts from its
            seed alone, so they may run anywhere in any order: over MPI ranks, the command
            spreads them (`descent.cli.ranks`).

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

    jobs = [(arm, int(seed)) for seed in seeds for arm in range(len(arms))]
    setups: dict[int, _Setup] = {}

    def train_one(job: Job) -> Trace:
        arm, seed = job
        if seed not in setups:  # the seed's initial weights, shared by its arms
            setups.clear()
            manual_seed(seed)
            net = build()
            setups[seed] = _Setup(net, TrainingState.capture(net), loss_fn, (x, y), val_data,
                                  metrics, train, budget, sharpness_every, diagnostics,
                                  clock)  # fmt: skip
        trace = _train(setups[seed], arms[arm], *plans[arm][1:], seed, seed == int(seeds[0]))
        if progress is not None:
            progress(_progress_line(plans[arm][0], trace))
        return trace

    with backend.blas_threads(blas_threads):
        done = (run_jobs or run_locally)(jobs, train_one)
    traces: list[list[Trace]] = [[] for _ in arms]
    for (arm, _), trace in zip(jobs, done, strict=True):
        traces[arm].append(trace)

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
