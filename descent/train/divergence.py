"""`divergence`: the one test of whether a loss has diverged, and why.

A diverging run announces itself by a loss that is NaN, infinite, or far above
where it was; whoever watches the loss (the divergence guard, the lab's comparison
and its learning-rate range test) asks this one function, with its own reference
(the first loss, the best smoothed loss) and its own factor.
"""

from __future__ import annotations

import math

from descent.text import format_number

FLOOR = 1e-12
"""The smallest reference magnitude: a run that starts at (or reaches) a loss of zero
is measured against this, so the bound stays a bound."""


def divergence(
    loss: float, reference: float, factor: float, reference_name: str = "the reference"
) -> str | None:
    """Why `loss` counts as diverged, or None if it does not.

    It diverged when it is NaN, infinite, or larger in magnitude than `factor` times the
    magnitude of `reference` (an infinite reference bounds nothing). The reason reads
    "NaN", "Inf" or "<loss>, over <factor> x <reference_name> <reference>".
    """
    if math.isnan(loss):
        return "NaN"
    if math.isinf(loss):
        return "Inf"
    if abs(loss) > factor * max(abs(reference), FLOOR):
        return (
            f"{format_number(float(loss))}, over {factor:g} x {reference_name} "
            f"{format_number(float(reference))}"
        )
    return None
