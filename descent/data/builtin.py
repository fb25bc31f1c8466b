"""Built-in data sets that load offline: scikit-learn's bundled ones and generated ones."""

from __future__ import annotations

import functools
import gzip
import importlib.util
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from descent.data import generated
from descent.data.dataset import SupervisedDataset
from descent.data.split import split
from descent.data.standardize import Standardizer
from descent.errors import unknown_name


@dataclass(frozen=True)
class _Entry:
    description: str
    task: str
    source: str  # a scikit-learn `load_*` function name, or a function in `generated`
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, _Entry] = {
    "digits": _Entry(
        "8x8 images of handwritten digits 0-9, 1797 samples, 64 features, 10 classes",
        "classification",
        "load_digits",
    ),
    "iris": _Entry(
        "Iris flowers: 150 samples, 4 measurements, 3 species", "classification", "load_iris"
    ),
    "wine": _Entry(
        "Wines from 3 cultivars: 178 samples, 13 chemical measurements",
        "classification",
        "load_wine",
    ),
    "breast_cancer": _Entry(
        "Breast tumours, malignant or benign: 569 samples, 30 features, 2 classes",
        "classification",
        "load_breast_cancer",
    ),
    "diabetes": _Entry(
        "Diabetes progression after one year: 442 samples, 10 features, regression",
        "regression",
        "load_diabetes",
    ),
    "moons": _Entry(
        "Two interleaving half circles in 2-D, 2 classes (generated)",
        "classification",
        "moons",
        {"n_samples": 1000, "noise": 0.1},
    ),
    "circles": _Entry(
        "A circle inside a larger circle in 2-D, 2 classes (generated)",
        "classification",
        "circles",
        {"n_samples": 1000, "noise": 0.05, "factor": 0.5},
    ),
    "spirals": _Entry(
        "Interleaved spiral arms in 2-D, one class per arm, 2 by default (generated)",
        "classification",
        "spirals",
        {"n_samples": 1000, "noise": 0.02, "num_classes": 2},
    ),
    "xor": _Entry(
        "Points in a square, class 1 where the coordinates' signs differ (generated)",
        "classification",
        "xor",
        {"n_samples": 1000, "noise": 0.0},
    ),
    "linear": _Entry(
        "A noisy linear regression y = x @ w + b + noise, 3 features (generated)",
        "regression",
        "linear",
        {"n_samples": 1000, "noise": 0.1, "num_features": 3},
    ),
}


def list_datasets() -> dict[str, str]:
    """The built-in data sets' names, each with a one-line description."""
    return {name: entry.description for name, entry in _REGISTRY.items()}


def _entry(name: str) -> _Entry:
    if name in _REGISTRY:
        return _REGISTRY[name]
    raise unknown_name("data set", name, _REGISTRY)


def dataset_task(name: str) -> str:
    """A built-in data set's task, 'classification' or 'regression', without loading it."""
    return _entry(name).task


