"""The report page of a run folder: plots and tables drawn from the files the folder holds.

Each part of `report.html` comes from one file: history.json and diagnostics.json (a
training run), lr_find.json (a range test), sharpness.json (sharpness during training),
comparison.json (`descent compare`). `descent report RUN` redraws it from those alone.
"""

from __future__ import annotations

import platform

from descent.cli.config import RunConfig
from descent.cli.run_folder import RunFolder
from descent.lab import Comparison, compare_plots, plots
from descent.lab.report import Report
from descent.text import format_number

CAPTIONS = {
    "epochs": "Loss and accuracy after each epoch, on the training and validation data.",
    "loss_per_step": "The loss of every update: its spread is the noise of the mini-batch "
    "gradient.",
    "learning_rate": "The learning rate of every update.",
    "lr_find": "The loss of one mini-batch per learning rate, raised exponentially; the "
    "suggestion is where the smoothed loss falls fastest.",
    "sharpness": "The top eigenvalue of the loss's Hessian during training; gradient descent "
    "is stable on a quadratic only while it stays below 2 / lr.",
    "compare_loss": "Training loss on the whole training set, measured at the same points for "
    "every arm, against four clocks: epochs, samples seen, weight updates and seconds.",
    "compare_validation": "Validation loss and accuracy per epoch.",
    "compare_update_noise": "The mini-batch loss of every update: smooth for batch descent, "
    "noisy for stochastic descent.",
    "compare_sharpness": "The top Hessian eigenvalue during training; dashed, each arm's "
    "stability threshold 2 / lr.",
    "layer_diagnostics": "Per layer, at each epoch's last update: the gradient norm, how far "
    "the update moved the weights relative to their size, and the fraction of dead ReLUs.",
}


def write_report(folder: RunFolder, failure: str | None = None) -> RunFolder:
    """Draw the plots (PNG files) and the self-contained report.html from a folder's files.

    Each part of the page comes from a file the folder holds: history.json (training),
    lr_find.json (range test), sharpness.json (sharpness during training).
    """
    config = RunConfig.from_toml(folder.config)
    report = Report(
        f"descent: {folder.path.name}",
        f"descent on Python {platform.python_version()}, {platform.machine()}",
    )
    if failure:
        report.heading("The run failed").paragraph(failure)
    if folder.file("history.json").is_file():
        _training_sections(report, folder)
    if folder.file("lr_find.json").is_file():
        result = folder.read_json("lr_find.json")
        report.heading("Learning-rate range test")
        report.paragraph(f"Suggested learning rate: {format_number(result['suggested_lr'])}. "
                         f"Why: {result['reason']}.")  # fmt: skip
        _figure(report, folder, "lr_find", plots.lr_find_curve(result))
    if folder.file("comparison.json").is_file():
        _comparison_section(report, folder)
    if folder.file("sharpness.json").is_file():
        tracked = folder.read_json("sharpness.json")
        report.heading("Sharpness")
        report.paragraph(sharpness_summary(tracked))
        _figure(report, folder, "sharpness", plots.sharpness_curve(tracked))
    settings = {k: v for k, v in vars(config).items() if v is not None}
    if folder.file("comparison.json").is_file():  # the arms chose the rest
        settings = {k: v for k, v in settings.items() if k in COMPARE_SETTINGS}
    report.heading("Config").key_values(settings)
    report.write(folder.report)
    return folder


def _figure(report: Report, folder: RunFolder, stem: str, figure) -> None:
    plots.save(figure, folder.plots / f"{stem}.png")
    report.figure(plots.png_bytes(figure), caption=CAPTIONS.get(stem, ""), alt=stem)


