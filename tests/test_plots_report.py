"""The run plots carry the history's numbers, and the report embeds them in one page."""

import base64
import io
import itertools
import re
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

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


DIAGNOSTICS = {"epochs": 2, "dead_relu": {"1": [0.0, 0.25]},
               "grad_norm": {"0": [1.0, 0.5], "2": [0.2, 0.1]},
               "update_ratio": {"0": [1e-2, 1e-3], "2": [2e-2, 5e-3]}}  # fmt: skip


def test_learning_rate_and_layer_diagnostics():
    (ax,) = plots.learning_rate(HISTORY).axes
    assert list(ax.lines[0].get_ydata()) == HISTORY["step_lr"] and ax.get_ylim()[0] == 0
    grads, ratios, dead = plots.layer_diagnostics(DIAGNOSTICS).axes
    assert list(lines(grads)["layer 0"][1]) == [1.0, 0.5]
    assert list(lines(ratios)["layer 2"][1]) == [2e-2, 5e-3]
    assert list(lines(dead)["layer 1"][1]) == [0.0, 0.25]
    assert dead.get_title() == "dead ReLU fraction"
    assert grads.get_yscale() == "linear"  # spans less than 20x: no log axis
    no_relu = {**DIAGNOSTICS, "dead_relu": {}}
    assert len(plots.layer_diagnostics(no_relu).axes) == 2


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
    tracked = {
        "every": 2,
        "samples": 10,
        "records": [
            {"epoch": 0, "update": 0, "sharpness": 1.0, "lr": 0.5, "two_over_lr": 4.0},
            {"epoch": 2, "update": 2, "sharpness": 3.9, "lr": 0.5, "two_over_lr": 4.0},
        ],
    }
    (ax,) = plots.sharpness_curve(tracked).axes
    drawn = lines(ax)
    assert list(drawn["sharpness (top Hessian eigenvalue)"][1]) == [1.0, 3.9]
    assert list(drawn["stability limit"][1]) == [4.0, 4.0]


def test_an_empty_history_still_draws():
    empty = {**HISTORY, "step_loss": [], "step_lr": [], "metrics": {}, "grad_norm": {}}
    assert set(plots.run_figures(empty)) == {"epochs", "loss_per_step", "learning_rate"}


def test_log_axes_label_their_ticks_as_plain_text_not_mathtext():
    figure = plots.step_loss({**HISTORY, "step_loss": [2.0, 0.5, 0.01, 0.001]})
    (ax,) = figure.axes
    assert ax.get_yscale() == "log"
    plots.png_bytes(figure)
    labels = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert "10⁻²" in labels and not any("$" in label for label in labels)


def test_log_tick_labels_read_as_matplotlibs_mathtext_ones():
    labels = plots.LogTickLabels()
    assert [labels(x) for x in (1e-3, 1.0, 1000.0)] == ["10⁻³", "10⁰", "10³"]
    assert plots.plain_math(r"$\mathdefault{2\times10^{-1}}$") == "2×10⁻¹"
    assert plots.plain_math(r"$\mathdefault{-10^{2}}$") == "−10²"
    assert plots.plain_math("0.5") == "0.5"


def drawn_fits(figure):
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return plots.labels_fit(figure, canvas.get_renderer())


def test_png_bytes_draws_once_with_fixed_margins_where_the_labels_fit():
    figure = plots.epoch_curves(HISTORY)
    margins = vars(figure.subplotpars).copy()
    image = Image.open(io.BytesIO(plots.png_bytes(figure)))
    assert image.format == "PNG" and image.size == (914, 360)  # SIZE scaled to 2 panels, DPI
    assert vars(figure.subplotpars) == margins and drawn_fits(figure)
    width = figure.get_size_inches()[0]
    assert margins["left"] * width == pytest.approx(plots.MARGINS["left"])


def test_png_bytes_lays_out_again_where_a_label_sticks_out():
    figure = plots.step_loss(HISTORY)
    figure.axes[0].set_ylabel("loss", fontsize=40)  # wider than the fixed left margin
    left = figure.subplotpars.left
    assert not drawn_fits(figure)
    plots.png_bytes(figure)
    assert figure.subplotpars.left > left and drawn_fits(figure)


