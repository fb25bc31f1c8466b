"""From an arm's traces to what a comparison shows: bands across seeds and a table row."""

from __future__ import annotations

import math

import numpy as np

from descent.lab.comparison import Arm, ArmResult, Band, Trace


def _band(series: list[list[float]]) -> Band:
    n = min(len(s) for s in series)
    values = np.array([s[:n] for s in series], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return Band(values.mean(0).tolist(), values.min(0).tolist(), values.max(0).tolist())


def bands(traces: list[Trace]) -> dict[str, Band]:
    """Bands over the points every seed reached (a diverged or timed seed may stop early)."""
    curves = {key: _band([t.points[key] for t in traces]) for key in traces[0].points}
    if traces[0].sharpness:
        curves["sharpness_epochs"] = _band([t.sharpness["epochs"] for t in traces])
        curves["sharpness"] = _band([t.sharpness["value"] for t in traces])
    return curves


def _loss_noise(step_loss: list[float]) -> float:
    """The spread (standard deviation) of the change in mini-batch loss from one update
    to the next, over the finite losses; NaN with fewer than three updates."""
    losses = np.asarray(step_loss, dtype=np.float64)
    losses = losses[np.isfinite(losses)]
    return float(np.std(np.diff(losses))) if losses.size > 2 else math.nan


def _mean(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def edge_of_stability(arm: Arm) -> float:
    """The sharpness above which gradient descent with this step is unstable on a
    quadratic: 2/lr, or (2 + 2 momentum)/lr with heavy-ball momentum (Cohen et al. 2021);
    NaN for adaptive optimizers, whose step is preconditioned and has no such bound."""
    if arm.optimizer != "sgd":
        return math.nan
    return (2.0 + 2.0 * float(arm.options.get("momentum", 0.0))) / arm.lr


def _to_target(curves: dict[str, Band], target: float | None) -> tuple[float, float]:
    """Seconds and epochs (on the mean curves) at the first point whose mean loss <= target."""
    if target is None:
        return math.nan, math.nan
    for i, loss in enumerate(curves["loss"].mean):
        if loss <= target:
            return curves["seconds"].mean[i], curves["epochs"].mean[i]
    return math.nan, math.nan


def table_row(result: ArmResult, target: float | None, label: str) -> dict:
    traces, arm = result.traces, result.arm
    diverged = sum(t.stopped_by == "diverged" for t in traces)

    def final(key: str) -> float:
        if diverged or key not in traces[0].points:
            return math.nan
        return _mean(t.points[key][-1] for t in traces)

    seconds, epochs = _to_target(result.curves, target)
    sharp = result.curves.get("sharpness")
    return {
        "arm": result.label, "batch_size": result.batch_size, "optimizer": arm.optimizer,
        "lr": arm.lr, "train_loss": final("loss"), "train_accuracy": final("accuracy"),
        "val_loss": final("val_loss"), "val_accuracy": final("val_accuracy"),
        "updates_per_epoch": result.updates_per_epoch,
        "seconds_per_epoch": _mean(t.points["seconds"][-1] / t.points["epochs"][-1]
                                   for t in traces if t.points["epochs"][-1] > 0),
        "loss_noise": _mean(_loss_noise(t.step_loss) for t in traces),
        "grad_cosine_start": _mean(t.grad_cosine_start for t in traces),
        "grad_cosine_end": _mean(t.grad_cosine_end for t in traces),
        "seconds_to_target": seconds, "epochs_to_target": epochs,
        "updates": _mean(t.points["updates"][-1] for t in traces),
        "samples": _mean(t.points["samples"][-1] for t in traces),
        "epochs": _mean(t.points["epochs"][-1] for t in traces),
        "seconds": _mean(t.points["seconds"][-1] for t in traces),
        "sharpness": sharp.mean[-1] if sharp and sharp.mean else math.nan,
        "edge_of_stability": edge_of_stability(arm), "lr_label": label,
        "diverged": bool(diverged), "diverged_seeds": diverged,
    }  # fmt: skip
