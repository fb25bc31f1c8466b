"""`RunConfig`: every choice a training run makes, read from TOML and flags, checked, written back.

A config file is a flat TOML table whose keys are the fields below (the `descent train`
flags without the dashes, `-` or `_` alike); only `model` may also be a table:

    data = "digits"
    model = "mlp:128,64:tanh"      # or: [model] kind = "mlp", hidden = [128, 64]
    optimizer = "sgd"
    lr = 0.05                      # default: see default_lr
    batch_size = 32                # or "full"; 1 is stochastic gradient descent
    epochs = 20                    # default: 20, or 200 with batch_size = "full"

Files are parsed by the standard library's `tomllib`, never evaluated.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from typing import Any

import tomli_w

from descent.cli.schedules import SCHEDULES
from descent.errors import not_utf8, unknown_name
from descent.nn.loss import LOSSES
from descent.nn.models import format_model, parse_model
from descent.optim import OPTIMIZERS

SCALE_LR = ("none", "linear")
"""linear: Goyal et al. 2017's rule for data parallelism (lr x the number of ranks, reached
by a linear warm-up from lr over `warmup_epochs`), for a global batch grown with the ranks,
i.e. --batch-size N x a per-rank batch the lr was tuned for. The ranks are those the run
started on (`scale_ranks`), so it resumes with the same rates on any number of ranks."""

WARMUP_EPOCHS = 5

TASKS = ("auto", "classification", "regression")
"""What a data file's label column is for. auto: whole numbers and text are classes, other
numbers a quantity to regress; the others say so, e.g. for integer counts to regress."""

DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2,
              "adadelta": 1.0, "adamax": 2e-3, "nadam": 2e-3, "radam": 1e-3}  # fmt: skip
"""Each optimizer's learning rate at batch size 32 or more when none is given (sgd's with
its default momentum 0.9): one rate cannot suit them all (an adaptive method's step is about
lr per weight, whatever the gradient's size). Beyond sgd and rmsprop, these are torch's."""

REFERENCE_BATCH = 32
"""The batch size DEFAULT_LR is measured at; smaller batches get a smaller default rate."""

DEFAULT_EPOCHS = {"full": 200}
"""Epochs when none are given: 20, or 200 for batch descent, which makes one update an
epoch (200 updates is what spirals, the hardest built-in, needs at its default rate)."""


def default_lr(optimizer: str, batch_size: int | str, momentum: float) -> float:
    """The learning rate a run gets when none is given: the rule `descent train` states.

    SGD: an effective step lr / (1 - momentum) of 0.5 (so 0.05 with momentum 0.9, 0.5
    without) at batch size 32 or more, scaled linearly below: lr = 0.5 (1 - momentum)
    min(1, B / 32). A batch of B averages B gradients, so its noise shrinks as B grows;
    below 32 the noise sets the safe step (linear scaling: at B = 1 a tenth of it, 0.01, already
    diverges on digits; 0.0016 trains), above it the curvature does (the same step trains
    full-batch descent on every built-in, and 0.1 diverges on diabetes and linear).
    Adaptive optimizers: DEFAULT_LR at every batch size, their steps being normalised per
    weight already (adam at 1e-3 trains digits and spirals better at B = 1 than at 2e-4).
    """
    if optimizer != "sgd":
        return DEFAULT_LR[optimizer]
    fraction = 1.0 if batch_size == "full" else min(1.0, int(batch_size) / REFERENCE_BATCH)
    return float(f"{0.5 * (1.0 - momentum) * fraction:.6g}")


@dataclasses.dataclass
class RunConfig:
    """A training run. With no changes: an MLP on digits by mini-batch SGD, in seconds."""

    data: str = "digits"  # a built-in data set's name, or a .csv / .npz file
    target: str | None = None  # a CSV's label column (default: its last column)
    task: str = "auto"  # a data file's: classification, regression, or auto (see TASKS)
    model: str | dict = "mlp:128"
    loss: str | None = None  # default: cross_entropy to classify, mse to regress
    optimizer: str = "sgd"
    lr: float | None = None  # default: by optimizer, momentum and batch size, see default_lr
    momentum: float | None = None  # sgd (default 0.9) and rmsprop (default 0)
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    gamma: float = 0.1  # the lr factor of the step and exponential schedules
    step_size: int = 10  # epochs between the step schedule's drops
    batch_size: int | str = 32
    epochs: int | None = None  # default: 20, or 200 with batch_size "full" (DEFAULT_EPOCHS)
    seed: int = 0
    val_split: float = 0.1
    test_split: float = 0.2
    standardize: bool = True
    early_stopping: int = 0  # patience in epochs without a better val_loss; 0 is off
    guard: bool = True  # stop a diverging run (or roll back and lower the lr)
    clip_grad_norm: float = 0.0  # scale gradients down to this total norm; 0 is off
    scale_lr: str | None = None  # "linear": lr x scale_ranks, warmed up (see SCALE_LR)
    warmup_epochs: int | None = None  # of the linear scaling; default 5 (Goyal et al.)
    scale_ranks: int | None = None  # the ranks the lr is scaled for: the run's at its start
    out: str = "runs"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a ValueError naming the field and what it accepts."""
        for field in dataclasses.fields(self):
            _check_type(field.name, getattr(self, field.name), field.type)
        self.model = _canonical_model(self.model)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.momentum is None:
            self.momentum = 0.9 if self.optimizer == "sgd" else 0.0
        _between("momentum", self.momentum, 0.0, 1.0, high_open=True)
        if isinstance(self.batch_size, str) and self.batch_size != "full":
            raise ValueError(
                f"config: batch_size={self.batch_size!r} must be a whole number >= 1 or 'full'"
            )
        if isinstance(self.batch_size, int):
            _at_least("batch_size", self.batch_size, 1)
        if self.lr is None:
            self.lr = default_lr(self.optimizer, self.batch_size, self.momentum)
        if self.epochs is None:
            self.epochs = DEFAULT_EPOCHS.get(str(self.batch_size), 20)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("task", self.task, TASKS)
        if self.loss is not None:
            _choice("loss", self.loss, LOSSES)
        _positive("lr", self.lr)
        _at_least("epochs", self.epochs, 1)
        _at_least("seed", self.seed, 0)
        _at_least("step_size", self.step_size, 1)
        _at_least("early_stopping", self.early_stopping, 0)
        _between("val_split", self.val_split, 0.0, 1.0, high_open=True)
        _between("test_split", self.test_split, 0.0, 1.0, high_open=True, low_open=True)
        _positive("gamma", self.gamma)
        if self.clip_grad_norm < 0:
            raise ValueError(f"config: clip_grad_norm={self.clip_grad_norm} must be >= 0")
        if self.weight_decay < 0:
            raise ValueError(f"config: weight_decay={self.weight_decay} must be >= 0")
        if self.nesterov and self.momentum == 0:
            raise ValueError("config: nesterov needs momentum > 0")
        self._validate_scaling()

    def _validate_scaling(self) -> None:
        if self.scale_lr is not None:
            _choice("scale_lr", self.scale_lr, SCALE_LR)
        if self.scale_lr != "linear":
            return
        if self.warmup_epochs is None:
            self.warmup_epochs = WARMUP_EPOCHS
        if self.scale_ranks is None:
            self.scale_ranks = 1
        _at_least("warmup_epochs", self.warmup_epochs, 0)
        _at_least("scale_ranks", self.scale_ranks, 1)
        if self.schedule == "onecycle":
            raise ValueError("config: scale_lr='linear' warms up itself; onecycle has its own "
                             "warm-up: choose one of them")  # fmt: skip

    @property
    def warmup_length(self) -> int:
        """The epochs of linear scaling's warm-up that run before the schedule (0 without)."""
        if self.scale_lr != "linear" or self.scale_ranks == 1:
            return 0
        return self.warmup_epochs

    @property
    def scaled_lr(self) -> float:
        """The learning rate after the warm-up: lr x scale_ranks under linear scaling."""
        return self.lr * self.scale_ranks if self.scale_lr == "linear" else self.lr

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "config") -> RunConfig:
        """A config from plain values (a parsed file, flags); unknown keys get close names."""
        names = [field.name for field in dataclasses.fields(cls)]
        clean = {}
        for key, value in values.items():
            name = str(key).replace("-", "_")
            if name not in names:
                raise _in(source, unknown_name("setting", key, names))
            clean[name] = value
        try:
            return cls(**clean)
        except ValueError as error:
            raise _in(source, error) from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike, **overrides: Any) -> RunConfig:
        """Read a TOML file; `overrides` (flags, None meaning unset) win over it."""
        path = os.fspath(path)
        try:
            with open(path, "rb") as file:
                values = tomllib.load(file)
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from None
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(values, source=path)

    def replace(self, **overrides: Any) -> RunConfig:
        """A copy with the non-None `overrides` applied (and checked)."""
        values = dataclasses.asdict(self)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return type(self).from_mapping(values, source="flags")

    def applied(self) -> dict[str, Any]:
        """The settings this run used: no momentum for adam, no gamma without a step or
        exponential schedule, no step_size without a step schedule, nothing left unset."""
        unused = set()
        if self.optimizer not in ("sgd", "rmsprop"):
            unused.add("momentum")
        if self.optimizer != "sgd":
            unused.add("nesterov")
        if self.schedule not in ("step", "exponential"):
            unused.add("gamma")
        if self.schedule != "step":
            unused.add("step_size")
        if self.scale_lr != "linear":
            unused |= {"scale_lr", "warmup_epochs", "scale_ranks"}
        return {k: v for k, v in dataclasses.asdict(self).items()
                if v is not None and k not in unused}  # fmt: skip

    def optimizer_summary(self) -> str:
        """Every optimizer setting in words, e.g. 'sgd lr 0.05, momentum 0.9, nesterov off,
        weight decay 0, constant schedule'."""
        used = self.applied()
        parts = [f"{self.optimizer} lr {self.lr:g}"]
        if self.scale_lr == "linear":
            parts[0] += (f" x {self.scale_ranks} ranks = {self.scaled_lr:g} (linear scaling, "
                         f"warm-up {self.warmup_epochs} epochs)")  # fmt: skip
        if "momentum" in used:
            parts.append(f"momentum {self.momentum:g}")
        if "nesterov" in used:
            parts.append(f"nesterov {'on' if self.nesterov else 'off'}")
        parts.append(f"weight decay {self.weight_decay:g}")
        schedule = f"{self.schedule} schedule"
        if self.schedule == "step":
            schedule += f" (x{self.gamma:g} every {self.step_size} epochs)"
        elif self.schedule == "exponential":
            schedule += f" (x{self.gamma:g} each epoch)"
        parts.append(schedule)
        if self.clip_grad_norm:
            parts.append(f"gradients clipped to norm {self.clip_grad_norm:g}")
        return ", ".join(parts)

    def to_toml(self, keys: tuple[str, ...] | None = None) -> str:
        """The resolved config as TOML (unset fields left out, or only `keys`); `from_toml`
        reads it."""
        values = {k: v for k, v in dataclasses.asdict(self).items()
                  if v is not None and (keys is None or k in keys)}  # fmt: skip
        return tomli_w.dumps(values)


