"""Experiments that make training dynamics visible; each returns data, never a plot.

- `compare`: batch, stochastic and mini-batch descent, optimizers and learning rates
  on an equal budget, a `Comparison` (curves, table, sentences).
- `LayerDiagnostics`: a callback recording dead ReLUs, gradient norms and update
  ratios per layer and epoch.
- `lr_find`: the learning-rate range test (Smith 2017), an `LRFindResult`.
- `sharpness`: the top eigenvalue of the loss's Hessian, by power iteration.
"""

from descent.lab.compare import (
    Arm,
    ArmResult,
    Band,
    Budget,
    Comparison,
    Trace,
    compare,
    default_arms,
    gradient_cosine,
    grid,
    lr_label,
    sentences,
)
from descent.lab.diagnostics import LayerDiagnostics, dead_relu_fraction
from descent.lab.lr_find import LRFindResult, lr_find
from descent.lab.sharpness import sharpness

__all__ = [
    "Arm",
    "ArmResult",
    "Band",
    "Budget",
    "Comparison",
    "LRFindResult",
    "LayerDiagnostics",
    "Trace",
    "compare",
    "dead_relu_fraction",
    "default_arms",
    "gradient_cosine",
    "grid",
    "lr_find",
    "lr_label",
    "sentences",
    "sharpness",
]
