"""Indexing and slicing: ints, negatives, steps, ellipsis, None, lists, tensors, boolean masks."""

import torch

results = {}


def record(name, t):
    results[name] = t.tolist()
    results[name + ".shape"] = list(t.shape)


x = torch.arange(20).reshape(4, 5)
record("row0", x[0])
record("last_row", x[-1])
record("elem", x[1, 2])
results["elem_item"] = x[1, 2].item()
record("chained", x[1][2])
record("col1", x[:, 1])
record("rows_1_3", x[1:3])
record("step2", x[::2])
record("last_two_cols", x[:, -2:])
record("ellipsis", x[..., 0])
record("none_front", x[None])
record("none_mid", x[:, None, :])
record("list_rows", x[[0, 2]])
record("pairs", x[[0, 2], [1, 3]])
record("mask", x[x > 10])
record("row_mask", x[torch.tensor([True, False, True, False])])
record("slice_and_list", x[1:3, [0, 4]])
idx = torch.tensor([3, 0])
record("tensor_idx", x[idx])
record("tensor_idx_col", x[idx, 1])
record("tensor_2d_idx", x[torch.tensor([[0, 1], [2, 3]])])
record("index_select", x.index_select(1, torch.tensor([0, 2])))
record("zero_dim_idx", x[torch.tensor(1)])
record("neg_step_free", x[:, 1:4][1:, :2])
record("int_and_slice", x[2, 1:])

f = torch.arange(12.0).reshape(3, 4)
results["f_elem_dtype"] = str(f[0, 0].dtype).replace("torch.", "")
record("f_mask_col", f[f[:, 0] > 2])
record("f_where_mask", f[(f > 2) & (f < 7)])
record("f_or_mask", f[(f < 1) | (f > 10)])
record("f_not_mask", f[~(f > 1)])
