"""torch.utils.data without randomness to compare: random_split checked only for what every
permutation shares (sizes, disjoint cover), then a Subset from a numpy permutation,
ConcatDataset, a Dataset with a transform, DataLoader with drop_last, a collate_fn, a
BatchSampler over a SequentialSampler, and a training loop over those loaders."""

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    SequentialSampler,
    Subset,
    TensorDataset,
    random_split,
)

results = {}
rng = np.random.default_rng(47)
X = rng.normal(size=(100, 3)).astype(np.float32)
y = (X @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.int64)
full = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))

train_part, val_part = random_split(full, [80, 20])
results["split_sizes"] = [len(train_part), len(val_part), type(train_part).__name__]
idx = sorted(list(train_part.indices) + list(val_part.indices))
results["split_covers"] = idx == list(range(100))
results["fractions"] = [len(s) for s in random_split(full, [0.7, 0.2, 0.1])]

perm = rng.permutation(100)
train_ds, val_ds = Subset(full, perm[:80].tolist()), Subset(full, perm[80:].tolist())
results["subset_item"] = [train_ds[0][0].numpy().copy(), train_ds[0][1].item()]


class Noisy(Dataset):
    """Extra samples: the base rows with a fixed shift, applied by a transform."""

    def __init__(self, base, transform):
        self.base, self.transform = base, transform

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, label = self.base[i]
        return self.transform(x), label


both = ConcatDataset([train_ds, Noisy(Subset(full, perm[:20].tolist()), lambda x: x + 0.1)])
results["concat"] = [len(both), both.cumulative_sizes, both[85][0].numpy().copy()]


def collate(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.stack(ys), len(batch)


train_dl = DataLoader(both, batch_size=32, shuffle=False, drop_last=True, collate_fn=collate)
val_dl = DataLoader(val_ds, batch_sampler=BatchSampler(SequentialSampler(val_ds), 8, False))
results["lens"] = [len(train_dl), len(val_dl), [len(b) for b in BatchSampler(range(10), 4, True)]]
results["val_batches"] = [list(xb.shape) for xb, _ in val_dl]

model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.5, tuple(p.shape)), dtype=torch.float32))
opt = torch.optim.SGD(model.parameters(), lr=0.3)
loss_fn = nn.CrossEntropyLoss()
history = []
for _epoch in range(5):
    seen = 0
    for xb, yb, n in train_dl:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += n
    with torch.no_grad():
        correct = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val_dl)
    history.append([loss.item(), seen, correct / len(val_ds)])
results["history"] = history
results["w"] = model[2].weight.detach().numpy().copy()
