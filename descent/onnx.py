"""Export a model to ONNX, so that onnxruntime (or any ONNX runtime) can run it without descent.

`export` walks the model's `Sequential` containers in order and writes each layer as ONNX
nodes, with the layer's parameters as initializers named by their state_dict keys. The
example input is run through the model alongside, layer by layer, in eval mode: it gives each
layer its input shape (a softmax's implicit axis, an adaptive pool's window, a flatten's
target) and checks that the walk is the model's own forward. Only the batch axis is left
dynamic. A layer with no faithful ONNX form is refused by its dotted name and type, never
approximated.

`onnx` is an optional dependency (`pip install -e ".[onnx]"`), imported only here, inside
`export`, so that `import descent` never needs it.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from descent.autograd import no_grad
from descent.creation import as_tensor
from descent.files import write_atomic
from descent.nn import (
    GELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Dropout2d,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    SyncBatchNorm,
    Tanh,
    Unflatten,
)
from descent.nn.functional import softmax_dim
from descent.ops.conv import ntuple
from descent.tensor import Tensor

DEFAULT_OPSET = 17
"""LayerNormalization needs opset 17; every op written here has kept its form since."""
BATCH = "batch"
"""The name of the dynamic first axis of the exported input and output."""


class ExportError(ValueError):
    """A model, or a layer of it, that ONNX export cannot write faithfully."""


class _Unsupported(Exception):
    """Raised by a converter for a setting it cannot express; `_walk` adds the layer's name."""


class _Graph:
    """The nodes and initializers written so far, and unique names for new values."""

    def __init__(self, onnx, opset: int, dtype: np.dtype):
        self.onnx, self.opset, self.dtype = onnx, opset, dtype
        self.nodes: list = []
        self.initializers: list = []
        self.names: set[str] = set()

    def _unique(self, name: str) -> str:
        unique, count = name, 1
        while unique in self.names:
            count += 1
            unique = f"{name}_{count}"
        self.names.add(unique)
        return unique

    def constant(self, scope: str, key: str, value, dtype=None) -> str:
        """An initializer holding `value` (in the model's float dtype unless `dtype`), named
        as the state_dict names a layer's tensors: scope.key."""
        array = np.asarray(value, dtype=dtype or self.dtype)
        name = self._unique(f"{scope}.{key}" if scope else key)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: Sequence[str], scope: str, **attributes) -> str:
        """Append one node and return the name of its (single) output."""
        output = self._unique(f"{scope}/{op}" if scope else op)
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output], name=output,
                                                     **attributes))  # fmt: skip
        return output


Converter = Callable[[_Graph, Module, str, str, tuple, tuple], str]
"""(graph, layer, its dotted name, input value, input shape, output shape) -> output value."""


def _weights(graph: _Graph, layer: Module, scope: str, transpose: bool = False) -> list[str]:
    """The layer's weight (and bias, if it has one) as initializers named by state_dict key."""
    weight = layer.weight.detach().numpy()
    names = [graph.constant(scope, "weight" + (".T" if transpose else ""),
                            weight.T if transpose else weight)]  # fmt: skip
    if layer.bias is not None:
        names.append(graph.constant(scope, "bias", layer.bias.detach().numpy()))
    return names


def _linear(graph, layer, scope, x, shape, out_shape):
    if len(shape) == 2:
        return graph.node("Gemm", [x, *_weights(graph, layer, scope)], scope, transB=1)
    weight_t, *bias = _weights(graph, layer, scope, transpose=True)  # Gemm takes rank 2 only
    y = graph.node("MatMul", [x, weight_t], scope)
    return graph.node("Add", [y, *bias], scope) if bias else y


def _conv(graph, layer, scope, x, shape, out_shape):
    dims = layer.dims
    pairs = layer._padding_pairs()  # (before, after) per axis, last axis first
    befores, afters = list(pairs[-2::-2]), list(pairs[::-2])
    attributes = dict(kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                      dilations=list(layer.dilation), group=layer.groups)  # fmt: skip
    if layer.transposed:
        node = "ConvTranspose"
        attributes["output_padding"] = list(layer.output_padding)
    else:
        node = "Conv"
    if layer.padding_mode != "zeros":
        modes = {"reflect": ("reflect", 11), "replicate": ("edge", 11), "circular": ("wrap", 19)}
        mode, since = modes[layer.padding_mode]
        if graph.opset < since:
            raise _Unsupported(f"padding_mode={layer.padding_mode!r} needs opset {since} or later")
        pads = graph.constant(scope, "pads", [0, 0, *befores, 0, 0, *afters], np.int64)
        x = graph.node("Pad", [x, pads], scope, mode=mode)
        befores = afters = [0] * dims
    attributes["pads"] = befores + afters
    return graph.node(node, [x, *_weights(graph, layer, scope)], scope, **attributes)


