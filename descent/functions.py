"""The ops as `descent.*` functions with torch's names and arguments: `descent.sum(x, dim=1)`,
`descent.max(x, 1)`, `descent.cat([a, b])`. Each calls the `Tensor` method of that name,
so a function and its method can never disagree."""

from __future__ import annotations

from descent import ops
from descent.ops.elementwise import promote
from descent.tensor import Tensor, lift


def _t(value) -> Tensor:
    return lift(value)


# -- elementwise -------------------------------------------------------------------------


def _into(result: Tensor, out: Tensor | None) -> Tensor:
    """Store `result` in `out` (torch's `out=`), which autograd does not follow."""
    if out is None:
        return result
    if result.requires_grad:
        raise RuntimeError(
            "functions with out=... arguments don't support automatic differentiation, but one "
            "of the arguments requires grad."
        )
    if out.shape == result.shape:
        out._write(result._data.astype(out.dtype, copy=False))
    else:
        out._data = result._data.astype(out.dtype)
        out._bump_version()
    return out


def add(input, other, *, alpha=1, out=None):
    return _into(_t(input).add(other, alpha=alpha), out)


def sub(input, other, *, alpha=1, out=None):
    return _into(_t(input).sub(other, alpha=alpha), out)


subtract = sub


def mul(input, other, *, out=None):
    return _into(ops.mul(input, other), out)


multiply = mul


def div(input, other, *, rounding_mode=None, out=None):
    return _into(_t(input).div(other, rounding_mode=rounding_mode), out)


divide = true_divide = div


def pow(input, exponent):
    return ops.pow(input, exponent)


def neg(input):
    return ops.neg(input)


negative = neg


def abs(input):
    return ops.abs(input)


def exp(input):
    return ops.exp(input)


def log(input):
    return ops.log(input)


def sqrt(input):
    return ops.sqrt(input)


def tanh(input):
    return ops.tanh(input)


def sigmoid(input):
    return ops.sigmoid(input)


def relu(input):
    return ops.relu(input)


def sin(input):
    return ops.sin(input)


def cos(input):
    return ops.cos(input)


def tan(input):
    return ops.tan(input)


def sinh(input):
    return ops.sinh(input)


def cosh(input):
    return ops.cosh(input)


def asin(input):
    return ops.asin(input)


def acos(input):
    return ops.acos(input)


def atan(input):
    return ops.atan(input)


def atan2(input, other):
    return ops.atan2(input, other)


def exp2(input):
    return ops.exp2(input)


def log2(input):
    return ops.log2(input)


def log10(input):
    return ops.log10(input)


def log1p(input):
    return ops.log1p(input)


def expm1(input):
    return ops.expm1(input)


def floor(input):
    return ops.floor(input)


def ceil(input):
    return ops.ceil(input)


def round(input, *, decimals: int = 0):
    return ops.round(input, decimals)


def trunc(input):
    return ops.trunc(input)


def sign(input):
    return ops.sign(input)


def rsqrt(input):
    return ops.rsqrt(input)


def reciprocal(input):
    return ops.reciprocal(input)


def square(input):
    return ops.square(input)


def erf(input):
    return ops.erf(input)


def clamp(input, min=None, max=None):
    return ops.clip(input, min, max)


clip = clamp


def maximum(input, other):
    return ops.maximum(input, other)


def minimum(input, other):
    return ops.minimum(input, other)


def where(condition, input=None, other=None):
    if input is None and other is None:
        return tuple(lift(i) for i in _t(condition)._data.nonzero())
    return ops.where(condition, input, other)


def masked_fill(input, mask, value):
    return _t(input).masked_fill(mask, value)


def lerp(input, end, weight):
    return _t(input).lerp(end, weight)


def eq(input, other):
    return _t(input) == other


def ne(input, other):
    return _t(input) != other


def gt(input, other):
    return _t(input) > other


def ge(input, other):
    return _t(input) >= other


def lt(input, other):
    return _t(input) < other


def le(input, other):
    return _t(input) <= other


def equal(input, other) -> bool:
    return _t(input).equal(other)


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return _t(input).allclose(other, rtol, atol, equal_nan)


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    return _t(input).isclose(other, rtol, atol, equal_nan)


def isnan(input):
    return _t(input).isnan()


def isfinite(input):
    return _t(input).isfinite()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input) -> int:
    return _t(input).numel()


def clone(input):
    return ops.clone(input)


def result_type(tensor1, tensor2):
    return promote(_t(tensor1), lift(tensor2, _t(tensor1)))[0].dtype


# -- reductions ---------------------------------------------------------------------------


def sum(input, dim=None, keepdim=False, *, dtype=None):
    return _t(input).sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    return _t(input).mean(dim, keepdim, dtype=dtype)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _t(input).var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _t(input).std(dim, unbiased, keepdim, correction=correction)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    return _t(input).prod(dim, keepdim, dtype=dtype)


def tril(input, diagonal=0):
    return _t(input).tril(diagonal)


def triu(input, diagonal=0):
    return _t(input).triu(diagonal)


