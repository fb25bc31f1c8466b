"""The official VAE example: Linear encoder (fc1, fc21, fc22) and decoder (fc3, fc4),
reparameterize with noise taken from numpy, BCE + KLD loss, Adam, a test loop, sampling."""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn, optim

results = {}
rng = np.random.default_rng(11)
data_np = (load_digits().data[:80] / 16.0).astype(np.float32)  # N x 64 in [0, 1]
train_x, test_x = torch.from_numpy(data_np[:64]), torch.from_numpy(data_np[64:])
LATENT = 4


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc21 = nn.Linear(32, LATENT)
        self.fc22 = nn.Linear(32, LATENT)
        self.fc3 = nn.Linear(LATENT, 32)
        self.fc4 = nn.Linear(32, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps):
        std = torch.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2), Kingma and Welling, appendix B
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD, BCE.item(), KLD.item()


model = VAE()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.15, tuple(p.shape)), dtype=torch.float32))
optimizer = optim.Adam(model.parameters(), lr=1e-2)
batch_size = 16


def noise(n):
    return torch.tensor(rng.normal(size=(n, LATENT)), dtype=torch.float32)


def train(epoch):
    model.train()
    train_loss = 0
    parts = []
    for i in range(0, len(train_x), batch_size):
        data = train_x[i : i + batch_size]
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data, noise(len(data)))
        loss, bce, kld = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        parts.append([bce, kld])
    return train_loss / len(train_x), parts


def test(epoch):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        recon, mu, logvar = model(test_x, torch.zeros(len(test_x), LATENT))
        test_loss += loss_function(recon, test_x, mu, logvar)[0].item()
    return test_loss / len(test_x)


for epoch in range(1, 5):
    avg, parts = train(epoch)
    results[f"epoch{epoch}"] = [avg, test(epoch)]
    results[f"parts{epoch}"] = parts
with torch.no_grad():
    sample = model.decode(noise(3)).cpu()
results["sample"] = sample.view(3, 1, 8, 8).numpy().copy()
results["fc22.weight.grad"] = model.fc22.weight.grad.numpy().copy()
results["adam_steps"] = optimizer.state[model.fc1.weight]["step"].item()
