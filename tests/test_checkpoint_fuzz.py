"""Hostile and odd checkpoint files: each is refused with a CheckpointError naming the file
and the key, before anything is read that need not be, and nothing is touched.

Forged files are written by `forge`, which rewrites a good file's JSON document and
recomputes its checksum as safefile does: the checksum guards against damage, not
against someone who means harm, so every value must be checked on its own.
"""

from __future__ import annotations

import json
import math
import os
import threading

import numpy as np
import pytest
import safetensors.numpy

import descent as dc
from descent import checkpoint, optim, safefile
from descent.data import DataLoader, TensorDataset
from descent.errors import CheckpointError
from descent.optim import lr_scheduler


def make_objects():
    """A model, Adam, StepLR and a shuffling loader, each stepped once."""
    dc.manual_seed(0)
    model = dc.nn.Linear(3, 2)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2)
    data = TensorDataset(dc.randn(8, 3), dc.randn(8, 2))
    loader = DataLoader(data, batch_size=2, shuffle=True, seed=1)
    x, y = next(iter(loader))
    dc.nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    scheduler.step()
    return model, optimizer, scheduler, loader


def snapshot(model, optimizer, scheduler, loader):
    """Everything a load could change, as plain comparable values."""
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    optimizer_state = optimizer.state_dict()
    optimizer_state["state"] = {
        i: {k: np.asarray(v).copy() for k, v in fields.items()}
        for i, fields in optimizer_state["state"].items()
    }
    return weights, repr(optimizer_state), scheduler.state_dict(), loader.state_dict()


@pytest.fixture
def good(tmp_path):
    objects = make_objects()
    path = tmp_path / "good.ckpt"
    checkpoint.save(path, model=objects[0], optimizer=objects[1], scheduler=objects[2],
                    loader=objects[3], extra={"epoch": 1})  # fmt: skip
    return path


def forge(path, change) -> None:
    """Rewrite the JSON document of the file at `path` with `change(doc)` and recompute
    the checksum the way safefile does."""
    tensors = safetensors.numpy.load_file(path)
    with open(path, "rb") as file:
        length = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(length))
    doc = json.loads(header["__metadata__"][safefile._META_KEY])
    change(doc)
    text = json.dumps(doc)
    metadata = {safefile._META_KEY: text, safefile._DIGEST_KEY: safefile.digest(text, tensors)}
    path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))


def refused(path, *words: str) -> str:
    """Load `path` into fresh objects: a CheckpointError naming the file and `words`, and
    every object as it was."""
    objects = make_objects()
    before = snapshot(*objects)
    with pytest.raises(CheckpointError) as error:
        checkpoint.load(path, model=objects[0], optimizer=objects[1], scheduler=objects[2],
                        loader=objects[3], rng=True)  # fmt: skip
    message = str(error.value)
    assert str(path) in message
    for word in words:
        assert word in message, (word, message)
    after = snapshot(*objects)
    for name, array in before[0].items():
        np.testing.assert_array_equal(after[0][name], array)
    assert after[1:] == before[1:]
    return message


def setter(*keys_and_value):
    """A `change` that sets doc[k1][k2]...[kn] = value."""
    *keys, last, value = keys_and_value

    def change(doc):
        for key in keys:
            doc = doc[key]
        doc[last] = value

    return change


