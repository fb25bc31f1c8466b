"""Figures of a `Comparison` (from its `to_dict()`): arms side by side on an equal budget.

Each curve is the mean across seeds with a band from the lowest to the highest seed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from descent.lab.plots import DPI, SIZE, as_floats, fixed_layout, log_scale_if_wide

AXES = (("epochs", "epochs"), ("samples", "samples seen"), ("updates", "updates (weight steps)"),
        ("seconds", "training seconds"))  # fmt: skip


def _band(ax, x, band: dict, label: str, color) -> None:
    ax.plot(x, as_floats(band["mean"]), label=label, color=color, linewidth=1.4)
    ax.fill_between(x, as_floats(band["low"]), as_floats(band["high"]), color=color, alpha=0.2,
                    linewidth=0)  # fmt: skip


def _colors(count: int):
    return [f"C{i % 10}" for i in range(count)]


def loss_by_axis(comparison: dict, key: str = "loss") -> Figure:
    """The training (or `key`) loss of every arm against epochs, samples, updates and time."""
    arms = comparison["arms"]
    figure = Figure(figsize=(SIZE[0] * 1.9, SIZE[1] * 2.0), dpi=DPI)
    for i, (axis, label) in enumerate(AXES):
        ax = figure.add_subplot(2, 2, i + 1)
        for arm, color in zip(arms, _colors(len(arms))):
            _band(ax, as_floats(arm["curves"][axis]["mean"]), arm["curves"][key], arm["label"],
                  color)  # fmt: skip
        if axis == "updates":
            ax.set_xscale("symlog", linthresh=1)
        log_scale_if_wide(ax, *(arm["curves"][key]["mean"] for arm in arms))
        ax.set(xlabel=label, ylabel=f"training {key}" if key == "loss" else key)
        ax.grid(alpha=0.3)
    figure.axes[0].legend(fontsize="small")
    figure.suptitle(f"{key} against four clocks (mean and range over seeds)")
    figure.tight_layout()  # two rows and a suptitle: beyond `fixed_layout`
    return figure


def validation(comparison: dict) -> Figure | None:
    """Validation loss and accuracy per epoch of every arm; None without validation data."""
    arms = comparison["arms"]
    keys = [k for k in ("val_loss", "val_accuracy") if k in arms[0]["curves"]]
    if not keys:
        return None
    figure = Figure(figsize=(SIZE[0] * len(keys) / 1.3, SIZE[1]), dpi=DPI)
    for i, key in enumerate(keys):
        ax = figure.add_subplot(1, len(keys), i + 1)
        for arm, color in zip(arms, _colors(len(arms))):
            _band(ax, as_floats(arm["curves"]["epochs"]["mean"]), arm["curves"][key],
                  arm["label"], color)  # fmt: skip
        ax.set(xlabel="epochs", ylabel=key.replace("_", " "))
        ax.grid(alpha=0.3)
    figure.axes[0].legend(fontsize="small")
    fixed_layout(figure)
    return figure


def update_noise(comparison: dict) -> Figure:
    """Each arm's mini-batch loss at every update of its first seed, against epochs.

    This is what the textbooks draw: one smooth curve for batch descent, a noisy band
    for stochastic descent, mini-batch in between.
    """
    arms = comparison["arms"]
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    # the noisiest (most updates) first, so that the smoother curves stay visible on top
    order = sorted(range(len(arms)), key=lambda i: -arms[i]["updates_per_epoch"])
    for rank, i in enumerate(order):
        arm = arms[i]
        losses = as_floats(arm["traces"][0]["step_loss"])
        epochs = np.arange(1, len(losses) + 1) / arm["updates_per_epoch"]
        ax.plot(epochs, losses, color=f"C{i % 10}", linewidth=0.5 + rank * 0.6, alpha=0.7,
                label=arm["label"])  # fmt: skip
    log_scale_if_wide(ax, *(arm["traces"][0]["step_loss"] for arm in arms))
    ax.set(xlabel="epochs", ylabel="mini-batch loss", title="the loss of every update (seed 1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fixed_layout(figure)
    return figure


def sharpness(comparison: dict) -> Figure | None:
    """Each arm's sharpness against epochs, with its stability limit; None when not tracked."""
    arms = [arm for arm in comparison["arms"] if "sharpness" in arm["curves"]]
    if not arms:
        return None
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    for arm, color in zip(arms, _colors(len(arms))):
        _band(ax, as_floats(arm["curves"]["sharpness_epochs"]["mean"]), arm["curves"]["sharpness"],
              arm["label"], color)  # fmt: skip
        edge = arm["row"].get("edge_of_stability")
        if edge is not None:
            ax.axhline(edge, color=color, linestyle="--", linewidth=1)
    ax.set(xlabel="epochs", ylabel="top Hessian eigenvalue",
           title="sharpness; dashed: each arm's stability limit")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fixed_layout(figure)
    return figure


def landscape(comparison: dict) -> Figure | None:
    """The training loss along the line from the shared initial weights (t = 0) to each
    arm's final weights (t = 1), first seed: a narrow valley around t = 1 is a sharp
    minimum, a wide one a flat minimum. None when no arm has one (all diverged)."""
    lines = [(arm["label"], arm["traces"][0].get("landscape")) for arm in comparison["arms"]]
    lines = [(label, line) for label, line in lines if line is not None]
    if not lines:
        return None
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    for (label, line), color in zip(lines, _colors(len(lines))):
        ax.plot(line["t"], as_floats(line["loss"]), label=label, color=color, linewidth=1.4)
    for end in (0, 1):
        ax.axvline(end, color="gray", linestyle=":", linewidth=1)
    log_scale_if_wide(ax, *(line["loss"] for _, line in lines))
    ax.set(xlabel="t (weights (1 - t) initial + t final)", ylabel="training loss",
           title="loss landscape: initial to each arm's final weights")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fixed_layout(figure)
    return figure


def figures(comparison: dict) -> dict[str, Figure]:
    """Every figure of a comparison that has data, by file stem."""
    drawn = {"compare_loss": loss_by_axis(comparison),
             "compare_validation": validation(comparison),
             "compare_update_noise": update_noise(comparison),
             "compare_sharpness": sharpness(comparison),
             "compare_landscape": landscape(comparison)}  # fmt: skip
    return {stem: figure for stem, figure in drawn.items() if figure is not None}
