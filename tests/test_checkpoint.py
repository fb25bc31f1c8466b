"""Checkpoints: an exact resume, refusal of damaged and hostile files, and crash-safe writes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from checkpoint_writer import make_model, save

import descent as dc
from descent import checkpoint, nn, optim, safefile
from descent.data import DataLoader, TensorDataset
from descent.errors import CheckpointError
from descent.nn import functional as F

DATA = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
LABELS = (DATA[:, 0] + DATA[:, 1] > 0).astype(np.int64) + (DATA[:, 2] > 1).astype(np.int64)
NAMES = ("model", "optimizer", "scheduler", "loader")
OPTIMIZERS = {
    "adam": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
}


def small_model(hidden=16):
    return nn.Sequential(
        nn.Linear(6, hidden), nn.BatchNorm1d(hidden), nn.Tanh(), nn.Linear(hidden, 3)
    )


def build(kind, seed):
    dc.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 3)
    )
    optimizer = OPTIMIZERS[kind](model.parameters())
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    loader = DataLoader(TensorDataset(DATA, LABELS), batch_size=7, shuffle=True, seed=seed)
    return model, optimizer, scheduler, loader


def train(parts, steps, save_at=None, path=None):
    """`steps` updates, the loader served epoch after epoch; save after update `save_at`."""
    model, optimizer, scheduler, loader = parts
    batches = (batch for _ in iter(int, 1) for batch in loader)
    for step in range(1, steps + 1):
        x, y = next(batches)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step == save_at:
            extra = {"step": step, "history": [float(loss.data)], "pair": (1, 2)}
            checkpoint.save(path, **dict(zip(NAMES, parts)), extra=extra)
            return


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_resume_is_bit_identical(kind, tmp_path):
    path = tmp_path / "run.ckpt"
    straight = build(kind, seed=1)
    train(straight, steps=23)  # batches of 7 from 40 samples: 6 per epoch, 23 is mid-epoch
    after_straight = dc.random.default_generator().random(3)

    train(build(kind, seed=1), steps=23, save_at=9, path=path)  # stops mid-epoch at update 9
    resumed = build(kind, seed=99)  # other weights, loader order and RNG until loaded
    extra = checkpoint.load(
        path, **dict(zip(("model", "optimizer", "scheduler", "loader"), resumed)), rng=True
    )
    assert extra["step"] == 9 and extra["pair"] == (1, 2) and len(extra["history"]) == 1
    train(resumed, steps=23 - 9)

    for name, expected in straight[0].state_dict().items():
        np.testing.assert_array_equal(resumed[0].state_dict()[name], expected, err_msg=name)
    expected_state, actual_state = straight[1].state_dict(), resumed[1].state_dict()
    assert expected_state["param_groups"] == actual_state["param_groups"]
    for index, fields in expected_state["state"].items():
        for field, value in fields.items():
            np.testing.assert_array_equal(actual_state["state"][index][field], value)
    assert resumed[2].get_last_lr() == straight[2].get_last_lr()
    assert resumed[3].state_dict() == straight[3].state_dict()
    np.testing.assert_array_equal(dc.random.default_generator().random(3), after_straight)


def test_file_layout_is_plain_safetensors_with_json_metadata(tmp_path):
    path = tmp_path / "c.ckpt"
    parts = build("adam", seed=0)
    train(parts, steps=2)
    checkpoint.save(path, model=parts[0], optimizer=parts[1], extra={"epoch": 3})
    tensors = safetensors.numpy.load(path.read_bytes())
    assert "model.1.running_mean" in tensors and "optimizer.state.0.exp_avg" in tensors
    length = int.from_bytes(path.read_bytes()[:8], "little")
    metadata = json.loads(path.read_bytes()[8 : 8 + length])["__metadata__"]
    doc = json.loads(metadata["descent"])
    assert doc["version"] == checkpoint.VERSION and doc["extra"] == {"epoch": 3}
    assert [f for f in os.listdir(tmp_path)] == ["c.ckpt"]  # no temporary file left


@pytest.fixture
def saved(tmp_path):
    """A valid checkpoint of `small_model()` and its bytes."""
    dc.manual_seed(0)
    model = small_model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    loss = F.cross_entropy(model(dc.tensor(DATA)), LABELS)
    loss.backward()
    optimizer.step()
    path = tmp_path / "good.ckpt"
    checkpoint.save(path, model=model, optimizer=optimizer, extra={"epoch": 1})
    return path, path.read_bytes()


def refused(tmp_path, data, match=None):
    """Write `data` and check that loading it into a fresh model raises and changes nothing."""
    path = tmp_path / "bad.ckpt"
    path.write_bytes(data)
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=match) as error:
        checkpoint.load(path, model=model)
    assert str(path) in str(error.value)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    return str(error.value)


def test_empty_file(tmp_path):
    refused(tmp_path, b"", match="too short")


def test_truncated_at_many_points(saved, tmp_path):
    _, data = saved
    length = int.from_bytes(data[:8], "little")
    cuts = [1, 7, 8, 9, 8 + length // 2, 8 + length, 8 + length + 1, len(data) // 2, len(data) - 1]
    for cut in cuts:
        refused(tmp_path, data[:cut])


def test_every_byte_of_the_header_bit_flipped(saved, tmp_path):
    _, data = saved
    length = int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(0)
    positions = list(range(8 + length)) + list(rng.integers(8 + length, len(data), 50))
    for i in positions:
        damaged = bytearray(data)
        damaged[i] ^= 1 << (int(i) % 8)
        refused(tmp_path, bytes(damaged))


def test_header_claiming_gigabytes(saved, tmp_path):
    _, data = saved
    message = refused(tmp_path, (2**40).to_bytes(8, "little") + data[8:], match="claims")
    assert str(2**40) in message
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [2**20, 2**20], "data_offsets": [0, 2**42]}}
    )
    data = len(header).to_bytes(8, "little") + header.encode() + b"\0" * 16
    refused(tmp_path, data, match="truncated or damaged")


def test_renamed_pickle_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    # A pickle (protocol 0) that calls os.system when unpickled.
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    refused(tmp_path, payload)
    refused(tmp_path, b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00" + payload)
    assert not marker.exists()


def test_random_bytes_and_foreign_safetensors(tmp_path):
    refused(tmp_path, np.random.default_rng(0).bytes(4096))
    foreign = safetensors.numpy.save({"weight": np.zeros((3, 2), np.float32)})
    refused(tmp_path, foreign, match="not one descent wrote")


def test_unknown_format_version(saved, tmp_path):
    _, data = saved
    length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8 : 8 + length])["__metadata__"]
    doc = json.loads(metadata["descent"])
    doc["version"] = checkpoint.VERSION + 1
    text = json.dumps(doc)
    tensors = safetensors.numpy.load(data)
    newer = {"descent": text, "descent.sha256": safefile.digest(text, tensors)}
    refused(tmp_path, safetensors.numpy.save(tensors, metadata=newer), match="version 2")


def test_wrong_shapes_missing_keys_and_dtypes_leave_the_model_untouched(saved):
    path, _ = saved
    for model, match in [
        (small_model(hidden=17), "shapes or dtypes that differ"),
        (nn.Sequential(small_model(), nn.Linear(3, 2)), "missing keys"),
        (nn.Sequential(nn.Linear(6, 16)), "unexpected keys"),
    ]:
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises(CheckpointError, match=match):
            checkpoint.load(path, model=model)
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[name])
    model = small_model()
    model[0].weight.data = model[0].weight.data.astype(np.float64)
    with pytest.raises(CheckpointError, match="float32, model"):
        checkpoint.load(path, model=model)


def test_an_optimizer_that_does_not_fit_rolls_the_model_back(saved):
    path, _ = saved
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng_before = dc.random.get_rng_state()
    with pytest.raises(CheckpointError, match="optimizer state does not fit"):
        checkpoint.load(path, model=model, optimizer=optimizer)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert dc.random.get_rng_state() == rng_before
    with pytest.raises(CheckpointError, match="no scheduler state"):
        checkpoint.load(path, scheduler=optim.lr_scheduler.StepLR(optimizer, step_size=1))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        checkpoint.load(tmp_path / "nowhere.ckpt", model=small_model())


def test_failed_write_keeps_the_old_checkpoint(saved, monkeypatch):
    path, data = saved

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, model=small_model(), extra={"epoch": 2})
    monkeypatch.undo()
    assert path.read_bytes() == data and os.listdir(path.parent) == [path.name]
    assert checkpoint.load(path, model=small_model()) == {"epoch": 1}


def test_save_refuses_what_json_and_safetensors_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="extra.f is a function"):
        checkpoint.save(tmp_path / "c.ckpt", extra={"f": lambda: 0})
    with pytest.raises(TypeError, match="dtype object"):
        checkpoint.save(tmp_path / "c.ckpt", extra={"a": np.array([None])})
    assert not os.listdir(tmp_path)


WRITER = Path(__file__).with_name("checkpoint_writer.py")


def start_writer(path, version, *step):
    """checkpoint_writer.py saving versions `version`, `version` + 1, ... to `path`."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    command = [sys.executable, str(WRITER), str(path), str(version), *step]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603


