"""The `descent` command as a user runs it, called in this process: `main(argv) -> int`.

What needs a real process (the installed script, `python -m descent`, a fresh interpreter's
imports) is in test_cli_process.py.
"""

import contextlib
import csv
import io
import json
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from descent.cli import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def descent(*args, cwd, check=True) -> Result:
    """`descent ARGS` run from the folder `cwd`, with what it printed to stdout and stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (contextlib.chdir(cwd), contextlib.redirect_stdout(stdout),
          contextlib.redirect_stderr(stderr), warnings.catch_warnings()):  # fmt: skip
        code = main([str(arg) for arg in args])  # catch_warnings undoes its warnings.showwarning
    result = Result(code, stdout.getvalue(), stderr.getvalue())
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def only_run(root: Path) -> Path:
    runs = sorted((root / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """`descent train` with no flags at all: digits, an MLP, mini-batch SGD."""
    cwd = tmp_path_factory.mktemp("default")
    result = descent("train", "--no-progress", cwd=cwd)
    return cwd, only_run(cwd), result


def test_default_run_learns_digits_and_fills_its_folder(default_run):
    cwd, run, result = default_run
    lines = result.stdout.splitlines()
    assert lines[1].split()[:5] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [line.split()[0] for line in lines[2:22]] == [str(e) for e in range(1, 21)]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.95
    assert f"accuracy {metrics['test']['accuracy']:.4g}" in result.stdout
    history = json.loads((run / "history.json").read_text())
    assert len(history["epoch_time"]) == 20 and len(history["step_loss"]) == 20 * 41
    with open(run / "history.csv") as file:
        assert len(list(csv.DictReader(file))) == 20
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["data"] == "digits" and config["model"] == "mlp:128:relu"
    for name in ("last.safetensors", "best.safetensors"):
        assert (run / "checkpoints" / name).stat().st_size > 0
    for name in ("epochs", "loss_per_step", "learning_rate", "layer_diagnostics"):
        assert (run / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (run / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "test accuracy" in page
    assert lines[0].endswith("sgd lr 0.05, momentum 0.9, nesterov off, weight decay 0, "
                             "constant schedule; batch size 32, 20 epochs")  # fmt: skip
    for shown in ("0 Linear", "1 ReLU", "2 Linear", "train accuracy (last epoch)",
                  "the best checkpoint, epoch"):  # fmt: skip
        assert shown in page, shown
    assert ">gamma<" not in page and ">step_size<" not in page  # no step schedule


def test_the_progress_bar_stays_on_the_terminal(tmp_path):
    from descent.cli import jobs
    from descent.cli.build import build
    from descent.cli.config import RunConfig
    from descent.cli.run_folder import RunFolder
    from descent.lab.diagnostics import LayerDiagnostics
    from descent.train import ProgressBar

    setup = build(RunConfig(data="iris"))
    callbacks = jobs._callbacks(setup, RunFolder.create(tmp_path, "run"), print, True,
                                LayerDiagnostics(), setup.callbacks())  # fmt: skip
    (bar,) = [c for c in callbacks if isinstance(c, ProgressBar)]
    assert bar.leave and bar.disable is None  # None: shown on a terminal only


def test_help_lists_only_the_flags_a_command_takes_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    train = descent("train", "--help", cwd=tmp_path).stdout
    assert "--clip-grad-norm MAX" in train and "[default: mlp:128]" in train
    assert "0.0016 at batch 1" in train and "200 with --batch-size full" in train
    compare = descent("compare", "--help", cwd=tmp_path).stdout
    for refused in ("--optimizer ", "--lr ", "--batch-size ", "--epochs ", "--clip-grad-norm"):
        assert refused not in compare, refused
    lr_find = descent("lr-find", "--help", cwd=tmp_path).stdout
    assert "--lr " not in lr_find and "--epochs" not in lr_find and "--start-lr" in lr_find


def test_no_guard_survives_nan(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow
        result = descent("train", "--data", "iris", "--lr", 1e30, "--no-guard", "--epochs", 2,
                         "--no-progress", cwd=tmp_path)  # fmt: skip
    run = only_run(tmp_path)
    assert "test (" in result.stdout and (run / "report.html").is_file()
    assert None in json.loads((run / "history.json").read_text())["metrics"]["loss"]


def test_a_loss_that_keeps_rising_is_stopped_and_named(tmp_path):
    result = descent("train", "--lr", 0.17, "--no-progress", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "training loss rose for 3 epochs in a row" in result.stderr
    assert "--clip-grad-norm" in result.stderr


def test_ctrl_c_stops_within_a_step_and_says_how_to_resume(tmp_path, monkeypatch):
    from descent.cli.build import Setup
    from descent.train import Callback

    class CtrlC(Callback):
        def on_batch_end(self, step, logs=None):
            if logs["epoch"] == 1 and logs["batch"] == 2:
                raise KeyboardInterrupt

    callbacks = Setup.callbacks
    monkeypatch.setattr(Setup, "callbacks", lambda self: [*callbacks(self), CtrlC()])
    result = descent("train", "--data", "iris", "--no-progress", cwd=tmp_path, check=False)
    run = only_run(tmp_path)
    assert result.returncode == 130
    resume = f"descent resume {run.relative_to(tmp_path)}"
    assert f"keeps epoch 1; go on with\n  {resume}\n" in result.stdout
    assert not (run / "report.html").exists()  # no seconds of plotting
    monkeypatch.setattr(Setup, "callbacks", callbacks)
    descent("resume", run, "--no-progress", cwd=tmp_path)


def test_a_second_run_never_overwrites_the_first(default_run, tmp_path):
    cwd, run, _ = default_run
    descent("train", "--no-progress", "--epochs", 1, "--out", cwd / "runs", cwd=tmp_path)
    runs = sorted((cwd / "runs").iterdir())
    assert len(runs) == 2 and run in runs
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 20


CONFIG = """\
data = "moons"
model = "mlp:16:tanh"
batch-size = "full"
lr = 0.5
epochs = 6
val_split = 0.0
"""


def test_config_file_run(tmp_path):
    (tmp_path / "run.toml").write_text(CONFIG)
    descent("train", "--config", "run.toml", "--no-progress", cwd=tmp_path)
    run = only_run(tmp_path)
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["data"] == "moons" and config["model"] == "mlp:16:tanh"
    assert config["batch_size"] == "full"
    history = json.loads((run / "history.json").read_text())
    assert len(history["step_loss"]) == 6  # batch gradient descent: one update per epoch
    assert "val_loss" not in history["metrics"]
    assert not (run / "checkpoints" / "best.safetensors").exists()


def test_flags_override_the_config_file(tmp_path):
    (tmp_path / "run.toml").write_text(CONFIG)
    descent("train", "--config", "run.toml", "--epochs", 2, "--lr", 0.2, "--no-progress",
            cwd=tmp_path)  # fmt: skip
    config = tomllib.loads((only_run(tmp_path) / "config.toml").read_text())
    assert (config["epochs"], config["lr"], config["model"]) == (2, 0.2, "mlp:16:tanh")


def test_resume_continues_exactly_as_an_unbroken_run(tmp_path):
    args = ["--data", "iris", "--model", "mlp:8", "--batch-size", 16, "--no-progress"]
    descent("train", *args, "--epochs", 5, "--out", "whole", cwd=tmp_path)
    descent("train", *args, "--epochs", 2, "--out", "parts", cwd=tmp_path)
    (part,) = (tmp_path / "parts").iterdir()
    rows = (part / "history.csv").read_text().splitlines()
    (part / "history.csv").write_text("\n".join(rows[:-1]) + "\n")  # killed before its last row
    descent("resume", part, "--epochs", 5, "--no-progress", cwd=tmp_path)
    (whole,) = (tmp_path / "whole").iterdir()
    resumed = json.loads((part / "history.json").read_text())
    straight = json.loads((whole / "history.json").read_text())
    assert resumed["step_loss"] == straight["step_loss"]
    assert resumed["metrics"] == straight["metrics"]
    assert (json.loads((part / "diagnostics.json").read_text())
            == json.loads((whole / "diagnostics.json").read_text()))  # fmt: skip
    assert json.loads((part / "metrics.json").read_text())["test"] == json.loads(
        (whole / "metrics.json").read_text())["test"]  # fmt: skip
    with open(part / "history.csv") as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["1", "2", "3", "4", "5"]
    assert tomllib.loads((part / "config.toml").read_text())["epochs"] == 5


def test_resume_refuses_to_stretch_a_fixed_schedule_and_keeps_the_run(tmp_path):
    descent("train", "--data", "iris", "--model", "mlp:8", "--schedule", "onecycle",
            "--epochs", 2, "--no-progress", cwd=tmp_path)  # fmt: skip
    run = only_run(tmp_path)
    message = fails("resume", run, "--epochs", 4, cwd=tmp_path)
    assert "onecycle schedule was laid out for 2 epochs" in message
    assert tomllib.loads((run / "config.toml").read_text())["epochs"] == 2
    assert "already trained 2 epochs" in fails("resume", run, "--epochs", 1, cwd=tmp_path)
    descent("resume", run, "--no-progress", cwd=tmp_path)  # still resumable as it was


def test_evaluate_reports_what_training_measured(default_run):
    cwd, run, _ = default_run
    metrics = json.loads((run / "metrics.json").read_text())
    tested = metrics["checkpoint"]  # train tests the best checkpoint, as evaluate does
    assert tested["which"] == "best" and 1 <= tested["epoch"] <= 20
    result = descent("evaluate", run, cwd=cwd)
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines()}
    assert set(lines) == {"weights", "train", "validation", "test"}
    assert lines["weights"] == f"weights: best.safetensors, saved after epoch {tested['epoch']}"
    test = metrics["test"]
    assert f"accuracy {test['accuracy']:.4g}" in lines["test"]
    assert f"loss {test['loss']:.4g}" in lines["test"]


def test_predict_on_a_csv(default_run, tmp_path):
    cwd, run, _ = default_run
    info = json.loads((run / "data.json").read_text())
    digits = load_digits()
    rows = np.arange(0, 1797, 9)
    with open(tmp_path / "new.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", *info["feature_names"]])  # extra columns are ignored
        for i in rows:
            writer.writerow([i, *digits.data[i]])
    descent("predict", run, "--input", tmp_path / "new.csv", "--output",
            tmp_path / "out.csv", cwd=cwd)  # fmt: skip
    with open(tmp_path / "out.csv") as file:
        out = list(csv.DictReader(file))
    assert len(out) == len(rows)
    printed = descent("predict", run, "--input", tmp_path / "new.csv", "--output", "-",
                      cwd=cwd).stdout  # fmt: skip
    assert printed == (tmp_path / "out.csv").read_bytes().decode()  # the CSV, nothing else
    predicted = np.array([int(row["prediction"]) for row in out])
    assert np.mean(predicted == digits.target[rows]) >= 0.95
    probabilities = np.array([[float(row[f"p_{k}"]) for k in range(10)] for row in out])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert (probabilities.argmax(axis=1) == predicted).all()


def test_report_redraws_from_the_files(default_run):
    cwd, run, _ = default_run
    (run / "report.html").unlink()
    result = descent("report", run, cwd=cwd)
    assert "report.html" in result.stdout and (run / "report.html").stat().st_size > 10_000


def test_lr_find_suggests_a_rate_and_draws_the_sweep(tmp_path):
    out = descent("lr-find", "--model", "mlp:64", "--steps", 60, cwd=tmp_path).stdout
    suggested = float(out.split("suggested learning rate: ")[1].split()[0])
    run = only_run(tmp_path)
    result = json.loads((run / "lr_find.json").read_text())
    assert result["suggested_lr"] == pytest.approx(suggested, rel=1e-3)
    assert 1e-3 < suggested < result["diverged_at"] <= 10
    assert len(result["lrs"]) == len(result["losses"]) <= 60
    assert "Learning-rate range test" in (run / "report.html").read_text()
    assert (run / "plots" / "lr_find.png").stat().st_size > 0


def test_sharpness_is_tracked_against_two_over_lr(tmp_path):
    descent("sharpness", "--data", "moons", "--model", "mlp:16:tanh", "--batch-size", "full",
            "--lr", 0.5, "--epochs", 20, "--every", 5, "--samples", 200, "--no-progress",
            cwd=tmp_path)  # fmt: skip
    tracked = json.loads((only_run(tmp_path) / "sharpness.json").read_text())
    records = tracked["records"]
    assert [r["epoch"] for r in records] == [0, 5, 10, 15, 20] and tracked["samples"] == 200
    assert all(r["two_over_lr"] == pytest.approx(4.0) and r["sharpness"] > 0 for r in records)


def test_batch_descent_sharpness_is_measured_on_the_whole_set_it_descends_on(tmp_path):
    descent("sharpness", "--data", "moons", "--model", "mlp:8:tanh", "--batch-size", "full",
            "--momentum", 0, "--lr", 0.5, "--epochs", 2, "--no-progress", cwd=tmp_path)  # fmt: skip
    run = only_run(tmp_path)
    tracked = json.loads((run / "sharpness.json").read_text())
    sizes = json.loads((run / "data.json").read_text())["sizes"]
    assert tracked["samples"] == sizes["train"] > 512
    assert all(r["edge_of_stability"] == pytest.approx(4.0) for r in tracked["records"])


def test_compare_batch_stochastic_and_mini_batch(tmp_path):
    out = descent("compare", "--budget", "epochs=2", "--seeds", 2, "--model", "mlp:32",
                  cwd=tmp_path).stdout  # fmt: skip
    run = only_run(tmp_path)
    comparison = json.loads((run / "comparison.json").read_text())
    arms = {arm["variant"]: arm for arm in comparison["arms"]}
    assert set(arms) == {"batch", "stochastic", "mini-batch"} and comparison["seeds"] == [0, 1]
    assert arms["batch"]["updates_per_epoch"] == 1
    assert arms["stochastic"]["updates_per_epoch"] == comparison["num_samples"]
    cosine = {name: arm["row"]["grad_cosine_start"] for name, arm in arms.items()}
    assert cosine["stochastic"] < cosine["mini-batch"] < cosine["batch"] == pytest.approx(1.0)
    for arm in arms.values():
        assert arm["row"]["epochs"] == 2 and not arm["row"]["diverged"]
        assert len(arm["curves"]["loss"]["mean"]) == len(arm["curves"]["epochs"]["mean"]) > 2
    with open(run / "comparison.csv") as file:
        assert [row["arm"] for row in csv.DictReader(file)] == [a["label"] for a in
                                                                comparison["arms"]]  # fmt: skip
    assert all(arm["label"] in out for arm in comparison["arms"]) and "updates per epoch" in out
    page = (run / "report.html").read_text()
    assert "Stochastic descent (batch 1)" in page and page.count("data:image/png") == 4


def test_compare_marks_a_diverging_arm_and_finishes_the_others(tmp_path):
    descent("compare", "--arm", "32:sgd:1000", "--arm", "32:sgd:0.1", "--budget", "epochs=1",
            "--seeds", 1, "--model", "mlp:16", cwd=tmp_path)  # fmt: skip
    rows = [arm["row"] for arm in json.loads(
        (only_run(tmp_path) / "comparison.json").read_text())["arms"]]  # fmt: skip
    assert [row["lr_label"] for row in rows][0] == "diverged" and rows[0]["diverged"]
    assert not rows[1]["diverged"] and rows[1]["train_loss"] < 2.0  # from ln(10) = 2.3


def test_compare_refuses_a_budget_it_cannot_meet(tmp_path):
    message = fails("compare", "--arm", "full:sgd:0.5", "--budget", "samples=10", cwd=tmp_path)
    assert "10 samples is less than one update of the arm 'batch, sgd, lr 0.5'" in message
    assert not (tmp_path / "runs").exists()
    assert "0 epochs cannot be met" in fails("compare", "--budget", "epochs=0", cwd=tmp_path)
    assert "seconds" in fails("compare", "--budget", "lifetimes=3", cwd=tmp_path)
    assert "BATCH:OPTIMIZER:LR" in fails("compare", "--arm", "32:sgd", cwd=tmp_path, code=2)
    assert "empty list" in fails("compare", "--lrs", ",", cwd=tmp_path, code=2)
    assert "finite number > 0" in fails("compare", "--target-loss", "nan", cwd=tmp_path, code=2)
    message = fails("compare", "--optimizer", "adam", "--lr", 0.1, cwd=tmp_path, code=2)
    assert "compare sets optimizer, lr per arm" in message and "--arm" in message
    (tmp_path / "run.toml").write_text('data = "iris"\nbatch_size = 8\n')
    assert "compare sets batch-size per arm" in fails("compare", "--config", "run.toml",
                                                      cwd=tmp_path, code=2)  # fmt: skip


def test_compare_applies_momentum_to_its_sgd_arms_and_saves_what_it_used(tmp_path):
    descent("compare", "--arm", "32:sgd:0.05", "--arm", "32:adam:0.001", "--momentum", 0.9,
            "--budget", "updates=20", "--seeds", 1, "--model", "mlp:16", cwd=tmp_path)  # fmt: skip
    run = only_run(tmp_path)
    labels = [arm["label"] for arm in json.loads((run / "comparison.json").read_text())["arms"]]
    assert labels == ["mini-batch 32, sgd(momentum=0.9), lr 0.05", "mini-batch 32, adam, lr 0.001"]
    (tmp_path / "run.toml").write_text("momentum = 0.5\n")  # from a file, on the default arms
    descent("compare", "--config", "run.toml", "--budget", "updates=5", "--seeds", 1,
            "--model", "mlp:8", "--out", "defaults", cwd=tmp_path)  # fmt: skip
    (run,) = (tmp_path / "defaults").iterdir()
    labels = [arm["label"] for arm in json.loads((run / "comparison.json").read_text())["arms"]]
    assert all("sgd(momentum=0.5)" in label for label in labels) and len(labels) == 3
    saved = set(tomllib.loads((run / "config.toml").read_text()))
    assert saved <= set("data target task model loss seed val_split test_split standardize".split())


def test_datasets_lists_the_built_ins(tmp_path):
    out = descent("datasets", cwd=tmp_path).stdout
    assert {line.split()[0] for line in out.splitlines()} >= {"digits", "iris", "moons", "spirals"}


COMMANDS = "train evaluate predict resume report datasets lr-find sharpness compare export".split()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    out = descent(command, "--help", cwd=tmp_path).stdout
    assert "Example" in out and f"descent {command}" in out


# -- bad input: a clear message naming the thing and the fix, exit code 1 or 2, nothing lost --


def fails(*args, cwd, code=1):
    result = descent(*args, cwd=cwd, check=False)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def test_unknown_data_set(tmp_path):
    message = fails("train", "--data", "digit", cwd=tmp_path)
    assert "unknown data set 'digit'" in message and "did you mean 'digits'" in message
    assert not (tmp_path / "runs").exists()


def test_unknown_optimizer_and_model(tmp_path):
    message = fails("train", "--optimizer", "adma", cwd=tmp_path, code=2)
    assert "'adma'" in message and "adam" in message
    message = fails("train", "--model", "mpl:64", cwd=tmp_path)
    assert "unknown model 'mpl'; did you mean 'mlp'" in message
    (tmp_path / "run.toml").write_text('optimizer = "sgdd"\n')
    message = fails("train", "--config", "run.toml", cwd=tmp_path)
    assert "run.toml: unknown optimizer 'sgdd'; did you mean 'sgd'" in message


def test_unknown_or_mistyped_config_key(tmp_path):
    (tmp_path / "run.toml").write_text("learning_rate = 0.1\n")
    assert "unknown setting 'learning_rate'" in fails("train", "--config", "run.toml", cwd=tmp_path)
    (tmp_path / "run.toml").write_text('epochs = "ten"\n')
    assert "epochs='ten' must be int" in fails("train", "--config", "run.toml", cwd=tmp_path)


def test_malformed_toml_names_the_line(tmp_path):
    (tmp_path / "run.toml").write_text('data = "digits"\nlr = = 0.1\n')
    message = fails("train", "--config", "run.toml", cwd=tmp_path)
    assert "run.toml: not valid TOML" in message and "line 2" in message


def test_csv_with_a_non_numeric_cell(tmp_path):
    (tmp_path / "data.csv").write_text("a,b,label\n1,2,0\n3,x,1\n5,6,0\n")
    message = fails("train", "--data", "data.csv", cwd=tmp_path)
    assert "row 3, column 'b': 'x' is not a number" in message


def test_missing_run_folder(tmp_path):
    for command in ("evaluate", "resume", "report"):
        message = fails(command, "runs/nope", cwd=tmp_path)
        assert "no run folder at runs/nope" in message


def test_output_folder_that_cannot_be_written(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    message = fails("train", "--out", "taken/runs", "--epochs", 1, cwd=tmp_path)
    assert "cannot write the output folder taken/runs" in message and "--out" in message


def test_predict_needs_the_training_features(default_run, tmp_path):
    cwd, run, _ = default_run
    (tmp_path / "new.csv").write_text("pixel_0_0,pixel_0_1\n0,1\n")
    message = fails("predict", run, "--input", tmp_path / "new.csv", "--output",
                    tmp_path / "out.csv", cwd=cwd)  # fmt: skip
    assert "no feature columns" in message and "pixel_0_2" in message
    assert not (tmp_path / "out.csv").exists()


def test_a_diverging_run_stops_with_the_step_and_keeps_its_history(tmp_path):
    message = fails("train", "--data", "diabetes", "--lr", "1e4", "--no-standardize",
                    "--epochs", 3, cwd=tmp_path)  # fmt: skip
    assert "training diverged at step" in message and "learning rate" in message
    run = only_run(tmp_path)
    history = json.loads((run / "history.json").read_text())
    assert [e["event"] for e in history["events"]][:3] == ["divergence_rollback"] * 3
    assert "The run failed" in (run / "report.html").read_text()


def test_bad_settings_leave_no_run_folder(tmp_path):
    assert "steps" in fails("lr-find", "--steps", 1, cwd=tmp_path)
    assert "start_lr must be < end_lr" in fails("lr-find", "--start-lr", 1, "--end-lr", 0.1,
                                                cwd=tmp_path)  # fmt: skip
    message = fails("train", "--loss", "mse", cwd=tmp_path)
    assert "'digits' is a classification task" in message and "cross_entropy" in message
    assert "seed=-5 must be >= 0" in fails("train", "--seed", -5, cwd=tmp_path)
    assert "every=0" in fails("sharpness", "--every", 0, cwd=tmp_path)
    assert not (tmp_path / "runs").exists()


def test_a_run_on_a_csv_works_from_anywhere_and_notices_a_changed_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    with open(tmp_path / "data.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["a", "b", "c", "label"])
        writer.writerows([[*row, int(row[0] + row[1] > 0)] for row in x])
    descent("train", "--data", "data.csv", "--epochs", 2, "--no-progress", cwd=tmp_path)
    run = only_run(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "test:" in descent("evaluate", run, cwd=elsewhere).stdout
    lines = (tmp_path / "data.csv").read_text().splitlines()
    (tmp_path / "data.csv").write_text("\n".join(lines[:100]) + "\n")
    assert "changed since the run was trained" in fails("evaluate", run, cwd=elsewhere)
    assert "changed since the run was trained" in fails("resume", run, cwd=elsewhere)
    (tmp_path / "new.csv").write_text("a,b,c\n1,1,0\n-1,-1,0\n")
    descent("predict", run, "--input", "new.csv", "--output", "out.csv", cwd=tmp_path)
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 3  # needs no training data


def test_regression_with_defaults_trains_and_predicts_in_the_targets_units(tmp_path):
    from sklearn.datasets import load_diabetes

    out = descent("train", "--data", "diabetes", "--epochs", 5, "--no-progress",
                  cwd=tmp_path).stdout  # fmt: skip
    assert "targets standardized" in out and "r2" in out
    run = only_run(tmp_path)
    info = json.loads((run / "data.json").read_text())
    diabetes = load_diabetes()
    with open(tmp_path / "new.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(info["feature_names"])
        writer.writerows(diabetes.data[:50])
    descent("predict", run, "--input", "new.csv", "--output", "out.csv", cwd=tmp_path)
    with open(tmp_path / "out.csv") as file:
        predicted = np.array([float(row["prediction"]) for row in csv.DictReader(file)])
    assert 100 < predicted.mean() < 200  # diabetes targets run from 25 to 346, mean 152
    assert np.corrcoef(predicted, diabetes.target[:50])[0, 1] > 0.5


def test_a_run_ended_by_early_stopping_is_not_resumed(tmp_path):
    out = descent("train", "--data", "iris", "--model", "mlp:8", "--lr", 0.5, "--epochs", 200,
                  "--early-stopping", 2, "--no-progress", cwd=tmp_path).stdout  # fmt: skip
    assert "early stopping: stopped after epoch" in out
    run = only_run(tmp_path)
    history = json.loads((run / "history.json").read_text())
    (stop,) = [e for e in history["events"] if e["event"] == "early_stopping"]
    (restored,) = [e for e in history["events"] if e["event"] == "restored_best_weights"]
    assert stop["epoch"] == len(history["epoch_time"]) < 200
    assert restored["epoch"] == stop["best_epoch"] == stop["epoch"] - 2
    assert "early stopping ended this run" in fails("resume", run, cwd=tmp_path)
