"""Training: `fit`, `evaluate`, the `History`, metrics and callbacks."""

from descent.train import metrics
from descent.train.callbacks import (
    Callback,
    EarlyStopping,
    EpochTable,
    ProgressBar,
    SchedulerStep,
)
from descent.train.checkpoints import ModelCheckpoint
from descent.train.guard import DivergenceGuard, TrainingDiverged
from descent.train.history import History
from descent.train.loggers import CSVLogger, JSONLogger
from descent.train.loop import evaluate, fit, resume
from descent.train.state import TrainingState, preserved

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
    "SchedulerStep",
    "TrainingDiverged",
    "TrainingState",
    "evaluate",
    "fit",
    "metrics",
    "preserved",
    "resume",
]
