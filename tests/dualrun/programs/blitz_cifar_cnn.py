"""The 60-minute blitz classifier: Conv2d/MaxPool2d/Linear on CIFAR-shaped 3x32x32 inputs
(sklearn's 8x8 digits enlarged 4x and tinted into three channels), SGD with momentum,
per-class accuracy."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from sklearn.datasets import load_digits

results = {}
rng = np.random.default_rng(3)
digits = load_digits()
keep = digits.target < 4  # four classes, like a slice of CIFAR-10's
images = digits.images[keep][:64] / 16.0
labels = digits.target[keep][:64]
big = np.kron(images, np.ones((4, 4)))  # N x 32 x 32
tint = np.array([1.0, 0.7, 0.4])[None, :, None, None]
cifar = ((big[:, None] * tint - 0.5) / 0.5).astype(np.float32)  # N x 3 x 32 x 32, in [-1, 1]
classes = ("plane", "car", "bird", "cat")
inputs_all = torch.tensor(cifar)
labels_all = torch.tensor(labels)
results["data"] = [list(inputs_all.shape), labels_all.tolist()[:8]]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 4)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


net = Net()
with torch.no_grad():
    for p in net.parameters():
        fan_in = p[0].numel() if p.dim() > 1 else 10
        p.copy_(
            torch.tensor(rng.uniform(-1, 1, tuple(p.shape)) / np.sqrt(fan_in), dtype=torch.float32)
        )
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.03, momentum=0.9)

train_x, train_y = inputs_all[:48], labels_all[:48]
test_x, test_y = inputs_all[48:], labels_all[48:]
losses = []
for _epoch in range(4):
    running_loss = 0.0
    for i in range(0, 48, 8):
        inputs, target = train_x[i : i + 8], train_y[i : i + 8]
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, target)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    losses.append(running_loss / 6)
results["losses"] = losses
results["conv1.weight.grad"] = net.conv1.weight.grad.numpy().copy()
results["fc3.weight"] = net.fc3.weight.detach().numpy().copy()

correct = 0
total = 0
correct_pred = {classname: 0 for classname in classes}
total_pred = {classname: 0 for classname in classes}
with torch.no_grad():
    outputs = net(test_x)
    _, predicted = torch.max(outputs.data, 1)
    total += test_y.size(0)
    correct += (predicted == test_y).sum().item()
    for label, prediction in zip(test_y, predicted):
        if label == prediction:
            correct_pred[classes[label]] += 1
        total_pred[classes[label]] += 1
results["accuracy"] = 100 * correct // total
results["per_class"] = {c: [correct_pred[c], total_pred[c]] for c in classes}
results["outputs"] = outputs.numpy().copy()
