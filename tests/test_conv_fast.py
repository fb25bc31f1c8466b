"""conv2d's chunked path (ops/conv_fast.py) against the whole-batch path and torch, and its
compiled col2im against the NumPy loop over kernel taps."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import descent as dc
from descent import jit
from descent.ops import conv, conv_fast, conv_kernels

# (name, x shape, weight shape, stride, padding, dilation, groups): odd sizes throughout
CASES = [
    ("plain", (3, 3, 7, 5), (4, 3, 3, 3), 1, 0, 1, 1),
    ("batch 1, padding", (1, 2, 6, 9), (5, 2, 3, 2), 1, (1, 2), 1, 1),
    ("stride and dilation", (5, 2, 11, 9), (3, 2, 3, 3), (2, 3), 1, (2, 1), 1),
    ("stride larger than kernel", (4, 3, 9, 9), (2, 3, 2, 2), 3, 1, 1, 1),
    ("groups", (3, 6, 7, 7), (4, 3, 3, 3), 1, 1, 1, 2),
    ("depthwise", (2, 3, 5, 6), (3, 1, 3, 3), 1, 1, 1, 3),
    ("LeNet conv2 shape, small batch", (3, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, 1),
    ("1x1", (3, 4, 5, 5), (2, 4, 1, 1), 1, 0, 1, 1),
]


def stride_1(x, weight, stride, out_size):
    """conv.runs_in_chunks, relaxed to every stride-1 convolution, however small."""
    return stride == (1, 1)


@pytest.fixture
def chunked(monkeypatch):
    """Every stride-1 conv2d runs in chunks of one sample (the most chunk boundaries)."""
    monkeypatch.setattr(conv, "runs_in_chunks", stride_1)
    monkeypatch.setattr(conv_fast, "CHUNK_BYTES", 1)


def run_conv(arrays, needs, options, dtype="float64"):
    """conv2d's output and gradients (None where not asked) under upstream gradient ones."""
    tensors = [dc.tensor(a, dtype=dtype, requires_grad=r) for a, r in zip(arrays, needs)]
    out = dc.nn.functional.conv2d(*tensors, *options)
    upstream = np.random.default_rng(7).standard_normal(out.shape)
    out.backward(dc.tensor(upstream, dtype=dtype))
    return [out.detach().numpy()] + [t.grad.numpy() if t.requires_grad else None for t in tensors]


def torch_conv(arrays, needs, options):
    tensors = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
    out = F.conv2d(*tensors, *options)
    upstream = np.random.default_rng(7).standard_normal(out.shape)
    out.backward(torch.from_numpy(upstream))
    return [out.detach().numpy()] + [t.grad.numpy() if r else None for t, r in zip(tensors, needs)]


def case_arrays(case, seed=0):
    _, x_shape, w_shape, *options = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    return arrays + [rng.standard_normal(w_shape[0])], tuple(options)


def assert_all_close(mine, theirs, rtol=1e-10, atol=1e-12):
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if b is None:
            assert a is None, f"result {i} computed a gradient no one asked for"
            continue
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"result {i}")


