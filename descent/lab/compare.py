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
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import product

import numpy as np
from threadpoolctl import ThreadpoolController

from descent.data.loader import DataLoader
from descent.errors import unknown_name
from descent.lab.diagnostics import LayerDiagnostics
from descent.lab.sharpness import sharpness
from descent.nn.loss import CrossEntropyLoss, MSELoss
from descent.nn.models import build_model
from descent.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from descent.random import get_rng_state, manual_seed, set_rng_state
from descent.train.callbacks import Callback
from descent.train.history import _safe
from descent.train.loop import evaluate, fit

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
BUDGET_KINDS = ("epochs", "samples", "updates", "seconds")
DEFAULT_EPOCHS = 10
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

# -- reading a learning rate off its curve ------------------------------------------------
TOO_LOW_DROP = 0.01
"""A curve whose best loss is less than 1% below its start barely moved: too low
(or, when it also rose, oscillating)."""
TOO_LOW_PROGRESS = 0.5
"""Too low: the run covered less than half of the way, in log loss, from the initial
loss to the best loss that any learning rate of its group (same batch size and
optimizer) reached within the same budget."""
TOO_LOW_TAIL = 0.5
"""Too low: the second half of the updates still took off at least half as much loss as
the first half; the loss was falling at an even pace when the budget ran out, far
from levelling off, the signature of steps too small for the budget."""
OSCILLATION_RISE = 0.5
"""Oscillating: the loss's rises between evaluation points add up to more than half of
its total fall; a good step size makes the loss fall almost monotonically."""
OSCILLATION_END = 0.25
"""Oscillating: the final loss sits above the best one by more than a quarter of the
fall; the run found a low point and bounced away from it."""
LR_LABELS = ("diverged", "oscillating", "too low", "good")  # what `lr_label` returns

POINT_AXES = ("updates", "samples", "epochs", "seconds")
TABLE_COLUMNS = (
    "arm", "batch_size", "optimizer", "lr", "train_loss", "train_accuracy", "val_loss",
    "val_accuracy", "updates_per_epoch", "seconds_per_epoch", "loss_noise",
    "grad_cosine_start", "grad_cosine_end", "seconds_to_target", "epochs_to_target",
    "updates", "samples", "epochs", "seconds", "sharpness", "edge_of_stability", "lr_label",
    "diverged", "diverged_seeds",
)  # fmt: skip


