"""`descent compare`'s arms and budget, read from its flags: clear usage errors for bad items."""

from __future__ import annotations

import math

import click


def batch_size(text: str) -> int | str:
    """A batch size: a whole number >= 1, or 'full' (batch descent)."""
    text = text.strip()
    if text == "full":
        return text
    size = int(text)
    if size < 1:
        raise ValueError
    return size


def split_list(value: str | None, convert, what: str) -> list | None:
    """A comma-separated flag value as a list; a clear usage error for a bad item."""
    if value is None:
        return None
    try:
        items = [convert(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: each item must be {what}") from None
    if not items:
        raise click.BadParameter(f"{value!r} is an empty list; give at least one, {what}")
    return items


def from_flags(arm_specs, batch_sizes, optimizers, lrs, options: dict):
    """The arms of a comparison: --arm specs, a grid from the list flags, or the defaults."""
    from descent.lab import Arm, default_arms, grid

    sizes = split_list(batch_sizes, batch_size, "a whole number >= 1 or 'full'")
    names = split_list(optimizers, str.strip, "an optimizer name")
    rates = split_list(lrs, float, "a number")
    arms = []
    for spec in arm_specs:
        parts = spec.split(":")
        if len(parts) != 3:
            raise click.BadParameter(f"{spec!r}: write an arm as BATCH:OPTIMIZER:LR, e.g. "
                                     "32:sgd:0.1 or full:adam:0.01")  # fmt: skip
        size = split_list(parts[0], batch_size, "a whole number >= 1 or 'full'")[0]
        rate = split_list(parts[2], float, "a number")[0]
        arms.append(Arm(size, parts[1], rate, options if parts[1] == "sgd" else {}))
    if sizes or names or rates:
        for arm in grid(sizes or ["full", 1, 32], names or ["sgd"], rates or [0.1]):
            arms.append(Arm(arm.batch_size, arm.optimizer, arm.lr,
                            options if arm.optimizer == "sgd" else {}))  # fmt: skip
    if not arms:
        arms = [Arm(arm.batch_size, arm.optimizer, arm.lr, options) for arm in default_arms()]
    return arms


def budget(text: str):
    """A `descent.lab.Budget` from KIND=AMOUNT."""
    from descent.lab import Budget

    kind, _, amount = text.partition("=")
    try:
        value = float(amount)
    except ValueError:
        raise click.BadParameter(f"{text!r}: write KIND=AMOUNT, e.g. epochs=10, samples=20000, "
                                 "updates=500 or seconds=5") from None  # fmt: skip
    return Budget(kind.strip(), int(value) if value.is_integer() else value)


def positive(value: float | None) -> float | None:
    """`value` if it is None or a finite number > 0, else a usage error."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} must be a finite number > 0")
    return value
