"""Devices: where a tensor's data lives. Only the CPU exists until a GPU backend lands."""

from __future__ import annotations


class device:  # noqa: N801  (torch's name)
    """A place for tensor data, named as in PyTorch: `device("cpu")`, `device("cuda", 0)`."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a name such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        if number:
            index = int(number)
        if name not in ("cpu", "cuda", "mps"):
            raise RuntimeError(
                f"Expected one of cpu, cuda, mps device type at start of device string: {type}"
            )
        self.type, self.index = name, index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


CPU = device("cpu")


def as_device(value) -> device:
    """The device named by `value`, refused unless descent can put data there."""
    place = value if isinstance(value, device) else device(value)
    if place.type != "cpu":
        raise RuntimeError(
            f"device {str(place)!r}: descent has no GPU backend installed, so tensors live on "
            "the CPU only; use device='cpu' (descent.cuda.is_available() is False)"
        )
    return CPU
