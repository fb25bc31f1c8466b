"""descent.lab.compare: a comparison's data, budgets, bad input and learning-rate labels."""

import json
import math
import re

import numpy as np
import pytest

from descent import nn
from descent.data import TensorDataset, load_dataset
from descent.lab import Arm, Budget, Comparison, compare, grid, lr_label
from descent.lab.compare import EVALS_PER_EPOCH, MIN_POINTS
from descent.lab.comparison import TABLE_COLUMNS, max_updates
from descent.lab.summary import edge_of_stability
from descent.text import format_number

POINT_KEYS = {"updates", "samples", "epochs", "seconds", "loss", "accuracy", "val_loss",
              "val_accuracy", "grad_cosine", "gradient_noise", "loss_step_noise",
              "noise_scale"}  # fmt: skip
DIGITS_ARMS = [Arm("full", "sgd", 0.5), Arm(1, "sgd", 0.01), Arm(32, "sgd", 0.1)]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0, standardize=True)


@pytest.fixture(scope="module")
def digits_run(digits):
    """Batch, stochastic and mini-batch descent on the digits, two seeds, two epochs."""
    train, test = digits
    return compare(train, test, "mlp:32", DIGITS_ARMS, Budget("epochs", 2), seeds=(0, 1))


def regression(n=256, d=5):
    """Linear regression with MSE: the Hessian 2/N X^T X, its top eigenvalue known."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)) * np.linspace(0.7, 1.4, d)
    y = x @ rng.standard_normal((d, 1)) + 0.1 * rng.standard_normal((n, 1))
    top = float(np.linalg.eigvalsh(2 / n * x.T @ x)[-1])
    return TensorDataset(x.astype(np.float32), y.astype(np.float32)), top


def linear_model():
    return nn.Linear(5, 1)


def by_label(comparison):
    return {arm.label: arm for arm in comparison.arms}


# -- the data behind the plots and the table ----------------------------------------------


def test_every_arm_has_its_series_on_all_four_axes(digits_run):
    n = digits_run.num_samples
    expected = {"batch, sgd, lr 0.5": 1, "stochastic, sgd, lr 0.01": n,
                "mini-batch 32, sgd, lr 0.1": math.ceil(n / 32)}  # fmt: skip
    assert [arm.label for arm in digits_run.arms] == list(expected)
    for arm in digits_run.arms:
        per_epoch = expected[arm.label]
        assert arm.updates_per_epoch == per_epoch
        assert len(arm.traces) == 2
        for trace in arm.traces:
            points = trace.points
            assert set(points) == POINT_KEYS
            assert len({len(v) for v in points.values()}) == 1
            assert points["updates"][0] == 0 and points["updates"][-1] == 2 * per_epoch
            assert points["samples"][-1] == 2 * n
            assert points["epochs"][-1] == 2.0
            assert np.all(np.diff(points["updates"]) > 0)
            assert np.all(np.diff(points["seconds"]) >= 0)
            np.testing.assert_allclose(points["epochs"], np.array(points["updates"]) / per_epoch)
            assert len(trace.step_loss) == 2 * per_epoch
            assert trace.stopped_by == "budget" and trace.diverged_at is None
        for key in POINT_KEYS:
            band = arm.curves[key]
            assert len(band.mean) == len(band.low) == len(band.high) == len(points["loss"])
            assert np.all(np.array(band.low) <= np.array(band.mean) + 1e-12)
            assert np.all(np.array(band.mean) <= np.array(band.high) + 1e-12)
    # a batch arm is evaluated after every update, the others at least MIN_POINTS times
    assert len(digits_run.arms[0].curves["loss"].mean) == 3
    assert len(digits_run.arms[2].curves["loss"].mean) == 25  # every 4 updates, and at 45
    assert len(digits_run.arms[1].curves["loss"].mean) > MIN_POINTS


def test_all_arms_of_a_seed_start_from_the_same_weights(digits_run):
    for seed in (0, 1):
        starts = {arm.traces[seed].points["loss"][0] for arm in digits_run.arms}
        assert len(starts) == 1
    first = digits_run.arms[0].traces
    assert first[0].points["loss"][0] != first[1].points["loss"][0]  # other seed, other weights


def test_table_rows_hold_the_measured_numbers(digits_run):
    rows = digits_run.table()
    assert [set(row) for row in rows] == [set(TABLE_COLUMNS)] * 3
    batch, stochastic, mini = rows
    assert (batch["updates_per_epoch"], stochastic["updates_per_epoch"]) == (1, 1438)
    for row, arm in zip(rows, digits_run.arms):
        final = [t.points["loss"][-1] for t in arm.traces]
        assert row["train_loss"] == pytest.approx(np.mean(final))
        assert row["epochs"] == 2.0 and not row["diverged"]
        assert row["edge_of_stability"] == pytest.approx(2 / row["lr"])
        assert row["lr_label"] in ("good", "too low", "oscillating", "budget too short")
        assert row["seconds_per_update"] * row["updates_per_second"] == pytest.approx(1.0)
        assert row["noise_scale"] > 0
    assert batch["lr_label"] == "budget too short"  # two updates tell nothing about its lr
    # noisy updates, in numbers, along the whole run: the smaller the batch, the further its
    # gradient from the full-batch one, and the larger the spread of the loss change per step
    assert batch["grad_cosine"] == batch["grad_cosine_end"] == 1.0 and batch["loss_noise"] == 0
    assert stochastic["grad_cosine"] < mini["grad_cosine"] < 0.99
    # the smaller the batch, the noisier its updates' direction, whatever the learning rate
    assert stochastic["gradient_noise"] > mini["gradient_noise"] > batch["gradient_noise"] == 0
    # loss_noise is lr std(G.g_B): per unit of learning rate the smaller batch is noisier
    assert stochastic["loss_noise"] / stochastic["lr"] > mini["loss_noise"] / mini["lr"] > 0
    for arm in digits_run.arms[1:]:  # one value per evaluation point, not one per run
        assert len(set(arm.traces[0].points["grad_cosine"])) > 1
    # two epochs of 1438 updates beat two full-batch updates
    assert stochastic["train_loss"] < batch["train_loss"]


def test_target_loss_columns_read_each_seeds_whole_curve(digits_run):
    target = digits_run.target_loss
    assert digits_run.target_auto and target is not None
    for arm in digits_run.arms:
        firsts = []
        for trace in arm.traces:
            hits = [i for i, loss in enumerate(trace.points["loss"]) if loss <= target]
            firsts.append(trace.points["epochs"][hits[0]] if hits else math.nan)
        if all(math.isfinite(e) for e in firsts):
            assert arm.row["epochs_to_target"] == pytest.approx(np.mean(firsts))
        else:
            assert math.isnan(arm.row["epochs_to_target"])


NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def assert_every_number_is_in_the_table(comparison):
    """Each number the sentences print is a table value as format_number prints it, or the
    set-up (budget, seeds, samples, target, learning rates, batch sizes)."""
    table = {format_number(v) for row in comparison.table() for v in row.values()}
    setup = {format_number(v) for v in (comparison.budget.amount, comparison.num_samples,
                                        comparison.target_loss, *comparison.seeds)}  # fmt: skip
    setup |= {f"{arm.arm.lr:g}" for arm in comparison.arms} | {str(len(comparison.seeds))}
    setup |= {f"{comparison.budget.amount:g}", "2018", "2"}  # 'McCandlish et al. 2018', '|G|^2'
    for sentence in comparison.sentences():
        text = re.sub(r"\[[^\]]*\]", "", sentence)  # arm labels name their own settings
        for number in NUMBER.findall(text):
            assert number in table | setup, (number, sentence)


def test_sentences_state_the_tables_numbers(digits_run):
    text = " ".join(digits_run.sentences())
    assert_every_number_is_in_the_table(digits_run)
    rows = {arm.label: arm.row for arm in digits_run.arms}
    stochastic, mini = rows["stochastic, sgd, lr 0.01"], rows["mini-batch 32, sgd, lr 0.1"]
    # every pair of arms, the cost per update, the balance and the noise scale
    for a, b in [
        ("stochastic", "mini-batch 32"),
        ("stochastic", "batch"),
        ("mini-batch 32", "batch"),
    ]:
        assert re.search(rf"\[{a}, sgd, lr [\d.]+\] against [\w\s()\d-]*\[{b}, sgd", text), (a, b)
    assert "1438 updates per epoch against 1," in text
    assert f"{format_number(stochastic['seconds_per_update'])} s per update" in text
    assert f"({format_number(mini['updates_per_second'])} updates per second" in text
    assert "The balance on this budget is [" in text and "critical batch size" in text
    assert "lr 0.5 budget too short: only" in text


def test_to_dict_is_json_and_from_dict_inverts_it(digits_run):
    data = digits_run.to_dict()
    text = json.dumps(data, allow_nan=False)
    again = Comparison.from_dict(json.loads(text))
    assert again.to_dict() == data
    assert again.sentences() == digits_run.sentences()


def test_same_seeds_give_the_same_numbers(digits):
    train, test = digits
    arms = [Arm(1, "sgd", 0.01), Arm(64, "adam", 0.01)]

    def run():
        data = compare(train, test, "mlp:16", arms, Budget("updates", 60), seeds=(3,)).to_dict()
        for arm in data["arms"]:
            for trace in arm["traces"]:
                del trace["points"]["seconds"]  # wall time is the one thing that varies
            del arm["curves"]["seconds"]
            for key in (
                "seconds_per_epoch",
                "seconds_to_target",
                "seconds",
                "seconds_per_update",
                "updates_per_second",
            ):
                del arm["row"][key]
        return data

    assert run() == run()


# -- budgets ---------------------------------------------------------------------------------


def test_a_samples_budget_is_never_exceeded_and_nearly_spent(digits):
    train, _ = digits
    result = compare(train, None, "linear", DIGITS_ARMS, Budget("samples", 3000), seeds=(0,))
    samples = {arm.label: arm.traces[0].points["samples"][-1] for arm in result.arms}
    assert samples == {"batch, sgd, lr 0.5": 2876, "stochastic, sgd, lr 0.01": 3000,
                       "mini-batch 32, sgd, lr 0.1": 2876 + 3 * 32}  # fmt: skip
    assert "val_loss" not in result.arms[0].traces[0].points


def test_an_updates_budget_stops_mid_epoch(digits):
    train, _ = digits
    result = compare(train, None, "linear", DIGITS_ARMS, Budget("updates", 50), seeds=(0,))
    for arm in result.arms:
        points = arm.traces[0].points
        assert points["updates"][-1] == 50 and len(arm.traces[0].step_loss) == 50
        assert len(points["loss"]) >= 20  # a short run still has a curve to read
    assert result.arms[1].traces[0].points["epochs"][-1] == pytest.approx(50 / 1438)


def test_a_seconds_budget_runs_on_the_training_clock(digits):
    """A clock that moves a quarter second (exact in binary) whenever a loss is computed,
    by a training step, an evaluation or a gradient probe: only the steps count."""
    train, _ = digits
    clock, cross_entropy = [0.0], nn.CrossEntropyLoss()

    def loss_fn(prediction, target):
        clock[0] += 0.25
        return cross_entropy(prediction, target)

    result = compare(train, None, "linear", [Arm(1, "sgd", 0.01)], Budget("seconds", 100),
                     seeds=(0,), loss_fn=loss_fn, clock=lambda: clock[0])  # fmt: skip
    points = result.arms[0].traces[0].points
    every = math.ceil(len(train) / EVALS_PER_EPOCH)  # updates between evaluation points
    assert points["updates"] == [0, every, 400]  # 400 steps of 1/4 s spend the 100 s
    assert points["seconds"] == [0.0, every / 4, 100.0]
    assert clock[0] > 100.0  # the evaluations and probes ran, off the training clock


@pytest.mark.parametrize(
    "kind, amount, match",
    [("epochs", 0, "cannot be met"), ("seconds", -1.0, "cannot be met"),
     ("updates", 0.5, "whole number"), ("samples", math.inf, "cannot be met"),
     ("weeks", 3, "unknown budget kind")],
)  # fmt: skip
def test_a_budget_that_cannot_be_met_is_refused(kind, amount, match):
    with pytest.raises(ValueError, match=match):
        Budget(kind, amount)


@pytest.mark.parametrize(
    "budget, match",
    [(Budget("samples", 100), "give at least 1438 samples"),
     (Budget("epochs", 0.0001), "give at least 1 epochs")],
)  # fmt: skip
def test_a_budget_too_small_for_one_update_of_an_arm_names_the_arm(digits, budget, match):
    train, _ = digits
    with pytest.raises(ValueError, match=match) as error:
        compare(train, None, "linear", DIGITS_ARMS, budget, seeds=(0,))
    assert "'batch, sgd, lr 0.5'" in str(error.value)


def test_max_updates_counts_the_short_last_batch():
    budget = Budget("samples", 250)
    assert max_updates(budget, 32, 100, "x") == 2 * 4 + 1  # an epoch: 32, 32, 32, 4
    assert max_updates(Budget("epochs", 1.5), 32, 100, "x") == 6


# -- bad input -------------------------------------------------------------------------------


def test_an_empty_grid_is_refused(digits):
    train, _ = digits
    with pytest.raises(ValueError, match="the grid is empty"):
        compare(train, arms=[])
    with pytest.raises(ValueError, match="lrs is empty"):
        grid(batch_sizes=[1], optimizers=["sgd"], lrs=[])


@pytest.mark.parametrize(
    "arms, seeds, match",
    [([Arm(1, "sgd", -0.1)], (0,), "must be a finite number > 0"),
     ([Arm(1, "sdg", 0.1)], (0,), "did you mean 'sgd'"),
     ([Arm(1, "sgd", 0.1), Arm(1, "sgd", 0.1)], (0,), "two arms are the same"),
     ([Arm(0, "sgd", 0.1)], (0,), "must be >= 1"),
     ([Arm(1, "sgd", 0.1)], (), "seeds is empty")],
)  # fmt: skip
def test_bad_arms_and_seeds_are_refused(digits, arms, seeds, match):
    with pytest.raises(ValueError, match=match):
        compare(digits[0], arms=arms, seeds=seeds)


def test_a_diverging_arm_is_marked_and_the_others_finish(digits):
    train, test = digits
    arms = [Arm(32, "sgd", 0.1), Arm(32, "sgd", 300.0), Arm("full", "sgd", 0.5)]
    result = compare(train, test, "mlp:16", arms, Budget("epochs", 2), seeds=(0, 1))
    fine, wild, batch = result.arms
    assert wild.row["diverged"] and wild.row["diverged_seeds"] == 2
    assert wild.row["lr_label"] == "diverged" and math.isnan(wild.row["train_loss"])
    for trace in wild.traces:
        assert trace.stopped_by == "diverged" and trace.diverged_at < 90
        assert len(trace.step_loss) == trace.diverged_at
    for arm in (fine, batch):
        assert not arm.row["diverged"] and arm.row["epochs"] == 2.0
        assert math.isfinite(arm.row["train_loss"])
    json.dumps(result.to_dict(), allow_nan=False)
    assert any("lr 300 diverged: its loss exploded at update" in s for s in result.sentences())


# -- learning-rate labels --------------------------------------------------------------------


def test_labels_on_a_quadratic_where_the_answer_is_known():
    """Full-batch GD on least squares: stable for lr < 2/lambda_max, fast near 1/lambda_max,
    and heavy-ball momentum 0.95 rings (the loss goes up and down)."""
    data, top = regression()
    arms = [Arm("full", "sgd", lr / top) for lr in (0.005, 1, 2.5)]
    arms.append(Arm("full", "sgd", 0.5 / top, {"momentum": 0.95}))
    result = compare(data, None, linear_model, arms, Budget("updates", 100), seeds=(0, 1))
    assert [arm.row["lr_label"] for arm in result.arms] == [
        "too low", "good", "diverged", "oscillating"
    ]  # fmt: skip
    assert result.task == "regression" and "accuracy" not in result.arms[0].traces[0].points
    assert result.arms[1].row["grad_cosine_start"] == 1.0
    # the first seed's line from the initial to the final weights: a parabola through the
    # curve's first and last losses (t = 0 and 1 of -0.25, -0.1667, ..., 1.25)
    good = result.arms[1].traces[0]
    line = np.array(good.landscape["loss"])
    assert line[[3, 15]] == pytest.approx([good.points["loss"][0], good.points["loss"][-1]],
                                          rel=1e-5)  # fmt: skip
    np.testing.assert_allclose(np.diff(line, 3), 0, atol=1e-9 * line.max())
    assert result.arms[1].traces[1].landscape is None  # the first seed's only


def test_lr_label_reads_the_shape_of_a_curve():
    steps = np.arange(50)
    assert lr_label(2 * np.exp(-steps / 5) + 0.1) == "good"
    assert lr_label(2 - 0.02 * steps) == "too low"  # an even pace: far from levelling off
    assert lr_label(np.full(50, 2.0)) == "too low"
    assert lr_label(1 + 0.5 * np.cos(steps)) == "oscillating"
    assert lr_label([2.0, 1.0, 0.5, 1.8]) == "oscillating"  # bounced far from its best
    # one early jump (stochastic descent: one sample overshoots), then orders of magnitude
    # of fall: the swing died out
    assert lr_label(np.r_[0.15, 0.5, 0.1 * 0.5**steps]) == "good"
    assert lr_label([2.0, 1.0, 0.5, 3.0]) == "diverged"  # ended above its start
    # growing geometrically for the last third, still below its start: diverged
    assert lr_label(np.r_[2 * np.exp(-steps / 5), 0.01 * 1.2 ** steps[:30]]) == "diverged"
    assert lr_label(2 - 0.02 * steps[:8]) == "budget too short"  # 7 updates, still falling
    assert lr_label([2.0, 1.0, math.nan]) == "diverged"
    assert lr_label([2.76, 161.0, 39601.0]) == "diverged"  # exploding, under the hard bound
    assert lr_label([2.0, 1.0, 0.5], diverged=True) == "diverged"
    # against a group whose best reached 1e-3, stopping at 0.5 is too low
    assert lr_label(2 * np.exp(-steps / 5) + 0.5, reference=1e-3) == "too low"


def test_sharpness_is_tracked_against_two_over_lr():
    data, top = regression()
    arm = Arm("full", "sgd", 1 / top)
    result = compare(data, None, linear_model, [arm], Budget("epochs", 3), seeds=(0,),
                     sharpness_every=1)  # fmt: skip
    curves = result.arms[0].curves
    assert curves["sharpness_epochs"].mean == [0.0, 1.0, 2.0, 3.0]
    # the loss is quadratic in the weights: the sharpness is the same everywhere
    np.testing.assert_allclose(curves["sharpness"].mean, top, rtol=2e-2)
    assert result.arms[0].row["edge_of_stability"] == pytest.approx(2 * top)
    assert edge_of_stability(Arm(1, "sgd", 0.1, {"momentum": 0.9})) == pytest.approx(38)
    assert math.isnan(edge_of_stability(Arm(1, "adam", 0.1)))
    assert any("stayed below its stability limit" in s for s in result.sentences())


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # it explodes
def test_sentences_on_a_regression_whose_arms_explode_without_a_hard_stop():
    """Unscaled diabetes targets (loss ~2e4): arms blow up; the words must still come out."""
    train, val = load_dataset("diabetes", standardize=True)  # features only
    comparison = compare(train, val, model="mlp:8", budget=Budget("epochs", 2), seeds=(0,))
    labels = {arm.label: arm.row["lr_label"] for arm in comparison.arms}
    words = " ".join(comparison.sentences())
    exploded = [label for label, verdict in labels.items() if verdict == "diverged"]
    assert exploded and all(
        f"{label.rpartition(', ')[2]} diverged: " in words for label in exploded
    )
    if "lowest final validation loss" in words:
        best = words.split("lowest final validation loss")[1]
        assert not any(f"[{label}]" in best for label in exploded)
