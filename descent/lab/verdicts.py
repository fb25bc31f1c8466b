"""What the curves say: a label for each learning rate, and the trade-offs in words.

`lr_label` reads a training-loss curve as 'diverged', 'oscillating', 'too low' or
'good'; `lr_labels` labels every arm of a comparison against the best of its group,
and `auto_target` picks the target loss when none was given. `sentences` states a
`Comparison`'s measured trade-offs in plain sentences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from descent.lab.comparison import ArmResult, Comparison
from descent.text import format_number
from descent.train.divergence import divergence

# -- reading a learning rate off its curve ------------------------------------------------
TOO_LOW_DROP = 0.01
"""A curve whose best loss is less than 1% below its start barely moved: too low
(or, when it also rose, oscillating)."""
TOO_LOW_PROGRESS = 0.5
"""Too low: the run covered less than half of the way, in log loss, from the initial
loss to the best loss that any learning rate of its group (same batch size and
optimizer) reached within the same budget."""
TOO_LOW_TAIL = 0.5
"""Too low: the second half of the updates still took off at least half as much loss as
the first half; the loss was falling at an even pace when the budget ran out, far
from levelling off, the signature of steps too small for the budget."""
OSCILLATION_RISE = 0.5
"""Oscillating: the loss's rises between evaluation points add up to more than half of
its total fall; a good step size makes the loss fall almost monotonically."""
OSCILLATION_END = 0.25
"""Oscillating: the final loss sits above the best one by more than a quarter of the
fall; the run found a low point and bounced away from it."""
EXPLODED = 10.0
"""Diverged: the loss ended more than this many times above where it started. Such a run
has not yet hit the hard divergence bound (NaN, or 1e4 times the initial loss) only
because its budget ran out first."""
LR_LABELS = ("diverged", "oscillating", "too low", "good")  # what `lr_label` returns


def _progress(start: float, end: float, best: float) -> float:
    """How far `end` went from `start` towards `best` (1: all the way), in log loss when
    the losses are positive, else linearly."""
    if start <= best:
        return 1.0
    if best > 0:
        return math.log(start / end) / math.log(start / best)
    return (start - end) / (start - best)


def lr_label(
    losses: Sequence[float], diverged: bool = False, reference: float | None = None
) -> str:
    """'diverged', 'oscillating', 'too low' or 'good', read from a training-loss curve
    (the loss at evaluation points, first to last); see the thresholds above.

    `reference` is the lowest loss that any learning rate of the same group reached
    (by default the curve's own best, which leaves only the even-pace test for too low).
    """
    losses = np.asarray(losses, dtype=np.float64)
    if diverged or losses.size == 0 or not np.isfinite(losses).all():
        return "diverged"
    start, best, end = losses[0], losses.min(), losses[-1]
    if divergence(end, start, EXPLODED) is not None:
        return "diverged"
    fall = start - best
    rises = float(np.clip(np.diff(losses), 0, None).sum())
    if fall <= TOO_LOW_DROP * abs(start):
        return "oscillating" if rises > TOO_LOW_DROP * abs(start) else "too low"
    if rises > OSCILLATION_RISE * fall or end - best > OSCILLATION_END * fall:
        return "oscillating"
    reference = best if reference is None else min(reference, best)
    middle = losses[losses.size // 2]
    if _progress(start, end, reference) < TOO_LOW_PROGRESS:
        return "too low"
    if middle - end >= TOO_LOW_TAIL * (start - middle):
        return "too low"
    return "good"


def lr_labels(results: list[ArmResult]) -> list[str]:
    """Each arm's learning-rate label, against the best loss of its group (same batch
    size, optimizer and options)."""
    best: dict[str, float] = {}
    for r in results:
        group = r.label.rpartition(", lr ")[0]
        best[group] = min(best.get(group, math.inf), float(np.nanmin(r.curves["loss"].mean)))
    return [lr_label(r.curves["loss"].mean, any(t.diverged_at for t in r.traces),
                     best[r.label.rpartition(", lr ")[0]]) for r in results]  # fmt: skip


def auto_target(results: list[ArmResult], labels: list[str]) -> float | None:
    """The highest best mean loss among the arms with a good learning rate (else all that
    did not diverge), leaving out arms that never went below their start: a loss that
    every one of them reached, after some progress."""
    for keep in (("good",), ("good", "oscillating", "too low")):
        bests = []
        for result, label in zip(results, labels):
            losses = result.curves["loss"].mean
            if label in keep and min(losses) < losses[0]:
                bests.append(min(losses))
        if bests:
            return float(max(bests))
    return None


# -- the trade-offs in words ------------------------------------------------------------------


def _variant_name(result: ArmResult) -> str:
    names = {"batch": "Batch descent", "stochastic": "Stochastic descent (batch 1)"}
    return names.get(result.variant, f"Mini-batch descent ({result.batch_size})")


def _versus(result: ArmResult, reference: ArmResult, target: float | None) -> str:
    """One arm against the reference (largest-batch) arm, in numbers."""
    a, r = result.row, reference.row
    fa, fr = ({k: format_number(v) for k, v in row.items()} for row in (a, r))
    name, other = _variant_name(result), _variant_name(reference).lower()
    text = (
        f"{name} [{result.label}] made {a['updates_per_epoch']} updates per epoch against "
        f"{r['updates_per_epoch']} for {other} [{reference.label}], at "
        f"{fa['seconds_per_epoch']} s per epoch against {fr['seconds_per_epoch']} s"
    )
    if target is not None:
        reached = [math.isfinite(row["seconds_to_target"]) for row in (a, r)]
        goal = format_number(target)
        if all(reached):
            text += (f"; its training loss reached {goal} in {fa['seconds_to_target']} s "
                     f"({fa['epochs_to_target']} epochs) against {fr['seconds_to_target']} s "
                     f"({fr['epochs_to_target']} epochs)")  # fmt: skip
        elif reached[0]:
            text += (f"; its training loss reached {goal} in {fa['seconds_to_target']} s, "
                     f"which {other} did not reach within the budget")  # fmt: skip
        elif reached[1]:
            text += (f"; it did not reach a training loss of {goal} within the budget, which "
                     f"{other} reached in {fr['seconds_to_target']} s")  # fmt: skip
    cos_a, cos_r = a["grad_cosine_start"], r["grad_cosine_start"]
    noisier = "noisier" if cos_a < cos_r - 0.01 else "about as noisy"
    return text + (
        f". Its steps were {noisier}: at the same initial weights its mini-batch gradient's "
        f"cosine with the full-batch gradient averaged {cos_a:.2f} against {cos_r:.2f}, and "
        f"its loss noise (spread of step-to-step changes) was {fa['loss_noise']} against "
        f"{fr['loss_noise']}. Its final training loss was {fa['train_loss']} against "
        f"{fr['train_loss']}."
    )


def _by_variant(comparison: Comparison) -> list[str]:
    """The best arm of each batch size against the best arm of the largest one."""
    best: dict[int, ArmResult] = {}
    for result in comparison.arms:
        if result.row["diverged"]:
            continue
        held = best.get(result.batch_size)
        if held is None or result.row["train_loss"] < held.row["train_loss"]:
            best[result.batch_size] = result
    if len(best) < 2:
        return []
    reference = best[max(best)]
    return [_versus(best[b], reference, comparison.target_loss)
            for b in sorted(best) if b != reference.batch_size]  # fmt: skip


def _lr_words(result: ArmResult) -> str:
    row, losses = result.row, result.curves["loss"].mean
    stops = [t.diverged_at for t in result.traces if t.diverged_at is not None]
    if row["lr_label"] == "diverged" and stops:
        return f"lr {row['lr']:g} diverged (first at update {min(stops)})"
    start, end, best = (format_number(v) for v in (losses[0], losses[-1], min(losses)))
    return f"lr {row['lr']:g} {row['lr_label']} (training loss {start} to {end}, best {best})"


def _by_lr(comparison: Comparison) -> list[str]:
    """The label of each learning rate, grouped by batch size and optimizer."""
    groups: dict[str, list[ArmResult]] = {}
    for result in comparison.arms:
        groups.setdefault(result.label.rpartition(", lr ")[0], []).append(result)
    return [f"Read from the curves, for {key}: " + "; ".join(_lr_words(r) for r in group) + "."
            for key, group in groups.items()]  # fmt: skip


def _divergence(comparison: Comparison) -> list[str]:
    diverged = [r for r in comparison.arms if r.row["lr_label"] == "diverged"]
    if not diverged:
        return []
    finished = len(comparison.arms) - len(diverged)
    names = ", ".join(
        f"[{r.label}] in {r.row['diverged_seeds']} of {len(r.traces)} seeds"
        if r.row["diverged_seeds"]
        else f"[{r.label}] (its loss ended over {EXPLODED:g}x its start)"
        for r in diverged
    )
    return [f"Diverged: {names}; {finished} other arm(s) did not."]


def _best(comparison: Comparison) -> list[str]:
    key = "val_loss" if comparison.arms[0].traces[0].points.get("val_loss") else "train_loss"
    rows = [r.row for r in comparison.arms
            if math.isfinite(r.row[key]) and r.row["lr_label"] != "diverged"]  # fmt: skip
    if not rows:
        return []
    best = min(rows, key=lambda row: row[key])
    where = "validation" if key == "val_loss" else "training"
    text = f"The lowest final {where} loss, {format_number(best[key])}, came from [{best['arm']}]"
    accuracy = key.replace("loss", "accuracy")
    if math.isfinite(best[accuracy]):
        text += f" (its {where} accuracy {best[accuracy]:.1%})"
    return [text + "."]


def _sharpness_words(comparison: Comparison) -> list[str]:
    out = []
    for result in comparison.arms:
        values = result.curves.get("sharpness")
        if values is None or not values.mean or math.isnan(result.row["edge_of_stability"]):
            continue
        edge, peak = result.row["edge_of_stability"], np.nanmax(values.mean)
        where = "reached" if peak >= 0.9 * edge else "stayed below"
        first, last, top, bound = (
            format_number(v) for v in (values.mean[0], values.mean[-1], peak, edge)
        )
        out.append(f"The sharpness of [{result.label}] went from {first} to {last} (peak {top}): "
                   f"it {where} the edge of stability {bound}.")  # fmt: skip
    return out


def sentences(comparison: Comparison) -> list[str]:
    """Plain sentences stating the measured trade-offs, from the table and the mean curves.

    One sentence on the budget, one per batch size against the largest (updates per
    epoch, cost, time to the target loss, gradient noise, final loss), one per batch
    size and optimizer on its learning rates' labels, then divergence, the best arm
    and, when tracked, the sharpness against the edge of stability (SGD arms).
    """
    budget = comparison.budget
    seeds = ", ".join(str(s) for s in comparison.seeds)
    head = (f"Each arm trained {comparison.model} for {budget.amount:g} {budget.kind} from the "
            f"same initial weights, on {comparison.num_samples} training samples, with seeds "
            f"{seeds}; numbers are means over the seeds.")  # fmt: skip
    return [head, *_by_variant(comparison), *_by_lr(comparison), *_divergence(comparison),
            *_best(comparison), *_sharpness_words(comparison)]  # fmt: skip