def nested(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def group(key, value):
    return setter("optimizer", "param_groups", 0, key, value)


def state_field(key, value):
    # The optimizer's state is {index: fields}, stored as __items__ [[0, fields]].
    def change(doc):
        doc["optimizer"]["state"]["__items__"][0][1][key] = value

    return change


FORGED = [
    (setter("extra", "x", {"__scalar__": ["float32", "abc"]}), ["extra.x", "float32"]),
    (setter("extra", "x", {"__scalar__": ["int8", 1000]}), ["extra.x", "int8"]),
    (setter("extra", "x", {"__scalar__": ["float64", 10**400]}), ["extra.x"]),
    (setter("extra", "x", {"__scalar__": ["object", 1]}), ["extra.x", "malformed scalar"]),
    (setter("extra", "x", nested(800)), ["extra.x", "nests deeper"]),
    (setter("extra", "x", {"__tensor__": "nowhere"}), ["extra.x", "nowhere"]),
    (setter("extra", "x", {"__items__": [[[1], 2]]}), ["extra.x", "unhashable"]),
    (group("lr", "fast"), ["optimizer", "learning rate", "'fast'"]),
    (group("lr", -1), ["optimizer", "learning rate", "-1"]),
    (group("lr", math.nan), ["optimizer", "learning rate", "nan"]),
    (group("betas", "xy"), ["optimizer", "betas"]),
    (group("betas", {"__tuple__": [0.9, 2.0]}), ["optimizer", "betas", "2.0"]),
    (group("amsgrad", "yes"), ["optimizer", "'amsgrad'"]),
    (group("params", ["a", "b"]), ["optimizer", "'params'"]),
    (group("params", [0]), ["optimizer", "1 parameters"]),
    (setter("optimizer", "param_groups", []), ["optimizer", "0 parameter groups"]),
    (state_field("step", {"__scalar__": ["float64", -5.0]}), ["optimizer", "'step'", "-5"]),
    (state_field("step", {"__scalar__": ["float64", 1e300]}), ["optimizer", "'step'", "1e+300"]),
    (state_field("step", {"__scalar__": ["float32", math.inf]}), ["optimizer", "'step'"]),
    (state_field("step", "many"), ["optimizer", "'step'", "one number"]),
    (state_field("exp_avg", 3.0), ["optimizer", "'exp_avg'", "array"]),
    (state_field("exp_avg", [1, 2]), ["optimizer", "'exp_avg'", "array"]),
    (state_field("exp_avg", {"__tensor__": "model.bias"}), ["optimizer", "'exp_avg'", "shape"]),
    (state_field("extra_field", 1.0), ["optimizer", "extra_field"]),
    (setter("scheduler", "step_size", 0), ["scheduler", "step_size", "0"]),
    (setter("scheduler", "step_size", "2"), ["scheduler", "step_size"]),
    (setter("scheduler", "gamma", -1), ["scheduler", "gamma", "-1"]),
    (setter("scheduler", "gamma", math.inf), ["scheduler", "gamma", "inf"]),
    (setter("scheduler", "base_lrs", []), ["scheduler", "base_lrs"]),
    (setter("scheduler", "base_lrs", [-0.1]), ["scheduler", "base_lrs", "-0.1"]),
    (setter("scheduler", "last_epoch", -3), ["scheduler", "last_epoch", "-3"]),
    (setter("scheduler", "last_epoch", 1.5), ["scheduler", "last_epoch", "1.5"]),
    (setter("scheduler", "surprise", 1), ["scheduler", "surprise"]),
    (setter("loader", "epoch", -7), ["loader", "epoch=-7"]),
    (setter("loader", "position", 99), ["loader", "position=99"]),
    (setter("loader", "position", "1"), ["loader", "position='1'"]),
    (setter("loader", "generator", "bit_generator", "seed"), ["loader", "'seed'"]),
    (setter("loader", "generator", "state", "state", -1), ["loader", "generator"]),
    (setter("rng", "bit_generator", "MT19937"), ["rng", "PCG64"]),
    (setter("rng", "state", "state", "x"), ["rng"]),
]


@pytest.mark.parametrize("change, words", FORGED, ids=lambda v: "" if callable(v) else str(v))
def test_a_forged_value_is_refused_and_nothing_is_touched(good, change, words):
    forge(good, change)
    refused(good, *words)


def test_forge_itself_keeps_a_file_loadable(good):
    forge(good, lambda doc: None)
    objects = make_objects()
    assert checkpoint.load(good, model=objects[0], optimizer=objects[1], scheduler=objects[2],
                           loader=objects[3], rng=True) == {"epoch": 1}  # fmt: skip


def test_a_forged_descent_save_names_the_file_and_key(tmp_path):
    path = tmp_path / "w.pt"
    dc.save({"w": dc.zeros(2), "n": np.float32(1)}, path)
    forge(path, setter("obj", "n", {"__scalar__": ["int8", 1000]}))
    with pytest.raises(CheckpointError, match=r"w\.pt.*obj\.n"):
        dc.load(path)


def test_a_header_larger_than_the_file_is_refused_before_reading(good):
    data = good.read_bytes()
    good.write_bytes((len(data)).to_bytes(8, "little") + data[8:])
    refused(good, "claims")


def test_tensor_extents_past_the_file_are_refused(good):
    data = good.read_bytes()
    good.write_bytes(data[:-4])
    refused(good, "truncated")


def test_a_symlink_to_dev_zero_is_refused_at_once(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    link = tmp_path / "zero.ckpt"
    link.symlink_to("/dev/zero")
    refused(link, "character device", "not a regular file")
    with pytest.raises(CheckpointError, match="character device"):
        dc.load(link)


def test_a_directory_is_refused(tmp_path):
    refused(tmp_path, "directory")
    with pytest.raises(CheckpointError, match="directory"):
        dc.load(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_without_a_writer_never_blocks(tmp_path):
    fifo = tmp_path / "pipe.ckpt"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            dc.load(fifo)
        except CheckpointError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "loading a named pipe blocked"
    assert outcome and "named pipe" in outcome[0] and str(fifo) in outcome[0]
    refused(fifo, "named pipe")


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    target = tmp_path / "missing_dir" / "x.pt"
    with pytest.raises(FileNotFoundError, match="missing_dir") as error:
        dc.save({"w": dc.zeros(1)}, target)
    assert isinstance(error.value, RuntimeError)  # as torch.save raises
    assert ".tmp" not in str(error.value)
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        checkpoint.save(target, extra={})


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda p: optim.SGD(p, lr="0.1"), TypeError, ["SGD", "learning rate", "'0.1'"]),
        (lambda p: optim.SGD(p, lr=-1), ValueError, ["SGD", "learning rate", "-1"]),
        (lambda p: optim.SGD(p, lr=0.1, momentum=math.inf), ValueError, ["momentum", "inf"]),
        (lambda p: optim.Adam(p, betas=(0.9, "x")), TypeError, ["Adam", "beta", "'x'"]),
        (lambda p: optim.Adam(p, eps=math.nan), ValueError, ["Adam", "epsilon", "nan"]),
    ],
)
def test_optimizer_arguments_name_the_option_and_value(make, error, words):
    with pytest.raises(error) as raised:
        make([dc.zeros(2, requires_grad=True)])
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ["StepLR", "step_size", "0"]),
        (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-1), ["gamma", "-1"]),
        (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=math.nan), ["gamma", "nan"]),
        (lambda o: lr_scheduler.ExponentialLR(o, gamma=0), ["ExponentialLR", "gamma"]),
        (lambda o: lr_scheduler.MultiStepLR(o, [2, -1]), ["milestones", "-1"]),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, 10, eta_min=-1), ["eta_min", "-1"]),
        (lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0, gamma=0), ["CyclicLR", "gamma"]),
        (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, div_factor=0), ["div_factor"]),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=-0.5), ["factor", "-0.5"]),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ["patience", "-1"]),
    ],
)
def test_scheduler_arguments_that_cannot_make_sense_are_refused(make, words):
    optimizer = optim.SGD([dc.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError) as raised:
        make(optimizer)
    for word in words:
        assert word in str(raised.value)


def test_a_plain_load_state_dict_names_the_key_and_changes_nothing():
    _, optimizer, scheduler, loader = make_objects()
    state = optimizer.state_dict()
    state["param_groups"][0]["lr"] = "fast"
    before = repr(optimizer.state_dict())
    with pytest.raises(TypeError, match="learning rate"):
        optimizer.load_state_dict(state)
    assert repr(optimizer.state_dict()) == before
    with pytest.raises(ValueError, match="step_size"):
        scheduler.load_state_dict({**scheduler.state_dict(), "step_size": 0})
    with pytest.raises(ValueError, match="epoch=-7"):
        loader.load_state_dict({**loader.state_dict(), "epoch": -7})
