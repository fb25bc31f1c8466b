"""What the curves say: a label for each learning rate, and the trade-offs in words.

`lr_label` reads a training-loss curve as 'diverged', 'oscillating', 'too low', 'budget
too short' or 'good' (`curve_facts` are the numbers it reads); `lr_labels` labels every
arm of a comparison against the best of its group, and `auto_target` picks the target
loss when none was given. `sentences` states a `Comparison`'s measured trade-offs in
plain sentences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from descent.lab.comparison import ArmResult, Comparison
from descent.lab.stability import NO_LIMIT
from descent.text import format_number

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
SHORT_BUDGET = 20
"""Fewer updates than this, still falling at an even pace: the budget is too short to
tell a low learning rate from a good one ('budget too short', not 'too low')."""
OSCILLATION_RISE = 0.5
"""Oscillating: the loss's rises between evaluation points add up to more than half of
its total fall; a good step size makes the loss fall almost monotonically."""
OSCILLATION_LATE = 0.1
"""... and the swings have not died out: the rises over the second half of the curve
still add up to more than a tenth of the fall. Stochastic descent at a stable rate can
jump up once early (one sample's curvature overshoots) and then fall by orders of
magnitude; heavy-ball momentum that rings keeps swinging to the end."""
OSCILLATION_END = 0.25
"""Oscillating: the final loss sits above the best one by more than a quarter of the
fall; the run found a low point and bounced away from it."""
GROWTH_POINTS = 3
"""Diverged: the loss rose at every one of at least this many points since its best, over
at least the last `GROWTH_SHARE` of the curve, ending more than `OSCILLATION_END` of the
fall above its best: an unstable direction growing geometrically (on a quadratic each
update multiplies the error along it by |1 - lr h| > 1), even if the budget ran out
before the loss passed its start. A decaying oscillation rises for half a period only."""
GROWTH_SHARE = 1 / 3


def _progress(start: float, end: float, best: float) -> float:
    """How far `end` went from `start` towards `best` (1: all the way), in log loss when
    the losses are positive, else linearly."""
    if start <= best:
        return 1.0
    if best > 0:
        return math.log(start / end) / math.log(start / best)
    return (start - end) / (start - best)


def curve_facts(losses: Sequence[float], updates: Sequence[float] | None = None) -> dict:
    """What the verdict reads off a loss curve: start, best, end, rise (the sum of its
    rises between points), late_rise (the same over the second half of the points) and
    growth (the loss's factor per update from its best to its
    end when it rose steadily since, as `GROWTH_POINTS` says; else NaN). `updates` is
    the update count at each point (by default one update apart)."""
    losses = np.asarray(losses, dtype=np.float64)
    if losses.size == 0:
        return dict.fromkeys(("start", "best", "end", "rise", "late_rise", "growth"), math.nan)
    steps = np.arange(losses.size) if updates is None else np.asarray(updates, np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rises = np.diff(losses)
        low = int(np.nanargmin(losses)) if np.isfinite(losses).any() else 0
        since = losses.size - 1 - low
        growth = math.nan
        if (since >= max(GROWTH_POINTS, GROWTH_SHARE * (losses.size - 1))
                and (rises[low:] > 0).all() and losses[low] > 0):  # fmt: skip
            growth = float((losses[-1] / losses[low]) ** (1 / max(steps[-1] - steps[low], 1)))
        return {"start": float(losses[0]), "best": float(np.nanmin(losses)),
                "end": float(losses[-1]), "rise": float(np.clip(rises, 0, None).sum()),
                "late_rise": float(np.clip(rises[losses.size // 2 :], 0, None).sum()),
                "growth": growth}  # fmt: skip


def lr_label(losses: Sequence[float], diverged: bool = False, reference: float | None = None,
             updates: Sequence[float] | None = None) -> str:  # fmt: skip
    """'diverged', 'oscillating', 'too low', 'budget too short' or 'good', read from a
    training-loss curve (the loss at evaluation points, first to last); see the
    thresholds above.

    Diverged: not finite, stopped by the divergence bound (`diverged`), ended above its
    start, or growing geometrically at the end. Oscillating: bounded swings that do not
    die out. Too low: monotone and slow for the budget. Budget too short: still falling
    at an even pace after fewer than `SHORT_BUDGET` updates. `reference` is the lowest
    loss that any learning rate of the same group reached (by default the curve's own
    best, which leaves only the even-pace test for too low); `updates` is the update count
    at each point (by default one update apart).
    """
    losses = np.asarray(losses, dtype=np.float64)
    if diverged or losses.size == 0 or not np.isfinite(losses).all():
        return "diverged"
    facts = curve_facts(losses, updates)
    start, best, end = facts["start"], facts["best"], facts["end"]
    fall = start - best
    if end > start or (math.isfinite(facts["growth"]) and end - best > OSCILLATION_END * fall):
        return "diverged"
    total = losses.size - 1 if updates is None else float(updates[-1])
    slow = "budget too short" if total < SHORT_BUDGET else "too low"
    if fall <= TOO_LOW_DROP * abs(start):
        return "oscillating" if facts["rise"] > TOO_LOW_DROP * abs(start) else slow
    swinging = (
        facts["rise"] > OSCILLATION_RISE * fall and facts["late_rise"] > OSCILLATION_LATE * fall
    )
    if swinging or end - best > OSCILLATION_END * fall:
        return "oscillating"
    reference = best if reference is None else min(reference, best)
    if _progress(start, end, reference) < TOO_LOW_PROGRESS:
        return "too low"
    middle = losses[losses.size // 2]
    if middle - end >= TOO_LOW_TAIL * (start - middle):
        return slow
    return "good"


def lr_labels(results: list[ArmResult]) -> list[str]:
    """Each arm's learning-rate label, against the best loss of its group (same batch
    size, optimizer and options)."""
    best: dict[str, float] = {}
    for r in results:
        group = r.label.rpartition(", lr ")[0]
        best[group] = min(best.get(group, math.inf), float(np.nanmin(r.curves["loss"].mean)))
    return [lr_label(r.curves["loss"].mean, any(t.diverged_at for t in r.traces),
                     best[r.label.rpartition(", lr ")[0]], r.curves["updates"].mean)
            for r in results]  # fmt: skip


def auto_target(results: list[ArmResult], labels: list[str]) -> float | None:
    """The highest best loss of any seed among the arms with a good learning rate (else
    all that did not diverge), leaving out arms that never went below their start: a loss
    that every seed of each of them reached, after some progress."""
    for keep in (("good",), ("good", "oscillating", "too low", "budget too short")):
        bests = []
        for result, label in zip(results, labels):
            seeds = [np.asarray(t.points["loss"], np.float64) for t in result.traces]
            if label in keep and all(np.nanmin(loss) < loss[0] for loss in seeds):
                bests.append(max(float(np.nanmin(loss)) for loss in seeds))
        if bests:
            return float(max(bests))
    return None


# -- the trade-offs in words ------------------------------------------------------------------
# Every number in a sentence is a table value printed by `format_number`, as the table
# prints it: `_n(row, key)`.


def _n(row: dict, key: str) -> str:
    return format_number(row[key])


def _groups(comparison: Comparison) -> dict[str, list[ArmResult]]:
    """The arms by batch size, optimizer and options (the label without its lr)."""
    groups: dict[str, list[ArmResult]] = {}
    for result in comparison.arms:
        groups.setdefault(result.label.rpartition(", lr ")[0], []).append(result)
    return groups


def _finals(comparison: Comparison) -> list[ArmResult]:
    """The best learning rate of each group (lowest final training loss, not diverged),
    in order of batch size: the arms the pairwise sentences compare."""
    best = []
    for group in _groups(comparison).values():
        alive = [r for r in group if not r.row["diverged"]]
        if alive:
            best.append(min(alive, key=lambda r: r.row["train_loss"]))
    return sorted(best, key=lambda r: r.batch_size)


def _costs(comparison: Comparison) -> list[str]:
    parts = [f"[{r.label}] {_n(r.row, 'seconds_per_update')} s per update "
             f"({_n(r.row, 'updates_per_second')} updates per second, "
             f"{_n(r.row, 'updates')} updates in all)" for r in comparison.arms]  # fmt: skip
    return ["Cost on the training clock: " + "; ".join(parts) + "."]


def _target_words(a: dict, b: dict, target: float | None) -> str:
    if target is None:
        return ""
    reached = [math.isfinite(row["seconds_to_target"]) for row in (a, b)]
    goal = format_number(target)
    if all(reached):
        return (f"; it reached the training loss {goal} in {_n(a, 'seconds_to_target')} s "
                f"({_n(a, 'epochs_to_target')} epochs) against {_n(b, 'seconds_to_target')} s "
                f"({_n(b, 'epochs_to_target')} epochs)")  # fmt: skip
    if reached[0]:
        return (
            f"; it reached the training loss {goal} in {_n(a, 'seconds_to_target')} s, "
            "which the other did not reach in every seed within the budget"
        )
    if reached[1]:
        return (
            f"; it did not reach the training loss {goal} in every seed within the "
            f"budget, which the other reached in {_n(b, 'seconds_to_target')} s"
        )
    return f"; neither reached the training loss {goal} in every seed"


def _variant_name(result: ArmResult) -> str:
    names = {"batch": "Batch descent", "stochastic": "Stochastic descent (batch 1)"}
    return names.get(result.variant, f"Mini-batch descent ({result.batch_size})")


def _pair(result: ArmResult, other: ArmResult, target: float | None) -> str:
    """Two arms on the same budget, in the table's numbers."""
    a, b = result.row, other.row
    return (
        f"{_variant_name(result)} [{result.label}] against {_variant_name(other).lower()} "
        f"[{other.label}]: {_n(a, 'updates_per_epoch')} updates per epoch against "
        f"{_n(b, 'updates_per_epoch')}, final training loss {_n(a, 'train_loss')} "
        f"against {_n(b, 'train_loss')}, after {_n(a, 'updates')} updates at "
        f"{_n(a, 'seconds_per_update')} s each against {_n(b, 'updates')} at "
        f"{_n(b, 'seconds_per_update')} s{_target_words(a, b, target)}. Along the run its "
        f"mini-batch gradient's cosine with the full-batch gradient averaged "
        f"{_n(a, 'grad_cosine')} against {_n(b, 'grad_cosine')}, and its noise (the squared "
        f"distance from the full-batch gradient, relative to that gradient's) "
        f"{_n(a, 'gradient_noise')} against {_n(b, 'gradient_noise')}."
    )