def cumprod(input, dim, *, dtype=None):
    return _t(input).cumprod(dim, dtype=dtype)


def fmod(input, other):
    return ops.fmod(input, other)


def remainder(input, other):
    return ops.remainder(input, other)


def nonzero(input, *, as_tuple=False):
    return _t(input).nonzero(as_tuple=as_tuple)


def flip(input, dims):
    return _t(input).flip(dims)


def cumsum(input, dim, *, dtype=None):
    return _t(input).cumsum(dim, dtype=dtype)


def max(input, dim=None, keepdim=False):
    return _t(input).max(dim, keepdim)


def min(input, dim=None, keepdim=False):
    return _t(input).min(dim, keepdim)


def amax(input, dim=(), keepdim=False):
    return _t(input).amax(dim, keepdim)


def amin(input, dim=(), keepdim=False):
    return _t(input).amin(dim, keepdim)


def argmax(input, dim=None, keepdim=False):
    return _t(input).argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _t(input).argmin(dim, keepdim)


def all(input, dim=None, keepdim=False):
    return _t(input).all(dim, keepdim)


def any(input, dim=None, keepdim=False):
    return _t(input).any(dim, keepdim)


def norm(input, p="fro", dim=None, keepdim=False):
    return _t(input).norm(p, dim, keepdim)


def logsumexp(input, dim, keepdim=False):
    return _t(input).logsumexp(dim, keepdim)


def softmax(input, dim, dtype=None):
    return _t(input).softmax(dim)


def log_softmax(input, dim, dtype=None):
    return _t(input).log_softmax(dim)


def topk(input, k, dim=-1, largest=True, sorted=True):
    return _t(input).topk(k, dim, largest, sorted)


def sort(input, dim=-1, descending=False, stable=False):
    return _t(input).sort(dim, descending)


def argsort(input, dim=-1, descending=False, stable=False):
    return _t(input).argsort(dim, descending)


def gather(input, dim, index):
    return _t(input).gather(dim, index)


def index_select(input, dim, index):
    return _t(input).index_select(dim, index)


def unique(input, sorted=True, return_counts=False):
    return _t(input).unique(sorted, return_counts)


# -- matrices ------------------------------------------------------------------------------


def matmul(input, other, *, out=None):
    return _into(ops.matmul(input, other), out)


def mm(input, mat2):
    return ops.mm(input, mat2)


def bmm(input, mat2):
    return ops.bmm(input, mat2)


def mv(input, vec):
    return ops.mv(input, vec)


def dot(input, other):
    return ops.dot(input, other)


def outer(input, vec2):
    return ops.mul(_t(input).reshape(-1, 1), _t(vec2).reshape(1, -1))


# -- shapes ----------------------------------------------------------------------------------


def cat(tensors, dim=0):
    return ops.concatenate(tensors, dim)


concat = concatenate = cat


def stack(tensors, dim=0):
    return ops.stack(tensors, dim)


def reshape(input, shape):
    return _t(input).reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):
    return _t(input).flatten(start_dim, end_dim)


def squeeze(input, dim=None):
    return _t(input).squeeze(dim)


def unsqueeze(input, dim):
    return _t(input).unsqueeze(dim)


def transpose(input, dim0, dim1):
    return _t(input).transpose(dim0, dim1)


swapaxes = transpose


def permute(input, dims):
    return _t(input).permute(dims)


def t(input):
    return _t(input).t()


def narrow(input, dim, start, length):
    return _t(input).narrow(dim, start, length)


def chunk(input, chunks, dim=0):
    return _t(input).chunk(chunks, dim)


def split(tensor, split_size_or_sections, dim=0):
    return _t(tensor).split(split_size_or_sections, dim)


def unbind(input, dim=0):
    return _t(input).unbind(dim)


def broadcast_to(input, size):
    return ops.broadcast_to(input, size)


__all__ = [
    "abs", "acos", "add", "all", "allclose", "amax", "amin", "any", "argmax", "argmin", "argsort",
    "asin", "atan", "atan2", "bmm", "broadcast_to", "cat", "ceil", "chunk", "clamp", "clip",
    "clone", "concat", "concatenate", "cos", "cosh", "cumprod", "cumsum", "div", "divide", "dot",
    "eq", "equal", "erf", "exp", "exp2", "expm1", "flatten", "flip", "floor", "fmod", "gather",
    "ge", "gt", "index_select", "is_tensor", "isclose", "isfinite", "isnan", "le", "lerp", "log",
    "log10", "log1p", "log2", "log_softmax", "logsumexp", "lt", "masked_fill", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mm", "mul", "multiply", "mv", "narrow", "ne", "neg",
    "negative", "nonzero", "norm", "numel", "outer", "permute", "pow", "prod", "reciprocal",
    "relu", "remainder", "reshape", "result_type", "round", "rsqrt", "sigmoid", "sign", "sin",
    "sinh", "softmax", "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "sub",
    "subtract", "sum", "swapaxes", "t", "tan", "tanh", "topk", "transpose", "tril", "triu",
    "true_divide", "trunc", "unbind", "unique", "unsqueeze", "var", "where",
]  # fmt: skip