def saved_versions(child) -> list[int]:
    """The versions a writer finished saving, from what it printed until it died."""
    lines = child.stdout.read().split("\n")
    child.stdout.close()
    return [int(line.split()[1]) for line in lines if line.startswith("saved ")]


def loaded_version(path) -> int:
    """The checkpoint's version, after checking that every tensor in it holds that version."""
    model = make_model()
    version = checkpoint.load(path, model=model, rng=False)["version"]
    for tensor in (*model.parameters(), *model.buffers()):
        assert np.all(tensor.data == version)  # one whole save, never a mixture of two
    return version


@pytest.mark.parametrize("step, survivor", [("fsync", 1), ("replace", 1), ("replaced", 2)])
def test_a_writer_killed_at_each_step_of_a_save_leaves_one_whole_checkpoint(
    tmp_path, step, survivor
):
    """Deterministic: the writer saves version 1, then SIGKILLs itself at `step` of saving 2."""
    path = tmp_path / "ckpt.safetensors"
    save(path, make_model(), 0)
    child = start_writer(path, 1, step)
    try:
        child.wait(timeout=30)
    finally:
        child.kill()  # if `step` never came, the writer would loop on
    assert child.returncode == -signal.SIGKILL
    assert saved_versions(child) == [1]
    assert loaded_version(path) == survivor  # the old file until the rename, then the new one
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(leftovers) == (0 if step == "replaced" else 1)  # a kill skips the cleanup


def test_sigkill_during_repeated_saves_always_leaves_a_loadable_checkpoint(tmp_path):
    """Kills at arbitrary moments: whenever one lands, the file on disk is a whole checkpoint,
    the last one the writer finished or the one it was writing if its rename had happened."""
    rng = np.random.default_rng(0)
    workers, rounds = 4, 3  # 12 kills, four writers at a time
    paths = [tmp_path / f"ckpt-{i}.safetensors" for i in range(workers)]
    for path in paths:
        save(path, make_model(), 0)
    versions = [0] * workers
    for _ in range(rounds):
        children = [start_writer(path, version + 1) for path, version in zip(paths, versions)]
        for child in children:
            assert child.stdout.readline() == "ready\n"
        for child in children:
            time.sleep(rng.uniform(0.0, 0.03))
            child.send_signal(signal.SIGKILL)
        for i, (child, path) in enumerate(zip(children, paths)):
            child.wait(timeout=60)
            assert child.returncode == -signal.SIGKILL
            finished = saved_versions(child)
            last = finished[-1] if finished else versions[i]
            versions[i] = loaded_version(path)
            assert versions[i] in (last, last + 1)
