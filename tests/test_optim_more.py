"""Optimizer state as torch's: tensors in `state`, a float step count, torch's state dicts
loaded, and the registry of names."""

import io

import numpy as np
import pytest
import torch
from test_optim import CASES, IDS, TRAJECTORY_LR, WEIGHTS, mlp_loss_torch, param, train_descent

import descent as dc
from descent import optim


def options_of(case):
    _, name, options, _, _, _ = case
    return name, {**options, "lr": TRAJECTORY_LR[name]}, -1.0 if options.get("maximize") else 1.0


def torch_dtype_name(tensor):
    return str(tensor.dtype).removeprefix("torch.")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_fields_are_torchs(case):
    name, options, sign = options_of(case)
    ours, optimizer = train_descent(lambda ps: getattr(optim, name)(ps, **options), 3, sign)
    params = [torch.tensor(w, requires_grad=True) for w in WEIGHTS]
    theirs = getattr(torch.optim, name)(params, **options)
    for _ in range(3):
        for p in params:
            p.grad = torch.ones_like(p)
        theirs.step()
    for ours_state, their_state in zip(optimizer.state.values(), theirs.state.values()):
        assert list(ours_state) == list(their_state)
        for key, theirs_value in their_state.items():
            value = ours_state[key]
            assert isinstance(value, dc.Tensor), key
            assert value.dtype == np.dtype(torch_dtype_name(theirs_value)), key
            assert value.shape == tuple(theirs_value.shape), key
        if "step" in their_state:
            assert ours_state["step"].item() == their_state["step"].item() == 3.0


@pytest.mark.parametrize("name", ["Adam", "NAdam", "RMSprop"])
def test_float64_default_dtype_counts_in_float64_as_torch(name):
    before_ours, before_theirs = dc.get_default_dtype(), torch.get_default_dtype()
    dc.set_default_dtype(np.float64)
    torch.set_default_dtype(torch.float64)
    try:
        ours = getattr(optim, name)([param([1.0])])
        theirs = getattr(torch.optim, name)([torch.ones(1, requires_grad=True)])
        ours.param_groups[0]["params"][0].grad = np.ones(1)
        theirs.param_groups[0]["params"][0].grad = torch.ones(1)
        ours.step()
        theirs.step()
        for key, value in next(iter(theirs.state.values())).items():
            assert next(iter(ours.state.values()))[key].dtype == np.dtype(torch_dtype_name(value))
    finally:
        dc.set_default_dtype(before_ours)
        torch.set_default_dtype(before_theirs)


def test_state_tensors_are_live_and_state_dict_tensors_are_copies():
    w = param([1.0, 2.0])
    optimizer = optim.Adam([w], lr=0.1)
    w.grad = np.ones(2)
    optimizer.step()
    exp_avg = optimizer.state[w]["exp_avg"]
    saved = optimizer.state_dict()["state"][0]["exp_avg"]
    before = exp_avg.numpy().copy()
    optimizer.step()
    assert not np.array_equal(exp_avg.numpy(), before)  # the optimizer updates it in place
    np.testing.assert_array_equal(saved.numpy(), before)
    assert isinstance(exp_avg.clone(), dc.Tensor) and not exp_avg.requires_grad


def test_reading_the_state_of_a_parameter_not_stepped_yet_gives_an_empty_dict():
    w = param([1.0])
    optimizer = optim.Adam([w], lr=0.1)
    assert optimizer.state[w] == {}  # a defaultdict, as torch's
    w.grad = np.ones(1)
    optimizer.step()
    assert optimizer.state[w]["step"] == 1 and set(optimizer.state[w]) == {
        "step",
        "exp_avg",
        "exp_avg_sq",
    }