def fits_by_tight_boxes(figure):
    """labels_fit's reference: matplotlib's own layout boxes, every tick computed anew."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer, for_layout_only=True) for ax in figure.axes]
    page = figure.bbox
    inside = all(page.x0 <= b.x0 and page.y0 <= b.y0 and b.x1 <= page.x1 and b.y1 <= page.y1
                 for b in boxes)  # fmt: skip
    return inside and not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))


def test_labels_fit_agrees_with_matplotlibs_layout_boxes():
    wide = {**DIAGNOSTICS, "grad_norm": {"0": [1234.5, 0.001]}}
    tiny_lr = {**HISTORY, "step_lr": [0.0016] * 6}  # seven-character tick labels
    big_label = plots.step_loss(HISTORY)
    big_label.axes[0].set_ylabel("loss", fontsize=40)
    figures = [plots.epoch_curves(HISTORY), plots.step_loss(HISTORY), plots.learning_rate(tiny_lr),
               plots.layer_diagnostics(wide), big_label]  # fmt: skip
    verdicts = [drawn_fits(figure) for figure in figures]
    assert verdicts == [fits_by_tight_boxes(figure) for figure in figures]
    assert verdicts == [True, True, False, True, False]


def test_side_by_side_panels_keep_clear_of_each_other():
    wide = {**DIAGNOSTICS, "grad_norm": {"0": [1234.5, 0.001]}}  # log axis, long labels
    figure = plots.layer_diagnostics(wide)
    plots.png_bytes(figure)
    assert drawn_fits(figure)


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


@pytest.fixture(scope="module")
def comparison():
    from descent.data import load_dataset
    from descent.lab import Arm, Budget, compare

    train, val = load_dataset("iris", standardize=True)
    return compare(
        train,
        val,
        model="mlp:8",
        arms=[Arm("full", "sgd", 0.5), Arm(8, "sgd", 0.1)],
        budget=Budget("epochs", 3),
        seeds=(0, 1),
        sharpness_every=1,
    ).to_dict()


def test_compare_loss_draws_every_arm_against_four_clocks(comparison):
    from descent.lab import compare_plots

    figure = compare_plots.loss_by_axis(comparison)
    assert [ax.get_xlabel() for ax in figure.axes] == [label for _, label in compare_plots.AXES]
    for ax, (axis, _) in zip(figure.axes, compare_plots.AXES):
        drawn = lines(ax)
        for arm in comparison["arms"]:
            x, y = drawn[arm["label"]]
            assert list(x) == arm["curves"][axis]["mean"]
            assert list(y) == arm["curves"]["loss"]["mean"]
        assert len(ax.collections) == 2  # one band (lowest to highest seed) per arm
    assert figure.axes[2].get_xscale() == "symlog"


def test_compare_noise_validation_and_sharpness_figures(comparison):
    from descent.lab import compare_plots

    drawn = compare_plots.figures(comparison)
    assert set(drawn) == {"compare_loss", "compare_validation", "compare_update_noise",
                          "compare_sharpness", "compare_landscape"}  # fmt: skip
    along = lines(drawn["compare_landscape"].axes[0])  # the t = 0 and t = 1 markers aside
    for arm in comparison["arms"]:
        line = arm["traces"][0]["landscape"]
        assert list(along[arm["label"]][0]) == line["t"] and 0 in line["t"] and 1 in line["t"]
    noise = lines(drawn["compare_update_noise"].axes[0])
    for arm in comparison["arms"]:
        x, y = noise[arm["label"]]
        assert len(y) == len(arm["traces"][0]["step_loss"]) and x[-1] == pytest.approx(3.0)
    val_loss, val_accuracy = drawn["compare_validation"].axes
    assert val_accuracy.get_ylabel() == "val accuracy"
    sharp = drawn["compare_sharpness"].axes[0]
    assert len(lines(sharp)["batch, sgd, lr 0.5"][1]) == 4  # before training and per epoch
    thresholds = sorted(line.get_ydata()[0] for line in sharp.lines if line.get_linestyle() == "--")
    assert thresholds == [pytest.approx(4.0), pytest.approx(20.0)]  # 2 / lr for each arm
    landscape = lines(compare_plots.landscape(comparison).axes[0])
    for arm in comparison["arms"]:  # the first seed's line, one curve per arm
        first, second = arm["traces"]
        assert list(landscape[arm["label"]][1]) == first["landscape"]["loss"]
        assert second["landscape"] is None


def test_the_jobs_load_matplotlib_only_to_draw():
    """A fresh interpreter: evaluate, predict and export never wait for matplotlib's import."""
    code = "import sys, descent.cli.jobs; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
