"""Optimizers, learning-rate schedulers and gradient clipping, with PyTorch's names and numbers."""

from descent.nn.utils import clip_grad_norm_, clip_grad_value_
from descent.optim import lr_scheduler, schedules
from descent.optim.adadelta import Adadelta
from descent.optim.adagrad import Adagrad
from descent.optim.adam import Adam, AdamW
from descent.optim.adamax import Adamax
from descent.optim.nadam import NAdam
from descent.optim.optimizer import Optimizer
from descent.optim.radam import RAdam
from descent.optim.rmsprop import RMSprop
from descent.optim.sgd import SGD

BY_NAME = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adamax": Adamax,
    "nadam": NAdam,
    "radam": RAdam,
}
"""The optimizers by the lower-case names that configs, the CLI and the lab use."""

__all__ = [
    "BY_NAME",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "lr_scheduler",
    "schedules",
]
