"""Time whole epochs: descent's MLP against scikit-learn's, and `fit()` against a torch loop.

Workloads, in one process:

- mlp epoch: one pass of the 784-256-256-10 MLP (float32, ReLU, softmax
  cross-entropy, plain SGD, lr 0.01, no shuffling) over random rows at
  batch 1 (500 rows), 32, 128 and the full batch (10,000 rows), against
  scikit-learn's MLPClassifier doing the same with `partial_fit` (its own
  initial weights, so the two are timed, not compared); both read the rows
  in place (descent through `from_numpy`, as torch code does), neither copies
  them;
- fit: `descent.train.fit` for one epoch of the digits data (1,438
  standardized training rows, batch 32, no shuffling, a 64-128-128-10 MLP,
  SGD with lr 0.05, the loss and accuracy logged), against the same loop
  written in torch over a DataLoader and over slices of one tensor; all
  three must end at the same weights.

How the contenders are checked, timed and reported: benchmarks/harness.py.

    python benchmarks/epochs.py                 # full run, about a minute
    python benchmarks/epochs.py --quick         # a tenth of the rows, for CI smoke runs
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

if not __package__:  # run as `python benchmarks/epochs.py`: import from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402  (first: it sets NumPy's BLAS threads)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402

import descent as dc  # noqa: E402
from benchmarks.engine import FULL_BATCH, LEARNING_RATE, MLP_SIZES, mlp  # noqa: E402
from benchmarks.harness import DESCENT, Step  # noqa: E402

DIGITS_SIZES = (64, 128, 128, 10)
DIGITS_BATCH = 32
DIGITS_LR = 0.05


# -- the MLP epoch against scikit-learn ----------------------------------------------------


def mlp_epoch_steps(batch: int, rows: int, seed: int) -> dict[str, Step]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, MLP_SIZES[0]), dtype=np.float32)
    y = rng.integers(0, MLP_SIZES[-1], rows)
    torch.manual_seed(seed)
    model = harness.copy_weights(mlp(dc.nn), mlp(torch.nn))
    optimizer = dc.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    cross_entropy = dc.nn.functional.cross_entropy

    def descent_epoch():
        for start in range(0, rows, batch):
            # the rows as they are, as partial_fit takes them (torch code: torch.from_numpy)
            inputs, labels = dc.from_numpy(x[start : start + batch]), y[start : start + batch]
            optimizer.zero_grad()
            loss = cross_entropy(model(inputs), labels)
            loss.backward()
            optimizer.step()
        return loss

    theirs = MLPClassifier(
        MLP_SIZES[1:-1], solver="sgd", batch_size=batch, learning_rate_init=LEARNING_RATE,
        momentum=0.0, nesterovs_momentum=False, alpha=0.0, shuffle=False, random_state=seed,
    )  # fmt: skip
    classes = np.arange(MLP_SIZES[-1])

    def sklearn_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            theirs.partial_fit(x, y, classes=classes)  # one pass over the rows, float32 kept
        return None  # its own initial weights: timed, not compared

    return {DESCENT: descent_epoch, "MLPClassifier.partial_fit": sklearn_epoch}


# -- fit() against a torch loop -------------------------------------------------------------


def fit_steps(seed: int) -> dict[str, Step]:
    train, _ = dc.data.load_dataset("digits", seed=seed, standardize=True)
    x, y = train.features, train.targets
    torch.manual_seed(seed)
    torch_model = mlp(torch.nn, DIGITS_SIZES)
    model = harness.copy_weights(mlp(dc.nn, DIGITS_SIZES), torch_model)
    optimizer = dc.optim.SGD(model.parameters(), lr=DIGITS_LR)
    loader = dc.data.DataLoader(train, batch_size=DIGITS_BATCH, shuffle=False)

    def descent_fit():
        dc.train.fit(model, dc.nn.functional.cross_entropy, optimizer, loader, epochs=1,
                     progress=False)  # fmt: skip
        return list(model.parameters())

    return {
        DESCENT: descent_fit,
        "DataLoader loop": torch_fit(torch_model, x, y, data_loader=True),
        "tensor-slice loop": torch_fit(torch_model, x, y, data_loader=False),
    }


def torch_fit(source: torch.nn.Module, x: np.ndarray, y: np.ndarray, data_loader: bool) -> Step:
    """One epoch as fit() runs it, in torch: the step, and the mean loss and accuracy kept."""
    model = mlp(torch.nn, DIGITS_SIZES)
    model.load_state_dict(source.state_dict())
    optimizer = torch.optim.SGD(model.parameters(), lr=DIGITS_LR)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    if data_loader:
        dataset = torch.utils.data.TensorDataset(inputs, labels)
        batches = torch.utils.data.DataLoader(dataset, batch_size=DIGITS_BATCH, shuffle=False)
    else:
        batches = [
            (inputs[i : i + DIGITS_BATCH], labels[i : i + DIGITS_BATCH])
            for i in range(0, len(inputs), DIGITS_BATCH)
        ]

    def epoch():
        model.train()
        total, correct, count = 0.0, 0, 0
        for xb, yb in batches:
            pred = model(xb)
            loss = torch.nn.functional.cross_entropy(pred, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            correct += int((pred.argmax(1) == yb).sum())
            count += len(xb)
        return list(model.parameters())

    return epoch


WORKLOADS: dict[str, harness.Work | harness.Workload] = {
    "mlp epoch, batch 1, 500 rows": lambda: mlp_epoch_steps(1, harness.scaled(500), seed=1),
    **{
        f"mlp epoch, batch {batch}, 10,000 rows": (
            lambda batch=batch: mlp_epoch_steps(batch, harness.scaled(10_000, 128), seed=2)
        )
        for batch in (32, 128)
    },
    f"mlp epoch, full batch ({FULL_BATCH:,})": (
        lambda: mlp_epoch_steps(harness.scaled(FULL_BATCH), harness.scaled(FULL_BATCH), seed=3)
    ),
    f"fit(), 1 epoch of digits, batch {DIGITS_BATCH}": lambda: fit_steps(seed=4),
}


def main(argv: list[str] | None = None) -> int:
    return harness.main(argv, __doc__.splitlines()[0], {"epochs": WORKLOADS})


if __name__ == "__main__":
    sys.exit(main())
