"""`RunFolder`: the folder one training run writes, and the names of what it holds.

    runs/20261125-101500-digits-mlp-128/
        config.toml        the resolved config (flags and file merged); `--config` reads it
        data.json          feature layout, classes and standardization, for `predict`
        checkpoints/       last.safetensors (every epoch) and best.safetensors (best val_loss)
        history.json       the whole History (per step and per epoch), rewritten each epoch
        history.csv        one row per epoch
        diagnostics.json   per-layer series (dead ReLUs, gradient norms, update ratios)
        metrics.json       the final test metrics
        plots/*.png        loss, accuracy, learning rate, per-layer gradients
        report.html        one self-contained page with all of the above

A new run never reuses a folder: the name gets a suffix when one already exists. Every
file is written atomically (`descent.files.write_atomic`), and the last checkpoint is where
the run is: `descent resume` rewrites history.json, history.csv and diagnostics.json from
it, so a run killed at any moment after its first epoch goes on as if it had not been.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from descent.files import is_temporary, write_atomic, write_json

CONFIG = "config.toml"


class RunFolder:
    """Paths inside a run's folder, and safe writes of its JSON files."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, root: str | os.PathLike, label: str) -> RunFolder:
        """A fresh folder under `root`, named by the time and `label`; never an existing one."""
        root = Path(root)
        stem = time.strftime("%Y%m%d-%H%M%S") + "-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", label)
        try:
            root.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 1000):
                path = root / (stem if attempt == 1 else f"{stem}-{attempt}")
                try:
                    path.mkdir()
                except FileExistsError:
                    continue
                folder = cls(path)
                folder.plots.mkdir()
                return folder
        except OSError as error:
            raise OSError(
                f"cannot write the output folder {root}: {error.strerror or error}; "
                "choose a writable one with --out"
            ) from None
        raise OSError(f"{root}: 999 runs named {stem} already exist; choose another --out")

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunFolder:
        """An existing run's folder; a clear error when `path` is not one."""
        folder = cls(path)
        if not folder.path.is_dir():
            raise FileNotFoundError(
                f"no run folder at {path}; give a folder that `descent train` made, "
                "e.g. runs/<name> (see `ls runs`)"
            )
        if not folder.config.is_file():
            raise FileNotFoundError(f"{path} is not a descent run folder: it has no {CONFIG}")
        return folder

    def remove_temporary_files(self) -> None:
        """Remove what writes cut short by a crash left behind (descent's own temporary
        files only, in the folder, checkpoints/ and plots/)."""
        leftovers = [path for folder in (self.path, self.checkpoints, self.plots)
                     if folder.is_dir() for path in folder.iterdir()
                     if path.is_file() and is_temporary(path.name)]  # fmt: skip
        for path in leftovers:
            path.unlink(missing_ok=True)

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.safetensors"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.safetensors"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def report(self) -> Path:
        return self.path / "report.html"

    def file(self, name: str) -> Path:
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        """Write atomically: a crash leaves the old file whole."""
        target = self.path / name
        write_atomic(target, text)
        return target

    def write_json(self, name: str, value: Any) -> Path:
        target = self.path / name
        write_json(target, value)
        return target

    def read_json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{self.path}: {name} is missing; the run did not finish "
                "its first epoch, or the file was removed"
            ) from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
