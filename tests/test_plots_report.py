"""The run plots carry the history's numbers, and the report embeds them in one page."""

import base64
import re

import numpy as np
import pytest

from descent.lab import plots
from descent.lab.report import Report

HISTORY = {
    "step_loss": [2.0, 1.5, None, 0.9, 0.7, 0.5],
    "step_lr": [0.1, 0.1, 0.1, 0.05, 0.05, 0.05],
    "metrics": {"loss": [1.6, 0.7], "accuracy": [0.4, 0.8], "val_loss": [1.2, 0.9],
                "val_accuracy": [0.5, 0.7], "lr": [0.1, 0.05]},
    "epoch_time": [0.1, 0.1],
    "samples": [30, 60],
    "samples_seen": 60,
    "grad_norm": {"0.weight": [1.0, 0.5], "0.bias": [0.2, 0.1]},
    "update_ratio": {"0.weight": [1e-2, 1e-3], "0.bias": [2e-2, 5e-3]},
    "events": [],
}  # fmt: skip


def lines(ax):
    return {line.get_label(): (line.get_xdata(), line.get_ydata()) for line in ax.lines}


def test_epoch_curves_plot_train_and_validation_per_epoch():
    figure = plots.epoch_curves(HISTORY)
    loss_ax, accuracy_ax = figure.axes
    assert loss_ax.get_xlabel() == "epoch" and accuracy_ax.get_ylabel() == "accuracy"
    x, y = lines(loss_ax)["validation"]
    assert list(x) == [1, 2] and list(y) == [1.2, 0.9]
    assert list(lines(accuracy_ax)["train"][1]) == [0.4, 0.8]


def test_step_loss_keeps_every_update_and_skips_non_finite_ones():
    (ax,) = plots.step_loss(HISTORY).axes
    x, y = lines(ax)["loss per update"]
    assert list(x) == [1, 2, 3, 4, 5, 6] and np.isnan(y[2]) and y[5] == 0.5


def test_step_loss_draws_a_moving_average_once_there_are_enough_updates():
    history = {**HISTORY, "step_loss": list(np.linspace(2, 0.1, 200))}
    (ax,) = plots.step_loss(history, window=50).axes
    x, y = lines(ax)["mean of 50"]
    assert len(x) == 151 and y[0] == pytest.approx(np.mean(history["step_loss"][:50]))


def test_learning_rate_and_layer_gradients():
    (ax,) = plots.learning_rate(HISTORY).axes
    assert list(ax.lines[0].get_ydata()) == HISTORY["step_lr"] and ax.get_ylim()[0] == 0
    grads, ratios = plots.layer_gradients(HISTORY).axes
    assert list(lines(grads)["0.weight"][1]) == [1.0, 0.5]
    assert list(lines(ratios)["0.bias"][1]) == [2e-2, 5e-3]
    assert ratios.get_yscale() == "linear"  # spans less than 20x: no log axis


def test_lr_find_curve_marks_the_suggestion_and_the_divergence():
    result = {"lrs": [1e-3, 1e-2, 1e-1, 1.0], "losses": [2.0, 1.5, 0.8, None],
              "smoothed_losses": [2.0, 1.8, 1.2, None], "suggested_lr": 0.05,
              "diverged_at": 1.0, "reason": "test"}  # fmt: skip
    (ax,) = plots.lr_find_curve(result).axes
    drawn = lines(ax)
    assert list(drawn["smoothed"][0]) == result["lrs"] and ax.get_xscale() == "log"
    assert list(drawn["suggested 0.05"][0]) == [0.05, 0.05]
    assert list(drawn["diverged 1"][0]) == [1.0, 1.0]


def test_sharpness_curve_draws_both_series_per_epoch():
    tracked = {"every": 2, "samples": 10, "records": [
        {"epoch": 0, "update": 0, "sharpness": 1.0, "lr": 0.5, "two_over_lr": 4.0},
        {"epoch": 2, "update": 2, "sharpness": 3.9, "lr": 0.5, "two_over_lr": 4.0}]}
    (ax,) = plots.sharpness_curve(tracked).axes
    drawn = lines(ax)
    assert list(drawn["sharpness (top Hessian eigenvalue)"][1]) == [1.0, 3.9]
    assert list(drawn["2 / lr"][1]) == [4.0, 4.0]


def test_an_empty_history_still_draws():
    empty = {**HISTORY, "step_loss": [], "step_lr": [], "metrics": {}, "grad_norm": {}}
    assert set(plots.run_figures(empty)) == {"epochs", "loss_per_step", "learning_rate"}


def test_report_embeds_pngs_and_escapes_text(tmp_path):
    png = plots.png_bytes(plots.learning_rate(HISTORY))
    report = Report("run <1>")
    report.heading("a & b").key_values({"lr": 0.1, "loss": None, "ok": True})
    report.table([{"name": "<script>", "value": 1.23456789}]).figure(png, "the lr")
    report.write(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "run &lt;1&gt;" in page
    assert "1.235" in page and "—" in page
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(data) == png
    assert "http" not in page.replace("http-equiv", "")  # nothing to fetch: self-contained
