"""Unary math functions (torch.* and methods): forward values and gradients."""

import torch

results = {}
values = [0.3, 0.7, 1.2, 2.5]
neg_values = [-2.5, -0.7, 0.0, 0.4, 1.8]

functions = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "exp": torch.exp,
    "log": torch.log,
    "log2": torch.log2,
    "log10": torch.log10,
    "log1p": torch.log1p,
    "expm1": torch.expm1,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "reciprocal": torch.reciprocal,
    "square": torch.square,
    "erf": torch.erf,
    "asin": lambda t: torch.asin(t / 3),
    "atan": torch.atan,
    "sinh": torch.sinh,
    "neg": torch.neg,
    "relu_method": lambda t: t.relu(),
    "exp_method": lambda t: t.exp(),
    "log_method": lambda t: t.log(),
    "sqrt_method": lambda t: t.sqrt(),
    "sigmoid_method": lambda t: t.sigmoid(),
}
for name, fn in functions.items():
    x = torch.tensor(values, requires_grad=True)
    y = fn(x)
    results[name] = y.detach().numpy()
    y.sum().backward()
    results[name + ".grad"] = x.grad.numpy()

sign_like = {
    "abs": torch.abs,
    "sign": torch.sign,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": torch.round,
    "trunc": torch.trunc,
    "relu": torch.relu,
    "abs_builtin": abs,
    "neg_op": lambda t: -t,
}
for name, fn in sign_like.items():
    x = torch.tensor(neg_values, requires_grad=True)
    y = fn(x)
    results[name] = y.detach().numpy()
    y.sum().backward()
    results[name + ".grad"] = x.grad.numpy()

results["log_zero"] = torch.log(torch.tensor([0.0])).item()
results["log_negative_is_nan"] = torch.log(torch.tensor(-1.0)).isnan().item()
results["sqrt_int.dtype"] = str(torch.sqrt(torch.tensor([4])).dtype).replace("torch.", "")
results["exp_f64"] = torch.exp(torch.tensor([1.0], dtype=torch.float64)).numpy()
