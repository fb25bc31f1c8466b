"""The networks the benchmarks train, built from any `nn` (descent.nn or torch.nn).

This module imports neither library, so that footprint's child processes, which time one
library's import alone, build the same networks as the rows timed in one process.
"""

from __future__ import annotations

import itertools

MLP_SIZES = (784, 256, 256, 10)


def mlp(nn, sizes=MLP_SIZES):
    """An MLP of these layer sizes: Linear and ReLU."""
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def lenet(nn):
    """LeNet-5 for 28x28 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip
