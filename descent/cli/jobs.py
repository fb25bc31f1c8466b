"""The jobs of the `descent` command as plain functions: train, resume, evaluate, predict, report.

Each takes parsed arguments and an `echo` for what it prints, so the CLI stays a thin layer
of flags and tests can call the jobs directly. Every number printed is one measured here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable

import numpy as np

from descent import checkpoint
from descent.autograd import no_grad
from descent.cli.build import Setup, build, make_loss
from descent.cli.config import RunConfig
from descent.cli.data import (
    check_unchanged,
    features_for_prediction,
    load_splits,
    resolved,
    saved_standardizer,
    targets_from_prediction,
)
from descent.cli.ranks import ONE_RANK, Ranks
from descent.cli.report import (
    COMPARE_SETTINGS,
    SHOWN,
    sharpness_summary,
    shown_columns,
    write_report,
)
from descent.cli.run_folder import RunFolder
from descent.cli.schedules import FIXED_LENGTH
from descent.data import read_csv_features
from descent.files import write_atomic
from descent.lab import compare, lr_find
from descent.lab.diagnostics import LayerDiagnostics
from descent.lab.sharpness import SharpnessTracker
from descent.nn.models import build_model
from descent.tensor import Tensor
from descent.text import format_number
from descent.train import (
    CSVLogger,
    EpochTable,
    History,
    JSONLogger,
    ModelCheckpoint,
    ProgressBar,
    TrainingDiverged,
    evaluate,
    fit,
)
from descent.train import resume as resume_fit

Echo = Callable[[str], None]
ReportWriter = Callable[..., RunFolder]
"""`write_report(folder, failure=None)`: this process's, or a child's drawn aside
(`descent.cli.renderer`)."""


def _label(config: RunConfig) -> str:
    data = os.path.splitext(os.path.basename(config.data))[0]
    return f"{data}-{str(config.model).replace(':', '-').replace(',', '-')}"


def _callbacks(setup: Setup, folder: RunFolder, echo: Echo, progress: bool,
               diagnostics: LayerDiagnostics, training: list,
               extras: dict | None = None) -> list:  # fmt: skip
    """The run's callbacks, in the order each epoch's end needs: `training` (the setup's
    clipping, guard and early stopping), the recorders (diagnostics and `extras`, {file
    name: callback with `to_dict()`}), then the checkpoints that keep what they recorded,
    then the files drawn from them (rewritten whole at the start too, so a resumed run's
    files are the checkpoint's at once)."""
    records = {"diagnostics.json": diagnostics, **(extras or {})}
    folder.checkpoints.mkdir(exist_ok=True)
    return [
        ProgressBar(disable=None if progress else True),
        *training,
        *records.values(),
        ModelCheckpoint(
            folder.last_checkpoint,
            every=1,
            save_best=setup.val_loader is not None,
            monitor="val_loss",
            best_path=folder.best_checkpoint,
            state=_checkpointed(diagnostics, training),
        ),  # fmt: skip
        JSONLogger(folder.file("history.json")),
        CSVLogger(folder.file("history.csv")),
        *(JSONLogger(folder.file(name), record=callback) for name, callback in records.items()),
        EpochTable(echo),
    ]


def _checkpointed(diagnostics: LayerDiagnostics, training: list) -> dict:
    """What the checkpoints keep besides the training state: the diagnostics so far, so a
    resumed run's per-layer series cover every epoch, and the guard's and early stopping's
    counts and bests, so a resumed run stops where an uninterrupted one would."""
    kept = {type(c).__name__: c for c in training if hasattr(c, "state_dict")}
    return {"diagnostics": diagnostics, **kept}


def _finish(
    setup: Setup, folder: RunFolder, history: History, echo: Echo, report: ReportWriter
) -> dict:
    """Test the model of the best checkpoint (the lowest val_loss; the last without
    validation), as `descent evaluate` does; save the metrics, plots and report."""
    for event in history.events:
        if event["event"] == "early_stopping":
            echo(f"early stopping: stopped after epoch {event['epoch']}; the weights of the "
                 f"best epoch, {event['best_epoch']}, are restored")  # fmt: skip
    tested = {"which": "last", "epoch": history.epochs}
    if folder.best_checkpoint.is_file():
        saved = checkpoint.load(folder.best_checkpoint, model=setup.model)
        tested = {"which": "best", "epoch": int(saved["epoch"])}
    test = evaluate(setup.model, setup.loss_fn, setup.test_loader,
                    setup.metrics)  # fmt: skip
    folder.write_json("metrics.json", {"test": test, "checkpoint": tested,
                                       "epochs": history.epochs,
                                       "samples_seen": history.samples_seen,
                                       "seconds": sum(history.epoch_time)})  # fmt: skip
    echo(f"test ({tested['which']} checkpoint, epoch {tested['epoch']}): "
         + "  ".join(f"{k} {v:.4g}" for k, v in test.items()))  # fmt: skip
    report(folder)
    echo(f"run folder: {folder.path}  (report: {folder.report})")
    return test


def _fail(folder: RunFolder, error: Exception, echo: Echo, report: ReportWriter) -> None:
    """Report what a failed run learned; its loggers have saved its history as it ended.
    Ctrl-C skips the report (seconds of plotting) and says how to go on."""
    if isinstance(error, KeyboardInterrupt):
        if folder.last_checkpoint.is_file():
            epoch = checkpoint.load(folder.last_checkpoint)["epoch"]
            echo(f"interrupted: {folder.last_checkpoint} keeps epoch {epoch}; go on with\n"
                 f"  descent resume {folder.path}")  # fmt: skip
        else:
            echo(f"interrupted in the first epoch: {folder.path} has no checkpoint to resume")
        return
    report(folder, failure=str(error))
    echo(f"run folder: {folder.path} keeps the history and the last good checkpoint")


def _new_folder(config: RunConfig, setup: Setup, kind: str = "") -> RunFolder:
    """A fresh run folder holding the config and the data's layout."""
    folder = RunFolder.create(config.out, kind + _label(config))
    folder.write_text("config.toml", config.to_toml())
    folder.write_json("data.json", setup.data.info())
    return folder


def train(config: RunConfig, echo: Echo = print, progress: bool = True,
          extras: Callable[[Setup], dict] | None = None, kind: str = "",
          ranks: Ranks = ONE_RANK,
          report: ReportWriter = write_report) -> tuple[RunFolder | None, dict]:  # fmt: skip
    """Train as `config` says into a fresh run folder; returns it and the test metrics.

    `extras(setup)` may add callbacks, by the JSON file each one's `to_dict()` is
    saved to after every epoch (e.g. {"sharpness.json": SharpnessTracker(...)}); `kind`
    prefixes the folder's name. Over several `ranks`, each global batch is shared among
    them and rank 0 alone writes; the others return (None, {}). `report` draws the
    report at the end (`descent.cli.renderer` draws it in a child process).
    """
    config = resolved(config)
    if config.scale_lr == "linear":  # the rates of this run, wherever it resumes
        config = config.replace(scale_ranks=ranks.size)
    setup = build(config)  # bad data or settings fail here, before a folder is made
    training = setup.callbacks() + ranks.share(setup.model)
    if not ranks.writes:
        _follow(setup, training)
        return None, {}
    folder = _new_folder(config, setup, kind)
    callbacks = _callbacks(setup, folder, echo, progress, LayerDiagnostics(),
                           training, extras(setup) if extras else None)  # fmt: skip
    sizes = setup.data.info()["sizes"]
    echo(f"{config.data}: {sizes['train']} train, {sizes['val']} validation, "
         f"{sizes['test']} test samples; model {config.model}; {config.optimizer_summary()}; "
         f"batch size {config.batch_size}, {config.epochs} epochs")  # fmt: skip
    if setup.data.target_standardizer is not None:
        scale = setup.data.target_standardizer.scale.ravel()
        echo(f"targets standardized: losses and errors are in units of the targets' standard "
             f"deviation ({', '.join(f'{s:.4g}' for s in scale)})")  # fmt: skip
    history = History()
    try:
        fit(setup.model, setup.loss_fn, setup.optimizer, setup.train_loader,
            config.epochs, val_loader=setup.val_loader, scheduler=setup.scheduler,
            metrics=setup.metrics, callbacks=callbacks, progress=False,
            history=history)  # fmt: skip
    except (TrainingDiverged, KeyboardInterrupt) as error:
        _fail(folder, error, echo, report)
        raise
    return folder, _finish(setup, folder, history, echo, report)


def _follow(setup: Setup, training: list, resume_from=None, state=None) -> None:
    """A rank other than 0: the same training, with only the callbacks that steer it."""
    options = dict(val_loader=setup.val_loader, scheduler=setup.scheduler,
                   metrics=setup.metrics, callbacks=training, progress=False)  # fmt: skip
    if resume_from is None:
        fit(setup.model, setup.loss_fn, setup.optimizer, setup.train_loader,
            setup.config.epochs, **options)  # fmt: skip
    else:
        resume_fit(resume_from, setup.model, setup.loss_fn, setup.optimizer,
                   setup.train_loader, setup.config.epochs, state=state, **options)  # fmt: skip


SHARPNESS_SAMPLES = 512
"""The samples the sharpness of a mini-batch run is measured on: the Hessian of the whole
training loss, estimated on a fixed subset (batch descent uses the whole set it descends on)."""


def track_sharpness(
    config: RunConfig,
    every: int = 1,
    samples: int | None = None,
    echo: Echo = print,
    progress: bool = True,
    report: ReportWriter = write_report,
) -> tuple[RunFolder, dict]:
    """Train as `config` says, measuring the sharpness on `samples` training samples (by
    default the whole training set for batch descent, else `SHARPNESS_SAMPLES`)."""
    if (samples is not None and samples < 1) or every < 1:
        raise ValueError(f"sharpness: samples={samples} and every={every} must be >= 1")

    def tracker(setup: Setup) -> dict:
        train_data = setup.data.train
        whole = config.batch_size == "full" or config.batch_size >= len(train_data)
        default = len(train_data) if whole else SHARPNESS_SAMPLES
        n = min(samples or default, len(train_data))
        return {
            "sharpness.json": SharpnessTracker(
                train_data.features[:n], train_data.targets[:n], every=every
            )
        }

    folder, test = train(
        config, echo=echo, progress=progress, extras=tracker, kind="sharpness-", report=report
    )
    echo(sharpness_summary(folder.read_json("sharpness.json")))
    return folder, test


def find_lr(config: RunConfig, start_lr: float = 1e-5, end_lr: float = 10.0, steps: int = 300,
            echo: Echo = print,
            report: ReportWriter = write_report) -> tuple[RunFolder, dict]:  # fmt: skip
    """The learning-rate range test on the config's data, model and optimizer."""
    config = resolved(config)
    setup = build(config)
    result = lr_find(setup.model, setup.loss_fn, setup.optimizer,
                     setup.train_loader, start_lr=start_lr, end_lr=end_lr,
                     num_steps=steps).to_dict()  # fmt: skip
    folder = _new_folder(config, setup, "lr-find-")
    folder.write_json("lr_find.json", result)
    report(folder)
    echo(f"suggested learning rate: {format_number(result['suggested_lr'])}")
    echo(f"why: {result['reason']}")
    echo(f"run folder: {folder.path}  (report: {folder.report})")
    return folder, result


def resume(path, epochs: int | None = None, echo: Echo = print, progress: bool = True,
           ranks: Ranks = ONE_RANK,
           report: ReportWriter = write_report) -> tuple[RunFolder | None, dict]:  # fmt: skip
    """Continue a run from its last checkpoint, up to its epochs (or a new total).

    The checkpoint alone says where the run is: its epoch, history, best so far and
    diagnostics. The files drawn from it (history.json, history.csv, diagnostics.json) are
    rewritten from it as training begins, whatever a crash left in them, and a crash's
    leftover temporary files are removed first. The global batches do not depend on the
    number of `ranks`, so a run may resume on any number of them (rank 0 alone writes).
    """
    folder = RunFolder.open(path)
    if ranks.writes:
        folder.remove_temporary_files()
    config = _rebuilt(folder)
    if not folder.last_checkpoint.is_file():
        raise FileNotFoundError(
            f"{folder.path}: no checkpoints/last.safetensors to resume from: a compare or "
            "lr-find folder has none, nor does a run that stopped in its first epoch; train "
            "again with descent train"
        )
    saved = History.from_dict(checkpoint.load(folder.last_checkpoint).get("history", {}))
    stops = [e for e in saved.events if e.get("event") == "early_stopping"]
    if stops:
        raise ValueError(f"{folder.path}: early stopping ended this run at epoch "
                         f"{stops[-1]['epoch']}; there is nothing to resume. Train a new run, "
                         "with more --early-stopping patience or none")  # fmt: skip
    if epochs is not None and epochs != config.epochs:
        _check_new_length(config, epochs, saved.epochs)
        config = config.replace(epochs=epochs)
        if ranks.writes:
            folder.write_text("config.toml", config.to_toml())
    setup = build(config)
    diagnostics, training = LayerDiagnostics(), setup.callbacks() + ranks.share(setup.model)
    if not ranks.writes:
        _follow(setup, training, folder.last_checkpoint, _checkpointed(diagnostics, training))
        return None, {}
    try:
        history = resume_fit(folder.last_checkpoint, setup.model, setup.loss_fn,
                             setup.optimizer, setup.train_loader, config.epochs,
                             scheduler=setup.scheduler,
                             state=_checkpointed(diagnostics, training),
                             val_loader=setup.val_loader, metrics=setup.metrics,
                             callbacks=_callbacks(setup, folder, echo, progress, diagnostics,
                                                  training),
                             progress=False)  # fmt: skip
    except (TrainingDiverged, KeyboardInterrupt) as error:
        _fail(folder, error, echo, report)
        raise
    return folder, _finish(setup, folder, history, echo, report)


def _check_new_length(config: RunConfig, epochs: int, done: int) -> None:
    """A run can grow, unless its schedule was laid out for its original length."""
    if epochs < done:
        raise ValueError(f"resume: the run has already trained {done} epochs; --epochs {epochs} "
                         "would end it before where it stopped")  # fmt: skip
    if config.schedule in FIXED_LENGTH:
        raise ValueError(
            f"resume: the {config.schedule} schedule was laid out for {config.epochs} epochs "
            f"and cannot stretch to {epochs}; resume without --epochs, or start a new run "
            f"with --epochs {epochs}"
        )


def _checkpoint(folder: RunFolder, which: str):
    """The path of the run's `which` ('best' or 'last') checkpoint."""
    path = folder.best_checkpoint if which == "best" else folder.last_checkpoint
    if which == "best" and not path.is_file():
        path = folder.last_checkpoint  # a run without validation keeps only the last
    if not path.is_file():
        raise FileNotFoundError(f"{folder.path}: no checkpoint {path.name}; only a run that "
                                "`descent train` trained for an epoch or more has one")  # fmt: skip
    return path


def _rebuilt(folder: RunFolder) -> RunConfig:
    """The run's config, after checking that its data file is the one it was trained on."""
    config = RunConfig.from_toml(folder.config)
    check_unchanged(config, folder.read_json("data.json"))
    return config


def evaluate_run(path, which: str = "best", echo: Echo = print) -> dict[str, dict]:
    """Loss and metrics of a run's saved model on its train, validation and test splits."""
    folder = RunFolder.open(path)
    setup = build(_rebuilt(folder))
    saved = _checkpoint(folder, which)
    extra = checkpoint.load(saved, model=setup.model)
    echo(f"weights: {saved.name}, saved after epoch {extra.get('epoch', '?')}")

    loaders = {"train": setup.train_loader, "validation": setup.val_loader,
               "test": setup.test_loader}  # fmt: skip
    results = {}
    for split, loader in loaders.items():
        if loader is not None:
            results[split] = evaluate(setup.model, setup.loss_fn, loader,
                                      setup.metrics)  # fmt: skip
            echo(f"{split:>10}: " + "  ".join(f"{k} {v:.4g}" for k, v in results[split].items()))
    return results


def predict(path, input_csv, output_csv, which: str = "best", echo: Echo = print) -> int:
    """Predict each row of `input_csv` (the training features by name) into `output_csv`
    ('-': standard output, and nothing else is printed there)."""
    folder = RunFolder.open(path)
    info = folder.read_json("data.json")
    x = features_for_prediction(info, read_csv_features(input_csv, info["feature_names"]))
    model, _ = _saved_model(folder, info, which)
    model.eval()
    with no_grad():
        out = model(Tensor(x))._data
    if info["task"] == "regression":
        out = targets_from_prediction(info, out)
    text = _predictions_csv(out, info)
    if output_csv == "-":
        sys.stdout.write(text)
        return len(out)
    try:
        write_atomic(output_csv, text)
    except OSError as error:
        raise OSError(
            f"cannot write predictions to {output_csv}: {error.strerror or error}"
        ) from None
    echo(f"wrote {len(out)} predictions to {output_csv}")
    return len(out)


def export_run(path, output=None, which: str = "best", echo: Echo = print) -> str:
    """Write a run's model as ONNX (default: model.onnx in the run folder) that takes raw
    features, as `descent predict` does: the run's feature standardization, and a
    regression's target scaling, are nodes of the graph. Classification outputs logits.
    The task, feature names and class names are in the model's metadata."""
    from descent.onnx import export

    folder = RunFolder.open(path)
    info = folder.read_json("data.json")
    model, saved = _saved_model(folder, info, which)
    output = os.fspath(output) if output is not None else str(folder.file("model.onnx"))
    classify = info["task"] == "classification"
    metadata = {"task": info["task"], "feature_names": json.dumps(info["feature_names"]),
                "checkpoint": saved.name, "run": folder.path.name}  # fmt: skip
    if classify:
        metadata["class_names"] = json.dumps(info["class_names"])
    output_name = "logits" if classify else "prediction"
    example = np.zeros((1, *info["sample_shape"]), np.float32)
    export(model, example, output, input_names=["features"], output_names=[output_name],
           metadata=metadata, standardize=_scaling(info["standardizer"]),
           unstandardize=None if classify else _scaling(info["target_standardizer"]))  # fmt: skip
    shape = ", ".join(map(str, info["sample_shape"]))
    echo(f"wrote {output}: input 'features' (batch, {shape}) of raw features, output "
         f"{output_name!r} (batch, {info['out_features']})")  # fmt: skip
    return output


def _saved_model(folder: RunFolder, info: dict, which: str):
    """The run's model with the weights of its `which` checkpoint, and that checkpoint's
    path. Only the config's model spec and data.json's shapes are needed, no training data."""
    config = RunConfig.from_toml(folder.config)
    model = build_model(config.model, info["sample_shape"], info["out_features"])
    saved = _checkpoint(folder, which)
    checkpoint.load(saved, model=model)
    return model, saved


def _scaling(state: dict | None) -> tuple[np.ndarray, np.ndarray] | None:
    """A saved Standardizer's (mean, scale), or None for a run without one."""
    scaler = saved_standardizer(state)
    return None if scaler is None else (scaler.mean, scaler.scale)


def _predictions_csv(out: np.ndarray, info: dict) -> str:
    if info["task"] == "classification":
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        names = info["class_names"] or [str(i) for i in range(out.shape[1])]
        header = ["prediction", *(f"p_{name}" for name in names)]
        rows = ([names[int(k)], *(f"{p:.6g}" for p in row)]
                for k, row in zip(out.argmax(axis=1), probabilities, strict=True))  # fmt: skip
    else:
        header = ["prediction"] if out.shape[1] == 1 else [f"prediction_{i}" for i in
                                                           range(out.shape[1])]  # fmt: skip
        rows = ([f"{v:.6g}" for v in row] for row in out)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def run_comparison(config: RunConfig, arms, budget, seeds, target_loss: float | None = None,
                   sharpness_every: int | None = None, echo: Echo = print,
                   ranks: Ranks = ONE_RANK,
                   report: ReportWriter = write_report) -> RunFolder | None:  # fmt: skip
    """`descent.lab.compare` on the config's data and model, saved and reported. Over
    several `ranks`, each trains whole arms and seeds, and rank 0 alone writes."""
    config = resolved(config)
    data = load_splits(config)
    comparison = compare(data.train, data.val, model=config.model, arms=arms, budget=budget,
                         seeds=seeds, loss_fn=make_loss(config, data.task),
                         target_loss=target_loss, sharpness_every=sharpness_every,
                         diagnostics=True, progress=echo, run_jobs=ranks.spread)  # fmt: skip
    if not ranks.writes:
        return None
    folder = RunFolder.create(config.out, "compare-" + _label(config))
    folder.write_text("config.toml", config.to_toml(COMPARE_SETTINGS))
    folder.write_json("data.json", data.info())
    folder.write_json("comparison.json", comparison.to_dict())
    table = comparison.table()
    text = io.StringIO()
    writer = csv.DictWriter(text, list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    folder.write_text("comparison.csv", text.getvalue())
    for line in _table_lines(table):
        echo(line)
    for sentence in comparison.sentences():
        echo(sentence)
    report(folder)
    echo(f"run folder: {folder.path}  (report: {folder.report})")
    return folder


def _table_lines(table: list[dict]) -> list[str]:
    """The comparison table's main columns, aligned for a terminal."""
    columns = shown_columns(table)
    cells = [[SHOWN[c] for c in columns]]
    cells += [[format_number(row.get(c)) for c in columns] for row in table]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths)))
            for line in cells]  # fmt: skip
