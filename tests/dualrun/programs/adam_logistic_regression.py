"""Logistic regression: nn.Linear + BCEWithLogitsLoss + Adam, with a sigmoid-threshold accuracy."""

import numpy as np
import torch
from torch import nn

results = {}
rng = np.random.default_rng(15)
X_np = rng.normal(size=(64, 2))
y_np = (X_np @ np.array([1.5, -2.0]) + 0.3 > 0).astype(np.float32)
X = torch.tensor(X_np, dtype=torch.float32)
y = torch.tensor(y_np).unsqueeze(1)

model = nn.Linear(2, 1)
with torch.no_grad():
    model.weight.copy_(torch.tensor([[0.1, 0.1]]))
    model.bias.zero_()
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

losses = []
for epoch in range(60):
    optimizer.zero_grad()
    logits = model(X)
    loss = criterion(logits, y)
    loss.backward()
    optimizer.step()
    if epoch % 10 == 0:
        losses.append(loss.item())

with torch.no_grad():
    probs = torch.sigmoid(model(X))
    preds = (probs > 0.5).float()
results["losses"] = losses
results["weight"] = model.weight.detach().numpy().copy()
results["bias"] = model.bias.item()
results["accuracy"] = (preds == y).float().mean().item()
results["state_step"] = float(optimizer.state[model.weight]["step"])
results["exp_avg"] = optimizer.state[model.weight]["exp_avg"].numpy().copy()
results["bce_manual"] = nn.functional.binary_cross_entropy(probs, y).item()
