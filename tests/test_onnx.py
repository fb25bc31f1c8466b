"""descent.onnx.export and `descent export`: onnxruntime must give descent's numbers.

Every exportable layer, and whole models, are exported and run in onnxruntime at batch
sizes 1 and 7 (the batch axis is dynamic); the outputs must match descent's in eval mode
to 1e-5. These tests skip, saying why, only where onnx or onnxruntime is missing and
DESCENT_REQUIRE_ONNX is unset (CI sets it).
"""

import contextlib
import csv
import io
import json
import os
import sys
import warnings

import numpy as np
import pytest

import descent as torch
from descent import nn
from descent.cli import main
from descent.data import load_dataset
from descent.nn.models import build_model

try:
    import onnx
    import onnxruntime
except ImportError as error:
    if os.environ.get("DESCENT_REQUIRE_ONNX"):
        raise ImportError(f"DESCENT_REQUIRE_ONNX is set but {error}") from error
    pytest.skip(f'{error}: pip install -e ".[onnx]"', allow_module_level=True)

from descent.onnx import ExportError, export

TOLERANCE = 1e-5


def randomized(model: nn.Module) -> nn.Module:
    """The model with batch norms' statistics and affine parameters moved off 0 and 1, so
    that a converter that dropped them would show."""
    rng = np.random.default_rng(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d) and module.affine:
            n = module.num_features
            module.running_mean._data[:] = rng.normal(size=n)
            module.running_var._data[:] = rng.uniform(0.5, 2.0, size=n)
            module.weight._data[:] = rng.uniform(0.5, 2.0, size=n)
            module.bias._data[:] = rng.normal(size=n)
    return model


def descent_output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Softmax without a dim warns, as torch's does
        return model(torch.tensor(x)).numpy()


def inputs(sample_shape, batch: int, seed: int = 0, integers: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + batch)
    if integers:
        return rng.integers(0, integers, size=(batch, *sample_shape)).astype(np.int64)
    return rng.normal(size=(batch, *sample_shape)).astype(np.float32)


def largest_difference(model, sample_shape, tmp_path, integers: int = 0, **options) -> float:
    """Export `model`, check the file, and return the largest |onnxruntime - descent| over
    batches of 1 and 7."""
    model.train()  # export must switch to eval mode itself
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export(model, inputs(sample_shape, 2, integers=integers), path, **options)
    assert model.training, "export must restore the model's mode"
    loaded = onnx.load(path)
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in (1, 7):
        x = inputs(sample_shape, batch, integers=integers)
        (got,) = session.run(None, {"input": x})
        expected = descent_output(model, x)
        assert got.shape == expected.shape
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


LAYERS = {
    "Linear": (lambda: nn.Linear(5, 3), (5,)),
    "Linear on rank 3": (lambda: nn.Linear(5, 3), (4, 5)),
    "Linear without bias": (lambda: nn.Linear(5, 3, bias=False), (5,)),
    "Conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), (3, 11)),
    "Conv1d same dilated": (lambda: nn.Conv1d(2, 4, 4, padding="same", dilation=2), (2, 9)),
    "Conv1d reflect groups": (
        lambda: nn.Conv1d(4, 6, 3, padding=1, groups=2, padding_mode="reflect"),
        (4, 8),
    ),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1), (3, 6, 5)),
    "Conv2d same": (lambda: nn.Conv2d(2, 3, (2, 3), padding="same"), (2, 5, 6)),
    "Conv2d replicate strided": (
        lambda: nn.Conv2d(2, 3, 3, stride=2, padding=(1, 2), padding_mode="replicate"),
        (2, 7, 6),
    ),
    "ConvTranspose2d": (
        lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
        (3, 4, 5),
    ),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), (3, 9)),
    "MaxPool2d padded": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 7, 6)),
    "MaxPool2d ceil dilated": (lambda: nn.MaxPool2d(2, ceil_mode=True, dilation=2), (2, 8, 7)),
    "MaxPool1d ceil, last window dropped": (
        lambda: nn.MaxPool1d(3, stride=3, padding=1, ceil_mode=True),
        (2, 8),
    ),
    "AvgPool1d padded": (lambda: nn.AvgPool1d(3, stride=2, padding=1), (3, 10)),
    "AvgPool1d ceil": (lambda: nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True), (3, 8)),
    "AvgPool1d ceil, last window dropped": (
        lambda: nn.AvgPool1d(3, stride=3, padding=1, ceil_mode=True, count_include_pad=False),
        (2, 8),
    ),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 6, 4)),
    "AvgPool2d without pad count": (
        lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        (2, 7, 6),
    ),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(1), (3, 8)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((2, None)), (3, 4, 6)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(5), (5,)),
    "BatchNorm1d on (N, C, L)": (lambda: nn.BatchNorm1d(3), (3, 4)),
    "BatchNorm1d without affine": (lambda: nn.BatchNorm1d(3, affine=False), (3,)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (2, 3, 4)),
    "LayerNorm": (lambda: nn.LayerNorm(6), (6,)),
    "LayerNorm over 2 axes without affine": (
        lambda: nn.LayerNorm((3, 4), elementwise_affine=False),
        (2, 3, 4),
    ),
    "LayerNorm without bias": (lambda: nn.LayerNorm(4, bias=False), (3, 4)),
    "ReLU": (lambda: nn.ReLU(), (6,)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), (6,)),
    "Tanh": (lambda: nn.Tanh(), (6,)),
    "Sigmoid": (lambda: nn.Sigmoid(), (6,)),
    "GELU": (lambda: nn.GELU(), (6,)),
    "GELU tanh": (lambda: nn.GELU(approximate="tanh"), (6,)),
    "Softmax": (lambda: nn.Softmax(dim=1), (6,)),
    "Softmax with the implicit dim": (lambda: nn.Softmax(), (2, 3, 4)),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=-1), (3, 5)),
    "Dropout": (lambda: nn.Dropout(0.5), (6,)),
    "Dropout2d": (lambda: nn.Dropout2d(0.5), (2, 3, 3)),
    "Identity": (lambda: nn.Identity(), (6,)),
    "Flatten": (lambda: nn.Flatten(), (2, 3, 4)),
    "Flatten from axis 2": (lambda: nn.Flatten(2), (2, 3, 4)),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 3)), (6,)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_each_layer_gives_descents_numbers(name, tmp_path):
    make, sample_shape = LAYERS[name]
    torch.manual_seed(0)
    model = randomized(nn.Sequential(make()))
    assert largest_difference(model, sample_shape, tmp_path) <= TOLERANCE


