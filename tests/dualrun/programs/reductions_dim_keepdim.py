"""Reductions with dim=/keepdim=, max/min -> (values, indices), argmax, comparisons, .item()."""

import numpy as np
import torch

results = {}
rng = np.random.default_rng(0)
x = torch.tensor(rng.normal(size=(3, 4)), dtype=torch.float32)

results["sum"] = x.sum().item()
results["sum0"] = x.sum(dim=0).numpy()
results["sum1_keep"] = x.sum(dim=1, keepdim=True).numpy()
results["sum_dims"] = x.sum(dim=(0, 1)).item()
results["sum_pos.shape"] = list(x.sum(0).shape)
results["mean1"] = x.mean(1).numpy()
results["mean_neg_keep"] = x.mean(dim=-1, keepdim=True).numpy()
results["torch_sum"] = torch.sum(x, 1).numpy()
results["max"] = x.max().item()
results["max.shape"] = list(x.max().shape)
values, indices = x.max(dim=1)
results["max1_values"] = values.numpy()
results["max1_indices"] = indices.tolist()
results["max1_indices_dtype"] = str(indices.dtype).replace("torch.", "")
kv = x.max(1, keepdim=True)
results["max_keep"] = [list(kv.values.shape), list(kv.indices.shape), kv.indices.tolist()]
mins = torch.min(x, 0)
results["min0"] = [mins[0].numpy(), mins[1].tolist()]
results["min0_named"] = mins.indices.tolist()
_, pred = torch.max(x, 1)
results["pred"] = pred.tolist()
results["argmax_flat"] = x.argmax().item()
results["argmax1"] = x.argmax(dim=1).tolist()
results["argmax_keep"] = x.argmax(1, keepdim=True).tolist()
results["torch_argmax0"] = torch.argmax(x, dim=0).tolist()
results["argmin1"] = x.argmin(1).tolist()
results["amax"] = x.amax(dim=1).numpy()
results["maximum"] = torch.maximum(x, torch.zeros(1)).numpy()
results["max_binary"] = torch.max(x, x.flip(0)).numpy()
results["logsumexp"] = torch.logsumexp(x, dim=1).numpy()
results["var0"] = x.var(dim=0).numpy()
results["all_any"] = [(x > -5).all().item(), (x > 1).any().item(), (x > 5).any().item()]

y = torch.tensor([0, 3, 1])
results["gt0"] = (x > 0).tolist()
results["gt0_sum"] = (x > 0).sum().item()
results["correct"] = (pred == y).sum().item()
results["acc"] = (pred == y).float().mean().item()
results["eq"] = torch.eq(pred, y).tolist()
results["ne_method"] = pred.ne(y).tolist()
results["ge"] = x.ge(0.5).sum(dim=1).tolist()
results["item_type"] = type(x[0, 0].item()).__name__
results["int_item_type"] = type(y.sum().item()).__name__
results["bool_item_type"] = type((y > 0).all().item()).__name__
results["tolist"] = x.tolist()
results["tolist_scalar"] = x.sum().tolist()
