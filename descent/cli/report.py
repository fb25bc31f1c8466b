"""The report page of a run folder: plots and tables drawn from the files the folder holds.

Each part of `report.html` comes from one file: history.json and diagnostics.json (a
training run), lr_find.json (a range test), sharpness.json (sharpness during training),
comparison.json (`descent compare`). `descent report RUN` redraws it from those alone.
"""

from __future__ import annotations

import math
import platform

from descent.cli.config import RunConfig
from descent.cli.run_folder import RunFolder
from descent.lab import Comparison
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
    "stability limit (2 / lr for plain SGD, (2 + 2 momentum) / lr with momentum).",
    "compare_landscape": "The training loss along the line from the shared initial weights "
    "(t = 0) to each arm's final weights (t = 1), first seed: a narrow valley around t = 1 is "
    "a sharp minimum, a wide one a flat minimum.",
    "layer_diagnostics": "Per layer, at each epoch's last update: the gradient norm, how far "
    "the update moved the weights relative to their size, and the fraction of dead ReLUs.",
}


def write_report(folder: RunFolder, failure: str | None = None) -> RunFolder:
    """Draw the plots (PNG files) and the self-contained report.html from a folder's files.

    Each part of the page comes from a file the folder holds: history.json (training),
    lr_find.json (range test), sharpness.json (sharpness during training).
    """
    from descent.lab import plots  # matplotlib, loaded only by the jobs that draw

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
    settings = config.applied()
    if folder.file("comparison.json").is_file():  # the arms chose the rest
        settings = {k: v for k, v in settings.items() if k in COMPARE_SETTINGS}
    report.heading("Config").key_values(settings)
    report.write(folder.report)
    return folder


def _figure(report: Report, folder: RunFolder, stem: str, figure) -> None:
    from descent.lab import plots

    png = plots.save(figure, folder.plots / f"{stem}.png")
    report.figure(png, caption=CAPTIONS.get(stem, ""), alt=stem)


def _training_sections(report: Report, folder: RunFolder) -> None:
    from descent.lab import plots

    history = folder.read_json("history.json")
    metrics_path = folder.file("metrics.json")
    metrics = folder.read_json("metrics.json") if metrics_path.is_file() else None
    report.heading("Result")
    summary = {"epochs": len(history["epoch_time"]), "updates": len(history["step_loss"]),
               "samples seen": history["samples_seen"],
               "seconds": round(sum(history["epoch_time"]), 2)}  # fmt: skip
    for key, series in history["metrics"].items():
        if key != "lr" and series:
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            summary[f"{split} {name} (last epoch)"] = series[-1]
    if metrics:
        tested = metrics.get("checkpoint")
        if tested:
            summary["tested"] = f"the {tested['which']} checkpoint, epoch {tested['epoch']}"
        summary.update({f"test {k}": v for k, v in metrics["test"].items()})
    report.key_values(summary)
    report.heading("Curves")
    for stem, figure in plots.run_figures(history).items():
        _figure(report, folder, stem, figure)
    if folder.file("diagnostics.json").is_file():
        diagnostics = _by_type(folder.read_json("diagnostics.json"), _module_types(folder))
        _layer_section(report, folder, diagnostics)
    if history["events"]:
        report.heading("Events").table(history["events"])


def sharpness_summary(tracked: dict) -> str:
    """A sentence on how the sharpness compared with each measurement's edge of stability:
    the optimizer's stability limit (2/lr for plain SGD, (2 + 2 momentum)/lr with momentum),
    NaN where it has none in closed form (adaptive methods), which the sentence then says."""
    records = [r for r in tracked["records"] if r["sharpness"] is not None]
    if not records:
        return "No sharpness could be measured (the loss was not finite)."
    peak = max(records, key=lambda r: r["sharpness"])
    last = records[-1]
    trend = (
        f"Measured {len(records)} times on {tracked['samples']} training samples. The sharpness "
        f"went from {records[0]['sharpness']:.4g} to {last['sharpness']:.4g} (peak "
        f"{peak['sharpness']:.4g} at epoch {peak['epoch']})"
    )
    limits = [r.get("edge_of_stability") for r in records]
    if any(limit is None or limit != limit for limit in limits):  # None: NaN in JSON
        return (f"{trend}. This optimizer's stability limit has no closed form, so there is "
                "no edge of stability to compare it with.")  # fmt: skip
    above = sum(r["sharpness"] > limit for r, limit in zip(records, limits))
    return (
        f"{trend}, against the optimizer's edge of stability {limits[-1]:.4g}; it was above "
        f"the edge in {above} of {len(records)} measurements. Above it, this optimizer on a "
        "quadratic with that curvature would overshoot; on networks the sharpness tends to "
        "rise until it hovers near it (the edge of stability)."
    )


