"""Forward hooks collecting activations during training: per-layer means and dead-ReLU
fractions each epoch, a hook that edits the output, a forward-pre hook, handle.remove()."""

import numpy as np
import torch
import torch.nn as nn

results = {}
rng = np.random.default_rng(29)
X = rng.normal(size=(96, 8)).astype(np.float32)
y = (np.sin(X[:, 0]) + X[:, 1] * X[:, 2] > 0).astype(np.int64)
x_t, y_t = torch.from_numpy(X), torch.from_numpy(y)

model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.5, tuple(p.shape)), dtype=torch.float32))

activations = {}


def save_activation(name):
    def hook(module, inputs, output):
        activations[name] = output.detach()

    return hook


handles = [
    layer.register_forward_hook(save_activation(f"{i}:{type(layer).__name__}"))
    for i, layer in enumerate(model)
    if isinstance(layer, nn.ReLU)
]
calls = []
pre = model[0].register_forward_pre_hook(lambda m, inputs: calls.append(tuple(inputs[0].shape)))

optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
loss_fn = nn.CrossEntropyLoss()
stats = []
for _epoch in range(4):
    for i in range(0, 96, 32):
        loss = loss_fn(model(x_t[i : i + 32]), y_t[i : i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        model(x_t)
    stats.append(
        {
            name: [
                a.mean().item(),
                (a == 0).all(dim=0).sum().item(),
                (a == 0).float().mean().item(),
            ]
            for name, a in activations.items()
        }
    )
results["stats"] = stats
results["hook_names"] = sorted(activations)
results["pre_calls"] = [len(calls), list(calls[0]), list(calls[-1])]
results["act_shape"] = list(activations["1:ReLU"].shape)

# a forward hook that returns a value replaces the module's output
doubler = model[4].register_forward_hook(lambda module, inputs, output: output * 2)
with torch.no_grad():
    doubled = model(x_t[:4])
doubler.remove()
with torch.no_grad():
    plain = model(x_t[:4])
results["hook_replaces_output"] = torch.allclose(doubled, plain * 2)
results["plain"] = plain.numpy().copy()

for h in handles:
    h.remove()
pre.remove()
activations.clear()
n_calls = len(calls)
model(x_t[:2])
results["after_remove"] = [len(activations), len(calls) - n_calls]
results["final_loss"] = loss_fn(model(x_t), y_t).item()
results["weight0"] = model[0].weight.detach().numpy().copy()
