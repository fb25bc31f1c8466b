"""Neural-network building blocks with PyTorch's names: modules, layers, losses, init."""

from descent.nn import functional, init, models
from descent.nn.containers import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from descent.nn.conv import AvgPool2d, Conv2d, MaxPool2d
from descent.nn.layers import (
    GELU,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    Unflatten,
)
from descent.nn.loss import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from descent.nn.module import Module
from descent.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from descent.nn.parameter import Parameter

__all__ = [
    "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss",
    "Dropout", "Embedding", "Flatten", "GELU", "HuberLoss", "Identity", "L1Loss", "LayerNorm",
    "LeakyReLU", "Linear", "MSELoss", "MaxPool2d", "Module", "ModuleDict", "ModuleList",
    "NLLLoss", "Parameter", "ParameterDict", "ParameterList", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "Tanh", "Unflatten", "functional", "init", "models",
]  # fmt: skip