def _pool_options(layer, shape: tuple, out_shape: tuple, dilation=None) -> dict:
    """MaxPool's and AveragePool's attributes (dilations for MaxPool only: AveragePool takes
    them from opset 19). ceil_mode is read off the size the layer gave: torch's ceil mode
    drops a last window that would start in the right padding, ONNX's keeps it (and its
    shape inference then disagrees), but the windows left are exactly floor mode's; so ceil
    mode is written only where it adds a window."""
    dims, name = len(shape) - 2, type(layer).__name__
    kernel = ntuple(layer.kernel_size, dims, "kernel_size", name)
    stride = ntuple(layer.stride if layer.stride is not None else kernel, dims, "stride", name)
    padding = ntuple(layer.padding, dims, "padding", name)
    dilations = ntuple(dilation if dilation is not None else 1, dims, "dilation", name)
    windows = zip(shape[2:], kernel, stride, padding, dilations)
    floor = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d in windows)
    options = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2,
                   ceil_mode=int(floor != tuple(out_shape[2:])))  # fmt: skip
    if dilation is not None:
        options["dilations"] = list(dilations)
    return options


def _max_pool(graph, layer, scope, x, shape, out_shape):
    return graph.node("MaxPool", [x], scope,
                      **_pool_options(layer, shape, out_shape, layer.dilation))  # fmt: skip


def _avg_pool(graph, layer, scope, x, shape, out_shape):
    if getattr(layer, "divisor_override", None) is not None:
        raise _Unsupported("divisor_override has no ONNX form")
    return graph.node("AveragePool", [x], scope, count_include_pad=int(layer.count_include_pad),
                      **_pool_options(layer, shape, out_shape))  # fmt: skip


