"""Gradient clipping in a training loop: torch.nn.utils.clip_grad_norm_ returns the total norm
before clipping (2-norm and inf-norm), the clipped norm equals max_norm, clip_grad_value_,
and a deep tanh net trained with a large step that clipping keeps stable."""

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import clip_grad_norm_, clip_grad_value_

results = {}
rng = np.random.default_rng(43)
X = rng.normal(size=(64, 4)).astype(np.float32)
Y = (3.0 * np.sin(2 * X[:, :1]) + X[:, 1:2] ** 2).astype(np.float32)
x_t, y_t = torch.from_numpy(X), torch.from_numpy(Y)
init = None


def make_model():
    global init
    model = nn.Sequential(
        nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
    )
    if init is None:
        init = [rng.normal(0, 0.8, tuple(p.shape)).astype(np.float32) for p in model.parameters()]
    with torch.no_grad():
        for p, w in zip(model.parameters(), init):
            p.copy_(torch.from_numpy(w))
    return model


def grad_norm(model):
    return torch.sqrt(sum((p.grad**2).sum() for p in model.parameters())).item()


def train(max_norm, epochs=6):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.MSELoss()
    log = []
    for _epoch in range(epochs):
        for i in range(0, 64, 16):
            optimizer.zero_grad()
            loss = loss_fn(model(x_t[i : i + 16]), y_t[i : i + 16])
            loss.backward()
            total = None
            if max_norm is not None:
                total = clip_grad_norm_(model.parameters(), max_norm=max_norm).item()
            log.append([loss.item(), total, grad_norm(model)])
            optimizer.step()
    return model, log


model, log = train(max_norm=1.0)
results["clipped_log"] = log
results["clipped_norms_at_most_max"] = all(after <= 1.0 + 1e-4 for _, _, after in log)
results["clipped_w"] = model[2].weight.detach().numpy().copy()
model, log = train(max_norm=None)
results["unclipped_log"] = log

# the norm types and the value clip on one set of gradients
model = make_model()
nn.MSELoss()(model(x_t), y_t).backward()
grads = [p.grad.clone() for p in model.parameters()]
results["inf_norm"] = clip_grad_norm_(model.parameters(), 0.5, norm_type=float("inf")).item()
results["inf_after"] = max(p.grad.abs().max().item() for p in model.parameters())
for p, g in zip(model.parameters(), grads):
    p.grad = g.clone()
results["one_norm"] = nn.utils.clip_grad_norm_(model.parameters(), 2.0, norm_type=1).item()
for p, g in zip(model.parameters(), grads):
    p.grad = g.clone()
results["big_max_keeps"] = [
    clip_grad_norm_(model.parameters(), 1e6).item(),
    all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads)),
]
clip_grad_value_(model.parameters(), clip_value=0.1)
results["value_clipped"] = model[0].weight.grad.numpy().copy()
results["value_max"] = max(p.grad.abs().max().item() for p in model.parameters())
results["single_tensor"] = clip_grad_norm_(model[4].weight, 0.01).item()
results["single_after"] = model[4].weight.grad.norm().item()
