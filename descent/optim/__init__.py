"""Optimizers, learning-rate schedulers and gradient clipping, with PyTorch's names and numbers."""

from typing import Any

from descent.errors import unknown_name
from descent.nn.utils import clip_grad_norm_, clip_grad_value_
from descent.optim import lr_scheduler, lr_schedules
from descent.optim.adadelta import Adadelta
from descent.optim.adagrad import Adagrad
from descent.optim.adam import Adam, AdamW
from descent.optim.adamax import Adamax
from descent.optim.nadam import NAdam
from descent.optim.optimizer import Optimizer
from descent.optim.radam import RAdam
from descent.optim.rmsprop import RMSprop
from descent.optim.sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
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
"""The optimizers by their torch class names in lower case: the one table that configs,
the command line, the lab and the estimators read."""


def create(name: str, params, **options: Any) -> Optimizer:
    """The optimizer called `name` (a key of OPTIMIZERS) over `params`, with `options`.

    An unknown name is a ValueError that names it and the close matches; an unknown
    option is the optimizer's own TypeError, as for a direct call.
    """
    kind = OPTIMIZERS.get(name)
    if kind is None:
        raise unknown_name("optimizer", name, OPTIMIZERS)
    return kind(params, **options)


__all__ = [
    "OPTIMIZERS",
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
    "create",
    "lr_scheduler",
    "lr_schedules",
]
