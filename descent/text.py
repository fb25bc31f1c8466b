"""`format_number`: how every number descent prints or reports is written."""

from __future__ import annotations

import math
from typing import Any


def format_number(value: Any, digits: int = 4) -> str:
    """Numbers to `digits` significant digits, None, NaN and Inf as a dash, lists joined."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_number(v, digits) for v in value)
    return str(value)
