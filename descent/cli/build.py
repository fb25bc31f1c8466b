"""Build a run's objects from its config: model, loss, optimizer, schedule, loaders, callbacks.

The same config always builds the same objects (the seed fixes the splits and the initial
weights), which is what lets `descent resume` and `descent evaluate` rebuild a run.
"""

from __future__ import annotations

from dataclasses import dataclass

from descent import nn, optim
from descent.cli.config import RunConfig
from descent.cli.data import DataSplits, load_splits
from descent.cli.schedules import make_scheduler
from descent.data import DataLoader
from descent.nn.loss import loss_for_task
from descent.nn.models import build_model
from descent.random import manual_seed
from descent.train import DivergenceGuard, EarlyStopping
from descent.train.callbacks import GradientClipping

RISING_EPOCHS = 3
"""The guard stops a run whose training loss rose this many epochs in a row above its best."""


@dataclass
class Setup:
    """Everything `fit` needs for one run, built from its config."""

    config: RunConfig
    data: DataSplits
    model: nn.Module
    loss_fn: nn.Module
    optimizer: optim.Optimizer
    scheduler: optim.lr_scheduler.LRScheduler | None
    train_loader: DataLoader
    val_loader: DataLoader | None
    test_loader: DataLoader

    @property
    def metrics(self) -> tuple[str, ...]:
        return ("accuracy",) if self.data.task == "classification" else ("mae", "r2")

    def callbacks(self) -> list:
        """The config's gradient clipping, divergence guard and early stopping."""
        callbacks = []
        if self.config.clip_grad_norm:
            callbacks.append(GradientClipping(self.config.clip_grad_norm))
        if self.config.guard:
            callbacks.append(DivergenceGuard(rising=RISING_EPOCHS))
        if self.config.early_stopping:
            monitor = "val_loss" if self.val_loader is not None else "loss"
            callbacks.append(EarlyStopping(monitor=monitor, patience=self.config.early_stopping))
        return callbacks


def make_optimizer(config: RunConfig, params) -> optim.Optimizer:
    """The optimizer a config names, given only the options that optimizer takes."""
    options = {"lr": config.scaled_lr, "weight_decay": config.weight_decay}
    if config.optimizer in ("sgd", "rmsprop"):
        options["momentum"] = config.momentum
    if config.optimizer == "sgd":
        options["nesterov"] = config.nesterov
    return optim.create(config.optimizer, params, **options)


def make_loss(config: RunConfig, task: str) -> nn.Module:
    return loss_for_task(config.loss, task, repr(config.data))


def warmed_up(config: RunConfig, optimizer: optim.Optimizer, scheduler):
    """Linear scaling's warm-up (Goyal et al. 2017) before `scheduler`: the lr climbs
    linearly, epoch by epoch, from the config's lr to the scaled one; then the schedule
    runs on the scaled lr. Without scaling, `scheduler` itself."""
    if config.warmup_length == 0:
        return scheduler
    start = 1 / config.scale_ranks
    warmup = optim.lr_scheduler.LinearLR(optimizer, start, total_iters=config.warmup_length)
    if scheduler is None:
        return warmup
    return optim.lr_scheduler.SequentialLR(optimizer, [warmup, scheduler],
                                           milestones=[config.warmup_length])  # fmt: skip


def build(config: RunConfig, data: DataSplits | None = None) -> Setup:
    """Build a run's objects; the same config builds the same ones, weights included."""
    data = data if data is not None else load_splits(config)
    manual_seed(config.seed)
    model = build_model(config.model, data.sample_shape, data.out_features)
    loss_fn = make_loss(config, data.task)
    optimizer = make_optimizer(config, model.parameters())
    train_loader = DataLoader(data.train, batch_size=config.batch_size, shuffle=True,
                              seed=config.seed)  # fmt: skip
    val_loader = (DataLoader(data.val, batch_size=1024, shuffle=False)
                  if data.val is not None else None)  # fmt: skip
    test_loader = DataLoader(data.test, batch_size=1024, shuffle=False)
    scheduler = warmed_up(config, optimizer, make_scheduler(config, optimizer, len(train_loader)))
    return Setup(config, data, model, loss_fn, optimizer, scheduler, train_loader,
                 val_loader, test_loader)  # fmt: skip