def _adaptive_avg_pool(graph, layer, scope, x, shape, out_shape):
    inner, outer = shape[2:], out_shape[2:]
    if any(size % out for size, out in zip(inner, outer)):
        raise _Unsupported(f"its windows over an input of {tuple(inner)} to {tuple(outer)} "
                           "differ in size; ONNX pools with one window size")  # fmt: skip
    kernel = [size // out for size, out in zip(inner, outer)]
    return graph.node("AveragePool", [x], scope, kernel_shape=kernel, strides=kernel)


def _batch_norm(graph, layer, scope, x, shape, out_shape):
    if not layer.track_running_stats:
        raise _Unsupported("track_running_stats=False normalises by each batch's statistics")
    ones, zeros = np.ones(layer.num_features), np.zeros(layer.num_features)
    scale = layer.weight.detach().numpy() if layer.affine else ones
    bias = layer.bias.detach().numpy() if layer.affine else zeros
    inputs = [graph.constant(scope, "weight", scale), graph.constant(scope, "bias", bias),
              graph.constant(scope, "running_mean", layer.running_mean.detach().numpy()),
              graph.constant(scope, "running_var", layer.running_var.detach().numpy())]  # fmt: skip
    return graph.node("BatchNormalization", [x, *inputs], scope, epsilon=float(layer.eps))


def _layer_norm(graph, layer, scope, x, shape, out_shape):
    size = layer.normalized_shape
    scale = layer.weight.detach().numpy() if layer.weight is not None else np.ones(size)
    inputs = [graph.constant(scope, "weight", scale)]
    if layer.bias is not None:
        inputs.append(graph.constant(scope, "bias", layer.bias.detach().numpy()))
    return graph.node("LayerNormalization", [x, *inputs], scope, axis=-len(size),
                      epsilon=float(layer.eps))  # fmt: skip


def _embedding(graph, layer, scope, x, shape, out_shape):
    if layer.max_norm is not None:
        raise _Unsupported("max_norm renormalises the weights as it looks them up")
    return graph.node("Gather", [graph.constant(scope, "weight", layer.weight.detach().numpy()), x],
                      scope)  # fmt: skip


def _reshape(graph, layer, scope, x, shape, out_shape):
    """Flatten and Unflatten: a Reshape that copies the batch axis (0) and fixes the rest."""
    axis = layer.start_dim if isinstance(layer, Flatten) else layer.dim
    if axis % len(shape) == 0:
        raise _Unsupported("it reshapes the batch axis, which the exported model keeps dynamic")
    target = graph.constant(scope, "shape", [0, *out_shape[1:]], np.int64)
    return graph.node("Reshape", [x, target], scope)


def _softmax(graph, layer, scope, x, shape, out_shape):
    dim = layer.dim
    if dim is None:
        with warnings.catch_warnings():  # the forward pass has warned already
            warnings.simplefilter("ignore")
            dim = softmax_dim(type(layer).__name__, len(shape))
    op = "Softmax" if isinstance(layer, Softmax) else "LogSoftmax"
    return graph.node(op, [x], scope, axis=dim)


def _gelu(graph, layer, scope, x, shape, out_shape):
    """x * Phi(x), composed (ONNX's Gelu op arrives only in opset 20)."""

    def const(name, value):
        return graph.constant(scope, name, value)

    if layer.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        cube = graph.node("Mul", [graph.node("Mul", [x, x], scope), x], scope)
        inner = graph.node("Add", [x, graph.node("Mul", [cube, const("c", 0.044715)], scope)],
                           scope)  # fmt: skip
        scaled = graph.node("Mul", [inner, const("sqrt_2_over_pi", math.sqrt(2 / math.pi))],
                            scope)  # fmt: skip
        phi = graph.node("Tanh", [scaled], scope)
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        phi = graph.node("Erf", [graph.node("Div", [x, const("sqrt_2", math.sqrt(2))], scope)],
                         scope)  # fmt: skip
    one_plus = graph.node("Add", [phi, const("one", 1.0)], scope)
    return graph.node("Mul", [graph.node("Mul", [x, one_plus], scope), const("half", 0.5)],
                      scope)  # fmt: skip


def _elementwise(op: str, **attributes) -> Converter:
    def convert(graph, layer, scope, x, shape, out_shape):
        return graph.node(op, [x], scope, **attributes)

    return convert


def _passthrough(graph, layer, scope, x, shape, out_shape):
    """Identity, and Dropout in eval mode: no node at all."""
    return x


CONVERTERS: dict[type, Converter] = {
    Linear: _linear,
    Conv1d: _conv,
    Conv2d: _conv,
    ConvTranspose2d: _conv,
    MaxPool1d: _max_pool,
    MaxPool2d: _max_pool,
    AvgPool1d: _avg_pool,
    AvgPool2d: _avg_pool,
    AdaptiveAvgPool1d: _adaptive_avg_pool,
    AdaptiveAvgPool2d: _adaptive_avg_pool,
    BatchNorm1d: _batch_norm,
    BatchNorm2d: _batch_norm,
    SyncBatchNorm: _batch_norm,  # plain batch norm outside training
    LayerNorm: _layer_norm,
    Embedding: _embedding,
    Flatten: _reshape,
    Unflatten: _reshape,
    ReLU: _elementwise("Relu"),
    Sigmoid: _elementwise("Sigmoid"),
    Tanh: _elementwise("Tanh"),
    GELU: _gelu,
    Softmax: _softmax,
    LogSoftmax: _softmax,
    Identity: _passthrough,
    Dropout: _passthrough,
    Dropout2d: _passthrough,
}
"""Each exportable layer type (exactly: a subclass may change forward) and its converter.
LeakyReLU's needs the layer's slope, so it is looked up in `_converter`."""


def exportable() -> str:
    """The exportable layer types, for error messages."""
    names = sorted(t.__name__ for t in (*CONVERTERS, LeakyReLU))
    return "Sequential (nested too), " + ", ".join(names)


def _converter(layer: Module) -> Converter | None:
    if type(layer) is LeakyReLU:
        return _elementwise("LeakyRelu", alpha=float(layer.negative_slope))
    return CONVERTERS.get(type(layer))


def _walk(graph: _Graph, module: Module, name: str, x: Tensor, value: str) -> tuple[Tensor, str]:
    """Emit `module` applied to the value `value` (whose example is `x`); return the output's
    example and value name."""
    if type(module) is Sequential:
        for child_name, child in module.named_children():
            x, value = _walk(graph, child, f"{name}.{child_name}" if name else child_name, x,
                             value)  # fmt: skip
        return x, value
    label = f"layer {name!r} ({type(module).__name__})" if name else type(module).__name__
    converter = _converter(module)
    if converter is None:
        raise ExportError(f"onnx export: {label} cannot be exported; exportable are "
                          f"{exportable()}")  # fmt: skip
    y = module(x)
    try:
        if not isinstance(y, Tensor):
            raise _Unsupported(f"it returns a {type(y).__name__}, not the one tensor a "
                               "Sequential passes on")  # fmt: skip
        return y, converter(graph, module, name, value, tuple(x.shape), tuple(y.shape))
    except _Unsupported as reason:
        raise ExportError(f"onnx export: {label} cannot be exported: {reason}") from None


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(
            'ONNX export needs the onnx package: pip install -e ".[onnx]" (onnx and onnxruntime)'
        ) from None
    return onnx


def _float_dtype(model: Module, example: np.ndarray) -> np.dtype:
    for parameter in model.parameters():
        return parameter.detach().numpy().dtype
    return example.dtype if example.dtype.kind == "f" else np.dtype(np.float32)


def export(
    model: Module,
    example_input,
    path: str | os.PathLike,
    opset: int = DEFAULT_OPSET,
    input_names: Sequence[str] = ("input",),
    output_names: Sequence[str] = ("output",),
    metadata: Mapping[str, str] | None = None,
    *,
    standardize: tuple[np.ndarray, np.ndarray] | None = None,
    unstandardize: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Write `model` (in eval mode) as an ONNX file at `path` and return the ModelProto.

    `example_input` (a Tensor or array of any batch size) fixes every axis of the input but
    the first, the batch, which stays dynamic. `metadata` goes into the model's
    metadata_props. `standardize=(mean, scale)` puts (x - mean) / scale before the model, so
    that the file takes raw features; `unstandardize=(mean, scale)` puts y * scale + mean
    after it, so that a regression answers in the targets' units. The model's mode is
    restored afterwards, and its weights are untouched.
    """
    onnx = _import_onnx()
    if not DEFAULT_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"onnx export: opset {opset} is outside the {DEFAULT_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()} this export writes")  # fmt: skip
    if len(input_names) != 1 or len(output_names) != 1:
        raise ValueError("onnx export: a model has one input and one output; give one name each")
    x = as_tensor(example_input)
    graph = _Graph(onnx, opset, _float_dtype(model, x.numpy()))
    value = input_names[0]
    if standardize is not None:
        mean, scale = (graph.constant("standardize", key, array)
                       for key, array in zip(("mean", "scale"), standardize))  # fmt: skip
        value = graph.node("Div", [graph.node("Sub", [value, mean], "standardize"), scale],
                           "standardize")  # fmt: skip
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with no_grad():
            y, value = _walk(graph, model, "", x, value)
    finally:
        for module, training in modes:  # parents first, so a child's own mode wins
            module.train(training)
    if unstandardize is not None:
        mean, scale = (graph.constant("unstandardize", key, array)
                       for key, array in zip(("mean", "scale"), unstandardize))  # fmt: skip
        value = graph.node("Add", [graph.node("Mul", [value, scale], "unstandardize"), mean],
                           "unstandardize")  # fmt: skip
    proto = _model(graph, value, (input_names[0], x), (output_names[0], y), metadata or {})
    onnx.checker.check_model(proto, full_check=True)
    write_atomic(path, proto.SerializeToString())
    return proto


def _model(graph: _Graph, last: str, input_, output, metadata: Mapping[str, str]):
    """The ModelProto of the graph, its last value renamed to the output's name."""
    helper = graph.onnx.helper
    producer = next((node for node in graph.nodes if last in node.output), None)
    if producer is None:  # the model passes its input through unchanged
        graph.nodes.append(helper.make_node("Identity", [last], [output[0]], name=output[0]))
    else:
        producer.output[list(producer.output).index(last)] = output[0]

    def value_info(name: str, example: Tensor):
        element = helper.np_dtype_to_tensor_dtype(example.numpy().dtype)
        return helper.make_tensor_value_info(name, element, [BATCH, *example.shape[1:]])

    body = helper.make_graph(graph.nodes, "descent", [value_info(*input_)],
                             [value_info(*output)], graph.initializers)  # fmt: skip
    opsets = [helper.make_opsetid("", graph.opset)]
    proto = helper.make_model(body, opset_imports=opsets, producer_name="descent",
                              ir_version=helper.find_min_ir_version_for(opsets))  # fmt: skip
    helper.set_model_props(proto, {str(k): str(v) for k, v in metadata.items()})
    return proto
