"""Figures of a training run, drawn from `History.to_dict()` with matplotlib.

Each function returns a `matplotlib.figure.Figure` (no pyplot, so no global state and no
display needed); `png_bytes` draws one with Agg and `save` writes it. Tests read the
plotted data back from the axes.
"""

from __future__ import annotations

import io
import itertools
import os
import re

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.ticker import LogFormatterSciNotation
from matplotlib.transforms import Bbox

from descent.files import write_atomic

SIZE = (6.4, 3.6)
DPI = 100
MARGINS = {"left": 0.8, "right": 0.15, "bottom": 0.6, "top": 0.36, "top_untitled": 0.15}
"""Inches around a row of panels: room for an axis label and tick labels of about six
characters, and for a title on top if a panel has one. Fixed, because measuring the labels
first (`tight_layout`) costs about as much as drawing the figure; `png_bytes` falls back to
it when a label would not fit."""


def fixed_layout(figure: Figure, gap: float = 0.85) -> None:
    """Lay out a row of panels with `MARGINS` and `gap` inches between panels (room for
    the next panel's y label and tick labels; 0.6 suits panels without a y label), each
    title right above its panel: matplotlib's own title placement would measure every y
    axis once more to see whether a label above the panel is in its way."""
    width, height = figure.get_size_inches()
    panels = len(figure.axes)
    panel_width = (width - MARGINS["left"] - MARGINS["right"] - gap * (panels - 1)) / panels
    titled = any(ax.get_title() for ax in figure.axes)
    top = MARGINS["top"] if titled else MARGINS["top_untitled"]
    figure.subplots_adjust(left=MARGINS["left"] / width, right=1 - MARGINS["right"] / width,
                           bottom=MARGINS["bottom"] / height, top=1 - top / height,
                           wspace=gap / panel_width)  # fmt: skip
    for ax in figure.axes:
        if ax.get_title():
            ax.set_title(ax.get_title(), y=1.0)


def as_floats(series) -> np.ndarray:
    """A list with None where JSON held NaN or Inf, as floats with NaN (matplotlib skips NaN)."""
    return np.array([np.nan if v is None else v for v in series], dtype=float)


def log_scale_if_wide(ax, *series) -> None:
    values = np.concatenate([as_floats(s) for s in series]) if series else np.array([])
    finite = values[np.isfinite(values)]
    if finite.size and (finite > 0).all() and finite.max() / finite.min() > 20:
        log_scale(ax)


def log_scale(ax, axis: str = "y") -> None:
    """A log scale on the axes' `axis` ("x" or "y"), its ticks labelled by `LogTickLabels`."""
    ax.set(**{f"{axis}scale": "log"})
    ticks = ax.xaxis if axis == "x" else ax.yaxis
    ticks.set_major_formatter(LogTickLabels())
    ticks.set_minor_formatter(LogTickLabels(labelOnlyBase=False))


class LogTickLabels(LogFormatterSciNotation):
    """matplotlib's log-axis tick labels (10⁻², 2×10⁻¹, the same ticks labelled) as plain
    text with Unicode superscripts: its mathtext parser took a fifth of the time of drawing
    a run's figures."""

    def __call__(self, x, pos=None) -> str:
        return plain_math(super().__call__(x, pos))


MATHDEFAULT = re.compile(r"\$\\mathdefault\{(.*)\}\$")
EXPONENT = re.compile(r"\^\{(-?[0-9]+)\}")
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain_math(label: str) -> str:
    """A mathtext tick label as plain text: `$\\mathdefault{2\\times10^{-1}}$` as 2×10⁻¹."""
    match = MATHDEFAULT.fullmatch(label)
    if match is None:
        return label
    text = EXPONENT.sub(lambda power: power.group(1).translate(SUPERSCRIPTS), match.group(1))
    return text.replace("\\times", "×").replace("-", "−")  # a minus sign, as mathtext draws


def epoch_curves(history: dict) -> Figure:
    """Loss and the first other metric per epoch, training and validation side by side."""
    metrics = history["metrics"]
    names = [k for k in metrics if not k.startswith("val_") and k not in ("loss", "lr")]
    panels = ["loss", *names[:1]]
    figure = Figure(figsize=(SIZE[0] * len(panels) / 1.4, SIZE[1]), dpi=DPI)
    for i, name in enumerate(panels):
        ax = figure.add_subplot(1, len(panels), i + 1)
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in metrics:
                epochs = np.arange(1, len(metrics[key]) + 1)
                ax.plot(epochs, as_floats(metrics[key]), marker="o", markersize=3, label=label)
        if name == "loss":
            log_scale_if_wide(ax, *(metrics[k] for k in (name, f"val_{name}") if k in metrics))
        ax.set(xlabel="epoch", ylabel=name, title=f"{name} per epoch")
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
    fixed_layout(figure)
    return figure