def _module_types(folder: RunFolder) -> dict[str, str]:
    """{module name: its type} of the run's model, rebuilt from its config and data layout
    (no weights needed): LayerDiagnostics keys its series by module name, "0", "1"."""
    from descent.nn.models import build_model

    config = RunConfig.from_toml(folder.config)
    info = folder.read_json("data.json")
    model = build_model(config.model, info["sample_shape"], info["out_features"])
    return {name: type(module).__name__ for name, module in model.named_modules() if name}


def _by_type(diagnostics: dict, types: dict[str, str]) -> dict:
    """The diagnostics with each module named by index and type, "0 Linear", "1 ReLU"."""
    renamed = dict(diagnostics)
    for key in ("dead_relu", "grad_norm", "update_ratio"):
        renamed[key] = {f"{name} {types[name]}" if name in types else name: series
                        for name, series in diagnostics[key].items()}  # fmt: skip
    return renamed


def _layer_section(report: Report, folder: RunFolder, diagnostics: dict) -> None:
    """Per layer: the diagnostics plot and a table of the last epoch's values."""
    from descent.lab import plots

    report.heading("Per-layer diagnostics")
    report.paragraph("An update-to-weight ratio near 1e-3 is the usual sign of a healthy "
                     "learning rate; far below, the layer barely moves. A dead ReLU outputs 0 "
                     "for every probe sample, so its weights get no gradient.",
                     note=True)  # fmt: skip
    _figure(report, folder, "layer_diagnostics", plots.layer_diagnostics(diagnostics))
    rows = {layer: {"module": layer, "gradient norm": norms[-1] if norms else None,
                    "update / weight": diagnostics["update_ratio"][layer][-1] if norms else None}
            for layer, norms in diagnostics["grad_norm"].items()}  # fmt: skip
    for relu, series in diagnostics["dead_relu"].items():
        rows.setdefault(relu, {"module": relu})["dead ReLU fraction"] = (
            series[-1] if series else None
        )
    rows = [rows[name] for name in sorted(rows, key=_model_order)]
    columns = ["module", "gradient norm", "update / weight", "dead ReLU fraction"]
    report.table(rows, columns if diagnostics["dead_relu"] else columns[:3])


def _model_order(name: str) -> tuple:
    """Modules in the model's order: "2 Linear" after "1 ReLU", "10" after "9"."""
    index = name.split(" ")[0].split(".")[0]
    return (int(index), name) if index.isdigit() else (math.inf, name)


COMPARE_SETTINGS = (
    "data",
    "target",
    "task",
    "model",
    "loss",
    "seed",
    "val_split",
    "test_split",
    "standardize",
)
SHOWN = {"arm": "arm", "train_loss": "loss", "train_accuracy": "acc", "val_loss": "val loss",
         "val_accuracy": "val acc", "updates_per_epoch": "updates/ep",
         "seconds_per_epoch": "s/epoch", "seconds_per_update": "s/update",
         "gradient_noise": "noise", "grad_cosine": "cos", "noise_scale": "B_simple",
         "seconds_to_target": "s to target", "epochs_to_target": "ep to target",
         "sharpness_peak": "sharpness peak", "edge_of_stability": "edge",
         "lr_label": "lr verdict"}  # fmt: skip
"""The compare table's columns (row key: heading); a column no arm has a value for (the
sharpness ones without --sharpness-every) is left out."""


def _comparison_section(report: Report, folder: RunFolder) -> None:
    from descent.lab import compare_plots

    comparison = folder.read_json("comparison.json")
    budget = comparison["budget"]
    report.heading(f"Comparison: {len(comparison['arms'])} arms, {budget['amount']:g} "
                   f"{budget['kind']} each")  # fmt: skip
    report.bullets(Comparison.from_dict(comparison).sentences())
    for stem, figure in compare_plots.figures(comparison).items():
        _figure(report, folder, stem, figure)
    report.heading("Table (means over seeds; every column is in comparison.csv)")
    shown = shown_columns([arm["row"] for arm in comparison["arms"]])
    rows = [{SHOWN[k]: arm["row"].get(k) for k in shown} for arm in comparison["arms"]]
    report.table(rows)


def shown_columns(rows: list[dict]) -> list[str]:
    """The SHOWN columns some row has a measurement in (not None, not NaN: JSON keeps NaN
    as None)."""
    measured = [[row.get(key) for row in rows] for key in SHOWN]
    return [key for key, values in zip(SHOWN, measured)
            if any(v is not None and v == v for v in values)]  # fmt: skip