def _in(source: str, error: Exception) -> ValueError:
    message = str(error)
    if message.startswith("config: "):
        message = message[len("config: ") :]
    return ValueError(f"{source}: {message}")


def _check_type(name: str, value: Any, annotation: str) -> None:
    """Check a value against its field's annotation, which is a string (future annotations)."""
    allowed = {"str": str, "int": int, "float": (int, float), "bool": bool, "dict": dict,
               "None": type(None)}  # fmt: skip
    kinds = [allowed[part.strip()] for part in annotation.split("|")]
    flat = tuple(t for kind in kinds for t in (kind if isinstance(kind, tuple) else (kind,)))
    if isinstance(value, bool) and bool not in flat:
        ok = False  # True is an int to Python, never a number to a config
    else:
        ok = isinstance(value, flat)
    if not ok:
        parts = (part.strip().replace("dict", "table") for part in annotation.split("|"))
        wanted = " or ".join(parts)
        raise ValueError(f"config: {name}={value!r} must be {wanted}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"config: {name}={value!r} must be a finite number")


def _canonical_model(model: str | dict) -> str:
    """Specs in either form become the grammar string, so a saved config reads the same."""
    return format_model(parse_model(model))


def _choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise unknown_name(name, value, choices)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"config: {name}={value} must be > 0")


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ValueError(f"config: {name}={value} must be >= {low}")


def _between(name, value, low, high, high_open=False, low_open=False) -> None:
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"config: {name}={value} must lie in {left}{low}, {high}{right}")
