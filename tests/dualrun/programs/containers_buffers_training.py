"""A model built from nn.ModuleList and nn.ModuleDict with a register_buffer'd input
normalizer and a running step counter buffer, trained with SGD; the state_dict carries the
buffers, load_state_dict restores them, and a non-persistent buffer stays out."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

results = {}
rng = np.random.default_rng(23)
X = rng.normal(3.0, 2.0, size=(64, 5)).astype(np.float32)
y = (X[:, 0] - X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 4).astype(np.int64)
x_t, y_t = torch.from_numpy(X), torch.from_numpy(y)


class MultiHead(nn.Module):
    def __init__(self, dims=(5, 12, 12)):
        super().__init__()
        self.register_buffer("mean", torch.tensor(X.mean(0)))
        self.register_buffer("std", torch.tensor(X.std(0)))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("scratch", torch.zeros(3), persistent=False)
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])])
        self.heads = nn.ModuleDict({"cls": nn.Linear(dims[-1], 3), "reg": nn.Linear(dims[-1], 1)})
        self.acts = nn.ModuleDict([["relu", nn.ReLU()], ["tanh", nn.Tanh()]])

    def forward(self, x, act="relu"):
        if self.training:
            self.steps += 1
        h = (x - self.mean) / self.std
        for i, layer in enumerate(self.layers):
            h = self.acts[act](layer(h)) if i % 2 == 0 else F.relu(layer(h))
        return self.heads["cls"](h), self.heads["reg"](h).squeeze(-1)


model = MultiHead()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.4, tuple(p.shape)), dtype=torch.float32))
results["param_names"] = [n for n, _ in model.named_parameters()]
results["buffer_names"] = [n for n, _ in model.named_buffers()]
results["state_keys"] = list(model.state_dict().keys())
results["len"] = [len(model.layers), len(model.heads), list(model.heads.keys())]
results["modules"] = [n for n, _ in model.named_modules()]

optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
target_reg = x_t[:, 3]
history = []
for epoch in range(6):
    model.train()
    for i in range(0, 64, 16):
        logits, reg = model(x_t[i : i + 16], act="tanh" if epoch % 2 else "relu")
        loss = F.cross_entropy(logits, y_t[i : i + 16]) + 0.1 * F.mse_loss(
            reg, target_reg[i : i + 16]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits, reg = model(x_t)
        history.append(
            [
                loss.item(),
                (logits.argmax(1) == y_t).float().mean().item(),
                F.mse_loss(reg, target_reg).item(),
            ]
        )
results["history"] = history
steps_dtype = str(model.steps.dtype).replace("torch.", "")
results["steps"] = [model.steps.item(), steps_dtype, model.steps.requires_grad]
results["mean_no_grad"] = model.mean.grad is None and not model.mean.requires_grad

clone = MultiHead()
with torch.no_grad():
    clone.mean.fill_(0.0)
incompatible = clone.load_state_dict(model.state_dict())
results["load"] = [list(incompatible.missing_keys), list(incompatible.unexpected_keys)]
results["clone_steps"] = clone.steps.item()
results["clone_mean"] = clone.mean.numpy().copy()
with torch.no_grad():
    results["clone_same"] = torch.equal(clone.eval()(x_t)[0], model(x_t)[0])
results["heads.cls.weight"] = model.heads["cls"].weight.detach().numpy().copy()
results["layers.1.bias.grad"] = model.layers[1].bias.grad.numpy().copy()
