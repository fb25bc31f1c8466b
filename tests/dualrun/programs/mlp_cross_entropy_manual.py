"""Two-layer MLP on numpy blobs: F.cross_entropy, manual SGD updates, the loss trajectory."""

import numpy as np
import torch
import torch.nn.functional as F

results = {}
rng = np.random.default_rng(11)
n_per, classes = 30, 3
centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
X_np = np.concatenate([c + rng.normal(0, 0.7, (n_per, 2)) for c in centers])
y_np = np.repeat(np.arange(classes), n_per)
X = torch.tensor(X_np, dtype=torch.float32)
y = torch.from_numpy(y_np)
results["y.dtype"] = str(y.dtype).replace("torch.", "")

W1 = torch.tensor(rng.normal(0, 0.5, (2, 16)), dtype=torch.float32, requires_grad=True)
b1 = torch.zeros(16, requires_grad=True)
W2 = torch.tensor(rng.normal(0, 0.5, (16, classes)), dtype=torch.float32, requires_grad=True)
b2 = torch.zeros(classes, requires_grad=True)
params = [W1, b1, W2, b2]

lr = 0.2
losses = []
for step in range(120):
    h = torch.relu(X @ W1 + b1)
    logits = h @ W2 + b2
    loss = F.cross_entropy(logits, y)
    if step % 10 == 0:
        losses.append(loss.item())
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()

with torch.no_grad():
    logits = torch.relu(X @ W1 + b1) @ W2 + b2
    probs = F.softmax(logits, dim=1)
results["losses"] = losses
results["final_loss"] = F.cross_entropy(logits, y).item()
results["accuracy"] = (logits.argmax(1) == y).float().mean().item()
results["probs_head"] = probs[:3].numpy()
results["nll_check"] = F.nll_loss(F.log_softmax(logits, dim=1), y).item()
results["ce_sum"] = F.cross_entropy(logits, y, reduction="sum").item()
results["ce_none.shape"] = list(F.cross_entropy(logits, y, reduction="none").shape)
results["W2"] = W2.detach().numpy().copy()
