"""Per-layer diagnostics over training: dead ReLUs, gradient norms, update-to-weight ratios.

A ReLU unit is dead on a batch when its output is zero for every sample in it: no
gradient flows through it, so plain gradient descent never revives it. A rising
dead fraction is what a too-high learning rate does to a ReLU network. The
gradient norm and the update-to-weight ratio of a layer say how hard each layer
is being pushed (a ratio near 1e-3 is the usual rule of thumb for a healthy step).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from descent.autograd import no_grad
from descent.files import json_safe
from descent.nn.layers import ReLU
from descent.tensor import Tensor, as_array, wrap
from descent.train.callbacks import Callback

PROBE_SIZE = 256


def _units_alive(output: np.ndarray) -> np.ndarray:
    """Whether each unit fired (> 0) for some sample: a unit is a feature, or a channel
    for image-shaped outputs (N, C, ...), since a channel shares its weights over positions."""
    fired = output > 0
    if fired.ndim > 2:
        fired = fired.reshape(fired.shape[0], fired.shape[1], -1).any(axis=2)
    return fired.reshape(fired.shape[0], -1).any(axis=0)


@contextmanager
def _capture_relus(model) -> Iterator[dict[str, np.ndarray]]:
    """While open, every ReLU module of `model` ORs its alive units into the yielded dict,
    through a forward hook removed on exit."""
    alive: dict[str, np.ndarray] = {}

    def hook_for(name: str):
        def hook(module, args, out):
            units = _units_alive(np.asarray(out._data))
            alive[name] = units | alive[name] if name in alive else units

        return hook

    handles = [
        module.register_forward_hook(hook_for(name))
        for name, module in model.named_modules()
        if isinstance(module, ReLU)
    ]
    try:
        yield alive
    finally:
        for handle in handles:
            handle.remove()


def dead_relu_fraction(model, x) -> dict[str, float]:
    """For each ReLU module of `model` (by its dotted name), the fraction of its units
    whose output is zero for every sample of `x`.

    The forward pass runs in eval mode without a graph; the model's mode is restored.
    A model without ReLU modules gives {}; a ReLU called as a function inside some
    `forward` cannot be seen. A module called twice in one pass counts a unit alive
    if it fired in either call.
    """
    x = x if isinstance(x, Tensor) else wrap(as_array(np.asarray(x)))
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        with no_grad(), _capture_relus(model) as alive:
            model(x)
    finally:
        model.train(was_training)
    return {name: float(1.0 - units.mean()) for name, units in alive.items()}


def layer_of(parameter_name: str) -> str:
    """The module that owns a parameter: '2.weight' -> '2', 'block.0.bias' -> 'block.0'."""
    return parameter_name.rpartition(".")[0]


class LayerDiagnostics(Callback):
    """Record per epoch, per layer: dead-ReLU fractions, gradient norms, update ratios.

    Dead units are measured at the end of each epoch on a fixed probe batch (the
    same samples every epoch, so the series compares like with like): `probe`, or
    the first `probe_size` samples of the training loader's data set. Gradient
    norms and update-to-weight ratios are measured over each epoch's last step
    (the first, when the loader has no length), grouped by the module that owns
    the parameters:

    - a layer's gradient norm is the L2 norm of all its parameters' gradients;
    - a layer's update-to-weight ratio is ||delta w|| / ||w|| of its largest
      parameter (the weight of a Linear or Conv2d), as in the usual per-layer ratio
      plots: a bias is small and its ratio says little about the layer.

    An epoch cut short before its last step (a budget stop mid-epoch) has no such
    step, so its gradient and ratio entries are NaN; every series has one entry per
    epoch.
    """

    def __init__(self, probe=None, probe_size: int = PROBE_SIZE) -> None:
        if probe_size < 1:
            raise ValueError(f"LayerDiagnostics: {probe_size=} must be >= 1")
        self.probe, self.probe_size = probe, int(probe_size)
        self.epochs = 0
        self.dead_relu: dict[str, list[float]] = {}
        self.grad_norm: dict[str, list[float]] = {}
        self.update_ratio: dict[str, list[float]] = {}

    def on_train_begin(self, logs=None):
        if self.probe is None:
            self.probe = _first_samples(self.run.train_loader, self.probe_size)
        self._layers: dict[str, list] = {}  # layer -> its parameters, the largest first
        for name, param in self.run.model.named_parameters():
            self._layers.setdefault(layer_of(name), []).append(param)
        for params in self._layers.values():
            params.sort(key=lambda p: -p._data.size)
        self._before: dict[str, np.ndarray] | None = None
        self._measured: dict[str, tuple[float, float]] | None = None

    def on_batch_begin(self, step, logs=None):
        batches = self.run.batches_per_epoch
        if logs["batch"] == (batches - 1 if batches else 0):
            self._before = {layer: params[0]._data.copy() for layer, params in self._layers.items()}

    def on_batch_end(self, step, logs=None):
        if self._before is None:
            return
        self._measured = {}
        for layer, params in self._layers.items():
            squares = [float(np.vdot(p._grad._data, p._grad._data)) for p in params
                       if p._grad is not None]  # fmt: skip
            norm = math.sqrt(sum(squares)) if squares else math.nan
            old = self._before[layer]
            weight = float(np.linalg.norm(old))
            delta = float(np.linalg.norm(params[0]._data - old))
            ratio = delta / weight if weight > 0 else (0.0 if delta == 0 else math.inf)
            self._measured[layer] = (norm, ratio)
        self._before = None

    def on_epoch_end(self, epoch, logs=None):
        for name, fraction in dead_relu_fraction(self.run.model, self.probe).items():
            self.dead_relu.setdefault(name, []).append(fraction)
        measured, self._measured = self._measured or {}, None
        for layer in self._layers:
            norm, ratio = measured.get(layer, (math.nan, math.nan))
            self.grad_norm.setdefault(layer, []).append(norm)
            self.update_ratio.setdefault(layer, []).append(ratio)
        self.epochs += 1

    def state_dict(self) -> dict:
        """The series so far, as `to_dict()`: what a checkpoint keeps, so that a resumed run
        extends them instead of starting over (`ModelCheckpoint(state=...)`)."""
        return self.to_dict()

    def load_state_dict(self, state: dict) -> None:
        """Continue the series of a `state_dict()` (or `to_dict()`)."""
        self.epochs = state["epochs"]
        self.dead_relu = _nan_for_none(state["dead_relu"])
        self.grad_norm = _nan_for_none(state["grad_norm"])
        self.update_ratio = _nan_for_none(state["update_ratio"])

    def to_dict(self) -> dict:
        """{'epochs', 'dead_relu', 'grad_norm', 'update_ratio'}; each series a list per epoch
        keyed by module name; NaN and Inf become None."""
        return json_safe(
            {
                "epochs": self.epochs,
                "dead_relu": self.dead_relu,
                "grad_norm": self.grad_norm,
                "update_ratio": self.update_ratio,
            }
        )


def _nan_for_none(series: dict[str, list]) -> dict[str, list[float]]:
    return {name: [math.nan if v is None else v for v in values] for name, values in series.items()}


def _first_samples(loader, count: int):
    """The inputs of the first `count` samples of a loader's data set, in data-set order
    (not the loader's, so reading them leaves the loader's shuffle untouched)."""
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        raise ValueError(
            "LayerDiagnostics: the training loader has no .dataset; pass probe=<a batch of inputs>"
        )
    indices = np.arange(min(count, len(dataset)))
    gather = getattr(dataset, "__getitems__", None)
    if gather is not None:
        return gather(indices)[0]
    return np.stack([np.asarray(getattr(dataset[int(i)][0], "data", dataset[int(i)][0]))
                     for i in indices])  # fmt: skip
