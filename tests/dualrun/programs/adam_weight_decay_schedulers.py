"""Adam with weight_decay and AdamW with param groups, under lr schedulers (StepLR,
MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR): lr per epoch, losses, weights,
optimizer state_dict layout."""

import math

import numpy as np
import torch
import torch.nn as nn
from torch.optim import lr_scheduler

results = {}
rng = np.random.default_rng(37)
X = rng.normal(size=(64, 6)).astype(np.float32)
Y = (np.tanh(X @ rng.normal(size=(6, 2))) + 0.05 * rng.normal(size=(64, 2))).astype(np.float32)
x_t, y_t = torch.from_numpy(X), torch.from_numpy(Y)
init = [rng.normal(0, 0.4, s).astype(np.float32) for s in [(16, 6), (16,), (2, 16), (2,)]]


def make_model():
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
    with torch.no_grad():
        for p, w in zip(model.parameters(), init):
            p.copy_(torch.tensor(w))
    return model


def run(make_opt, make_sched, epochs=8):
    model = make_model()
    optimizer = make_opt(model)
    scheduler = make_sched(optimizer)
    loss_fn = nn.MSELoss()
    log = []
    for _epoch in range(epochs):
        for i in range(0, 64, 16):
            optimizer.zero_grad()
            loss = loss_fn(model(x_t[i : i + 16]), y_t[i : i + 16])
            loss.backward()
            optimizer.step()
        scheduler.step()
        log.append([loss.item(), [g["lr"] for g in optimizer.param_groups]])
    return model, optimizer, scheduler, log


m, opt, sched, log = run(
    lambda m: torch.optim.Adam(m.parameters(), lr=0.02, weight_decay=1e-2),
    lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
)
results["adam_steplr"] = log
results["adam_last_lr"] = sched.get_last_lr()
results["adam_w"] = m[0].weight.detach().numpy().copy()
state = opt.state_dict()
results["adam_state_layout"] = [
    sorted(state),
    sorted(state["state"]),
    sorted(state["state"][0]),
    [
        k in state["param_groups"][0]
        for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "initial_lr")
    ],
    state["param_groups"][0]["params"],
]
results["adam_exp_avg_sq"] = state["state"][3]["exp_avg_sq"].numpy().copy()

m, opt, sched, log = run(
    lambda m: torch.optim.AdamW(
        [
            {"params": m[0].parameters()},
            {"params": m[2].parameters(), "lr": 0.005, "weight_decay": 0.0},
        ],
        lr=0.02,
        betas=(0.85, 0.99),
        weight_decay=0.1,
    ),
    lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5], gamma=0.3),
)
results["adamw_multistep"] = log
results["adamw_w"] = m[2].weight.detach().numpy().copy()

m, opt, sched, log = run(
    lambda m: torch.optim.Adam(m.parameters(), lr=0.03, amsgrad=True),
    lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8),
)
results["amsgrad_exponential"] = log
results["amsgrad_b"] = m[2].bias.detach().numpy().copy()

m, opt, sched, log = run(
    lambda m: torch.optim.SGD(
        m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3
    ),
    lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.001),
)
results["sgd_cosine"] = log

m, opt, sched, log = run(
    lambda m: torch.optim.Adam(m.parameters(), lr=0.01),
    lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / math.sqrt(e + 1)),
)
results["adam_lambda"] = log
sched_state = sched.state_dict()
results["scheduler_state"] = [sched_state["base_lrs"], sched_state["last_epoch"]]
