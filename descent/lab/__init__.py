"""Experiments that make training dynamics visible; each returns data, never a plot.

- `lr_find`: the learning-rate range test (Smith 2017), an `LRFindResult`.
- `sharpness`: the top eigenvalue of the loss's Hessian, by power iteration.
"""

from descent.lab.lr_find import LRFindResult, lr_find
from descent.lab.sharpness import sharpness

__all__ = ["LRFindResult", "lr_find", "sharpness"]