def _pairs(comparison: Comparison) -> list[str]:
    """Every pair among the best learning rate of each batch size and optimizer."""
    finals = _finals(comparison)
    return [_pair(a, b, comparison.target_loss)
            for i, a in enumerate(finals) for b in finals[i + 1:]]  # fmt: skip


def _reason(result: ArmResult, group: list[ArmResult]) -> str:
    """The verdict on one learning rate with the numbers it was read from."""
    row = result.row
    label, lr = row["lr_label"], f"lr {row['lr']:g}"
    start, end, best = _n(row, "start_loss"), _n(row, "train_loss"), _n(row, "best_loss")
    if label == "diverged":
        if row["diverged_seeds"]:
            return (f"{lr} diverged: its loss exploded at update {_n(row, 'diverged_at')} in "
                    f"{row['diverged_seeds']} of {len(result.traces)} seeds")  # fmt: skip
        if row["train_loss"] > row["start_loss"]:
            return f"{lr} diverged: its training loss ended at {end}, above its start {start}"
        return (f"{lr} diverged: its loss was growing {_n(row, 'loss_growth')}x per update at "
                f"the end, from its best {best} to {end}")  # fmt: skip
    if label == "oscillating":
        return (f"{lr} oscillating: its loss rose by {_n(row, 'loss_rise')} in all while "
                f"falling from {start} to its best {best}, and ended at {end}")  # fmt: skip
    if label in ("too low", "budget too short"):
        others = [r for r in group if r is not result and not r.row["diverged"]
                  and r.row["best_loss"] < row["best_loss"]]  # fmt: skip
        where = f"{start} to {end} in {_n(row, 'updates')} updates"
        if label == "budget too short":
            return (f"{lr} budget too short: only {where}, still falling at an even pace; more "
                    "updates would tell whether the rate is too low")  # fmt: skip
        if others:
            lead = min(others, key=lambda r: r.row["best_loss"])
            return (f"{lr} too low: its loss went {where}, under half the way to the "
                    f"{_n(lead.row, 'best_loss')} that lr {lead.row['lr']:g} reached on the "
                    "same budget")  # fmt: skip
        return f"{lr} too low: its loss went {where}, still falling at an even pace"
    return f"{lr} good: its loss fell from {start} to {end} (best {best}) and levelled off"


