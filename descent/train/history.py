"""`History`: what `fit` records, per step and per epoch, JSON-safe through `to_dict()`."""

from __future__ import annotations

from typing import Any

from descent.files import json_safe


class History:
    """A training run's record.

    Attributes:
        step_loss, step_lr: one entry per optimizer update (lr of the first param group).
        metrics: per epoch, 'loss' and each metric, with 'val_' versions when validating,
            and 'lr' (the first group's lr during the epoch): {name: [value per epoch]}.
        epoch_time: wall seconds per epoch (validation included).
        samples: samples seen by the end of each epoch; `samples_seen` is the total.
        events: notable happenings, e.g. a divergence guard's roll-backs, as dicts.
    """

    def __init__(self) -> None:
        self.step_loss: list[float] = []
        self.step_lr: list[float] = []
        self.metrics: dict[str, list[float]] = {}
        self.epoch_time: list[float] = []
        self.samples: list[int] = []
        self.samples_seen = 0
        self.events: list[dict] = []

    @property
    def epochs(self) -> int:
        return len(self.epoch_time)

    @property
    def steps(self) -> int:
        return len(self.step_loss)

    def __getitem__(self, key: str) -> list[float]:
        return self.metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self.metrics

    def record_step(self, loss: float, lr: float, samples: int) -> None:
        self.step_loss.append(loss)
        self.step_lr.append(lr)
        self.samples_seen += samples

    def record_epoch(self, logs: dict[str, float], seconds: float) -> None:
        for key, value in logs.items():
            self.metrics.setdefault(key, []).append(float(value))
        self.epoch_time.append(float(seconds))
        self.samples.append(self.samples_seen)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, dicts, numbers and None (for NaN/Inf): `json.dumps` takes it."""
        return json_safe(
            {
                "step_loss": self.step_loss,
                "step_lr": self.step_lr,
                "metrics": self.metrics,
                "epoch_time": self.epoch_time,
                "samples": self.samples,
                "samples_seen": self.samples_seen,
                "events": self.events,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The inverse of `to_dict` (None stays None where a NaN or Inf was)."""
        unknown = sorted(set(data) - set(cls().to_dict()))
        if unknown:
            raise KeyError(f"History.from_dict: unknown key {unknown[0]!r}")
        history = cls()
        history.step_loss = list(data.get("step_loss", []))
        history.step_lr = list(data.get("step_lr", []))
        history.metrics = {k: list(v) for k, v in data.get("metrics", {}).items()}
        history.epoch_time = list(data.get("epoch_time", []))
        history.samples = list(data.get("samples", []))
        history.samples_seen = int(data.get("samples_seen", 0))
        history.events = list(data.get("events", []))
        return history

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.metrics.items() if v and v[-1] is not None}
        return f"History({self.epochs} epochs, {self.steps} steps, last {last})"
