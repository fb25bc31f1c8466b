"""Transfer-learning style: pretrain a small Conv2d + BatchNorm2d + AdaptiveAvgPool2d net on
digits 0-4, copy its state_dict, freeze the features with requires_grad_(False), replace
the head (model.fc = nn.Linear), fine-tune on digits 5-9 with Adam over the
trainable parameters only and ReduceLROnPlateau on the validation loss."""

import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits

results = {}
rng = np.random.default_rng(53)
digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None]
old = np.flatnonzero(digits.target < 5)[:60]
new = np.flatnonzero(digits.target >= 5)[:60]
xa, ya = torch.from_numpy(images[old]), torch.from_numpy(digits.target[old])
xb, yb = torch.from_numpy(images[new]), torch.from_numpy(digits.target[new] - 5)


class SmallNet(nn.Module):
    def __init__(self, n_out=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.fc = nn.Linear(16, n_out)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def epoch(model, opt, x, y, bs=20):
    model.train()
    for i in range(0, len(x), bs):
        loss = F.cross_entropy(model(x[i : i + bs]), y[i : i + bs])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(x)
    return [loss.item(), F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()]


model = SmallNet()
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.copy_(
                torch.tensor(rng.normal(0, 0.3, tuple(m.weight.shape)), dtype=torch.float32)
            )
            m.bias.copy_(torch.tensor(rng.normal(0, 0.1, tuple(m.bias.shape)), dtype=torch.float32))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
results["pretrain"] = [epoch(model, opt, xa, ya) for _ in range(6)]
pretrained = copy.deepcopy(model.state_dict())

model = SmallNet()
model.load_state_dict(pretrained)
for param in model.parameters():
    param.requires_grad_(False)
model.fc = nn.Linear(16, 5)
with torch.no_grad():
    model.fc.weight.copy_(torch.tensor(rng.normal(0, 0.3, (5, 16)), dtype=torch.float32))
    model.fc.bias.zero_()
trainable = [n for n, p in model.named_parameters() if p.requires_grad]
results["trainable"] = trainable
opt = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=0.3)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
    opt, mode="min", factor=0.5, patience=0, threshold=0.02
)
history = []
for _ in range(10):
    train_loss, _, acc = epoch(model, opt, xb[:40], yb[:40])
    with torch.no_grad():
        val_loss = F.cross_entropy(model(xb[40:]), yb[40:]).item()
    scheduler.step(val_loss)
    history.append([train_loss, val_loss, acc, opt.param_groups[0]["lr"]])
results["finetune"] = history
results["frozen_unchanged"] = torch.equal(model.features[0].weight, pretrained["features.0.weight"])
results["frozen_grad"] = model.features[0].weight.grad is None
results["bn_stats_moved"] = not torch.equal(
    model.features[1].running_mean, pretrained["features.1.running_mean"]
)
results["fc"] = model.fc.weight.detach().numpy().copy()
results["features_out"] = model.features(xb[:2]).flatten(1).detach().numpy().copy()
