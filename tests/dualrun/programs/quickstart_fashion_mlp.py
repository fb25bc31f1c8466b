"""The official quickstart: a Dataset subclass of FashionMNIST-shaped images, DataLoader,
NeuralNetwork(nn.Module) with Flatten and a Linear/ReLU stack, train/test loops, accuracy."""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

results = {}
rng = np.random.default_rng(21)
labels_map = {0: "T-Shirt", 1: "Trouser", 2: "Pullover", 3: "Dress", 4: "Coat"}
prototypes = rng.uniform(0, 1, size=(5, 28, 28)).astype(np.float32)


class SyntheticFashion(Dataset):
    def __init__(self, n, seed, transform=None, target_transform=None):
        r = np.random.default_rng(seed)
        self.labels = r.integers(0, 5, size=n)
        noise = r.normal(0, 0.3, size=(n, 28, 28)).astype(np.float32)
        self.images = np.clip(prototypes[self.labels] + noise, 0, 1).astype(np.float32)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        image = torch.tensor(self.images[idx]).unsqueeze(0)  # 1x28x28, like ToTensor()
        label = int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


training_data = SyntheticFashion(120, 1, transform=lambda x: (x - 0.5) / 0.5)
test_data = SyntheticFashion(40, 2, transform=lambda x: (x - 0.5) / 0.5)
train_dataloader = DataLoader(training_data, batch_size=32)
test_dataloader = DataLoader(test_data, batch_size=32)
X0, y0 = next(iter(test_dataloader))
results["batch_shapes"] = [list(X0.shape), list(y0.shape), str(y0.dtype).replace("torch.", "")]
results["first_label_names"] = [labels_map[int(v)] for v in y0[:4]]
results["len_loaders"] = [len(train_dataloader), len(test_dataloader)]


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.1, tuple(p.shape)), dtype=torch.float32))
results["structure"] = [name for name, _ in model.named_parameters()]
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train(dataloader, model, loss_fn, optimizer):
    model.train()
    seen = []
    for batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 2 == 0:
            seen.append([loss.item(), (batch + 1) * len(X)])
    return seen


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    return [test_loss / num_batches, correct / size]


epochs = 5
for t in range(epochs):
    results[f"epoch{t}_train"] = train(train_dataloader, model, loss_fn, optimizer)
    results[f"epoch{t}_test"] = test(test_dataloader, model, loss_fn)
results["final_bias"] = model.linear_relu_stack[4].bias.detach().numpy().copy()
x = test_data[3][0]
with torch.no_grad():
    pred = model(x.unsqueeze(0))
results["predicted"] = [labels_map[pred[0].argmax(0).item()], labels_map[test_data[3][1]]]
