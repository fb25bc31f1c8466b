"""Ready-made networks and the small grammar that names them: `mlp:128,64:tanh`, `linear`, `lenet`.

A model spec is either a string in that grammar or a mapping (as read from a TOML config):
`{"kind": "mlp", "hidden": [128, 64], "activation": "tanh"}`. Specs are parsed, never evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from descent.errors import unknown_name
from descent.nn.containers import Sequential
from descent.nn.conv import Conv2d, MaxPool2d
from descent.nn.layers import (
    GELU,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Tanh,
    Unflatten,
)
from descent.nn.module import Module

ACTIVATIONS = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}
KINDS = ("mlp", "linear", "lenet")
DEFAULT_HIDDEN = (128,)
MAX_WIDTH = 65_536
"""The widest hidden layer a spec may name. Each unit holds one weight per input, so a
typo such as mlp:1000000000 would try to allocate 3.7 GiB per input feature (238 GiB on
the 64 pixels of digits); no network this command trains needs a layer near this wide."""
MAX_WEIGHTS = 2**28
"""The most weights `build_model` makes an mlp or linear model of (1 GiB as float32), so
that wide layers on many inputs or outputs fail with a message, not a 100 GiB allocation."""


def activation(name: str) -> Module:
    """A fresh activation layer by name (see `ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise unknown_name("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]()


def mlp(in_features: int, hidden: Sequence[int], out_features: int, act: str = "relu") -> Module:
    """Linear layers of the given widths with `act` between them, none after the last."""
    widths = [in_features, *hidden, out_features]
    layers: list[Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers.append(activation(act))
    return Sequential(*layers)


def lenet(input_shape: Sequence[int], out_features: int, act: str = "relu") -> Sequential:
    """LeNet-5 with 'same' 5x5 convolutions, so that it fits any image of 4x4 pixels or more.

    `input_shape` is one sample's shape: (channels, height, width), (height, width), or a
    flat (features,) whose count is a square number of pixels (the digits data: 64 = 8x8).
    """
    layers: list[Module] = []
    shape = tuple(int(n) for n in input_shape)
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise ValueError(
                f"lenet: {shape[0]} features are not a square image; give image-shaped inputs "
                "(channels, height, width) or use an mlp"
            )
        shape = (1, side, side)
        layers.append(Unflatten(1, shape))
    elif len(shape) == 2:
        layers.append(Unflatten(1, (1, shape[0])))  # (N, H, W) -> (N, 1, H, W)
        shape = (1, *shape)
    if len(shape) != 3 or min(shape[1:]) < 4:
        raise ValueError(f"lenet: needs images of at least 4x4 pixels, got sample shape {shape}")
    channels, height, width = shape
    flat = 16 * (height // 2 // 2) * (width // 2 // 2)
    layers += [
        Conv2d(channels, 6, 5, padding=2), activation(act), MaxPool2d(2),
        Conv2d(6, 16, 5, padding=2), activation(act), MaxPool2d(2),
        Flatten(),
        Linear(flat, 120), activation(act),
        Linear(120, 84), activation(act),
        Linear(84, out_features),
    ]  # fmt: skip
    return Sequential(*layers)


def parse_model(spec: str | Mapping) -> dict:
    """A spec as a mapping {kind, hidden, activation}, checked; strings use the grammar.

    Grammar: `kind[:width,width,...][:activation]`, e.g. `mlp`, `mlp:128,64`,
    `mlp:128,64:tanh`, `linear`, `lenet`, `lenet:tanh`. Widths are whole numbers from 1
    to `MAX_WIDTH`.
    """
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"kind", "hidden", "activation"}
        if unknown:
            raise ValueError(
                f"model: unknown keys {sorted(unknown)}; a model table has kind, hidden, activation"
            )
        kind = spec.get("kind", "mlp")
        hidden = spec.get("hidden", DEFAULT_HIDDEN if kind == "mlp" else ())
        if not isinstance(hidden, list | tuple):
            raise ValueError(f"model {spec!r}: hidden must be a list of widths, e.g. [128, 64]")
        act = spec.get("activation", "relu")
    elif isinstance(spec, str):
        kind, colon, rest = spec.strip().partition(":")
        parts = rest.split(":") if colon else []
        hidden: Sequence = DEFAULT_HIDDEN if kind == "mlp" else ()
        act = "relu"
        if parts and (not parts[0] or parts[0][0] in "0123456789+-.,"):
            hidden = parts.pop(0).split(",")
        if parts:
            act = parts.pop(0)
        if parts:
            raise ValueError(f"model {spec!r}: too many ':' parts; write e.g. mlp:128,64:tanh")
    else:
        raise TypeError(f"model: expected a string like 'mlp:128,64' or a table, got {spec!r}")
    if kind not in KINDS:
        raise unknown_name("model", kind, KINDS)
    if act not in ACTIVATIONS:
        raise unknown_name("activation", act, ACTIVATIONS)
    widths = [_width(spec, item) for item in hidden]
    if kind != "mlp" and widths:
        raise ValueError(f"model {spec!r}: only mlp takes hidden widths")
    if kind == "mlp" and not widths:
        raise ValueError(f"model {spec!r}: an mlp needs at least one hidden width (or use linear)")
    return {"kind": kind, "hidden": widths, "activation": act}


def _width(spec, item) -> int:
    """One hidden width of a spec, checked: a whole number from 1 to MAX_WIDTH."""
    if isinstance(item, str):
        text = item.strip()
        if not text:
            raise ValueError(
                f"model {spec!r}: a hidden width is missing; write whole numbers separated by "
                "commas, e.g. mlp:128,64 (or mlp alone for mlp:128)"
            )
        try:
            item = int(text)
        except ValueError:
            item = text
    if not isinstance(item, int) or isinstance(item, bool):
        raise ValueError(
            f"model {spec!r}: hidden widths must be whole numbers, e.g. mlp:128,64; got {item!r}"
        )
    if item < 1:
        raise ValueError(f"model {spec!r}: hidden widths must be at least 1, got {item}")
    if item > MAX_WIDTH:
        raise ValueError(
            f"model {spec!r}: a hidden width of {item} is over the bound of {MAX_WIDTH} units: "
            f"each unit holds one weight per input, so this layer alone would take "
            f"{item * 4 / 2**30:.3g} GiB per input feature; use a narrower layer"
        )
    return item


def build_model(spec: str | Mapping, input_shape: Sequence[int], out_features: int) -> Sequential:
    """The network a spec names, sized for samples of `input_shape` and `out_features` outputs."""
    parsed = parse_model(spec)
    kind, act = parsed["kind"], parsed["activation"]
    if kind == "lenet":
        return lenet(input_shape, out_features, act)
    in_features = math.prod(input_shape)
    head: list[Module] = [Flatten()] if len(input_shape) > 1 else []
    hidden = parsed["hidden"] if kind == "mlp" else []
    widths = [in_features, *hidden, out_features]
    weights = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    if weights > MAX_WEIGHTS:
        raise ValueError(
            f"model {format_model(parsed)!r} on {in_features} inputs and {out_features} outputs "
            f"would hold {weights:,} weights ({weights * 4 / 2**30:.3g} GiB as float32), over the "
            f"bound of {MAX_WEIGHTS:,} (1 GiB); use narrower layers, or fewer inputs or outputs"
        )
    return Sequential(*head, *mlp(in_features, hidden, out_features, act))


def format_model(parsed: Mapping) -> str:
    """The grammar string for a parsed spec: the inverse of `parse_model`."""
    if parsed["kind"] == "linear":
        return "linear"  # no hidden layer, so no activation
    widths = ",".join(str(w) for w in parsed["hidden"])
    return ":".join(p for p in (parsed["kind"], widths, parsed["activation"]) if p)
