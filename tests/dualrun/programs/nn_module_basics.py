"""nn.Module subclass: (named_)parameters, state_dict, train/eval, zero_grad, load_state_dict."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


results = {}
rng = np.random.default_rng(12)
net = Net()
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.4, tuple(p.shape)), dtype=torch.float32))

results["names"] = [name for name, _ in net.named_parameters()]
results["shapes"] = [list(p.shape) for p in net.parameters()]
results["n_params"] = sum(p.numel() for p in net.parameters())
results["state_dict_keys"] = list(net.state_dict().keys())
results["children"] = len(list(net.children()))
results["is_param"] = [isinstance(net.fc1.weight, nn.Parameter), net.fc1.weight.requires_grad]
results["in_out"] = [net.fc1.in_features, net.fc1.out_features]

x = torch.tensor(rng.normal(size=(5, 4)), dtype=torch.float32)
target = torch.tensor([0, 2, 1, 1, 0])
out = net(x)
results["out"] = out.detach().numpy()
results["out.requires_grad"] = out.requires_grad
loss = F.cross_entropy(out, target)
loss.backward()
results["loss"] = loss.item()
results["fc1.weight.grad"] = net.fc1.weight.grad.numpy().copy()
results["fc2.bias.grad"] = net.fc2.bias.grad.numpy().copy()
net.zero_grad()
results["grads_after_zero_grad"] = [p.grad is None for p in net.parameters()]

results["training"] = net.training
net.eval()
results["eval"] = [net.training, net.fc1.training]
net.train()
results["train_again"] = net.fc2.training

clone = Net()
clone.load_state_dict(net.state_dict())
results["clone_same_out"] = torch.equal(clone(x), net(x))
results["state_dict_is_detached"] = net.state_dict()["fc1.weight"].requires_grad
with torch.no_grad():
    frozen = net(x)
results["no_grad_forward"] = frozen.requires_grad
net.fc1.weight.requires_grad_(False)
results["trainable"] = [n for n, p in net.named_parameters() if p.requires_grad]
