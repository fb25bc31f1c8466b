"""A BatchNorm1d + Dropout MLP switching train()/eval(): training runs with the dropout
module's p set to 0 (masks come from each library's RNG), running statistics and
num_batches_tracked are compared, eval output ignores both dropout and batch statistics,
and a train-mode dropout output is checked only for being zeros or x / (1 - p)."""

# ruff: noqa: F821  (raises is provided by the dual-run harness)

import numpy as np
import torch
import torch.nn as nn

results = {}
rng = np.random.default_rng(31)
X = rng.normal(2.0, 3.0, size=(120, 10)).astype(np.float32)
y = (X[:, :3].sum(1) > 6).astype(np.int64)
x_t, y_t = torch.from_numpy(X), torch.from_numpy(y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 24)
        self.bn1 = nn.BatchNorm1d(24)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(24, 24)
        self.bn2 = nn.BatchNorm1d(24, momentum=0.2)
        self.out = nn.Linear(24, 2)

    def forward(self, x):
        x = self.drop(torch.relu(self.bn1(self.fc1(x))))
        x = torch.relu(self.bn2(self.fc2(x)))
        return self.out(x)


model = Net()
with torch.no_grad():
    for name, p in model.named_parameters():
        if "bn" not in name:
            p.copy_(torch.tensor(rng.normal(0, 0.3, tuple(p.shape)), dtype=torch.float32))
results["bn_state"] = [k for k in model.state_dict() if k.startswith("bn1")]
results["bn_init"] = [
    model.bn1.weight.detach().numpy().copy(),
    model.bn1.running_var.numpy().copy(),
]

optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
model.drop.p = 0.0
history = []
for _epoch in range(5):
    model.train()
    for i in range(0, 120, 24):
        loss = loss_fn(model(x_t[i : i + 24]), y_t[i : i + 24])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(x_t)
    history.append(
        [loss.item(), loss_fn(logits, y_t).item(), (logits.argmax(1) == y_t).float().mean().item()]
    )
results["history"] = history
results["running_mean"] = model.bn1.running_mean.numpy().copy()
results["running_var"] = model.bn2.running_var.numpy().copy()
results["tracked"] = [model.bn1.num_batches_tracked.item(), model.training, model.bn1.training]
results["bn2.weight"] = model.bn2.weight.detach().numpy().copy()
results["bn1.bias.grad"] = model.bn1.bias.grad.numpy().copy()

model.drop.p = 0.5
model.eval()
with torch.no_grad():
    eval_a = model(x_t[:6])
    eval_one = model(x_t[:1])  # eval uses running stats, so a batch of one works
results["eval_out"] = eval_a.numpy().copy()
results["eval_batch_independent"] = torch.allclose(eval_one, eval_a[:1], atol=1e-6)
before = model.bn1.running_mean.clone()
model.train()
with torch.no_grad():
    h = torch.relu(model.bn1(model.fc1(x_t)))
    dropped = model.drop(h)
scaled_or_zero = (dropped == 0) | torch.isclose(dropped, h / (1 - 0.5))
results["dropout_train"] = [bool(scaled_or_zero.all()), bool((dropped == 0).any())]
results["train_forward_moves_stats"] = not torch.equal(before, model.bn1.running_mean)
model.eval()
with torch.no_grad():
    results["dropout_eval_identity"] = torch.equal(model.drop(h), h)
results["one_sample_train_error"] = raises(lambda: model.train()(x_t[:1]))