def _training_sections(report: Report, folder: RunFolder) -> None:
    history = folder.read_json("history.json")
    metrics_path = folder.file("metrics.json")
    metrics = folder.read_json("metrics.json") if metrics_path.is_file() else None
    report.heading("Result")
    summary = {"epochs": len(history["epoch_time"]), "updates": len(history["step_loss"]),
               "samples seen": history["samples_seen"],
               "seconds": round(sum(history["epoch_time"]), 2)}  # fmt: skip
    if metrics:
        summary.update({f"test {k}": v for k, v in metrics["test"].items()})
    for key, series in history["metrics"].items():
        if key.startswith("val_") and series:
            summary[f"last {key}"] = series[-1]
    report.key_values(summary)
    report.heading("Curves")
    for stem, figure in plots.run_figures(history).items():
        _figure(report, folder, stem, figure)
    if folder.file("diagnostics.json").is_file():
        _layer_section(report, folder, folder.read_json("diagnostics.json"))
    if history["events"]:
        report.heading("Events").table(history["events"])


def sharpness_summary(tracked: dict) -> str:
    """A sentence on how the sharpness compared with 2/lr, from the measurements."""
    records = [r for r in tracked["records"] if r["sharpness"] is not None]
    if not records:
        return "No sharpness could be measured (the loss was not finite)."
    peak = max(records, key=lambda r: r["sharpness"])
    last = records[-1]
    above = sum(r["sharpness"] > r["two_over_lr"] for r in records)
    return (
        f"Measured {len(records)} times on {tracked['samples']} training samples. The sharpness "
        f"went from {records[0]['sharpness']:.4g} to {last['sharpness']:.4g} (peak "
        f"{peak['sharpness']:.4g} at epoch {peak['epoch']}), against 2/lr = "
        f"{last['two_over_lr']:.4g}; it was above 2/lr in {above} of {len(records)} "
        "measurements. Above 2/lr, gradient descent on a quadratic with that curvature would "
        "overshoot; on networks the sharpness tends to rise until it hovers near 2/lr "
        "(the edge of stability)."
    )


def _layer_section(report: Report, folder: RunFolder, diagnostics: dict) -> None:
    """Per layer: the diagnostics plot and a table of the last epoch's values."""
    report.heading("Per-layer diagnostics")
    report.paragraph("An update-to-weight ratio near 1e-3 is the usual sign of a healthy "
                     "learning rate; far below, the layer barely moves. A dead ReLU outputs 0 "
                     "for every probe sample, so its weights get no gradient.",
                     note=True)  # fmt: skip
    _figure(report, folder, "layer_diagnostics", plots.layer_diagnostics(diagnostics))
    rows = [{"module": layer, "gradient norm": norms[-1] if norms else None,
             "update / weight": diagnostics["update_ratio"][layer][-1] if norms else None}
            for layer, norms in diagnostics["grad_norm"].items()]  # fmt: skip
    rows += [{"module": relu, "dead ReLU fraction": series[-1] if series else None}
             for relu, series in diagnostics["dead_relu"].items()]  # fmt: skip
    columns = ["module", "gradient norm", "update / weight", "dead ReLU fraction"]
    report.table(rows, columns if diagnostics["dead_relu"] else columns[:3])


COMPARE_SETTINGS = (
    "data",
    "target",
    "model",
    "loss",
    "seed",
    "val_split",
    "test_split",
    "standardize",
)
SHOWN = {"arm": "arm", "train_loss": "loss", "train_accuracy": "acc", "val_loss": "val loss",
         "val_accuracy": "val acc", "updates_per_epoch": "updates/ep",
         "seconds_per_epoch": "s/epoch", "loss_noise": "noise", "grad_cosine_start": "cos",
         "seconds_to_target": "s to target", "epochs_to_target": "ep to target",
         "lr_label": "lr verdict"}  # fmt: skip


def _comparison_section(report: Report, folder: RunFolder) -> None:
    comparison = folder.read_json("comparison.json")
    budget = comparison["budget"]
    report.heading(f"Comparison: {len(comparison['arms'])} arms, {budget['amount']:g} "
                   f"{budget['kind']} each")  # fmt: skip
    report.bullets(Comparison.from_dict(comparison).sentences())
    for stem, figure in compare_plots.figures(comparison).items():
        _figure(report, folder, stem, figure)
    report.heading("Table (means over seeds; every column is in comparison.csv)")
    rows = [{SHOWN[k]: arm["row"].get(k) for k in SHOWN} for arm in comparison["arms"]]
    report.table(rows)
