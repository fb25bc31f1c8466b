"""The official MNIST example: Conv2d, Dropout, F.log_softmax + F.nll_loss, Adadelta with
StepLR, train()/test() with reduction='sum'. Digits are sklearn's, enlarged to 16x16.
Training runs with dropout p=0 (masks come from each library's RNG); the real dropout rates
are then loaded into a second Net and compared in eval mode only."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from sklearn.datasets import load_digits
from torch.optim.lr_scheduler import StepLR

results = {}
rng = np.random.default_rng(8)
digits = load_digits()
imgs = np.kron(digits.images[:96] / 16.0, np.ones((2, 2)))
imgs = ((imgs - 0.1307) / 0.3081).astype(np.float32)[:, None]  # N x 1 x 16 x 16
data_all, target_all = torch.from_numpy(imgs), torch.from_numpy(digits.target[:96])


class Net(nn.Module):
    def __init__(self, p1=0.25, p2=0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(p1)
        self.dropout2 = nn.Dropout(p2)
        self.fc1 = nn.Linear(16 * 6 * 6, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, train_batches, optimizer, epoch):
    model.train()
    log = []
    for batch_idx, (data, target) in enumerate(train_batches):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % 2 == 0:
            log.append([epoch, batch_idx * len(data), loss.item()])
    return log


def test(model, test_batches, n):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_batches:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return [test_loss / n, correct, 100.0 * correct / n]


train_batches = [(data_all[i : i + 16], target_all[i : i + 16]) for i in range(0, 64, 16)]
test_batches = [(data_all[64:80], target_all[64:80]), (data_all[80:], target_all[80:])]
model = Net(p1=0.0, p2=0.0)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.1, tuple(p.shape)), dtype=torch.float32))
optimizer = optim.Adadelta(model.parameters(), lr=1.0)
scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
for epoch in range(1, 4):
    results[f"train{epoch}"] = train(model, train_batches, optimizer, epoch)
    results[f"test{epoch}"] = test(model, test_batches, 32)
    scheduler.step()
    results[f"lr{epoch}"] = scheduler.get_last_lr()
results["acc_delta_state"] = sorted(optimizer.state[model.fc2.weight].keys())
results["fc2.bias"] = model.fc2.bias.detach().numpy().copy()

deployed = Net()  # the real dropout rates, weights loaded from the trained one
deployed.load_state_dict(model.state_dict())
deployed.eval()
with torch.no_grad():
    results["eval_logprobs"] = deployed(data_all[64:70]).numpy().copy()
results["dropout_p"] = [deployed.dropout1.p, deployed.dropout2.p]
