"""The training state in memory: take a snapshot, put it back, as often as needed.

A probe that trains or perturbs the weights to measure something (a learning-rate
range test, a Hessian-vector product, a gradient at another batch) must leave the
run exactly as it found it, and a divergence guard must roll back to its last good
state, perhaps several times. Both need the same snapshot: the model's parameters,
buffers, gradients and train/eval modes, the optimizer's state and learning rates,
the loader's position and descent's random generator. `TrainingState` is that
snapshot; `preserved` is the context manager that takes one and restores it on exit.

Unlike `descent.checkpoint`, nothing here touches a file: the arrays are copies
held in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from descent.random import get_rng_state, set_rng_state


@dataclass
class TrainingState:
    """A snapshot of a model (and optionally its optimizer and loader) and the random state.

    `restore()` copies the snapshot back and never hands its own arrays to the model
    or optimizer, so the same snapshot can be restored any number of times.
    """

    model: Any
    weights: dict[str, np.ndarray]
    grads: list
    modes: list[tuple[Any, bool]]
    rng: dict
    optimizer: Any = None
    optimizer_state: dict | None = None
    loader: Any = None
    loader_state: dict | None = None

    @classmethod
    def capture(cls, model, optimizer=None, loader=None) -> TrainingState:
        """The state now. A loader without `state_dict`/`load_state_dict` is left out."""
        if loader is not None and not hasattr(loader, "load_state_dict"):
            loader = None
        return cls(
            model=model,
            weights={k: np.array(v, copy=True) for k, v in model.state_dict().items()},
            grads=[(p, None if p.grad is None else p.grad.clone()) for p in model.parameters()],
            modes=[(m, m.training) for m in model.modules()],
            rng=get_rng_state(),  # a fresh dict of plain ints each call
            optimizer=optimizer,
            optimizer_state=None if optimizer is None else optimizer.state_dict(),  # copies
            loader=loader,
            loader_state=None if loader is None else loader.state_dict(),
        )

    def restore(self) -> None:
        """Put everything captured back as it was."""
        self.model.load_state_dict(self.weights)  # copies into the parameters' own arrays
        for param, grad in self.grads:
            param.grad = None if grad is None else grad.clone()
        for module, training in self.modes:
            module.training = training
        if self.optimizer is not None:
            self.optimizer.load_state_dict(self.optimizer_state)  # copies the tensors
        if self.loader is not None:
            self.loader.load_state_dict(self.loader_state)
        set_rng_state(self.rng)


@contextlib.contextmanager
def preserved(model, optimizer=None, loader=None) -> Iterator[TrainingState]:
    """Run the block, then restore the state it started from, even if it raised.

    Yields the `TrainingState` taken on entry (its `rng` is the random state to replay).
    """
    state = TrainingState.capture(model, optimizer, loader)
    try:
        yield state
    finally:
        state.restore()
