"""torch.utils's place in descent: `descent.utils.data` is `torch.utils.data`."""

from descent.utils import data

__all__ = ["data"]
