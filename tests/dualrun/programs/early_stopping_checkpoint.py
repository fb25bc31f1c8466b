"""A training loop with an early-stopping helper that saves the best weights with
torch.save(model.state_dict(), path) and reloads them with
model.load_state_dict(torch.load(path, weights_only=True)); a whole checkpoint dict too."""

import os
import tempfile

import numpy as np
import torch
from torch import nn

results = {}
rng = np.random.default_rng(17)
X = rng.normal(size=(80, 6)).astype(np.float32)
w_true = rng.normal(size=(6, 1)).astype(np.float32)
y = (X @ w_true + rng.normal(0, 0.5, size=(80, 1))).astype(np.float32)
x_train, y_train = torch.from_numpy(X[:48]), torch.from_numpy(y[:48])
x_val, y_val = torch.from_numpy(X[48:]), torch.from_numpy(y[48:])


class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs; keep the best."""

    def __init__(self, path, patience=3, delta=0.0):
        self.path, self.patience, self.delta = path, patience, delta
        self.counter, self.best_loss, self.early_stop, self.best_epoch = 0, None, False, -1

    def __call__(self, val_loss, model, epoch):
        if self.best_loss is None or val_loss < self.best_loss - self.delta:
            self.best_loss, self.best_epoch, self.counter = val_loss, epoch, 0
            torch.save(model.state_dict(), self.path)
        else:
            self.counter += 1
            if self.counter >= self.patience:
                self.early_stop = True


model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.3, tuple(p.shape)), dtype=torch.float32))
loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "checkpoint.pt")
    stopper = EarlyStopping(path, patience=3)
    history = []
    for epoch in range(60):
        model.train()
        for i in range(0, 48, 12):
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[i : i + 12]), y_train[i : i + 12])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(x_val), y_val).item()
        history.append(val_loss)
        stopper(val_loss, model, epoch)
        if stopper.early_stop:
            break
    results["history"] = history
    results["stopped_at"] = [epoch, stopper.best_epoch, stopper.counter]
    last_weight = model[0].weight.detach().clone()
    model.load_state_dict(torch.load(path, weights_only=True))
    with torch.no_grad():
        results["reloaded_val_loss"] = loss_fn(model(x_val), y_val).item()
    results["matches_best"] = abs(results["reloaded_val_loss"] - stopper.best_loss) < 1e-6
    results["weights_changed_by_reload"] = not torch.equal(last_weight, model[0].weight)
    loaded = torch.load(path, weights_only=True)
    results["saved_keys"] = list(loaded.keys())
    results["saved_is_tensor"] = [isinstance(v, torch.Tensor) for v in loaded.values()]
    results["saved_grad"] = [v.requires_grad for v in loaded.values()]

    # a whole checkpoint: epoch, model and optimizer state, loss
    ckpt_path = os.path.join(tmp, "full.pt")
    torch.save(
        {
            "epoch": epoch,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "loss": history[-1],
        },
        ckpt_path,
    )
    fresh = nn.Sequential(
        nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
    )
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.02, momentum=0.9)
    checkpoint = torch.load(ckpt_path, weights_only=True)
    fresh.load_state_dict(checkpoint["model_state_dict"])
    fresh_opt.load_state_dict(checkpoint["optimizer_state_dict"])
    results["ckpt"] = [checkpoint["epoch"], checkpoint["loss"]]
    fresh.train()
    for opt_, net in ((optimizer, model), (fresh_opt, fresh)):
        opt_.zero_grad()
        loss_fn(net(x_train), y_train).backward()
        opt_.step()
    results["resumed_equal"] = torch.allclose(fresh(x_val), model(x_val))
    results["resumed_out"] = fresh(x_val[:4]).detach().numpy().copy()
