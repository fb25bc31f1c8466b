"""Time descent's MLPClassifier against scikit-learn's on the digits data, in one process.

Both estimators get the same data (digits, a stratified 75/25 split, standardised on
the training part), the same hyperparameters (scikit-learn's defaults: hidden
(100,), adam, batch 200, up to 200 epochs with tol 1e-4; one row with solver='lbfgs',
whose epochs are L-BFGS iterations) and the same random_state in each round; each
round fits every contender once, in turn, with a pause where the library changes
(idle BLAS threads spin for a moment after a call). Reported per contender: the
median fit time, the mean test accuracy, and the mean epochs run
(n_iter_: each stops by its own tolerance rule). The ratio is scikit-learn's fit time
over descent's, the median over rounds, against the fastest scikit-learn version:
above 1, descent is faster.

scikit-learn is timed as it comes (NumPy's BLAS at OPENBLAS_NUM_THREADS, 2 unless set)
and on one BLAS thread: descent's estimator trains layers this small on one thread.

    python -m benchmarks.sklearn_mlp             # full run
    python -m benchmarks.sklearn_mlp --quick     # one round, for smoke runs
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python benchmarks/sklearn_mlp.py`: import from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402  (first: it sets NumPy's BLAS threads)

# isort: split
import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.harness import DESCENT  # noqa: E402
from descent.sklearn import MLPClassifier  # noqa: E402

CASES = {  # row name: hyperparameters given to both estimators
    "MLPClassifier digits, hidden (100,), adam": {"hidden_layer_sizes": (100,)},
    "MLPClassifier digits, hidden (256, 128), adam": {"hidden_layer_sizes": (256, 128)},
    "MLPClassifier digits, hidden (100,), lbfgs": {"hidden_layer_sizes": (100,), "solver": "lbfgs"},
}
CONTENDERS = (DESCENT, "sklearn", "sklearn, 1 BLAS thread")
ROUNDS = {False: 5, True: 1}  # rounds (random states 0, 1, ...) in a full and a quick run
QUICK_MAX_ITER = 20


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def timed_fit(name: str, params: dict, data) -> tuple[float, float, int]:
    """Seconds to fit, test accuracy and epochs run, for one contender."""
    X_train, X_test, y_train, y_test = data
    estimator = (MLPClassifier if name == DESCENT else SklearnMLP)(**params)
    threads = 1 if name.endswith("1 BLAS thread") else None
    with warnings.catch_warnings(), threadpool_limits(limits=threads, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    return seconds, float(estimator.score(X_test, y_test)), int(estimator.n_iter_)


def compare(name: str, params: dict, rounds: int, pause: float, data) -> dict:
    names = CONTENDERS
    seconds = {c: [] for c in names}
    accuracy = {c: [] for c in names}
    epochs = {c: [] for c in names}
    before = harness.machine_busy_seconds(), time.process_time(), time.perf_counter()
    for seed in range(rounds):
        for contender in names:
            time.sleep(pause)
            s, a, e = timed_fit(contender, {**params, "random_state": seed}, data)
            seconds[contender].append(s)
            accuracy[contender].append(a)
            epochs[contender].append(e)
    others = harness.other_load(*before)
    medians = {c: statistics.median(t) for c, t in seconds.items()}
    best = min((c for c in names if c != DESCENT), key=medians.__getitem__)
    return {
        "name": name,
        "descent": medians[DESCENT] * 1e6,  # microseconds, as the harness's rows
        "peer": medians[best] * 1e6,
        "peer_name": best,
        "ratio": statistics.median(t / d for t, d in zip(seconds[best], seconds[DESCENT])),
        "other_load": others,
        "spread": max(max(t) / min(t) - 1 for t in seconds.values()),
        "median_us": {c: t * 1e6 for c, t in medians.items()},
        "accuracy": {c: statistics.mean(a) for c, a in accuracy.items()},
        "epochs": {c: statistics.mean(e) for c, e in epochs.items()},
        "samples_us": {c: [s * 1e6 for s in t] for c, t in seconds.items()},
    }


def run(quick: bool) -> list[dict]:
    """One row per case (descent, peer, peer_name, ratio, ... as the harness's rows), with
    accuracy and epochs per contender."""
    settings = harness.QUICK if quick else harness.FULL
    data = digits_split()
    rows = []
    for name, params in CASES.items():
        params = {**params, "max_iter": QUICK_MAX_ITER} if quick else dict(params)
        rows.append(compare(name, params, ROUNDS[quick], settings.pause_seconds, data))
        print(f"timed {name}", file=sys.stderr, flush=True)
    return rows


def print_rows(rows: list[dict]) -> None:
    for row in rows:
        print(row["name"])
        for contender, us in sorted(row["median_us"].items(), key=lambda item: item[1]):
            print(
                f"  {contender:<24} fit {us / 1e6:7.3f} s   test accuracy "
                f"{row['accuracy'][contender]:.4f}   epochs {row['epochs'][contender]:.1f}"
            )
        others = "n/a" if row["other_load"] is None else f"{row['other_load']:.2f}"
        print(
            f"  ratio {row['ratio']:.2f} ({row['peer_name']} time / descent time, median "
            f"over rounds; >1: descent faster), others {others}, spread {row['spread']:.0%}"
        )
    print("accuracy and epochs: means over the rounds' random states; fit time: the median.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round, for smoke runs")
    args = parser.parse_args(argv)
    print_rows(run(args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
