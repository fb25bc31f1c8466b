"""The loss landscape: the training loss along a line and on a 2-D slice of weight space.

Li et al. (2018, "Visualizing the Loss Landscape of Neural Nets") read a network's
landscape off low-dimensional cuts. Along the line from one set of weights to another
(`loss_along_line`: the initial and the final weights, or two checkpoints) the loss
shows whether a run crossed a barrier and how sharp its end is. On a plane
(`loss_surface`) the directions must respect the network's scale invariances, so each
filter of a random direction is rescaled to the norm of the weight's filter
(`filter_normalized_direction`); a trajectory recorded during `fit`
(`TrajectoryRecorder`) lies almost orthogonal to random directions in many dimensions,
so it is drawn on the plane of its own top two principal directions (their §7).

Losses are read on a float64 copy of the model in eval mode, so that a cut through a
quadratic is the quadratic to rounding and dropout draws nothing; the model itself,
its gradients and descent's random state are left as they were (`preserved`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from descent.autograd import no_grad
from descent.files import json_safe
from descent.lab.sharpness import as_float64
from descent.train import Callback
from descent.train.state import preserved


def flat_weights(model) -> np.ndarray:
    """Every parameter of `model` raveled and concatenated in `named_parameters` order, as
    float64: the coordinates of a point in weight space (and of a `TrajectoryRecorder`)."""
    return np.concatenate(
        [p.detach().numpy().ravel().astype(np.float64) for p in model.parameters()]
    )


class _Probe:
    """Reads the loss at any weights, on a float64 copy of `model` in eval mode."""

    def __init__(self, model, loss_fn, x, y) -> None:
        self.twin = copy.deepcopy(model).double().eval()
        self.loss_fn, self.x, self.y = loss_fn, as_float64(x), as_float64(y)
        self.params = list(self.twin.parameters())
        self.bounds = np.cumsum([0] + [p.numel() for p in self.params])

    def at(self, weights: np.ndarray) -> float:
        """The loss with the parameters set to the flat vector `weights`."""
        for p, a, b in zip(self.params, self.bounds[:-1], self.bounds[1:]):
            p._data[...] = weights[a:b].reshape(p.shape)
        return self.loss()

    def loss(self) -> float:
        with no_grad():
            return float(self.loss_fn(self.twin(self.x), self.y).item())


# -- along a line ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossLine:
    """The loss at (1 - t) start + t end for each t; t = 0 is `start`, t = 1 is `end`."""

    t: np.ndarray
    loss: np.ndarray
    distance: float
    """|end - start| over the floating-point entries of the state dicts."""

    def to_dict(self) -> dict:
        return json_safe({"t": self.t.tolist(), "loss": self.loss.tolist(),
                          "distance": self.distance})  # fmt: skip


def loss_along_line(model, loss_fn, x, y, start: Mapping, end: Mapping, steps: int = 17,
                    extend: float = 0.25) -> LossLine:  # fmt: skip
    """The loss of `loss_fn(model(x), y)` on the line through two sets of weights.

    `start` and `end` are state dicts of `model` (two checkpoints, or the initial and
    final weights); every floating-point entry, buffers such as BatchNorm's running
    statistics included, is interpolated, the others are taken from `start`. t runs over
    `steps` evenly spaced points from 0 to 1, and on with the same spacing to about
    -extend and 1 + extend, so the curve shows the walls around both ends and passes
    through both exactly.
    """
    if steps < 2:
        raise ValueError(f"loss_along_line: {steps=} must be >= 2")
    if set(start) != set(end):
        raise ValueError("loss_along_line: start and end must hold the same state-dict keys")
    beyond = round(extend * (steps - 1))
    ts = np.arange(-beyond, steps + beyond) / (steps - 1)
    with preserved(model):
        probe = _Probe(model, loss_fn, x, y)
        moving = {k for k, v in start.items() if np.asarray(v).dtype.kind == "f"}
        a = {k: np.asarray(v, np.float64) for k, v in start.items()}
        b = {k: np.asarray(end[k], np.float64) for k in moving}
        losses = []
        for t in ts:
            probe.twin.load_state_dict({k: (1 - t) * a[k] + t * b[k] if k in moving else a[k]
                                        for k in a})  # fmt: skip
            losses.append(probe.loss())
    distance = float(np.sqrt(sum(np.sum((b[k] - a[k]) ** 2) for k in moving)))
    return LossLine(ts, np.array(losses), distance)


# -- on a plane --------------------------------------------------------------------------------


def filter_normalized_direction(model, generator: np.random.Generator) -> dict[str, np.ndarray]:
    """A Gaussian direction in weight space, scaled filter by filter (Li et al. §4).

    Each filter of a weight (a row of a linear layer's matrix, an output channel of a
    convolution's kernel: a slice along its first axis) gets the norm of the same filter
    of the weight, so a step along it changes every unit by the same relative amount,
    whatever its scale; one-dimensional parameters (biases, BatchNorm's scale and shift)
    get zeros. Returns {parameter name: float64 array}.
    """
    direction = {}
    for name, p in model.named_parameters():
        w = p.detach().numpy().astype(np.float64)
        if w.ndim <= 1:
            direction[name] = np.zeros_like(w)
            continue
        d = generator.standard_normal(w.shape)
        axes = tuple(range(1, w.ndim))
        scale = np.sqrt((w**2).sum(axes, keepdims=True)) / np.sqrt((d**2).sum(axes, keepdims=True))
        direction[name] = d * scale
    return direction


def principal_directions(
    trajectory: np.ndarray, center: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The top two principal directions (unit rows) of the points `trajectory - center`,
    and the share of their squared distance from `center` that each explains."""
    offsets = np.asarray(trajectory, np.float64) - center
    _, singular, rows = np.linalg.svd(offsets, full_matrices=False)
    if singular.size < 2:
        raise ValueError("loss_surface: a trajectory needs at least two points off the center")
    energy = singular**2
    return rows[:2], energy[:2] / energy.sum()


@dataclass(frozen=True)
class LossSurface:
    """The loss on the plane center + alpha d1 + beta d2: `loss[i, j]` at (alpha[j], beta[i]).

    `directions` says where d1, d2 came from ('random': filter-normalized; 'pca': a
    trajectory's top principal directions; 'given'); `explained` is the share of the
    trajectory's spread each PCA direction holds (NaN otherwise). `path` holds the
    trajectory's (alpha, beta) coordinates, its least-squares projection on the plane,
    and `path_error` each point's distance from the plane relative to its distance
    from the center (0 when the trajectory lies in the plane).
    """

    alpha: np.ndarray
    beta: np.ndarray
    loss: np.ndarray
    center_loss: float
    directions: str
    explained: tuple[float, float] = (np.nan, np.nan)
    path: np.ndarray | None = None
    path_error: np.ndarray | None = None

    def to_dict(self) -> dict:
        path = None if self.path is None else self.path.tolist()
        error = None if self.path_error is None else self.path_error.tolist()
        return json_safe({"alpha": self.alpha.tolist(), "beta": self.beta.tolist(),
                          "loss": self.loss.tolist(), "center_loss": self.center_loss,
                          "directions": self.directions, "explained": list(self.explained),
                          "path": path, "path_error": error})  # fmt: skip


def _project(points: np.ndarray, center: np.ndarray, basis: np.ndarray):
    """Least-squares (alpha, beta) of each point on the plane, and its relative miss."""
    offsets = np.asarray(points, np.float64) - center
    coords = np.linalg.lstsq(basis.T, offsets.T, rcond=None)[0].T
    miss = np.linalg.norm(offsets - coords @ basis, axis=1)
    size = np.linalg.norm(offsets, axis=1)
    return coords, np.divide(miss, size, out=np.zeros_like(miss), where=size > 0)


def loss_surface(model, loss_fn, x, y, directions: str | Sequence | None = None,
                 span: float | None = None, steps: int = 21, trajectory=None,
                 seed: int = 0) -> LossSurface:  # fmt: skip
    """The loss of `loss_fn(model(x), y)` on a `steps` x `steps` grid of a plane through
    the model's current weights.

    Args:
        directions: 'random' (two `filter_normalized_direction`s drawn with `seed`),
            'pca' (the top two principal directions of `trajectory` about the current
            weights), or two directions given as {parameter name: array} or flat vectors.
            By default 'pca' with a trajectory, else 'random'.
        span: the grid runs over [-span, span] in both coordinates; by default 1 (a
            filter's own norm) for random directions, and 1.2 times the trajectory's
            farthest coordinate otherwise.
        trajectory: flat weight vectors (`TrajectoryRecorder.trajectory`), projected on
            the plane.
    """
    if steps < 2:
        raise ValueError(f"loss_surface: {steps=} must be >= 2")
    kind = directions if isinstance(directions, str) else "given" if directions else None
    kind = kind or ("pca" if trajectory is not None else "random")
    if kind not in ("random", "pca", "given"):
        raise ValueError(f"loss_surface: directions={directions!r}: 'random', 'pca' or two")
    with preserved(model):
        probe = _Probe(model, loss_fn, x, y)
        center = flat_weights(model)
        explained = (np.nan, np.nan)
        if kind == "pca":
            if trajectory is None:
                raise ValueError("loss_surface: directions='pca' needs a trajectory")
            basis, share = principal_directions(trajectory, center)
            explained = (float(share[0]), float(share[1]))
        elif kind == "random":
            rng = np.random.default_rng(seed)
            basis = np.stack([_flat(model, filter_normalized_direction(model, rng))
                              for _ in range(2)])  # fmt: skip
        else:
            basis = np.stack([_flat(model, d) for d in directions])
        path = error = None
        if trajectory is not None:
            path, error = _project(trajectory, center, basis)
        if span is None:
            span = 1.2 * float(np.abs(path).max()) if path is not None and kind != "random" else 1.0
        grid = np.linspace(-span, span, int(steps))
        losses = np.array([[probe.at(center + a * basis[0] + b * basis[1]) for a in grid]
                           for b in grid])  # fmt: skip
        center_loss = probe.at(center)
    return LossSurface(grid, grid.copy(), losses, center_loss, kind, explained, path, error)


def _flat(model, direction) -> np.ndarray:
    """A direction as one flat vector in `flat_weights` order."""
    if isinstance(direction, Mapping):
        return np.concatenate([np.asarray(direction[name], np.float64).ravel()
                               for name, _ in model.named_parameters()])  # fmt: skip
    return np.asarray(direction, np.float64).ravel()


# -- a run's path ------------------------------------------------------------------------------


class TrajectoryRecorder(Callback):
    """Record `flat_weights` when training begins and every `every` batches (or epochs,
    with `unit="epoch"`) of `fit`, so a run's path can be projected on a `loss_surface`.

    `trajectory` is the (points, parameters) array; a run of U units records
    1 + floor(U / every) points.
    """

    def __init__(self, every: int = 1, unit: str = "batch") -> None:
        if every < 1:
            raise ValueError(f"TrajectoryRecorder: {every=} must be >= 1")
        if unit not in ("batch", "epoch"):
            raise ValueError(f"TrajectoryRecorder: {unit=} must be 'batch' or 'epoch'")
        self.every, self.unit = int(every), unit
        self.points: list[np.ndarray] = []

    @property
    def trajectory(self) -> np.ndarray:
        return np.stack(self.points)

    def on_train_begin(self, logs=None):
        if not self.points:
            self.points.append(flat_weights(self.run.model))

    def on_batch_end(self, step, logs=None):
        if self.unit == "batch" and (step + 1) % self.every == 0:
            self.points.append(flat_weights(self.run.model))

    def on_epoch_end(self, epoch, logs=None):
        if self.unit == "epoch" and (epoch + 1) % self.every == 0:
            self.points.append(flat_weights(self.run.model))

    def to_dict(self) -> dict:
        return json_safe({"every": self.every, "unit": self.unit,
                          "trajectory": [p.tolist() for p in self.points]})  # fmt: skip
