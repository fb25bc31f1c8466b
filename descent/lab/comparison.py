"""The data of a comparison: the grid, its budget, and what each run records.

An `Arm` (see `grid`) trains for a `Budget`; one arm trained from one seed is a
`Trace`, an arm across seeds an `ArmResult` (a `Band` per curve and a table row), and
all of them together a `Comparison`, which goes to a JSON-safe dict and back.
`descent.lab.compare` fills them in.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import product

from descent.errors import unknown_name
from descent.files import json_safe

BUDGET_KINDS = ("epochs", "samples", "updates", "seconds")
DEFAULT_EPOCHS = 10

TABLE_COLUMNS = (
    "arm", "batch_size", "optimizer", "lr", "start_loss", "train_loss", "best_loss",
    "train_accuracy", "val_loss", "val_accuracy", "updates_per_epoch", "seconds_per_epoch",
    "seconds_per_update", "updates_per_second", "gradient_noise", "loss_noise", "grad_cosine",
    "grad_cosine_start", "grad_cosine_end", "noise_scale", "seconds_to_target",
    "epochs_to_target", "updates", "samples", "epochs", "seconds", "loss_rise", "loss_growth",
    "sharpness_start", "sharpness", "sharpness_peak", "edge_of_stability", "lr_label",
    "diverged", "diverged_seeds", "diverged_at",
)  # fmt: skip
"""A row's keys. gradient_noise: E|g_B - G|^2 / |G|^2, the noise of the update's direction
(0 for batch descent, largest for stochastic descent); loss_noise: the spread of the
training-loss change one SGD update makes (lr times the standard deviation of G.g_B over
mini-batches; 0 for batch descent); grad_cosine the mean cosine of g_B with G; all three
averaged along the run; noise_scale the
gradient noise scale B_simple (median along the run), the critical batch size it
predicts; edge_of_stability the optimizer's `stability_limit` (NaN: none in closed form);
loss_rise and loss_growth what the learning-rate verdict read off the mean curve."""


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
    training set, 'val_loss' (and 'val_accuracy') when there is a validation set, and
    a `gradient_probe` of the arm's batch size at the same weights: 'grad_cosine' (the
    mean cosine between its mini-batch gradients and the full-batch gradient),
    'gradient_noise' (E|g_B - G|^2 / |G|^2), 'loss_step_noise' (the spread of the loss
    change one SGD update makes) and
    'noise_scale' (B_simple). `step_loss` is the mini-batch loss of every update.
    `sharpness` has 'epochs' and 'value' columns when tracked. `grad_cosine_start`/`_end`:
    'grad_cosine' at the first and the last point. `stopped_by` is 'budget' or 'diverged'.
    `landscape` (the first seed's, unless it diverged) is `LossLine.to_dict()` of the line
    from the initial weights (t = 0) to the final ones (t = 1).
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
    landscape: dict | None = None


@dataclass
class ArmResult:
    """An arm across seeds. `curves` has a `Band` per column of the traces' points
    (at each point, over the seeds that reached it; the 'seconds' band's mean is the time
    axis)
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
        from descent.lab.verdicts import sentences  # imported here: verdicts imports this module

        return sentences(self)

    def to_dict(self) -> dict:
        """A JSON-safe dict: NaN and infinities become None."""
        return json_safe(asdict(self))

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
