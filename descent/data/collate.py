"""Turn a list of samples into a batch: `default_collate` and `default_convert`, as torch's."""

from __future__ import annotations

import collections.abc
import copy

import numpy as np

from descent.tensor import Tensor, infer_array, wrap

_ERROR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_text_array(array: np.ndarray) -> bool:
    return array.dtype.kind in "OSUV"  # object, bytes, str, void: no tensor of these


def _stack(arrays: list[np.ndarray], what: str) -> np.ndarray:
    shapes = [a.shape for a in arrays]
    for position, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise RuntimeError(
                f"default_collate: {what} of different shapes, {shapes[0]} at entry 0 and "
                f"{shape} at entry {position}; pad them to one shape or pass a collate_fn"
            )
    return np.stack(arrays)


def _collate_tensors(batch: list[Tensor]) -> Tensor:
    if any(t.requires_grad for t in batch):
        from descent.functions import stack  # keeps the graph, as torch.stack does

        return stack(batch, 0)
    return wrap(_stack([t._data for t in batch], "tensors"))


def _rebuild(elem, values):
    """A container of `elem`'s kind holding `values` (a dict for a mapping), as torch's collate."""
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(values)
                return clone
            return type(elem)(values)
        except TypeError:
            return dict(values)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*values)
    if isinstance(elem, tuple):
        return list(values)  # torch turns a tuple into a list here
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, value in enumerate(values):
                clone[i] = value
            return clone
        return type(elem)(values)
    except TypeError:
        return list(values)


def default_collate(batch):
    """Stack a list of samples into one batch, field by field, as torch's `default_collate`.

    Tensors are stacked along a new first dimension, NumPy arrays become tensors and are
    stacked (their dtype kept: float64 stays float64), Python floats become a float64
    tensor, ints an int64 tensor, bools a bool tensor; strings stay a list. Dicts,
    namedtuples, tuples and lists are collated element by element (a tuple of fields
    becomes a list of batches, as in torch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _collate_tensors(batch)
    if isinstance(elem, np.ndarray):
        if _is_text_array(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return wrap(_stack([np.asarray(b) for b in batch], "arrays"))
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return wrap(np.asarray(batch))
    if isinstance(elem, float):
        return wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):  # bool included: torch.tensor(batch) decides the dtype
        return wrap(infer_array(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return _rebuild(elem, [default_collate(list(field)) for field in zip(*batch)])
    raise TypeError(_ERROR.format(type(elem)))


def default_convert(data):
    """NumPy arrays inside `data` become tensors, nothing is stacked (the loader's collate
    when `batch_size=None`), as `torch.utils.data.default_convert`."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.bool_, np.number)):
        if isinstance(data, np.ndarray) and _is_text_array(data):
            return data
        return wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, (str, bytes)) or not isinstance(data, collections.abc.Sequence):
        return data
    return _rebuild(data, [default_convert(d) for d in data])