def step_loss(history: dict, window: int = 50) -> Figure:
    """The loss of every update, with a moving average over `window` updates."""
    loss = as_floats(history["step_loss"])
    steps = np.arange(1, len(loss) + 1)
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    ax.plot(steps, loss, linewidth=0.6, alpha=0.5, label="loss per update")
    if len(loss) >= 2 * window:
        kernel = np.ones(window) / window
        ax.plot(steps[window - 1 :], np.convolve(loss, kernel, mode="valid"),
                linewidth=1.5, label=f"mean of {window}")  # fmt: skip
    log_scale_if_wide(ax, history["step_loss"])
    ax.set(xlabel="update", ylabel="loss", title="loss per update")
    if len(loss):
        ax.legend()
    ax.grid(alpha=0.3)
    fixed_layout(figure)
    return figure


def learning_rate(history: dict) -> Figure:
    """The learning rate of every update (the first parameter group's)."""
    lr = as_floats(history["step_lr"])
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    ax.plot(np.arange(1, len(lr) + 1), lr)
    if np.isfinite(lr).any():
        ax.set_ylim(0, np.nanmax(lr) * 1.15)
    ax.set(xlabel="update", ylabel="learning rate", title="learning rate schedule")
    ax.grid(alpha=0.3)
    fixed_layout(figure)
    return figure


