"""`DivergenceGuard`: roll a diverging run back to its last good state, lower the lr, go on."""

from __future__ import annotations

import math

from descent.text import format_number
from descent.train.callbacks import Callback
from descent.train.divergence import divergence
from descent.train.state import TrainingState


class TrainingDiverged(RuntimeError):
    """The loss went NaN, Inf or past the explosion bound and could not be recovered."""


class DivergenceGuard(Callback):
    """Roll back and lower the learning rate when the loss goes NaN, Inf or explodes.

    The last good state (model and optimizer, copied arrays) is kept in memory:
    the state when training begins, and one taken after an epoch without trouble
    (or every `snapshot_every` good steps) once the next loss, computed with those
    weights, is at most `healthy` times the first loss. A step whose loss is not
    finite or exceeds `explode` times the first loss restores that state, leaves the
    step out of the epoch's means, and multiplies every group's lr by `factor` (through
    the scheduler's `scale_lr`, so the schedule does not set the old lr back). After
    `max_retries` roll-backs the next bad step raises `TrainingDiverged`, naming the
    step and the learning rate.

    A rate too high for explosion can still make the loss climb slowly, epoch after epoch
    (lr 0.17 on digits: 0.51 to 97 in 20 epochs). With `rising=N`, N epochs in a row whose
    training loss is above the one before, ending above the first epoch's (all the progress
    since lost), raise `TrainingDiverged`, saying so (off by default; `descent train` uses
    3). Rising alone is not enough: a run at the edge of stability wobbles up and down, and
    full-batch descent with momentum, one step an epoch, overshoots for a few steps and
    comes back, both far below where they started.
    """

    def __init__(self, max_retries: int = 3, factor: float = 0.5, explode: float = 1e4,
                 snapshot_every: int | None = None, healthy: float = 10.0,
                 rising: int | None = None) -> None:  # fmt: skip
        if not 0.0 < factor < 1.0:
            raise ValueError(f"DivergenceGuard: {factor=} must be in (0, 1)")
        if rising is not None and rising < 1:
            raise ValueError(f"DivergenceGuard: {rising=} must be >= 1 or None")
        self.max_retries, self.factor, self.explode = int(max_retries), factor, explode
        self.snapshot_every, self.healthy, self.rising = snapshot_every, healthy, rising
        self._reset()

    def _reset(self) -> None:
        self.retries, self.first_loss, self._good_steps = 0, None, 0

    def on_train_begin(self, logs=None):
        if not self.run.history.epochs:  # a resumed run goes on from `load_state_dict`
            self._reset()
        self._good, self._pending = self._snapshot(), None

    def state_dict(self) -> dict:
        """The counts a resumed run needs to judge as an uninterrupted one would (the last
        good state is the checkpoint's own weights)."""
        return {"retries": self.retries, "first_loss": self.first_loss,
                "good_steps": self._good_steps}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.retries, self.first_loss = int(state["retries"]), state["first_loss"]
        self._good_steps = int(state["good_steps"])

    def _snapshot(self) -> TrainingState:
        return TrainingState.capture(self.run.model, self.run.optimizer)

    def on_batch_end(self, step, logs=None):
        loss = float(logs["loss"])
        if self.first_loss is None and math.isfinite(loss):
            self.first_loss = abs(loss)
        trouble = divergence(loss, self.first_loss or 0.0, self.explode, "the first loss")
        if trouble is None:
            if self._pending is not None:  # this loss came from the pending weights
                if divergence(loss, self.first_loss, self.healthy) is None:
                    self._good = self._pending
                self._pending = None
            self._good_steps += 1
            if self.snapshot_every and self._good_steps % self.snapshot_every == 0:
                self._pending = self._snapshot()
            return
        self._roll_back(step, logs, loss, trouble)

    def _roll_back(self, step: int, logs: dict, loss: float, trouble: str) -> None:
        self._pending = None
        run = self.run
        lrs = [float(group["lr"]) for group in run.optimizer.param_groups]
        where = f"step {step} (epoch {logs['epoch'] + 1}, batch {logs['batch'] + 1})"
        if self.retries >= self.max_retries:
            raise TrainingDiverged(
                f"training diverged at {where}: loss {trouble} with learning rate "
                f"{format_number(lrs)}, after {self.retries} roll-back(s) each lowering the "
                f"learning rate by a factor {self.factor}. Run a learning-rate range test "
                "(`descent lr-find`, or descent.lab.lr_find) and pick a rate well below where "
                "the loss turns up, or clip gradients (--clip-grad-norm)"
            )
        self.retries += 1
        self._good.restore()
        for group, lr in zip(run.optimizer.param_groups, lrs):
            group["lr"] = lr  # the restored state holds the old rates; scale the current ones
        if run.scheduler is not None:
            run.scheduler.scale_lr(self.factor)
        else:
            for group in run.optimizer.param_groups:
                group["lr"] *= self.factor
        new_lrs = [lr * self.factor for lr in lrs]
        run.epoch_means.discard_last()
        run.history.events.append(
            {"event": "divergence_rollback", "step": step, "loss": loss, "lr": lrs,
             "new_lr": new_lrs, "retry": self.retries}
        )  # fmt: skip
        run.log(
            f"DivergenceGuard: loss {trouble} at {where} with learning rate "
            f"{format_number(lrs)}; rolled back to the last good state, learning rate now "
            f"{format_number(new_lrs)} (retry {self.retries}/{self.max_retries})"
        )

    def on_epoch_end(self, epoch, logs=None):
        if all(math.isfinite(float(v)) for v in logs.values()):
            self._pending = self._snapshot()
        if self.rising is not None:
            self._check_rising(epoch)

    def _check_rising(self, epoch: int) -> None:
        losses = self.run.history["loss"]  # this epoch's included: fit records it first
        if len(losses) <= self.rising:
            return
        recent = losses[-self.rising - 1 :]
        best = min(losses[: -self.rising])
        rose = all(b > a for a, b in zip(recent, recent[1:]))
        if rose and recent[-1] > losses[0]:
            lrs = [float(group["lr"]) for group in self.run.optimizer.param_groups]
            raise TrainingDiverged(
                f"training diverged: the training loss rose for {self.rising} epochs in a row, "
                f"to {format_number(losses[-1])} at epoch {epoch + 1}, above the first epoch's "
                f"{format_number(losses[0])} and its best {format_number(best)}, with learning "
                f"rate {format_number(lrs)}. Lower "
                "--lr (`descent lr-find` suggests one) or clip gradients (--clip-grad-norm)"
            )