def _by_lr(comparison: Comparison) -> list[str]:
    """The verdict on each learning rate, grouped by batch size and optimizer."""
    return [f"Read from the curves, for {key}: " + "; ".join(_reason(r, group) for r in group)
            + "." for key, group in _groups(comparison).items()]  # fmt: skip


def _noise_scale(comparison: Comparison) -> list[str]:
    """The gradient noise scale against the batch sizes run (the critical batch size)."""
    finals = [r for r in _finals(comparison) if math.isfinite(r.row["noise_scale"])]
    if not finals:
        return []
    parts = []
    for r in finals:
        side = "below" if r.batch_size < r.row["noise_scale"] else "above"
        parts.append(f"{_n(r.row, 'noise_scale')} along [{r.label}], whose batch of "
                     f"{r.batch_size} is {side} it")  # fmt: skip
    return ["The gradient noise scale B_simple = tr(Sigma)/|G|^2 (McCandlish et al. 2018; the "
            "median along each run) was " + "; ".join(parts) + ". It predicts the critical "
            "batch size: below it a larger batch saves updates almost in proportion, above it "
            "a larger batch mostly spends more samples per update for little gain."]  # fmt: skip


def _balance(comparison: Comparison) -> list[str]:
    """The arm that reached the target soonest on the clock, else the lowest final loss."""
    finals = _finals(comparison)
    if len(finals) < 2:
        return []
    timed = [r for r in finals if math.isfinite(r.row["seconds_to_target"])]
    if timed and comparison.target_loss is not None:
        best = min(timed, key=lambda r: r.row["seconds_to_target"])
        others = [f"[{r.label}] {_n(r.row, 'seconds_to_target')} s" for r in timed if r is not best]
        return [f"The balance on this budget is [{best.label}]: it reached the training loss "
                f"{format_number(comparison.target_loss)} soonest, in "
                f"{_n(best.row, 'seconds_to_target')} s, with {_n(best.row, 'updates_per_second')} "
                f"updates per second and a gradient cosine of {_n(best.row, 'grad_cosine')}"
                + (f" (against {', '.join(others)})" if others else "")
                + "; its updates are cheap enough and accurate enough at once."]  # fmt: skip
    best = min(finals, key=lambda r: r.row["train_loss"])
    return [
        f"The balance on this budget is [{best.label}]: no arm reached the target in every "
        f"seed, and it ended lowest, at a training loss of {_n(best.row, 'train_loss')}."
    ]


