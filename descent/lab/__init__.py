"""Experiments that make training dynamics visible, and the figures and pages that show them.

The experiments return data (plain objects with `to_dict`), never a plot:

- `compare`: batch, stochastic and mini-batch descent, optimizers and learning rates
  on an equal budget, a `Comparison` (curves, table, sentences); its data types are
  in `comparison`, its table rows in `summary`, its reading of the curves
  (`lr_label`, `sentences`) in `verdicts`.
- `LayerDiagnostics`: a callback recording dead ReLUs, gradient norms and update
  ratios per layer and epoch.
- `lr_find`: the learning-rate range test (Smith 2017), an `LRFindResult`.
- `sharpness`: the top eigenvalue of the loss's Hessian, by power iteration, and
  `SharpnessTracker`, the callback that measures it during `fit` (compare's too).
- `landscape`: the loss along a line between two sets of weights and on a 2-D slice
  (filter-normalized random or a trajectory's principal directions, Li et al. 2018),
  and `TrajectoryRecorder`, the callback recording a run's path to project on it.
- `gradient_cosine`: how far mini-batch gradients point from the full-batch one
  (`gradients` also holds `flat_grad`, the gradient as one float64 vector).

Showing them is apart: `plots` draws matplotlib figures from that data and `report`
writes it, with the figures, as an HTML page.
"""

from descent.lab.compare import compare
from descent.lab.comparison import (
    Arm,
    ArmResult,
    Band,
    Budget,
    Comparison,
    Trace,
    default_arms,
    grid,
)
from descent.lab.diagnostics import LayerDiagnostics, dead_relu_fraction
from descent.lab.gradients import gradient_cosine
from descent.lab.landscape import (
    LossLine,
    LossSurface,
    TrajectoryRecorder,
    filter_normalized_direction,
    loss_along_line,
    loss_surface,
)
from descent.lab.lr_find import LRFindResult, lr_find
from descent.lab.sharpness import sharpness
from descent.lab.verdicts import lr_label, sentences

__all__ = [
    "Arm",
    "ArmResult",
    "Band",
    "Budget",
    "Comparison",
    "LRFindResult",
    "LayerDiagnostics",
    "LossLine",
    "LossSurface",
    "Trace",
    "TrajectoryRecorder",
    "compare",
    "dead_relu_fraction",
    "default_arms",
    "filter_normalized_direction",
    "gradient_cosine",
    "grid",
    "lr_find",
    "loss_along_line",
    "loss_surface",
    "lr_label",
    "sentences",
    "sharpness",
]