def layer_diagnostics(diagnostics: dict) -> Figure:
    """Per layer and epoch: gradient norm, update-to-weight ratio, and the dead-ReLU fraction.

    A ratio near 1e-3 is the usual rule of thumb for a healthy rate (Karpathy); far below,
    a layer barely learns; far above, it is overwritten each step. A dead ReLU outputs 0
    for every probe sample, so no gradient reaches its weights again.
    """
    panels = [("grad_norm", "gradient norm"), ("update_ratio", "update / weight")]
    if diagnostics["dead_relu"]:
        panels.append(("dead_relu", "dead ReLU fraction"))
    figure = Figure(figsize=(SIZE[0] * len(panels) / 1.3, SIZE[1] * 1.1), dpi=DPI)
    for i, (key, title) in enumerate(panels):
        ax = figure.add_subplot(1, len(panels), i + 1)
        for layer, series in diagnostics[key].items():
            ax.plot(np.arange(1, len(series) + 1), as_floats(series), marker=".",
                    label=f"layer {layer}")  # fmt: skip
        if key == "update_ratio":
            ax.axhline(1e-3, color="gray", linestyle="--", linewidth=1, label="1e-3")
        if key == "dead_relu":
            ax.set_ylim(-0.02, 1.02)
        else:
            log_scale_if_wide(ax, *diagnostics[key].values())
        ax.set(xlabel="epoch", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fixed_layout(figure, gap=0.6)  # no y labels
    return figure


def lr_find_curve(result: dict) -> Figure:
    """The range test: loss against a log learning rate, with the suggestion marked."""
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    ax.plot(result["lrs"], as_floats(result["losses"]), linewidth=0.7, alpha=0.5, label="loss")
    ax.plot(result["lrs"], as_floats(result["smoothed_losses"]), linewidth=1.6, label="smoothed")
    if result["suggested_lr"] is not None:
        ax.axvline(result["suggested_lr"], color="green", linestyle="--",
                   label=f"suggested {result['suggested_lr']:.3g}")  # fmt: skip
    if result["diverged_at"] is not None:
        ax.axvline(result["diverged_at"], color="red", linestyle=":",
                   label=f"diverged {result['diverged_at']:.3g}")  # fmt: skip
    smoothed = as_floats(result["smoothed_losses"])
    if np.isfinite(smoothed).any():
        raw = as_floats(result["losses"])
        low = min(np.nanmin(smoothed), np.nanmin(np.where(np.isfinite(raw), raw, np.nan)))
        high = np.nanmax(smoothed[: max(3, len(smoothed) // 3)])
        ax.set_ylim(low - 0.05 * abs(low), max(high, low) * 1.5 + 1e-12)
    log_scale(ax, "x")
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss",
           title="learning-rate range test")  # fmt: skip
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fixed_layout(figure)
    return figure


def sharpness_curve(tracked: dict) -> Figure:
    """The Hessian's top eigenvalue during training against the optimizer's stability limit
    (2/lr for plain SGD, (2 + 2 momentum)/lr with heavy ball; records from before the limit
    was recorded fall back to 2/lr; none is drawn for adaptive optimizers)."""
    records = tracked["records"]
    epochs = [r["epoch"] for r in records]
    limits = [r.get("edge_of_stability", r["two_over_lr"]) for r in records]
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    ax.plot(epochs, as_floats([r["sharpness"] for r in records]), marker="o", markersize=3,
            label="sharpness (top Hessian eigenvalue)")  # fmt: skip
    ax.step(epochs, as_floats(limits), where="post", color="gray", linestyle="--",
            label="stability limit")  # fmt: skip
    log_scale_if_wide(ax, [r["sharpness"] for r in records], limits)
    ax.set(xlabel="epoch", ylabel="eigenvalue", title="sharpness against the stability limit")
    ax.legend()
    ax.grid(alpha=0.3)
    fixed_layout(figure)
    return figure


def loss_line(result: dict) -> Figure:
    """The loss along the line between two sets of weights (`LossLine.to_dict()`), the
    ends t = 0 and t = 1 marked."""
    figure = Figure(figsize=SIZE, dpi=DPI)
    ax = figure.add_subplot()
    ax.plot(result["t"], as_floats(result["loss"]), marker="o", markersize=3)
    for end in (0, 1):
        ax.axvline(end, color="gray", linestyle=":")
    log_scale_if_wide(ax, result["loss"])
    ax.set(xlabel=f"t (weights (1 - t) start + t end; |end - start| = {result['distance']:.3g})",
           ylabel="training loss", title="loss along a line")  # fmt: skip
    ax.grid(alpha=0.3)
    fixed_layout(figure)
    return figure


def loss_contour(result: dict) -> Figure:
    """The loss on a 2-D slice (`LossSurface.to_dict()`) as contours of log10 loss, with the
    projected trajectory drawn on it when there is one."""
    loss = np.array(as_floats(np.ravel(result["loss"]))).reshape(len(result["beta"]), -1)
    figure = Figure(figsize=(SIZE[0], SIZE[0] * 0.8), dpi=DPI)
    ax = figure.add_subplot()
    positive = loss[np.isfinite(loss) & (loss > 0)]
    floor = positive.min() if positive.size else 1.0
    levels = ax.contour(result["alpha"], result["beta"], np.log10(np.maximum(loss, floor)), 20)
    figure.colorbar(levels, ax=ax, label="log10 training loss")
    if result["path"] is not None:
        path = np.asarray(result["path"], dtype=float)
        ax.plot(path[:, 0], path[:, 1], color="red", marker="o", markersize=2, label="trajectory")
        ax.legend()
    names = {"pca": "principal direction", "random": "filter-normalized direction"}
    axis = names.get(result["directions"], "direction")
    share = [f" ({100 * s:.0f}%)" if s is not None else "" for s in result["explained"]]
    ax.set(xlabel=f"{axis} 1{share[0]}", ylabel=f"{axis} 2{share[1]}",
           title="loss on a 2-D slice")  # fmt: skip
    figure.tight_layout()
    return figure


def run_figures(history: dict) -> dict[str, Figure]:
    """The standard figures of a training run, by file stem."""
    return {
        "epochs": epoch_curves(history),
        "loss_per_step": step_loss(history),
        "learning_rate": learning_rate(history),
    }


def save(figure: Figure, path: str | os.PathLike) -> bytes:
    """Write the figure as a PNG file; returns its bytes, to embed them without drawing
    the figure twice."""
    png = png_bytes(figure)
    write_atomic(path, png)
    return png


def png_bytes(figure: Figure) -> bytes:
    """The figure drawn once with Agg, as PNG; laid out again with `tight_layout` and
    redrawn only where a label sticks out of the figure or into another panel."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    if not labels_fit(figure, canvas.get_renderer()):
        figure.tight_layout()
        canvas.draw()
    buffer = io.BytesIO()
    imsave(buffer, canvas.buffer_rgba(), format="png", origin="upper", dpi=figure.dpi)
    return buffer.getvalue()


def labels_fit(figure: Figure, renderer) -> bool:
    """Whether every panel, with its title, labels and tick labels, lies inside the figure
    and clear of the other panels, as last drawn."""
    boxes = [drawn_extent(ax, renderer) for ax in figure.axes]
    page = figure.bbox
    inside = all(box.x0 >= page.x0 and box.y0 >= page.y0 and box.x1 <= page.x1
                 and box.y1 <= page.y1 for box in boxes)  # fmt: skip
    return inside and not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))


def drawn_extent(ax, renderer) -> Bbox:
    """The box around a drawn panel: its frame, title, axis labels and the tick labels within
    its limits, from the layout the draw left (what `ax.get_tightbbox` finds, without
    recomputing every tick)."""
    texts = [ax.title]
    for axis in (ax.xaxis, ax.yaxis):
        low, high = sorted(axis.get_view_interval())
        texts += [axis.label, axis.offsetText]
        for tick in (*axis.majorTicks, *axis.minorTicks):
            if low <= tick.get_loc() <= high:
                texts += [tick.label1, tick.label2]
    shown = [text for text in texts if text.get_visible() and text.get_text()]
    return Bbox.union([ax.bbox, *(text.get_window_extent(renderer) for text in shown)])