# -- the grid and the budget ----------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """How much training each arm gets: `amount` epochs (fractions allowed), samples
    seen, updates, or seconds on the training clock."""

    kind: str = "epochs"
    amount: float = DEFAULT_EPOCHS

    def __post_init__(self) -> None:
        if self.kind not in BUDGET_KINDS:
            raise unknown_name("budget kind", self.kind, BUDGET_KINDS)
        if isinstance(self.amount, bool) or not isinstance(self.amount, numbers.Real):
            raise TypeError(f"Budget: amount={self.amount!r} must be a number")
        if not (math.isfinite(self.amount) and self.amount > 0):
            raise ValueError(
                f"Budget: amount={self.amount!r} {self.kind} cannot be met; give a finite "
                f"number of {self.kind} > 0"
            )
        if self.kind in ("samples", "updates") and self.amount != int(self.amount):
            raise ValueError(f"Budget: {self.kind} must be a whole number, got {self.amount}")


@dataclass
class Arm:
    """One variant: batch size (1, k or 'full'), optimizer name, learning rate, and any
    further optimizer options, e.g. {'momentum': 0.9}."""

    batch_size: int | str
    optimizer: str = "sgd"
    lr: float = 0.1
    options: dict = field(default_factory=dict)


def grid(batch_sizes: Sequence = ("full", 1, 32), optimizers: Sequence[str] = ("sgd",),
         lrs: Sequence[float] = (0.1,)) -> list[Arm]:  # fmt: skip
    """Every combination of batch size, optimizer and learning rate, as `Arm`s."""
    for name, values in (("batch_sizes", batch_sizes), ("optimizers", optimizers), ("lrs", lrs)):
        if len(values) == 0:
            raise ValueError(f"grid: {name} is empty; give at least one, e.g. {name}=[...]")
    return [Arm(b, o, float(lr)) for b, o, lr in product(batch_sizes, optimizers, lrs)]


def default_arms() -> list[Arm]:
    """Batch, stochastic and mini-batch (32) SGD, each at a learning rate that suits it
    on standardized small tables such as the digits (batch descent takes a larger step
    because its gradient is exact)."""
    return [Arm("full", "sgd", 0.5), Arm(1, "sgd", 0.01), Arm(32, "sgd", 0.1)]


def variant(batch_size: int, num_samples: int) -> str:
    """'batch', 'stochastic' or 'mini-batch' for a number of samples per update."""
    if batch_size >= num_samples:
        return "batch"
    return "stochastic" if batch_size == 1 else "mini-batch"


def arm_label(arm: Arm, num_samples: int, batch_size: int) -> str:
    """E.g. 'mini-batch 32, sgd, lr 0.1' or 'batch, sgd(momentum=0.9), lr 0.5'."""
    kind = variant(batch_size, num_samples)
    name = f"mini-batch {batch_size}" if kind == "mini-batch" else kind
    options = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in arm.options.items())  # fmt: skip
    return f"{name}, {arm.optimizer}{f'({options})' if options else ''}, lr {arm.lr:g}"


def max_updates(budget: Budget, batch_size: int, num_samples: int, label: str) -> int | None:
    """The updates an arm may take under `budget` (None for a time budget); a budget
    too small for even one update is a ValueError naming the smallest that works."""
    per_epoch = math.ceil(num_samples / batch_size)
    if budget.kind == "seconds":
        return None
    if budget.kind == "updates":
        return int(budget.amount)
    if budget.kind == "epochs":
        updates = round(budget.amount * per_epoch)
        least = f"{1 / per_epoch:.3g} epochs"
    else:  # samples, never more than the budget: the last batch of an epoch is smaller
        epochs, rest = divmod(int(budget.amount), num_samples)
        updates = epochs * per_epoch + min(rest // batch_size, per_epoch - 1)
        least = f"{batch_size} samples"
    if updates < 1:
        raise ValueError(
            f"compare: a budget of {budget.amount:g} {budget.kind} is less than one update "
            f"of the arm '{label}' ({batch_size} samples per update); give at least {least}, "
            "or leave that arm out"
        )
    return updates


# -- what a run records ------------------------------------------------------------------------


@dataclass
class Band:
    """One quantity across seeds, point by point: mean, lowest and highest."""

    mean: list[float]
    low: list[float]
    high: list[float]


@dataclass
class Trace:
    """One arm trained from one seed.

    `points` holds columns of one length, one entry per evaluation point: the axes
    'updates', 'samples', 'epochs' (updates / updates per epoch) and 'seconds' (the
    training clock), and 'loss' (and 'accuracy' for classification) on the whole
    training set, 'val_loss' (and 'val_accuracy') when there is a validation set.
    `step_loss` is the mini-batch loss of every update. `sharpness` has 'epochs' and
    'value' columns when tracked. `grad_cosine_start`/`_end`: the mean cosine between
    a mini-batch gradient of this arm's size and the full-batch gradient at the
    initial and the final weights. `stopped_by` is 'budget' or 'diverged'.
    """

    seed: int
    points: dict[str, list[float]]
    step_loss: list[float]
    sharpness: dict[str, list[float]]
    grad_cosine_start: float
    grad_cosine_end: float
    stopped_by: str
    diverged_at: int | None
    diagnostics: dict | None = None


@dataclass
class ArmResult:
    """An arm across seeds. `curves` has a `Band` per column of the traces' points
    (over the points every seed reached; the 'seconds' band's mean is the time axis)
    and, when tracked, 'sharpness_epochs' and 'sharpness'. `row` is its table row."""

    arm: Arm
    label: str
    variant: str
    batch_size: int
    updates_per_epoch: int
    traces: list[Trace]
    curves: dict[str, Band]
    row: dict


@dataclass
class Comparison:
    """What `compare` measured. `target_loss` is the training loss the to-target columns
    refer to (`target_auto` when compare chose it); `num_samples` the training set size."""

    arms: list[ArmResult]
    budget: Budget
    seeds: list[int]
    target_loss: float | None
    target_auto: bool
    num_samples: int
    task: str
    model: str

    def table(self) -> list[dict]:
        """One row per arm, with the keys of `TABLE_COLUMNS`; NaN where not measured."""
        return [arm.row for arm in self.arms]

    def sentences(self) -> list[str]:
        """The measured trade-offs in plain sentences (see `sentences`)."""
        return sentences(self)

    def to_dict(self) -> dict:
        """A JSON-safe dict: NaN and infinities become None."""
        return _safe(asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> Comparison:
        """The inverse of `to_dict`; a None among the numbers comes back as NaN."""
        arms = [_arm_from_dict(a) for a in data["arms"]]
        rest = {k: v for k, v in data.items() if k not in ("arms", "budget")}
        return cls(arms=arms, budget=Budget(**data["budget"]), **rest)


def _nan(values: list) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _arm_from_dict(data: dict) -> ArmResult:
    traces = []
    for t in data["traces"]:
        traces.append(Trace(**{**t, "points": {k: _nan(v) for k, v in t["points"].items()},
                               "step_loss": _nan(t["step_loss"]),
                               "sharpness": {k: _nan(v) for k, v in t["sharpness"].items()},
                               "grad_cosine_start": _nan([t["grad_cosine_start"]])[0],
                               "grad_cosine_end": _nan([t["grad_cosine_end"]])[0]}))  # fmt: skip
    curves = {k: Band(_nan(b["mean"]), _nan(b["low"]), _nan(b["high"]))
              for k, b in data["curves"].items()}  # fmt: skip
    row = {k: math.nan if v is None and k in _NUMBER_COLUMNS else v for k, v in data["row"].items()}
    rest = {k: v for k, v in data.items() if k not in ("arm", "traces", "curves", "row")}
    return ArmResult(arm=Arm(**data["arm"]), traces=traces, curves=curves, row=row, **rest)


_NUMBER_COLUMNS = set(TABLE_COLUMNS) - {"arm", "optimizer", "lr_label", "diverged", "batch_size"}


# -- measurements at a point ------------------------------------------------------------------


def _gradient(model, loss_fn, x, y) -> np.ndarray:
    for p in model.parameters():
        p.grad = None
    loss_fn(model(x), y).backward()
    return np.concatenate(
        [
            np.zeros(p.data.size) if p.grad is None else p.grad.ravel().astype(np.float64)
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
    grads = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
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
    n = int(np.shape(x.data)[0])
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


def _band(series: list[list[float]]) -> Band:
    n = min(len(s) for s in series)
    values = np.array([s[:n] for s in series], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return Band(values.mean(0).tolist(), values.min(0).tolist(), values.max(0).tolist())


def _curves(traces: list[Trace]) -> dict[str, Band]:
    """Bands over the points every seed reached (a diverged or timed seed may stop early)."""
    curves = {key: _band([t.points[key] for t in traces]) for key in traces[0].points}
    if traces[0].sharpness:
        curves["sharpness_epochs"] = _band([t.sharpness["epochs"] for t in traces])
        curves["sharpness"] = _band([t.sharpness["value"] for t in traces])
    return curves


def _loss_noise(step_loss: list[float]) -> float:
    """The spread (standard deviation) of the change in mini-batch loss from one update
    to the next, over the finite losses; NaN with fewer than three updates."""
    losses = np.asarray(step_loss, dtype=np.float64)
    losses = losses[np.isfinite(losses)]
    return float(np.std(np.diff(losses))) if losses.size > 2 else math.nan


def _mean(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def edge_of_stability(arm: Arm) -> float:
    """The sharpness above which gradient descent with this step is unstable on a
    quadratic: 2/lr, or (2 + 2 momentum)/lr with heavy-ball momentum (Cohen et al. 2021);
    NaN for adaptive optimizers, whose step is preconditioned and has no such bound."""
    if arm.optimizer != "sgd":
        return math.nan
    return (2.0 + 2.0 * float(arm.options.get("momentum", 0.0))) / arm.lr


def _to_target(curves: dict[str, Band], target: float | None) -> tuple[float, float]:
    """Seconds and epochs (on the mean curves) at the first point whose mean loss <= target."""
    if target is None:
        return math.nan, math.nan
    for i, loss in enumerate(curves["loss"].mean):
        if loss <= target:
            return curves["seconds"].mean[i], curves["epochs"].mean[i]
    return math.nan, math.nan


def _row(result: ArmResult, target: float | None, label: str) -> dict:
    traces, arm = result.traces, result.arm
    diverged = sum(t.stopped_by == "diverged" for t in traces)

    def final(key: str) -> float:
        if diverged or key not in traces[0].points:
            return math.nan
        return _mean(t.points[key][-1] for t in traces)

    seconds, epochs = _to_target(result.curves, target)
    sharp = result.curves.get("sharpness")
    return {
        "arm": result.label, "batch_size": result.batch_size, "optimizer": arm.optimizer,
        "lr": arm.lr, "train_loss": final("loss"), "train_accuracy": final("accuracy"),
        "val_loss": final("val_loss"), "val_accuracy": final("val_accuracy"),
        "updates_per_epoch": result.updates_per_epoch,
        "seconds_per_epoch": _mean(t.points["seconds"][-1] / t.points["epochs"][-1]
                                   for t in traces if t.points["epochs"][-1] > 0),
        "loss_noise": _mean(_loss_noise(t.step_loss) for t in traces),
        "grad_cosine_start": _mean(t.grad_cosine_start for t in traces),
        "grad_cosine_end": _mean(t.grad_cosine_end for t in traces),
        "seconds_to_target": seconds, "epochs_to_target": epochs,
        "updates": _mean(t.points["updates"][-1] for t in traces),
        "samples": _mean(t.points["samples"][-1] for t in traces),
        "epochs": _mean(t.points["epochs"][-1] for t in traces),
        "seconds": _mean(t.points["seconds"][-1] for t in traces),
        "sharpness": sharp.mean[-1] if sharp and sharp.mean else math.nan,
        "edge_of_stability": edge_of_stability(arm), "lr_label": label,
        "diverged": bool(diverged), "diverged_seeds": diverged,
    }  # fmt: skip


def _progress(start: float, end: float, best: float) -> float:
    """How far `end` went from `start` towards `best` (1: all the way), in log loss when
    the losses are positive, else linearly."""
    if start <= best:
        return 1.0
    if best > 0:
        return math.log(start / end) / math.log(start / best)
    return (start - end) / (start - best)


def lr_label(
    losses: Sequence[float], diverged: bool = False, reference: float | None = None
) -> str:
    """'diverged', 'oscillating', 'too low' or 'good', read from a training-loss curve
    (the loss at evaluation points, first to last); see the thresholds above.

    `reference` is the lowest loss that any learning rate of the same group reached
    (by default the curve's own best, which leaves only the even-pace test for too low).
    """
    losses = np.asarray(losses, dtype=np.float64)
    if diverged or losses.size == 0 or not np.isfinite(losses).all():
        return "diverged"
    start, best, end = losses[0], losses.min(), losses[-1]
    fall = start - best
    rises = float(np.clip(np.diff(losses), 0, None).sum())
    if fall <= TOO_LOW_DROP * abs(start):
        return "oscillating" if rises > TOO_LOW_DROP * abs(start) else "too low"
    if rises > OSCILLATION_RISE * fall or end - best > OSCILLATION_END * fall:
        return "oscillating"
    reference = best if reference is None else min(reference, best)
    middle = losses[losses.size // 2]
    if _progress(start, end, reference) < TOO_LOW_PROGRESS:
        return "too low"
    if middle - end >= TOO_LOW_TAIL * (start - middle):
        return "too low"
    return "good"


def _labels(results: list[ArmResult]) -> list[str]:
    """Each arm's learning-rate label, against the best loss of its group (same batch
    size, optimizer and options)."""
    best: dict[str, float] = {}
    for r in results:
        group = r.label.rpartition(", lr ")[0]
        best[group] = min(best.get(group, math.inf), float(np.nanmin(r.curves["loss"].mean)))
    return [lr_label(r.curves["loss"].mean, any(t.diverged_at for t in r.traces),
                     best[r.label.rpartition(", lr ")[0]]) for r in results]  # fmt: skip


def _auto_target(results: list[ArmResult], labels: list[str]) -> float | None:
    """The highest best mean loss among the arms with a good learning rate (else all that
    did not diverge), leaving out arms that never went below their start: a loss that
    every one of them reached, after some progress."""
    for keep in (("good",), ("good", "oscillating", "too low")):
        bests = []
        for result, label in zip(results, labels):
            losses = result.curves["loss"].mean
            if label in keep and min(losses) < losses[0]:
                bests.append(min(losses))
        if bests:
            return float(max(bests))
    return None


def _prepare(train, val, model, loss_fn):
    """The full-batch arrays, the task, the loss, and a model builder."""
    x, y = next(iter(DataLoader(train, "full", shuffle=False)))
    task = getattr(train, "task", None) or (
        "classification" if np.issubdtype(np.asarray(y.data).dtype, np.integer) else "regression"
    )
    if loss_fn is None:
        loss_fn = CrossEntropyLoss() if task == "classification" else MSELoss()
    if callable(model) and not isinstance(model, (str, Mapping)):
        return x, y, task, loss_fn, model, getattr(model, "__name__", "custom")
    classes = getattr(train, "num_classes", None) or int(np.max(y.data)) + 1
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

    results = [ArmResult(arm, label, variant(size, n), size, per_epoch, t, _curves(t), {})
               for arm, (label, size, per_epoch, _), t in zip(arms, plans, traces)]  # fmt: skip
    labels = _labels(results)
    target = target_loss if target_loss is not None else _auto_target(results, labels)
    for result, label in zip(results, labels):
        result.row = _row(result, target, label)
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


# -- the trade-offs in words ------------------------------------------------------------------


def _g(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _variant_name(result: ArmResult) -> str:
    names = {"batch": "Batch descent", "stochastic": "Stochastic descent (batch 1)"}
    return names.get(result.variant, f"Mini-batch descent ({result.batch_size})")


def _versus(result: ArmResult, reference: ArmResult, target: float | None) -> str:
    """One arm against the reference (largest-batch) arm, in numbers."""
    a, r = result.row, reference.row
    name = _variant_name(result)
    text = (
        f"{name} [{result.label}] made {a['updates_per_epoch']} updates per epoch against "
        f"{r['updates_per_epoch']} for {_variant_name(reference).lower()} [{reference.label}], "
        f"at {_g(a['seconds_per_epoch'])} s per epoch against {_g(r['seconds_per_epoch'])} s"
    )
    if target is not None:
        reached = [math.isfinite(row["seconds_to_target"]) for row in (a, r)]
        if all(reached):
            text += (f"; its training loss reached {_g(target)} in {_g(a['seconds_to_target'])} s "
                     f"({_g(a['epochs_to_target'])} epochs) against {_g(r['seconds_to_target'])} "
                     f"s ({_g(r['epochs_to_target'])} epochs)")  # fmt: skip
        elif reached[0]:
            text += (f"; its training loss reached {_g(target)} in {_g(a['seconds_to_target'])} s, "
                     f"which {_variant_name(reference).lower()} did not reach within the "
                     "budget")  # fmt: skip
        elif reached[1]:
            text += (f"; it did not reach a training loss of {_g(target)} within the budget, "
                     f"which {_variant_name(reference).lower()} reached in "
                     f"{_g(r['seconds_to_target'])} s")  # fmt: skip
    cos_a, cos_r = a["grad_cosine_start"], r["grad_cosine_start"]
    noisier = "noisier" if cos_a < cos_r - 0.01 else "about as noisy"
    return text + (
        f". Its steps were {noisier}: at the same initial weights its mini-batch gradient's "
        f"cosine with the full-batch gradient averaged {cos_a:.2f} against {cos_r:.2f}, and "
        f"its loss noise (spread of step-to-step changes) was {_g(a['loss_noise'])} against "
        f"{_g(r['loss_noise'])}. Its final training loss was {_g(a['train_loss'])} against "
        f"{_g(r['train_loss'])}."
    )


def _by_variant(comparison: Comparison) -> list[str]:
    """The best arm of each batch size against the best arm of the largest one."""
    best: dict[int, ArmResult] = {}
    for result in comparison.arms:
        if result.row["diverged"]:
            continue
        held = best.get(result.batch_size)
        if held is None or result.row["train_loss"] < held.row["train_loss"]:
            best[result.batch_size] = result
    if len(best) < 2:
        return []
    reference = best[max(best)]
    return [_versus(best[b], reference, comparison.target_loss)
            for b in sorted(best) if b != reference.batch_size]  # fmt: skip


def _lr_words(result: ArmResult) -> str:
    row, losses = result.row, result.curves["loss"].mean
    if row["lr_label"] == "diverged":
        at = min(t.diverged_at for t in result.traces if t.diverged_at is not None)
        return f"lr {row['lr']:g} diverged (first at update {at})"
    return (f"lr {row['lr']:g} {row['lr_label']} (training loss {_g(losses[0])} to "
            f"{_g(losses[-1])}, best {_g(min(losses))})")  # fmt: skip


def _by_lr(comparison: Comparison) -> list[str]:
    """The label of each learning rate, grouped by batch size and optimizer."""
    groups: dict[str, list[ArmResult]] = {}
    for result in comparison.arms:
        groups.setdefault(result.label.rpartition(", lr ")[0], []).append(result)
    return [f"Read from the curves, for {key}: " + "; ".join(_lr_words(r) for r in group) + "."
            for key, group in groups.items()]  # fmt: skip


def _divergence(comparison: Comparison) -> list[str]:
    diverged = [r for r in comparison.arms if r.row["diverged"]]
    if not diverged:
        return []
    finished = len(comparison.arms) - len(diverged)
    names = ", ".join(f"[{r.label}] in {r.row['diverged_seeds']} of {len(r.traces)} seeds"
                      for r in diverged)  # fmt: skip
    return [f"Diverged: {names}; {finished} other arm(s) finished their budget."]


def _best(comparison: Comparison) -> list[str]:
    key = "val_loss" if comparison.arms[0].traces[0].points.get("val_loss") else "train_loss"
    rows = [r.row for r in comparison.arms if math.isfinite(r.row[key])]
    if not rows:
        return []
    best = min(rows, key=lambda row: row[key])
    where = "validation" if key == "val_loss" else "training"
    text = f"The lowest final {where} loss, {_g(best[key])}, came from [{best['arm']}]"
    accuracy = key.replace("loss", "accuracy")
    if math.isfinite(best[accuracy]):
        text += f" (its {where} accuracy {best[accuracy]:.1%})"
    return [text + "."]


def _sharpness_words(comparison: Comparison) -> list[str]:
    out = []
    for result in comparison.arms:
        values = result.curves.get("sharpness")
        if values is None or not values.mean or math.isnan(result.row["edge_of_stability"]):
            continue
        edge, peak = result.row["edge_of_stability"], np.nanmax(values.mean)
        where = "reached" if peak >= 0.9 * edge else "stayed below"
        out.append(f"The sharpness of [{result.label}] went from {_g(values.mean[0])} to "
                   f"{_g(values.mean[-1])} (peak {_g(peak)}): it {where} the edge of stability "
                   f"{_g(edge)}.")  # fmt: skip
    return out


def sentences(comparison: Comparison) -> list[str]:
    """Plain sentences stating the measured trade-offs, from the table and the mean curves.

    One sentence on the budget, one per batch size against the largest (updates per
    epoch, cost, time to the target loss, gradient noise, final loss), one per batch
    size and optimizer on its learning rates' labels, then divergence, the best arm
    and, when tracked, the sharpness against the edge of stability (SGD arms).
    """
    budget = comparison.budget
    seeds = ", ".join(str(s) for s in comparison.seeds)
    head = (f"Each arm trained {comparison.model} for {budget.amount:g} {budget.kind} from the "
            f"same initial weights, on {comparison.num_samples} training samples, with seeds "
            f"{seeds}; numbers are means over the seeds.")  # fmt: skip
    return [head, *_by_variant(comparison), *_by_lr(comparison), *_divergence(comparison),
            *_best(comparison), *_sharpness_words(comparison)]  # fmt: skip
