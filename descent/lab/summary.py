"""From an arm's traces to what a comparison shows: bands across seeds and a table row.

Every number of a row comes from each seed's whole curve (a seed that trained longer
under a seconds budget is not cut to the shortest one), averaged over the seeds; the
sentences print these numbers and no others.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import numpy as np

from descent.lab.comparison import Arm, ArmResult, Band, Trace
from descent.lab.stability import stability_limit
from descent.lab.verdicts import curve_facts


def _band(series: list[list[float]]) -> Band:
    """Point by point over the seeds that reached the point (NaN-padded to the longest)."""
    n = max(len(s) for s in series)
    values = np.full((len(series), n), np.nan)
    for row, s in zip(values, series):
        row[: len(s)] = s
    with _quiet():
        return Band(*(np.nanmean(values, 0).tolist(), np.nanmin(values, 0).tolist(),
                      np.nanmax(values, 0).tolist()))  # fmt: skip


@contextmanager
def _quiet():
    """Silence NumPy's warning on an all-NaN slice: NaN is the answer there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def bands(traces: list[Trace]) -> dict[str, Band]:
    """A band per column of the points, and 'sharpness_epochs' and 'sharpness' when tracked."""
    curves = {key: _band([t.points[key] for t in traces]) for key in traces[0].points}
    if traces[0].sharpness:
        curves["sharpness_epochs"] = _band([t.sharpness["epochs"] for t in traces])
        curves["sharpness"] = _band([t.sharpness["value"] for t in traces])
    return curves


def _mean(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def edge_of_stability(arm: Arm) -> float:
    """The arm's `stability_limit`: 2/lr for SGD, (2 + 2 momentum)/lr with heavy ball,
    NaN for adaptive optimizers (no closed form)."""
    return stability_limit(arm.optimizer, arm.lr, arm.options)


def _to_target(trace: Trace, target: float | None) -> tuple[float, float]:
    """Seconds and epochs at the first point of the seed's whole curve at or below target."""
    if target is not None:
        for i, loss in enumerate(trace.points["loss"]):
            if loss <= target:
                return trace.points["seconds"][i], trace.points["epochs"][i]
    return math.nan, math.nan


def _all_or_nan(values: list[float]) -> float:
    """The mean when every seed has a value (a seed that missed the target makes it NaN)."""
    return float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.nan


def _sharpness(traces: list[Trace], curves: dict[str, Band]) -> dict:
    band = curves.get("sharpness")
    values = [np.asarray(t.sharpness.get("value", []), float) for t in traces]
    last = [v[np.isfinite(v)][-1] for v in values if np.isfinite(v).any()]
    return {"sharpness_start": band.mean[0] if band else math.nan,
            "sharpness": _mean(last),
            "sharpness_peak": float(np.nanmax(band.mean)) if band and np.isfinite(
                band.mean).any() else math.nan}  # fmt: skip


def table_row(result: ArmResult, target: float | None, label: str) -> dict:
    traces, arm = result.traces, result.arm
    stops = [t.diverged_at for t in traces if t.diverged_at is not None]
    facts = curve_facts(result.curves["loss"].mean, result.curves["updates"].mean)

    def final(key: str) -> float:
        if stops or key not in traces[0].points:
            return math.nan
        return _mean(t.points[key][-1] for t in traces)

    reached = [_to_target(t, target) for t in traces]
    per_update = _mean(t.points["seconds"][-1] / t.points["updates"][-1]
                       for t in traces if t.points["updates"][-1] > 0)  # fmt: skip

    def along(key: str, how=np.nanmean) -> float:
        with _quiet():
            return _mean(float(how(t.points[key])) for t in traces if key in t.points)

    return {
        "arm": result.label, "batch_size": result.batch_size, "optimizer": arm.optimizer,
        "lr": arm.lr, "start_loss": facts["start"], "train_loss": final("loss"),
        "best_loss": facts["best"], "train_accuracy": final("accuracy"),
        "val_loss": final("val_loss"), "val_accuracy": final("val_accuracy"),
        "updates_per_epoch": result.updates_per_epoch,
        "seconds_per_epoch": _mean(t.points["seconds"][-1] / t.points["epochs"][-1]
                                   for t in traces if t.points["epochs"][-1] > 0),
        "seconds_per_update": per_update,
        "updates_per_second": 1.0 / per_update if per_update > 0 else math.nan,
        "gradient_noise": along("gradient_noise"), "loss_noise": along("loss_step_noise"),
        "grad_cosine": along("grad_cosine"),
        "grad_cosine_start": _mean(t.points["grad_cosine"][0] for t in traces),
        "grad_cosine_end": _mean(t.points["grad_cosine"][-1] for t in traces),
        "noise_scale": along("noise_scale", np.nanmedian),
        "seconds_to_target": _all_or_nan([s for s, _ in reached]),
        "epochs_to_target": _all_or_nan([e for _, e in reached]),
        "updates": _mean(t.points["updates"][-1] for t in traces),
        "samples": _mean(t.points["samples"][-1] for t in traces),
        "epochs": _mean(t.points["epochs"][-1] for t in traces),
        "seconds": _mean(t.points["seconds"][-1] for t in traces),
        "loss_rise": facts["rise"], "loss_growth": facts["growth"],
        **_sharpness(traces, result.curves), "edge_of_stability": edge_of_stability(arm),
        "lr_label": label, "diverged": bool(stops) or label == "diverged",
        "diverged_seeds": len(stops), "diverged_at": min(stops) if stops else math.nan,
    }  # fmt: skip