@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, False)])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_chunked_path_matches_torch(case, needs, chunked):
    arrays, options = case_arrays(case)
    assert_all_close(run_conv(arrays, needs, options), torch_conv(arrays, needs, options))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_chunked_path_equals_the_whole_batch_path(case, monkeypatch):
    arrays, options = case_arrays(case, seed=1)
    needs = (True, True, True)
    whole = run_conv(arrays, needs, options)
    monkeypatch.setattr(conv, "runs_in_chunks", stride_1)
    # one sample a chunk, a few, the whole batch; buffers kept between calls, and not
    for chunk_bytes, keep_bytes in [(1, 1 << 24), (5000, 1 << 24), (1 << 30, 1 << 24), (1, 0)]:
        monkeypatch.setattr(conv_fast, "CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(conv_fast, "KEEP_BYTES", keep_bytes)
        assert_all_close(run_conv(arrays, needs, options), whole)


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(1, 5),
    groups=st.integers(1, 2),
    c_per_group=st.integers(1, 3),
    c_out_per_group=st.integers(1, 3),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    chunk_bytes=st.sampled_from([1, 3000, 1 << 30]),
    seed=st.integers(0, 2**32 - 1),
)
def test_chunked_path_matches_torch_on_drawn_geometry(
    n, groups, c_per_group, c_out_per_group, size, kernel, padding, dilation, chunk_bytes, seed
):
    for axis in (0, 1):  # keep the dilated kernel inside the padded input
        assume(dilation[axis] * (kernel[axis] - 1) + 1 <= size[axis] + 2 * padding[axis])
    shapes = ((n, groups * c_per_group, *size), (groups * c_out_per_group, c_per_group, *kernel))
    case = ("drawn", *shapes, 1, padding, dilation, groups)
    arrays, options = case_arrays(case, seed)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "runs_in_chunks", stride_1)
        patch.setattr(conv_fast, "CHUNK_BYTES", chunk_bytes)
        mine = run_conv(arrays, (True, True, True), options)
    assert_all_close(mine, torch_conv(arrays, (True, True, True), options))


def test_chunked_float32_matches_torch(chunked):
    arrays, options = case_arrays(CASES[6], seed=2)
    arrays = [a.astype(np.float32) for a in arrays]
    mine = run_conv(arrays, (True, True, True), options, dtype="float32")
    assert all(a.dtype == np.float32 for a in mine)
    assert_all_close(mine, torch_conv(arrays, (True, True, True), options), 1e-4, 1e-4)


def test_chunked_conv1d_matches_torch(chunked):
    rng = np.random.default_rng(3)
    x, w, b = (
        rng.standard_normal((5, 3, 41)),
        rng.standard_normal((4, 3, 5)),
        rng.standard_normal(4),
    )
    ours = [dc.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out, expected = dc.nn.functional.conv1d(*ours, padding=2), F.conv1d(*theirs, padding=2)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-10)


def test_chunked_path_catches_an_input_changed_before_backward(chunked):
    x = dc.randn(2, 2, 5, 5, requires_grad=True)
    weight = dc.randn(3, 2, 3, 3, requires_grad=True)
    inside = x * 1.0
    out = dc.nn.functional.conv2d(inside, weight)
    with dc.no_grad():
        inside.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@settings(max_examples=15, deadline=None)
@given(
    shape=st.tuples(*[st.integers(1, 3)] * 4, st.integers(1, 12)),
    spacing=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4)),
    jit_on=st.booleans(),
    past_the_run=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_col2im_adds_every_tap_onto_overlapping_runs(shape, spacing, jit_on, past_the_run, seed):
    """conv_fast.col2im, compiled or not, adds every term where taps' runs overlap, as a
    plain loop over every index does, and nothing from the columns past each run."""
    channels, kh, kw, n, run = shape
    row_step, tap_step, sample_step = spacing  # taps (i, j) start i * row_step + j * tap_step on
    rng = np.random.default_rng(seed)
    grad_cols = rng.standard_normal((*shape[:-1], run + past_the_run))
    plane = (kh - 1) * row_step + (kw - 1) * tap_step + run
    size = channels * plane + (n - 1) * sample_step * channels * plane
    expected = np.zeros(size)
    for c, i, j, b, t in np.ndindex(shape):
        where = b * sample_step * channels * plane + c * plane + i * row_step + j * tap_step + t
        expected[where] += grad_cols[c, i, j, b, t]
    target = np.zeros(size)
    item = target.itemsize
    runs = np.lib.stride_tricks.as_strided(
        target,
        shape=shape,
        strides=(plane * item, row_step * item, tap_step * item,
                 sample_step * channels * plane * item, item),
        writeable=True,
    )  # fmt: skip
    jit.available.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DESCENT_JIT", "1" if jit_on else "0")
            conv_fast.col2im(grad_cols, runs)
    finally:
        jit.available.cache_clear()
    np.testing.assert_allclose(target, expected, rtol=1e-12, atol=1e-12)


