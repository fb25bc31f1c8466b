"""Training: `fit`, `evaluate`, the `History`, metrics and callbacks."""

from descent.train import metrics
from descent.train.callbacks import (
    Callback,
    CSVLogger,
    DivergenceGuard,
    EarlyStopping,
    EpochTable,
    JSONLogger,
    ModelCheckpoint,
    ProgressBar,
    TrainingDiverged,
)
from descent.train.history import History
from descent.train.loop import evaluate, fit, resume, steps_per_batch

__all__ = [
    "CSVLogger",
    "Callback",
    "DivergenceGuard",
    "EarlyStopping",
    "EpochTable",
    "History",
    "JSONLogger",
    "ModelCheckpoint",
    "ProgressBar",
    "TrainingDiverged",
    "evaluate",
    "fit",
    "metrics",
    "resume",
    "steps_per_batch",
]
