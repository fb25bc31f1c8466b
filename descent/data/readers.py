"""Readers for a user's own tabular data: CSV with a header, and NPZ (never unpickled)."""

from __future__ import annotations

import csv
import os
import zipfile

import numpy as np

from descent.data.dataset import SupervisedDataset
from descent.errors import not_utf8

MAX_CLASSES = 10_000
"""The most classes a label column may make. A classifier has one output per class, and a
column of integers past this is almost always an ID or a measured quantity, whose largest
value would become the class count (a label of 1,000,000,000: 477 GiB of weights)."""


def _infer_task(targets: np.ndarray, task: str | None) -> str:
    if task is not None:
        return task
    return "classification" if targets.dtype.kind in "iub" else "regression"


def _parse_column(cells: list[str], name: str, lines: list[int], path) -> np.ndarray:
    """Cells as float64; the first one that is not a finite number is named with its row."""
    try:
        values = np.asarray(cells, dtype=np.str_).astype(np.float64)
    except ValueError:  # NumPy's parser is stricter than float(); find the cell one by one
        values = None
    if values is None or not np.isfinite(values).all():
        for cell, line in zip(cells, lines):
            try:
                ok = np.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{path}: row {line}, column {name!r}: {cell!r} is not a number "
                    "(rows count the header as row 1); fix or remove that row"
                ) from None
        values = np.array([float(cell) for cell in cells])
    return values


def _check_labels(y: np.ndarray, path, column: str, lines: list[int] | None) -> int:
    """The number of classes of numeric class labels y, after refusing labels that cannot be
    class indices: fractions, negatives, and more classes than MAX_CLASSES. Each message
    names the file, the `column` ("column 'label'") and the row (its line in `lines`, else
    the sample's index)."""

    def row(i: int) -> str:
        return f"row {lines[i]}" if lines is not None else f"sample {i}"

    regression = "if it is a quantity to predict, train a regression (--task regression)"
    fractions = np.flatnonzero(np.mod(y, 1) != 0) if y.dtype.kind == "f" else ()
    if len(fractions):
        i = int(fractions[0])
        raise ValueError(f"{path}: {row(i)}, {column}: label {y[i]:g} is not a whole number, "
                         f"as class labels are (0, 1, 2, ...); {regression}")  # fmt: skip
    if y.size and y.min() < 0:
        i = int(np.argmax(y < 0))
        raise ValueError(f"{path}: {row(i)}, {column}: label {y[i]} is negative, and class "
                         f"labels are 0, 1, 2, ...: renumber the classes from 0, or, "
                         f"{regression}")  # fmt: skip
    classes = int(y.max()) + 1 if y.size else 0
    if classes > MAX_CLASSES:
        distinct = len(np.unique(y))
        largest = f", the largest {y.max()}" if distinct != classes else ""
        raise ValueError(
            f"{path}: {column} would make {classes} classes ({distinct} distinct "
            f"labels{largest}), more than the {MAX_CLASSES} a classifier here may have: it "
            "looks like an ID or a quantity, not a class. Pick the label column (--target), "
            f"renumber the classes from 0, or, {regression}"
        )
    return classes


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _as_integers(values: np.ndarray) -> np.ndarray:
    """int64 when every value is a whole number, else the values unchanged."""
    if values.size and np.all(np.mod(values, 1) == 0) and np.abs(values).max() < 2**53:
        return values.astype(np.int64)
    return values


def _read_table(path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the non-blank rows (cells stripped) and each row's line number."""
    try:
        return _read_rows(path, delimiter)
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def _read_rows(path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    with open(path, newline="", encoding="utf-8-sig") as file:
        rows = csv.reader(file, delimiter=delimiter)
        header = next(rows, None)
        if not header or not any(h.strip() for h in header):
            raise ValueError(f"{path}: the file is empty; a CSV needs a header row of names")
        header = [h.strip() for h in header]
        if all(_is_number(h) for h in header):
            raise ValueError(
                f"{path}: the first row {header} looks like data, not a header; add a first "
                "row that names the columns"
            )
        if len(set(header)) != len(header):
            raise ValueError(f"{path}: the header repeats a column name: {header}")
        body, lines = [], []
        for row in rows:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}: row {rows.line_num} has {len(row)} cells, the header has "
                    f"{len(header)}"
                )
            body.append([cell.strip() for cell in row])
            lines.append(rows.line_num)
    if not body:
        raise ValueError(f"{path}: the file has a header but no data rows")
    return header, body, lines