# -- loading torch's state dicts ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_state_dict_from_torch_continues_torchs_run(case):
    name, options, sign = options_of(case)

    def groups(ps):
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": options["lr"] / 2}]

    params = [torch.tensor(w, requires_grad=True) for w in WEIGHTS]
    theirs = getattr(torch.optim, name)(groups(params), **options)

    def torch_steps(steps):
        for _ in range(steps):
            theirs.zero_grad()
            mlp_loss_torch(params, sign).backward()
            theirs.step()

    torch_steps(10)
    halfway = [p.detach().numpy().copy() for p in params]
    # torch's own tensors, a float32 step, foreach, differentiable and the like in the groups
    torch_state = theirs.state_dict()
    ours, _ = train_descent(
        lambda ps: _loaded(getattr(optim, name)(groups(ps), **options), torch_state),
        10,
        sign,
        weights=halfway,
    )
    torch_steps(10)
    difference = max(np.abs(a - p.detach().numpy()).max() for a, p in zip(ours, params))
    assert difference < 1e-9, f"largest parameter difference to torch: {difference:.3g}"


def _loaded(optimizer, state):
    optimizer.load_state_dict(state)
    return optimizer


def test_a_state_dict_with_an_int_step_and_arrays_loads():
    w = param([1.0, 2.0], dtype="float32")
    optimizer = optim.Adam([w], lr=0.1)
    group = {**optimizer.state_dict()["param_groups"][0]}
    optimizer.load_state_dict(
        {
            "state": {0: {"step": 4, "exp_avg": np.ones(2), "exp_avg_sq": np.ones(2)}},
            "param_groups": [group],
        }
    )
    step = optimizer.state[w]["step"]
    assert isinstance(step, dc.Tensor) and step.dtype == np.float32 and step.item() == 4.0
    assert optimizer.state[w]["exp_avg"].dtype == np.float32
    w.grad = np.ones(2, np.float32)
    optimizer.step()
    assert optimizer.state[w]["step"].item() == 5.0


def test_a_scalar_field_of_many_numbers_is_refused():
    w = param([1.0, 2.0])
    optimizer = optim.NAdam([w])
    group = optimizer.state_dict()["param_groups"][0]
    state = {"step": 1, "mu_product": np.ones(2), "exp_avg": np.ones(2), "exp_avg_sq": np.ones(2)}
    with pytest.raises(ValueError, match=r"'mu_product' of parameter 0 must be one number"):
        optimizer.load_state_dict({"state": {0: state}, "param_groups": [group]})


def test_state_dict_survives_descent_save_and_load_exactly():
    def make(ps):
        return optim.NAdam(ps, lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)

    uninterrupted, _ = train_descent(make, 20)
    halfway, optimizer = train_descent(make, 10)
    buffer = io.BytesIO()
    dc.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    saved = dc.load(buffer)
    assert saved["state"][0]["mu_product"].dtype == np.float32
    resumed, _ = train_descent(lambda ps: _loaded(make(ps), saved), 10, weights=halfway)
    for a, b in zip(uninterrupted, resumed):
        np.testing.assert_array_equal(a, b)


# -- names ------------------------------------------------------------------


def test_every_optimizer_is_registered_by_its_lower_case_name():
    names = {case[1] for case in CASES}
    assert {optim.OPTIMIZERS[name.lower()] for name in names} == {getattr(optim, n) for n in names}
    for key, kind in optim.OPTIMIZERS.items():
        assert key == kind.__name__.lower() and hasattr(torch.optim, kind.__name__)


def test_create_builds_the_named_optimizer_with_its_options():
    w = dc.nn.Parameter(np.ones(3, np.float32))
    made = optim.create("adamw", [w], lr=0.5, betas=(0.8, 0.9))
    assert type(made) is optim.AdamW
    assert made.param_groups[0]["lr"] == 0.5 and made.param_groups[0]["betas"] == (0.8, 0.9)


def test_create_names_an_unknown_optimizer_and_the_close_ones():
    w = dc.nn.Parameter(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"unknown optimizer 'adm'; did you mean 'adam'"):
        optim.create("adm", [w])
    with pytest.raises(TypeError, match="momentm"):
        optim.create("sgd", [w], momentm=0.9)