def test_workspace_keeps_no_stale_numbers_in_the_columns(chunked):
    """NaN weights in one step do not leak into the next step's gradients through the
    reused column buffer (whose every entry their column gradients fill with NaN)."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))]
    x, weight = (dc.tensor(a, requires_grad=True) for a in arrays)
    poisoned = dc.full((3, 2, 3, 3), float("nan"), dtype=dc.float64, requires_grad=True)
    dc.nn.functional.conv2d(x, poisoned).sum().backward()
    x.grad = None
    dc.nn.functional.conv2d(x, weight).sum().backward()
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    F.conv2d(*theirs).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), theirs[0].grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(weight.grad.numpy(), theirs[1].grad.numpy(), rtol=1e-10)


def test_chunks_go_where_they_pay():
    """The benchmark's layers: LeNet's, the MNIST example's and MNIST-1D's second convs run
    in chunks; first layers, with one input channel, and tiny ones over the whole batch."""
    cases = [((128, 6, 14, 14), (16, 6, 5, 5), (10, 10), True),
             ((64, 32, 26, 26), (64, 32, 3, 3), (24, 24), True),
             ((100, 32, 1, 44), (32, 32, 1, 5), (1, 40), True),
             ((64, 1, 28, 28), (32, 1, 3, 3), (26, 26), False),
             ((128, 1, 32, 32), (6, 1, 5, 5), (28, 28), False),
             ((2, 3, 6, 5), (4, 3, 3, 3), (4, 3), False)]  # fmt: skip
    for x_shape, w_shape, out_size, expected in cases:
        x, weight = np.empty(x_shape, np.float32), np.empty(w_shape, np.float32)
        assert conv.runs_in_chunks(x, weight, (1, 1), out_size) is expected, (x_shape, w_shape)


@pytest.mark.parametrize(
    ("batch", "cap", "expected"),
    [(128, 99, [64, 64]), (100, 37, [33, 33, 34]), (7, 3, [2, 2, 3]), (10, 4, [3, 3, 4]),
     (5, 5, [5]), (3, 1, [1, 1, 1]), (7, 100, [7]), (0, 4, [])],
)  # fmt: skip
def test_chunks_are_as_few_as_the_buffer_allows_and_even(batch, cap, expected, monkeypatch):
    """`cap` samples' columns fill CHUNK_BYTES: the batch goes in as few chunks as that
    allows, sizes differing by at most one, rather than full chunks and a small last one."""
    x, w2 = np.empty((batch, 2, 5, 5), np.float32), np.empty((1, 3, 2 * 3 * 3), np.float32)
    per_sample = 2 * 3 * 3 * 3 * 5 * 4  # K rows, 3 output rows at the padded width 5, float32
    monkeypatch.setattr(conv_fast, "CHUNK_BYTES", cap * per_sample)
    chunks = conv_fast.Chunks(x, w2, ((3, 3), (1, 1), (1, 1), (3, 3)))
    assert [stop - start for start, stop in chunks] == expected


@pytest.mark.parametrize("in_chunks", [False, True])
def test_a_retained_graph_keeps_its_columns_while_other_steps_run(in_chunks, monkeypatch):
    """What a node saved (columns, padded input) is not overwritten by later steps, for
    all the buffers conv2d reuses: a second backward through a retained graph gives the
    first one's numbers."""
    if in_chunks:
        monkeypatch.setattr(conv, "runs_in_chunks", stride_1)
    rng = np.random.default_rng(9)
    x, weight = rng.standard_normal((4, 3, 2, 30)), rng.standard_normal((5, 3, 2, 4))
    x2 = rng.standard_normal(x.shape)
    ours, w = dc.tensor(x, requires_grad=True), dc.tensor(weight, requires_grad=True)
    out = dc.nn.functional.conv2d(ours, w, padding=1)
    out.sum().backward(retain_graph=True)
    first = [ours.grad.numpy().copy(), w.grad.numpy().copy()]
    for _ in range(2):  # other steps of the same shapes run meanwhile
        other = dc.tensor(weight, requires_grad=True)
        dc.nn.functional.conv2d(dc.tensor(x2), other, padding=1).sum().backward()
    ours.grad = w.grad = None
    out.sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), first[0])
    np.testing.assert_array_equal(w.grad.numpy(), first[1])
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, weight)]
    F.conv2d(*theirs, padding=1).sum().backward()
    for mine, reference in zip(first, theirs):
        np.testing.assert_allclose(mine, reference.grad.numpy(), rtol=1e-10)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 3),
    groups=st.integers(1, 2),
    c_per_group=st.integers(1, 3),
    c_out_per_group=st.integers(1, 3),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    dtype=st.sampled_from([np.float32, np.float64]),
    one_sample_a_block=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_add_columns_equals_the_loop_over_taps(
    n, groups, c_per_group, c_out_per_group, size, kernel, stride, dilation, dtype,
    one_sample_a_block, seed,
):  # fmt: skip
    """The whole-batch path's col2im, all taps in one matmul and one compiled pass (in
    blocks of samples or all at once), gives the NumPy loop's numbers where windows
    overlap (stride below the kernel's span), leave gaps (stride above it) and are dilated."""
    pytest.importorskip("numba")
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    padded_shape = (n, groups * c_per_group, *[s + span for s, span in zip(size, spans)])
    out_size = tuple((p - span) // s + 1 for p, span, s in zip(padded_shape[2:], spans, stride))
    rng = np.random.default_rng(seed)
    w2 = rng.standard_normal((groups, c_out_per_group, c_per_group * math.prod(kernel)))
    g = rng.standard_normal((n, groups, c_out_per_group, math.prod(out_size)))
    w2, g = w2.astype(dtype), g.astype(dtype)
    calls, results, kernel_call = [], [], conv_kernels.add_windows

    def counted_kernel(*args):
        calls.append(args)
        kernel_call(*args)

    jit.available.cache_clear()
    try:
        for jit_setting in ("1", "0"):
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("DESCENT_JIT", jit_setting)
                jit.available.cache_clear()
                patch.setattr(conv, "COMPILED_COL2IM_MIN", 0)
                if one_sample_a_block:
                    patch.setattr(conv_fast, "KEEP_BYTES", 1)
                patch.setattr(conv_kernels, "add_windows", counted_kernel)
                grad_padded = np.zeros(padded_shape, dtype)
                conv.add_columns(grad_padded, w2, g, kernel, stride, dilation, out_size)
                results.append(grad_padded)
            if jit_setting == "1":
                assert len(calls) == (n if one_sample_a_block else 1)
    finally:
        jit.available.cache_clear()
    assert len(calls) == (n if one_sample_a_block else 1)  # none with the kernels off
    tolerance = 1e-5 if dtype is np.float32 else 1e-12
    np.testing.assert_allclose(results[0], results[1], rtol=tolerance, atol=tolerance)
    assert np.abs(results[1]).max() > 0


@pytest.mark.parametrize("in_chunks", [False, True])
def test_an_empty_batch_gives_empty_and_zero_gradients_as_torch(in_chunks, monkeypatch):
    if in_chunks:
        monkeypatch.setattr(conv, "runs_in_chunks", stride_1)
    x, weight, bias = np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones(3)
    ours = [dc.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    out = dc.nn.functional.conv2d(*ours)
    F.conv2d(*theirs).sum().backward()
    out.sum().backward()
    assert out.shape == (0, 3, 3, 3)
    for mine, torchs in zip(ours, theirs):
        np.testing.assert_array_equal(mine.grad.numpy(), torchs.grad.numpy())