def _feature_matrix(path, header, body, lines, features: list[str]) -> np.ndarray:
    missing = [f for f in features if f not in header]
    if missing:
        raise ValueError(f"{path}: no feature columns {missing}; the columns are {header}")
    columns = {name: [row[i] for row in body] for i, name in enumerate(header)}
    return np.stack([_parse_column(columns[f], f, lines, path) for f in features], axis=1)


def read_csv_features(
    path: str | os.PathLike, features: list[str] | None = None, delimiter: str = ","
) -> np.ndarray:
    """The numeric feature columns of a CSV with a header, as float64 (N, features).

    For new samples to predict on: `features` names the columns a model was trained on,
    in order (other columns, such as a label, are ignored); default: every column.
    """
    header, body, lines = _read_table(path, delimiter)
    return _feature_matrix(path, header, body, lines, header if features is None else features)


def read_csv(
    path: str | os.PathLike,
    target: str | None = None,
    features: list[str] | None = None,
    task: str | None = None,
    delimiter: str = ",",
) -> SupervisedDataset:
    """Read a CSV file whose first row names the columns; `target` names the label column
    (default: the last one).

    Every feature cell must be a number. A target column of whole numbers (or of
    text labels, numbered in sorted order) means classification, other numbers
    regression; `task` overrides. `features` picks columns (default: all but target).
    Class labels must be whole numbers 0, 1, 2, ... making at most MAX_CLASSES classes.
    """
    header, body, lines = _read_table(path, delimiter)
    target = header[-1] if target is None else target
    if target not in header:
        raise ValueError(f"{path}: no target column {target!r}; the columns are {header}")
    features = [h for h in header if h != target] if features is None else list(features)
    x = _feature_matrix(path, header, body, lines, features)
    columns = {name: [row[i] for row in body] for i, name in enumerate(header)}

    cells = columns[target]
    class_names = None
    try:
        y = _as_integers(np.asarray(cells, dtype=np.str_).astype(np.float64))
    except ValueError:
        if task == "regression":
            _parse_column(cells, target, lines, path)  # raises with row and column
        class_names = sorted(set(cells))
        y = np.searchsorted(class_names, cells).astype(np.int64)
    task = _infer_task(y, task)
    classes = None
    if task == "classification":
        classes = _check_labels(y, path, f"column {target!r}", lines)
    return SupervisedDataset(
        x,
        y,
        task=task,
        num_classes=classes,
        name=os.fspath(path),
        feature_names=features,
        class_names=class_names,
    )


def read_npz(
    path: str | os.PathLike,
    features_key: str = "x",
    target_key: str = "y",
    task: str | None = None,
) -> SupervisedDataset:
    """Read features and targets from a `.npz` file, never unpickling (object arrays refused).

    Integer targets mean classification, floating ones regression; `task` overrides.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: holds a single array, not a .npz archive of named arrays")
    with archive:
        keys = list(archive.files)
        for key in (features_key, target_key):
            if key not in keys:
                raise ValueError(f"{path}: no array named {key!r}; the file holds {keys} (name "
                                 "the features x and the targets y)")  # fmt: skip
        try:
            x, y = archive[features_key], archive[target_key]
        except ValueError as error:
            raise ValueError(
                f"{path}: an array holds Python objects, which would need unpickling; "
                f"descent never unpickles data (store numeric arrays instead): {error}"
            ) from None
    if x.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise ValueError(f"{path}: arrays must be numeric, got {x.dtype} and {y.dtype}")
    task = _infer_task(y, task)
    classes = None
    if task == "classification":
        classes = _check_labels(_as_integers(y.reshape(-1)), path, f"array {target_key!r}", None)
    return SupervisedDataset(x, y, task=task, num_classes=classes, name=os.fspath(path))
