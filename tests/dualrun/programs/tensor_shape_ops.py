"""Shape ops: view/reshape/unsqueeze/squeeze/permute/transpose/t/flatten, cat/stack/split/chunk."""

import torch

results = {}


def record(name, t):
    results[name] = t.tolist()
    results[name + ".shape"] = list(t.shape)


x = torch.arange(24).reshape(2, 3, 4)
record("view_6_4", x.view(6, 4))
record("view_flat", x.view(-1))
record("view_2_neg", x.view(2, -1))
record("reshape_4_6", x.reshape(4, 6))
record("reshape_tuple", x.reshape((3, 8)))
results["unsqueeze0"] = list(x.unsqueeze(0).shape)
results["unsqueeze_neg"] = list(x.unsqueeze(-1).shape)
results["unsqueeze_mid"] = list(torch.unsqueeze(x, 1).shape)
z = torch.zeros(1, 3, 1, 2)
results["squeeze_all"] = list(z.squeeze().shape)
results["squeeze0"] = list(z.squeeze(0).shape)
results["squeeze_noop"] = list(z.squeeze(1).shape)
results["squeeze_neg"] = list(z.squeeze(-2).shape)
record("permute", x.permute(2, 0, 1))
record("transpose", x.transpose(0, 2))
record("swap_neg", x.transpose(-1, -2))
m = torch.arange(6.0).reshape(2, 3)
record("t", m.t())
record("T", m.T)
results["t_contiguous"] = m.t().is_contiguous()
results["contiguous"] = m.is_contiguous()
record("t_contig_view", m.t().contiguous().view(-1))
record("flatten", x.flatten())
record("flatten1", x.flatten(1))
record("flatten01", x.flatten(0, 1))
record("torch_flatten", torch.flatten(x, start_dim=1))

a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
b = torch.tensor([[5.0, 6.0]])
record("cat0", torch.cat([a, b]))
record("cat1", torch.cat((a, a * 10), dim=1))
record("cat_neg", torch.cat([a, a], dim=-1))
record("stack0", torch.stack([a, a + 1]))
record("stack1", torch.stack([a, a + 1], dim=1))
record("stack_neg", torch.stack([a, a + 1], dim=-1))
parts = torch.arange(10).split(4)
results["split"] = [p.tolist() for p in parts]
results["split_sizes"] = [p.tolist() for p in torch.arange(6).split([1, 5])]
results["chunk"] = [p.tolist() for p in torch.arange(7).chunk(3)]
record("expand", torch.tensor([[1], [2]]).expand(2, 3))
record("repeat", torch.tensor([1, 2]).repeat(2, 2))
record("flip", torch.arange(4).flip(0))