def sklearn_data_file(name: str) -> Path | None:
    """The path of a file in scikit-learn's bundled data folder, found without importing
    scikit-learn (its import takes seconds); None where scikit-learn or the file is absent."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0], "datasets", "data", name)
    return path if path.is_file() else None


def read_digits() -> tuple | None:
    """`sklearn.datasets.load_digits()`'s arrays and names, read from the same file it reads
    (one row per image: 64 pixels, then the digit); None where the file is not found."""
    path = sklearn_data_file("digits.csv.gz")
    if path is None:
        return None
    table = np.loadtxt(io.BytesIO(gzip.decompress(path.read_bytes())), delimiter=",")
    pixels = [f"pixel_{row}_{column}" for row in range(8) for column in range(8)]
    return table[:, :-1], table[:, -1].astype(np.int64), pixels, [str(d) for d in range(10)]


def read_sklearn_csv(name: str, feature_names: list[str]) -> tuple | None:
    """One of scikit-learn's bundled CSV files, as its `load_csv_data` reads it: a header
    row (samples, features, class names), then one row per sample, its class index last;
    None where the file is not found."""
    path = sklearn_data_file(name)
    if path is None:
        return None
    with path.open(encoding="utf-8") as file:
        class_names = file.readline().strip().split(",")[2:]
        table = np.loadtxt(file, delimiter=",", ndmin=2)
    return table[:, :-1], table[:, -1].astype(np.int64), feature_names, class_names


IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                 "petal width (cm)"]  # fmt: skip
WINE_FEATURES = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
                 "total_phenols", "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
                 "color_intensity", "hue", "od280/od315_of_diluted_wines", "proline"]  # fmt: skip
TUMOUR = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
          "concave points", "symmetry", "fractal dimension"]  # fmt: skip
BREAST_CANCER_FEATURES = [*(f"mean {name}" for name in TUMOUR),
                          *(f"{name} error" for name in TUMOUR),
                          *(f"worst {name}" for name in TUMOUR)]  # fmt: skip

BUNDLED_READERS = {
    "load_digits": read_digits,
    "load_iris": functools.partial(read_sklearn_csv, "iris.csv", IRIS_FEATURES),
    "load_wine": functools.partial(read_sklearn_csv, "wine_data.csv", WINE_FEATURES),
    "load_breast_cancer": functools.partial(
        read_sklearn_csv, "breast_cancer.csv", BREAST_CANCER_FEATURES
    ),
}
"""scikit-learn loaders read here without importing scikit-learn, whose import costs more
than the training of a default `descent train` run (the names are scikit-learn's; the tests
compare). diabetes, which scikit-learn also rescales, is left to it."""


def _load_arrays(entry: _Entry, seed: int, options: dict):
    if entry.source.startswith("load_"):
        if options:
            raise TypeError(f"{entry.source} takes no options, got {sorted(options)}")
        read = BUNDLED_READERS.get(entry.source)
        arrays = read() if read else None
        if arrays is not None:
            return arrays
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, entry.source)()
        names = [str(n) for n in bunch.feature_names] if "feature_names" in bunch else None
        classes = [str(n) for n in bunch.target_names] if entry.task == "classification" else None
        return bunch.data, bunch.target, names, classes
    unknown = set(options) - set(entry.defaults)
    if unknown:
        raise TypeError(
            f"unexpected options {sorted(unknown)}; this data set takes {sorted(entry.defaults)}"
        )
    kwargs = {**entry.defaults, **options}
    if int(kwargs["n_samples"]) < 10:
        raise ValueError(f"n_samples={kwargs['n_samples']} must be >= 10")
    x, y = getattr(generated, entry.source)(rng=np.random.default_rng(seed), **kwargs)
    return x, y, None, None


def load_dataset(
    name: str,
    seed: int = 0,
    test_size: float = 0.2,
    standardize: bool = False,
    **options,
) -> tuple[SupervisedDataset, SupervisedDataset]:
    """Load a built-in data set, offline, as (train, test).

    Args:
        name: one of `list_datasets()`.
        seed: seeds both the generation (for generated sets) and the split.
        test_size: the test fraction; classification splits are stratified.
        standardize: fit a `Standardizer` on train and apply it to both parts.
        options: for generated sets, e.g. `n_samples`, `noise` (see `list_datasets`).

    Returns:
        Two `SupervisedDataset`s (features float32; targets int64 class indices,
        or float32 of shape (N, 1) for regression) with `.task` and `.num_classes`.
    """
    entry = _entry(name)
    x, y, feature_names, class_names = _load_arrays(entry, seed, options)
    num_classes = int(np.max(y)) + 1 if entry.task == "classification" else None
    data = SupervisedDataset(
        x,
        y,
        task=entry.task,
        num_classes=num_classes,
        name=name,
        description=entry.description,
        feature_names=feature_names,
        class_names=class_names,
    )
    stratify = data.targets if entry.task == "classification" else None
    train, test = split(data, (1.0 - test_size, test_size), stratify=stratify, seed=seed)
    if standardize:
        scaler = Standardizer().fit(train)
        train, test = scaler.transform(train), scaler.transform(test)
    return train, test
