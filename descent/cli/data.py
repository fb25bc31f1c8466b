"""A run's data: read by its config, split into train, validation and test by its seed,
standardized on the training part; and new samples prepared as the run's were.

The same config always gives the same splits, which is what lets `descent resume` and
`descent evaluate` rebuild a run from its folder; a data file's checksum guards that.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from descent.cli.config import RunConfig
from descent.data import (
    Standardizer,
    SupervisedDataset,
    load_dataset,
    read_csv,
    read_npz,
    split,
)
from descent.data.builtin import dataset_task


@dataclass
class DataSplits:
    """The train, validation (None without one) and test parts, standardized on train."""

    train: SupervisedDataset
    val: SupervisedDataset | None
    test: SupervisedDataset
    standardizer: Standardizer | None
    source_sha256: str | None = None  # of the data file, when the data came from one
    target_standardizer: Standardizer | None = None  # a regression's, with standardize

    @property
    def task(self) -> str:
        return self.train.task

    @property
    def out_features(self) -> int:
        if self.task == "classification":
            return int(self.train.num_classes)
        return int(self.train.targets.shape[1])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train.features.shape[1:])

    def info(self) -> dict:
        """What predicting on new data needs, JSON-safe: feature layout, classes, scaling."""
        return {
            "task": self.task,
            "sample_shape": list(self.sample_shape),
            "out_features": self.out_features,
            "feature_names": self.train.feature_names,
            "class_names": self.train.class_names,
            "standardizer": self.standardizer.state_dict() if self.standardizer else None,
            "target_standardizer": (
                self.target_standardizer.state_dict() if self.target_standardizer else None
            ),  # fmt: skip
            "source_sha256": self.source_sha256,
            "sizes": {
                "train": len(self.train),
                "val": len(self.val) if self.val is not None else 0,
                "test": len(self.test),
            },
        }


def _read_file(config: RunConfig) -> SupervisedDataset:
    path = config.data
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"data {path!r} is neither a built-in data set nor an existing file; "
            "run `descent datasets` for the built-in ones"
        )
    task = None if config.task == "auto" else config.task
    if path.endswith(".npz"):
        return read_npz(path, task=task)
    return read_csv(path, target=config.target, task=task)


def _is_file(name: str) -> bool:
    return name.endswith((".csv", ".npz")) or os.sep in name


def resolved(config: RunConfig) -> RunConfig:
    """The config with a data file's path made absolute, so the run folder works from anywhere."""
    if _is_file(config.data) and os.path.exists(config.data):
        return config.replace(data=os.path.abspath(config.data))
    return config


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_unchanged(config: RunConfig, info: dict) -> None:
    """Refuse a data file that changed since the run split it: its splits would differ."""
    expected = info.get("source_sha256")
    if expected and _is_file(config.data):
        if not os.path.exists(config.data):
            raise FileNotFoundError(f"the run's data file {config.data} is gone; restore it")
        if file_sha256(config.data) != expected:
            raise ValueError(
                f"the run's data file {config.data} changed since the run was trained, so its "
                "train/validation/test split would differ; restore the file or train a new run"
            )


def load_splits(config: RunConfig) -> DataSplits:
    """The config's data, split into train / val / test by its seed and standardized."""
    source_sha256 = None
    if _is_file(config.data):
        whole = _read_file(config)
        source_sha256 = file_sha256(config.data)
        stratify = whole.targets if whole.task == "classification" else None
        train, test = split(whole, test_size=config.test_split, stratify=stratify,
                            seed=config.seed)  # fmt: skip
    else:
        task = dataset_task(config.data)
        if config.task not in ("auto", task):
            raise ValueError(f"data {config.data!r} is a {task} data set; task "
                             f"{config.task!r} applies to data files only")  # fmt: skip
        train, test = load_dataset(config.data, seed=config.seed, test_size=config.test_split)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"data {config.data!r}: too few samples to split off a test set")
    val = None
    if config.val_split > 0:
        stratify = train.targets if train.task == "classification" else None
        train, val = split(train, test_size=config.val_split, stratify=stratify,
                           seed=config.seed)  # fmt: skip
    features = targets = None
    if config.standardize:
        features = Standardizer().fit(train)
        if train.task == "regression":  # targets too: a loss of 2e4 makes any lr explode
            targets = Standardizer(array=1).fit(train)
    for scaler in (s for s in (features, targets) if s is not None):
        train, test = scaler.transform(train), scaler.transform(test)
        val = scaler.transform(val) if val is not None else None
    return DataSplits(train, val, test, features, source_sha256, targets)


def targets_from_prediction(info: dict, out: np.ndarray) -> np.ndarray:
    """A regression's outputs back in the targets' own units."""
    scaler = saved_standardizer(info.get("target_standardizer"))
    return out if scaler is None else scaler.inverse_transform(out)


def features_for_prediction(info: dict, x: np.ndarray) -> np.ndarray:
    """New samples shaped and scaled as the run's training data were."""
    shape = tuple(info["sample_shape"])
    if x.shape[1:] != shape and int(np.prod(x.shape[1:])) == int(np.prod(shape)):
        x = x.reshape(len(x), *shape)  # flat CSV rows of an image-shaped run
    if x.shape[1:] != shape:
        raise ValueError(
            f"the input has {x.shape[1:]} features per sample, the run was trained on {shape}"
        )
    scaler = saved_standardizer(info["standardizer"])
    if scaler is not None:
        x = scaler.transform(x)
    return x.astype(np.float32, copy=False)


def saved_standardizer(state: dict | None) -> Standardizer | None:
    """The Standardizer a run saved in data.json (None for a run without one)."""
    if state is None:
        return None
    scaler = Standardizer()
    scaler.load_state_dict(state)
    return scaler
