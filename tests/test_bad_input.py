"""Bad input gets descent's own error, naming the thing and the fix (issue #14).

The command's cases run `descent train` in this process from an empty folder: each must
exit 1 with one line "Error: ..." and leave no run folder, so every check runs before the
folder is made (and before any large allocation: a label of 1e9 once tried 477 GiB). The
API's cases make the same call on torch too, and must raise torch's exception type.
"""

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch

import descent
from descent.cli import main


def _labels_csv(labels) -> str:
    rows = [f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{label}" for i, label in enumerate(labels)]
    return "a,b,label\n" + "\n".join(rows) + "\n"


FILES = {
    "ids.csv": _labels_csv([0, 1, 1_000_000_000, 2] * 50).encode(),
    "negative.csv": _labels_csv([0, 1, -1, 2] * 50).encode(),
    "fractions.csv": _labels_csv([0, 1.5, 1, 2] * 50).encode(),
    "latin1.csv": "a,b,label\n0.1,café,1\n".encode("latin-1") + b"0.2,0.3,0\n" * 20,
    "latin1.toml": 'data = "café.csv"\n'.encode("latin-1"),
    "small.csv": _labels_csv([0, 1] * 20).encode(),
}

COMMAND_CASES = {
    "label column of IDs": (
        ["--data", "ids.csv"],
        ["ids.csv: column 'label' would make 1000000001 classes", "more than the 10000",
         "--target", "--task regression"],
    ),
    "absurdly wide model": (
        ["--model", "mlp:1000000000"],
        ["mlp:1000000000", "over the bound of 65536 units", "3.73 GiB per input feature"],
    ),
    "negative label": (
        ["--data", "negative.csv"],
        ["negative.csv: row 4, column 'label': label -1 is negative",
         "renumber the classes from 0", "--task regression"],
    ),
    "fractional class label": (
        ["--data", "fractions.csv", "--task", "classification"],
        ["fractions.csv: row 3, column 'label': label 1.5 is not a whole number",
         "--task regression"],
    ),
    "CSV not UTF-8": (
        ["--data", "latin1.csv"],
        ["latin1.csv: not UTF-8 text: byte 0xe9 at byte offset 17 (line 2)",
         "reads text files as UTF-8", "iconv -f latin1 -t utf-8 latin1.csv"],
    ),
    "config not UTF-8": (
        ["--config", "latin1.toml"],
        ["latin1.toml: not UTF-8 text: byte 0xe9 at byte offset 11 (line 1)"],
    ),
    "empty widths": (
        ["--data", "small.csv", "--model", "mlp:"],
        ["model 'mlp:': a hidden width is missing", "e.g. mlp:128,64"],
    ),
    "trailing comma": (
        ["--data", "small.csv", "--model", "mlp:64,"],
        ["model 'mlp:64,': a hidden width is missing"],
    ),
    "zero width": (["--model", "mlp:0"], ["model 'mlp:0': hidden widths must be at least 1"]),
    "negative width": (
        ["--model", "mlp:-3"], ["model 'mlp:-3': hidden widths must be at least 1, got -3"]
    ),
    "task of a built-in data set": (
        ["--data", "moons", "--task", "regression"],
        ["'moons' is a classification data set"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("argv, expected", COMMAND_CASES.values(), ids=COMMAND_CASES.keys())
def test_command_refuses_before_making_a_run_folder(tmp_path, argv, expected):
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
    stdout, stderr = io.StringIO(), io.StringIO()
    with (contextlib.chdir(tmp_path), contextlib.redirect_stdout(stdout),
          contextlib.redirect_stderr(stderr), warnings.catch_warnings()):  # fmt: skip
        code = main(["train", "--epochs", "1", "--no-progress", *argv])
    message = stderr.getvalue()
    assert code == 1, (stdout.getvalue(), message)
    assert message.startswith("Error: ") and message.count("\n") == 1, message
    for part in expected:
        assert part in message
    assert not (tmp_path / "runs").exists()


def _linear_on_numpy(lib):
    return lib.nn.Sequential(lib.nn.Linear(2, 3))(np.ones((4, 2), np.float32))


API_CASES = {
    "model(numpy array)": (
        _linear_on_numpy, TypeError,
        ["Linear: the input must be a Tensor, not numpy.ndarray", "descent.from_numpy(x)",
         "descent.tensor(x)"],
    ),
    "F.linear on a numpy array": (
        lambda lib: lib.nn.functional.linear(np.ones((2, 3), np.float32), lib.ones(4, 3)),
        TypeError, ["linear: the input must be a Tensor, not numpy.ndarray"],
    ),
    "conv on a numpy array": (
        lambda lib: lib.nn.Conv2d(1, 2, 3)(np.ones((1, 1, 4, 4), np.float32)), TypeError,
        ["conv2d: the input must be a Tensor, not numpy.ndarray"],
    ),
    "cross-entropy on numpy arrays": (
        lambda lib: lib.nn.CrossEntropyLoss()(np.ones((4, 3), np.float32), np.zeros(4, int)),
        TypeError, ["cross_entropy: the input must be a Tensor, not numpy.ndarray"],
    ),
    "MSE on numpy arrays": (
        lambda lib: lib.nn.MSELoss()(np.ones(3, np.float32), np.ones(3, np.float32)),
        TypeError, ["mse_loss: the input must be a Tensor, not numpy.ndarray"],
    ),
    "Linear fed a string": (
        lambda lib: lib.nn.Linear(2, 3)("ab"), TypeError,
        ["Linear: the input must be a Tensor, not str", "turn the text into numbers"],
    ),
    "Linear fed a list": (
        lambda lib: lib.nn.Linear(2, 3)([[1.0, 2.0]]), TypeError,
        ["Linear: the input must be a Tensor, not list", "descent.tensor(x)"],
    ),
    "Linear(2.5, 3)": (
        lambda lib: lib.nn.Linear(2.5, 3), TypeError,
        ["Linear: in_features=2.5 must be a whole number (an int), not float"],
    ),
    "Linear('2', 3)": (
        lambda lib: lib.nn.Linear("2", 3), TypeError, ["in_features='2' must be a whole number"]
    ),
    "Linear(-1, 3)": (
        lambda lib: lib.nn.Linear(-1, 3), RuntimeError,
        ["Linear: in_features=-1 and out_features=3 must be positive"],
    ),
    "ragged nested lists": (
        lambda lib: lib.tensor([[1, 2], [3]]), ValueError,
        ["expected sequence of length 2 at dim 1 (got 1)", "must form a box"],
    ),
    "a number where a row belongs": (
        lambda lib: lib.tensor([[1, 2], 3]), TypeError, ["3 at dim 1 is not a sequence"]
    ),
    "item() of 3 elements": (
        lambda lib: lib.randn(3).item(), RuntimeError,
        ["a Tensor with 3 elements cannot be converted to Scalar", ".sum()", ".tolist()"],
    ),
    "tensor('abc')": (
        lambda lib: lib.tensor("abc"), TypeError,
        ["invalid data type 'str'", "a tensor holds numbers"],
    ),
    "tensor of a text array": (
        lambda lib: lib.tensor(np.array(["a", "b"])), TypeError, ["invalid data type 'str'"]
    ),
}  # fmt: skip


@pytest.mark.parametrize("call, error, expected", API_CASES.values(), ids=API_CASES.keys())
def test_api_misuse_raises_torchs_type_in_descents_words(call, error, expected):
    with warnings.catch_warnings(), pytest.raises(error):
        warnings.simplefilter("ignore")
        call(torch)
    with pytest.raises(error) as raised:
        call(descent)
    for part in expected:
        assert part in str(raised.value)