def _best(comparison: Comparison) -> list[str]:
    key = "val_loss" if comparison.arms[0].traces[0].points.get("val_loss") else "train_loss"
    rows = [r.row for r in comparison.arms
            if math.isfinite(r.row[key]) and r.row["lr_label"] != "diverged"]  # fmt: skip
    if not rows:
        return []
    best = min(rows, key=lambda row: row[key])
    where = "validation" if key == "val_loss" else "training"
    text = f"The lowest final {where} loss, {_n(best, key)}, came from [{best['arm']}]"
    accuracy = key.replace("loss", "accuracy")
    if math.isfinite(best[accuracy]):
        text += f" (its {where} accuracy {_n(best, accuracy)})"
    return [text + "."]


def _sharpness_words(comparison: Comparison) -> list[str]:
    out = []
    for result in comparison.arms:
        row = result.row
        if math.isnan(row["sharpness_peak"]):
            continue
        text = (f"The sharpness of [{result.label}] went from {_n(row, 'sharpness_start')} to "
                f"{_n(row, 'sharpness')} (peak {_n(row, 'sharpness_peak')})")  # fmt: skip
        edge, peak = row["edge_of_stability"], row["sharpness_peak"]
        if math.isnan(edge):
            out.append(f"{text}; {row['optimizer']} has {NO_LIMIT}.")
            continue
        if peak > 1.1 * edge:
            where = "rose above its stability limit"
        elif peak >= 0.9 * edge:
            where = "reached its stability limit (the edge of stability)"
        else:
            where = "stayed below its stability limit"
        fate = "; the arm diverged" if row["lr_label"] == "diverged" else ""
        out.append(f"{text}: it {where} {_n(row, 'edge_of_stability')}{fate}.")
    return out


def sentences(comparison: Comparison) -> list[str]:
    """Plain sentences stating the measured trade-offs, every number from the table.

    The budget; each arm's cost per update; every pair among the best learning rate of
    each batch size and optimizer (final loss, updates, cost, time to the target, gradient
    cosine and noise); each learning rate's verdict with the numbers behind it; the
    gradient noise scale against the batch sizes; the balance; divergence; the best arm;
    and, when tracked, the sharpness against each arm's stability limit.
    """
    budget = comparison.budget
    seeds = ", ".join(str(s) for s in comparison.seeds)
    head = (f"Each arm trained {comparison.model} for {budget.amount:g} {budget.kind} from the "
            f"same initial weights, on {comparison.num_samples} training samples, with seeds "
            f"{seeds}; numbers are means over the seeds, each seed's whole run.")  # fmt: skip
    return [head, *_costs(comparison), *_pairs(comparison), *_by_lr(comparison),
            *_noise_scale(comparison), *_balance(comparison), *_best(comparison),
            *_sharpness_words(comparison)]  # fmt: skip