def test_a_bare_layer_and_an_embedding(tmp_path):
    torch.manual_seed(0)
    assert largest_difference(nn.Linear(4, 2), (4,), tmp_path) <= TOLERANCE
    embedding = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    assert largest_difference(embedding, (3,), tmp_path, integers=10) <= TOLERANCE


def test_circular_padding_needs_opset_19(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular"))
    with pytest.raises(ExportError, match=r"layer '0' \(Conv1d\).*needs opset 19"):
        export(model, inputs((2, 6), 1), tmp_path / "model.onnx")
    assert largest_difference(model, (2, 6), tmp_path, opset=19) <= TOLERANCE


MODELS = {
    "MLP with BatchNorm and Dropout": (
        lambda: nn.Sequential(
            nn.Linear(13, 32),
            nn.BatchNorm1d(32),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Sequential(nn.Linear(32, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.3)),
            nn.Linear(16, 3),
        ),  # fmt: skip
        (13,),
    ),
    "LeNet": (lambda: build_model("lenet", (64,), 10), (64,)),
    "1-D CNN": (
        lambda: nn.Sequential(
            nn.Unflatten(1, (1, 32)),
            nn.Conv1d(1, 8, 5, padding=2),
            nn.BatchNorm1d(8),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(8, 16, 3, padding="same"),
            nn.Tanh(),
            nn.AvgPool1d(2),
            nn.AdaptiveAvgPool1d(2),
            nn.Flatten(),
            nn.Linear(32, 4),
            nn.LogSoftmax(dim=1),
        ),  # fmt: skip
        (32,),
    ),
    "build_model mlp on images": (lambda: build_model("mlp:16,8:tanh", (1, 8, 8), 10), (1, 8, 8)),
    "build_model linear": (lambda: build_model("linear", (4,), 3), (4,)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_whole_models_give_descents_numbers(name, tmp_path):
    make, sample_shape = MODELS[name]
    torch.manual_seed(0)
    model = randomized(make())
    assert largest_difference(model, sample_shape, tmp_path) <= TOLERANCE


def test_export_leaves_the_model_as_it_was(tmp_path):
    torch.manual_seed(0)
    model = randomized(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout()))
    model[2].eval()  # a mixed mode must come back as it was
    state = {key: value.numpy().copy() for key, value in model.state_dict().items()}
    proto = export(model, inputs((3,), 5), tmp_path / "m.onnx", metadata={"note": "hello"})
    assert [m.training for m in model.modules()] == [True, True, True, False]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key], err_msg=key)
    assert {p.key: p.value for p in proto.metadata_props} == {"note": "hello"}
    initializers = {tensor.name for tensor in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.running_mean", "1.running_var"} <= initializers


class Twice(nn.Module):
    def forward(self, x):
        return 2 * x


@pytest.mark.parametrize(
    "layer, message",
    [
        (Twice(), r"layer '1\.0' \(Twice\) cannot be exported; exportable are Sequential"),
        (nn.MaxPool1d(2, return_indices=True), r"layer '1\.0' \(MaxPool1d\).*returns a tuple"),
        (nn.Flatten(0), r"layer '1\.0' \(Flatten\).*batch axis"),
        (nn.AdaptiveAvgPool1d(3), r"layer '1\.0' \(AdaptiveAvgPool1d\).*window"),
        (nn.AvgPool2d(2, divisor_override=3), r"layer '1\.0' \(AvgPool2d\).*divisor_override"),
        (nn.BatchNorm1d(2, track_running_stats=False), r"\(BatchNorm1d\).*track_running_stats"),
    ],
)
def test_an_unexportable_layer_is_named(layer, message, tmp_path):
    model = nn.Sequential(nn.Identity(), nn.Sequential(layer))
    with pytest.raises(ExportError, match=message):
        export(model, inputs((2, 4), 1), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_without_onnx_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[onnx\]"'):
        export(nn.Linear(2, 1), inputs((2,), 1), tmp_path / "m.onnx")


# -- `descent export`: a trained run's model on raw features, as `descent predict` --------


def descent(*args, cwd) -> str:
    """`descent ARGS` run in-process from `cwd`; what it printed, after checking it worked."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (contextlib.chdir(cwd), contextlib.redirect_stdout(stdout),
          contextlib.redirect_stderr(stderr), warnings.catch_warnings()):  # fmt: skip
        code = main([str(arg) for arg in args])
    assert code == 0, f"exit {code}\n{stdout.getvalue()}\n{stderr.getvalue()}"
    return stdout.getvalue()


@pytest.fixture(scope="module", params=["iris", "diabetes"])
def trained(request, tmp_path_factory):
    """A tiny run, its raw test features written as a CSV, and `descent predict`'s CSV."""
    cwd = tmp_path_factory.mktemp(request.param)
    descent("train", "--data", request.param, "--model", "mlp:8", "--epochs", "2",
            "--no-progress", cwd=cwd)  # fmt: skip
    (run,) = (cwd / "runs").iterdir()
    info = json.loads((run / "data.json").read_text())
    _, test = load_dataset(request.param)
    features = np.asarray(test.features, dtype=np.float32)
    with open(cwd / "new.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(info["feature_names"])
        writer.writerows(features.tolist())
    descent("predict", run, "--input", cwd / "new.csv", "--output", cwd / "out.csv", cwd=cwd)
    with open(cwd / "out.csv") as file:
        predicted = list(csv.DictReader(file))
    return cwd, run, info, features, predicted


def test_an_exported_run_takes_raw_features_as_predict_does(trained):
    cwd, run, info, features, predicted = trained
    printed = descent("export", run, "--format", "onnx", "--output", cwd / "model.onnx", cwd=cwd)
    assert "wrote" in printed and "raw features" in printed
    model = onnx.load(cwd / "model.onnx")
    onnx.checker.check_model(model, full_check=True)
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["feature_names"]) == info["feature_names"]
    assert metadata["task"] == info["task"]
    session = onnxruntime.InferenceSession(cwd / "model.onnx", providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"features": features})
    if info["task"] == "classification":
        assert json.loads(metadata["class_names"]) == info["class_names"] == ["setosa",
               "versicolor", "virginica"]  # fmt: skip
        probabilities = np.exp(out - out.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        expected = [[float(row[f"p_{name}"]) for name in info["class_names"]] for row in predicted]
        np.testing.assert_allclose(probabilities, expected, rtol=0, atol=TOLERANCE)
        names = [info["class_names"][k] for k in out.argmax(axis=1)]
        assert names == [row["prediction"] for row in predicted]
    else:
        assert info["target_standardizer"] is not None  # so its inverse is in the graph
        expected = np.array([[float(row["prediction"])] for row in predicted])
        np.testing.assert_allclose(out, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_export_defaults_to_the_run_folder_and_says_what_it_needs(trained, monkeypatch):
    cwd, run, *_ = trained
    descent("export", run, "--which", "last", cwd=cwd)
    assert onnx.load(run / "model.onnx").graph.output[0].name in ("logits", "prediction")
    assert "descent export" in descent("export", "--help", cwd=cwd)
    monkeypatch.setitem(sys.modules, "onnx", None)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert main(["export", str(run)]) == 1
    assert 'pip install -e ".[onnx]"' in stderr.getvalue()
