"""Rows of a dense or sparse feature matrix, batch by batch, with targets and sample weights.

descent's layers multiply dense arrays, so a SciPy sparse matrix is densified one batch
of rows at a time: memory grows with the batch, never with the data set.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from descent.data import DataLoader, TensorDataset
from descent.tensor import Tensor

PREDICT_ROWS = 4096
"""Rows densified at a time when predicting for sparse input, or in a full-batch pass."""


def dense_rows(X, rows, dtype) -> np.ndarray:
    """X[rows] as a dense array of `dtype` (a sparse matrix's rows densified)."""
    part = X[rows]
    return (part.toarray() if sp.issparse(part) else part).astype(dtype, copy=False)


def row_chunks(n_samples: int) -> Iterator[slice]:
    """Consecutive slices of at most PREDICT_ROWS rows covering range(n_samples)."""
    size = PREDICT_ROWS
    return (slice(start, min(start + size, n_samples)) for start in range(0, n_samples, size))


class Batches:
    """(x, (targets, weights)) batches for `train.fit`, in the order a `DataLoader` draws.

    The loader shuffles sample indices only; each batch's rows are gathered (and, for a
    sparse X, best CSR, densified) here. `weights` is None without sample weights.
    """

    def __init__(self, X, targets, weights, dtype, batch_size: int, shuffle: bool, seed):
        self.X = X
        self.dtype = np.dtype(dtype)
        arrays = (np.arange(X.shape[0]), targets) + (() if weights is None else (weights,))
        self.loader = DataLoader(TensorDataset(*arrays, dtype=self.dtype),
                                 batch_size=batch_size, shuffle=shuffle, seed=seed)  # fmt: skip

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for index, target, *weights in self.loader:
            x = Tensor(dense_rows(self.X, index._data, self.dtype), dtype=self.dtype)
            yield x, (target, weights[0] if weights else None)
