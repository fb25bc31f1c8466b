"""Learning-rate schedulers: torch's lr and momentum sequences, resuming, bad input."""

import json
import math
import warnings

import numpy as np
import pytest
import torch

import descent as dc
from descent import optim
from descent.optim import lr_scheduler, lr_schedules

STEPS = 300


def make_optimizer(lib, kind):
    """Two param groups with different lrs, in descent (lib=optim) or torch (lib=torch.optim)."""
    if lib is optim:
        params = [dc.tensor(np.zeros(2), requires_grad=True), dc.tensor([0.0], requires_grad=True)]
    else:
        params = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.03}]
    if kind == "sgd":
        return lib.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "adam":
        return lib.Adam(groups, lr=0.1)
    return lib.Adagrad(groups, lr=0.1)


def record(optimizer):
    groups = optimizer.param_groups
    momenta = [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in groups]
    return [g["lr"] for g in groups], momenta


def run(lib, kind, make_scheduler, steps=STEPS, metrics=None):
    """The lrs and momenta after construction and after each of `steps` steps."""
    optimizer = make_optimizer(lib, kind)
    schedulers = lr_scheduler if lib is optim else torch.optim.lr_scheduler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's warnings about the call order
        scheduler = make_scheduler(schedulers, optimizer)
        history = [record(optimizer)]
        for i in range(steps):
            history.append(advance(optimizer, scheduler, metrics, i))
    lrs, momenta = zip(*history)
    return np.array(lrs), np.array(momenta), scheduler


def advance(optimizer, scheduler, metrics, i):
    optimizer.step()  # no gradients: changes nothing, keeps torch from warning
    if metrics is None:
        scheduler.step()
    else:
        scheduler.step(metrics[i])
    return record(optimizer)


CASES = [
    ("step", "sgd", lambda s, o: s.StepLR(o, step_size=7, gamma=0.5)),
    ("step-default-gamma", "sgd", lambda s, o: s.StepLR(o, step_size=30)),
    ("multistep", "sgd", lambda s, o: s.MultiStepLR(o, milestones=[120, 10, 50, 50], gamma=0.3)),
    ("exponential", "sgd", lambda s, o: s.ExponentialLR(o, gamma=0.98)),
    ("cosine", "sgd", lambda s, o: s.CosineAnnealingLR(o, T_max=40, eta_min=1e-3)),
    ("cosine-one-period", "adam", lambda s, o: s.CosineAnnealingLR(o, T_max=STEPS)),
    ("cosine-eta-above", "sgd", lambda s, o: s.CosineAnnealingLR(o, T_max=7, eta_min=0.2)),
    ("linear-warmup", "sgd", lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=30)),
    ("linear-default", "sgd", lambda s, o: s.LinearLR(o)),
    ("linear-decay", "sgd", lambda s, o: s.LinearLR(o, 1.0, 0.05, total_iters=100)),
    ("lambda", "sgd", lambda s, o: s.LambdaLR(o, lambda epoch: 1 / (1 + 0.1 * epoch))),
    (
        "lambda-per-group",
        "sgd",
        lambda s, o: s.LambdaLR(o, [lambda e: 0.99**e, lambda e: 1 + (e % 10)]),
    ),
    ("one-cycle", "sgd", lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS)),
    (
        "one-cycle-adam-three-phase-linear",
        "adam",
        lambda s, o: s.OneCycleLR(
            o, max_lr=1.0, total_steps=310, three_phase=True, anneal_strategy="linear"
        ),
    ),
    (
        "one-cycle-epochs",
        "adam",
        lambda s, o: s.OneCycleLR(
            o,
            max_lr=0.3,
            epochs=10,
            steps_per_epoch=31,
            pct_start=0.25,
            base_momentum=[0.8, 0.7],
            max_momentum=0.9,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    (
        "one-cycle-no-momentum",
        "adagrad",
        lambda s, o: s.OneCycleLR(o, max_lr=0.3, total_steps=STEPS, cycle_momentum=False),
    ),
    (
        "cyclic",
        "sgd",
        lambda s, o: s.CyclicLR(
            o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=13, step_size_down=7
        ),
    ),
    (
        "cyclic-triangular2",
        "sgd",
        lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=20, mode="triangular2"),
    ),
    (
        "cyclic-exp-range-adam",
        "adam",
        lambda s, o: s.CyclicLR(
            o, [0.01, 0.02], 0.1, step_size_up=20, mode="exp_range", gamma=0.99
        ),
    ),
    (
        "cyclic-scale-fn",
        "sgd",
        lambda s, o: s.CyclicLR(
            o,
            0.01,
            0.1,
            step_size_up=9,
            scale_fn=lambda x: 1 / (1 + 0.01 * x),
            scale_mode="iterations",
            base_momentum=0.5,
            max_momentum=0.95,
        ),
    ),
    (
        "cyclic-no-momentum",
        "adagrad",
        lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=25, cycle_momentum=False),
    ),
    (
        "sequential",
        "sgd",
        lambda s, o: s.SequentialLR(
            o,
            [
                s.LinearLR(o, start_factor=0.1, total_iters=10),
                s.CosineAnnealingLR(o, T_max=100),
                s.ExponentialLR(o, gamma=0.99),
            ],
            milestones=[10, 110],
        ),
    ),
    (
        "sequential-step",
        "adam",
        lambda s, o: s.SequentialLR(
            o, [s.StepLR(o, 5, 0.5), s.MultiStepLR(o, [20, 40], 0.1)], milestones=[50]
        ),
    ),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize("kind, make", [case[1:] for case in CASES], ids=IDS)
def test_lr_and_momentum_sequences_match_torch(kind, make):
    lrs, momenta, _ = run(optim, kind, make)
    torch_lrs, torch_momenta, _ = run(torch.optim, kind, make)
    assert len(set(lrs[:, 0])) > 2, "the schedule should change the lr"
    np.testing.assert_allclose(lrs, torch_lrs, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(momenta, torch_momenta, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind, make", [case[1:] for case in CASES], ids=IDS)
def test_state_dict_round_trip_through_json_continues_identically(kind, make):
    lrs, momenta, _ = run(optim, kind, make)

    optimizer = make_optimizer(optim, kind)
    scheduler = make(lr_scheduler, optimizer)
    for _ in range(100):
        scheduler.step()
    saved = json.loads(json.dumps(scheduler.state_dict()))
    optimizer_state = optimizer.state_dict()

    optimizer = make_optimizer(optim, kind)
    scheduler = make(lr_scheduler, optimizer)  # built first, then loaded, as in torch
    optimizer.load_state_dict(optimizer_state)
    scheduler.load_state_dict(saved)
    assert scheduler.get_last_lr() == list(lrs[100])
    rest = [advance(optimizer, scheduler, None, i) for i in range(STEPS - 100)]
    np.testing.assert_array_equal([lr for lr, _ in rest], lrs[101:])
    np.testing.assert_array_equal([m for _, m in rest], momenta[101:])


# -- ReduceLROnPlateau ----------------------------------------------------------------------

RNG = np.random.default_rng(0)
LOSSES = list(5 + np.cumsum(RNG.standard_normal(STEPS)) * 0.1)  # a noisy walk with plateaus
ACCURACIES = list(np.minimum.accumulate(np.linspace(0.1, 0.9, STEPS)) + RNG.uniform(0, 0.05, STEPS))

PLATEAU_CASES = [
    ({}, LOSSES),
    ({"patience": 3, "factor": 0.5}, LOSSES),
    ({"patience": 2, "cooldown": 4, "factor": 0.7, "min_lr": [0.01, 0.001]}, LOSSES),
    ({"patience": 2, "threshold_mode": "abs", "threshold": 0.05, "factor": 0.5}, LOSSES),
    ({"mode": "max", "patience": 5, "factor": 0.5}, ACCURACIES),
    ({"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 1}, ACCURACIES),
    ({"patience": 0, "factor": 0.9, "eps": 1e-3}, LOSSES),
]


@pytest.mark.parametrize("options, metrics", PLATEAU_CASES)
def test_reduce_on_plateau_matches_torch(options, metrics):
    def make(s, o):
        return s.ReduceLROnPlateau(o, **options)

    lrs, _, scheduler = run(optim, "sgd", make, metrics=metrics)
    torch_lrs, _, torch_scheduler = run(torch.optim, "sgd", make, metrics=metrics)
    assert len(set(lrs[:, 0])) > 2, "the metrics should make it cut the lr"
    np.testing.assert_allclose(lrs, torch_lrs, rtol=1e-12, atol=0)
    assert scheduler.get_last_lr() == torch_scheduler.get_last_lr()
    assert scheduler.best == torch_scheduler.best
    assert scheduler.num_bad_epochs == torch_scheduler.num_bad_epochs


@pytest.mark.parametrize("options, metrics", PLATEAU_CASES[1:3])
def test_reduce_on_plateau_round_trip(options, metrics):
    lrs, _, _ = run(optim, "sgd", lambda s, o: s.ReduceLROnPlateau(o, **options), metrics=metrics)
    optimizer = make_optimizer(optim, "sgd")
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, **options)
    for metric in metrics[:100]:
        scheduler.step(metric)
    saved, optimizer_state = json.loads(json.dumps(scheduler.state_dict())), optimizer.state_dict()
    optimizer = make_optimizer(optim, "sgd")
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, **options)
    optimizer.load_state_dict(optimizer_state)
    scheduler.load_state_dict(saved)
    rest = [advance(optimizer, scheduler, metrics, i)[0] for i in range(100, STEPS)]
    np.testing.assert_array_equal(rest, lrs[101:])


def test_reduce_on_plateau_takes_a_tensor_metric():
    optimizer = make_optimizer(optim, "sgd")
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
    scheduler.step(dc.tensor(1.0))
    scheduler.step(dc.tensor(2.0))
    assert scheduler.get_last_lr() == pytest.approx([0.01, 0.003])


# -- construction, state, errors -----------------------------------------------------------


def test_construction_takes_the_first_step():
    optimizer = make_optimizer(optim, "sgd")
    scheduler = lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=4)
    assert scheduler.last_epoch == 0
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 0.03]
    assert scheduler.base_lrs == [0.1, 0.03]
    assert scheduler.get_last_lr() == [0.05, 0.015] == [g["lr"] for g in optimizer.param_groups]
    scheduler.step()
    assert scheduler.last_epoch == 1
    assert scheduler.get_last_lr() == pytest.approx([0.0625, 0.01875])


def test_schedules_are_plain_functions_of_the_step():
    optimizer = make_optimizer(optim, "sgd")
    scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=50, eta_min=0.001)
    for step in range(1, 80):
        scheduler.step()
        assert scheduler.get_last_lr()[0] == lr_schedules.cosine_annealing(step, 0.1, 50, 0.001)
    assert lr_schedules.one_cycle(0, 1.0, 10.0, 0.1, 100) == 1.0
    assert lr_schedules.one_cycle(29, 1.0, 10.0, 0.1, 100) == 10.0
    assert lr_schedules.one_cycle(99, 1.0, 10.0, 0.1, 100) == pytest.approx(0.1)
    assert lr_schedules.cyclic(5, 0.0, 1.0, step_size_up=10) == 0.5


def test_state_dict_holds_no_functions():
    optimizer = make_optimizer(optim, "sgd")
    scheduler = lr_scheduler.LambdaLR(optimizer, lambda e: 0.5**e)
    for _ in range(3):
        scheduler.step()
    state = json.loads(json.dumps(scheduler.state_dict()))
    assert state["lr_lambdas"] == [None, None] and state["last_epoch"] == 3
    scheduler.load_state_dict(state)
    scheduler.step()
    assert scheduler.get_last_lr() == [0.1 * 0.5**4, 0.03 * 0.5**4]
    cyclic = lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert "scale_fn" not in cyclic.state_dict()


def other_optimizer():
    return make_optimizer(optim, "sgd")


BAD_INPUT = [
    (
        lambda o: lr_scheduler.StepLR(o, step_size=0),
        ValueError,
        "Invalid step_size value: 0; step_size must be an integer >= 1",
    ),
    (
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0),
        ValueError,
        "Invalid T_max value: 0; T_max must be > 0",
    ),
    (
        lambda o: lr_scheduler.LinearLR(o, start_factor=0),
        ValueError,
        "Invalid start_factor value: 0",
    ),
    (
        lambda o: lr_scheduler.LinearLR(o, end_factor=1.5),
        ValueError,
        "Invalid end_factor value: 1.5",
    ),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), ValueError, "Invalid total_iters value: 0"),
    (lambda o: lr_scheduler.LambdaLR(o, [abs]), ValueError, "1 lr_lambdas for 2 param groups"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "must be a function of the epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0), ValueError, "give total_steps, or both"),
    (
        lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=0),
        ValueError,
        "Invalid total_steps value: 0",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=5),
        ValueError,
        "epochs=0 must be a positive integer",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=10, pct_start=1.5),
        ValueError,
        "Invalid pct_start value: 1.5",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="exp"),
        ValueError,
        "anneal_strategy='exp' must be one of 'cos', 'linear'",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, [1.0, 2.0, 3.0], total_steps=10),
        ValueError,
        "max_lr has 3 values for 2 param groups",
    ),
    (lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError, "mode='sine'"),
    (
        lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0, scale_mode="epochs"),
        ValueError,
        "scale_mode='epochs'",
    ),
    (
        lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0, step_size_up=0),
        ValueError,
        "Invalid step_size_up value: 0",
    ),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0),
        ValueError,
        r"Invalid factor value: 1.0; factor must be in \[0, 1\)",
    ),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode='avg'"),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"),
        ValueError,
        "threshold_mode='pct'",
    ),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]),
        ValueError,
        "min_lr has 1 values for 2 param groups",
    ),
    (lambda o: lr_scheduler.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
    (
        lambda o: lr_scheduler.SequentialLR(o, [object()], []),
        TypeError,
        "must be a descent LRScheduler, got object",
    ),
    (
        lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.StepLR(o, 5), lr_scheduler.StepLR(o, 7)], []
        ),
        ValueError,
        "2 schedulers need 1 milestones, got 0",
    ),
    (
        lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], []),
        ValueError,
        "ReduceLROnPlateau",
    ),
    (
        lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(other_optimizer(), 5)], []),
        ValueError,
        "another optimizer",
    ),
    (lambda o: lr_scheduler.StepLR(object(), 5), TypeError, "must be a descent Optimizer"),
    (lambda o: lr_scheduler.StepLR(o, 5, last_epoch=10), KeyError, "no 'initial_lr'"),
]


@pytest.mark.parametrize("make, error, message", BAD_INPUT)
def test_bad_input_is_refused_clearly(make, error, message):
    with pytest.raises(error, match=message):
        make(make_optimizer(optim, "sgd"))


def test_cycle_momentum_needs_momentum():
    optimizer = make_optimizer(optim, "adagrad")
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with momentum"):
        lr_scheduler.OneCycleLR(optimizer, 1.0, total_steps=10)
    with pytest.raises(ValueError, match="pass cycle_momentum=False"):
        lr_scheduler.CyclicLR(optimizer, 0.1, 1.0)


def test_one_cycle_refuses_to_go_past_total_steps():
    scheduler = lr_scheduler.OneCycleLR(make_optimizer(optim, "sgd"), 1.0, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="stepped 4 times, past total_steps=3"):
        scheduler.step()


def test_load_state_dict_from_another_scheduler_is_refused():
    optimizer = make_optimizer(optim, "sgd")
    saved = lr_scheduler.StepLR(optimizer, 5).state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['gamma', 'T_max'\]|was it saved"):
        lr_scheduler.CosineAnnealingLR(optimizer, 10).load_state_dict(saved)


def test_resuming_with_last_epoch():
    # The lr is the schedule's value at the new last_epoch. (torch's chainable
    # ExponentialLR would leave the lr where it was here: its closed form agrees with us.)
    optimizer = make_optimizer(optim, "sgd")
    lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5, last_epoch=3)
    assert scheduler.last_epoch == 4
    assert scheduler.get_last_lr() == [0.1 * 0.5**4, 0.03 * 0.5**4]
    assert math.isclose(optimizer.param_groups[0]["lr"], 0.00625)


SCALED = {
    "step": lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: lr_scheduler.MultiStepLR(o, [4, 9], gamma=0.5),
    "lambda": lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
    "cosine-eta-min": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.01),
    "linear": lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=10),
    "one-cycle": lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=30),
    "cyclic": lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="triangular2"),
    "sequential": lambda o: lr_scheduler.SequentialLR(
        o,
        [lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=4),
         lr_scheduler.ExponentialLR(o, gamma=0.9)],
        milestones=[4],
    ),
}  # fmt: skip


def run_scaled(make, scale_at, steps=25):
    """The lrs and momenta of a schedule whose lrs are halved just before step `scale_at`."""
    optimizer = optim.SGD([dc.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler, history = make(optimizer), []
    for step in range(steps):
        if step == scale_at:
            scheduler.scale_lr(0.5)
        history.append(record(optimizer))
        scheduler.step()
    lrs, momenta = zip(*history)
    return np.array(lrs), np.array(momenta), scheduler


@pytest.mark.parametrize("scale_at", [2, 6])
@pytest.mark.parametrize("make", SCALED.values(), ids=SCALED.keys())
def test_scale_lr_lowers_the_rest_of_the_schedule(make, scale_at):
    plain, plain_momenta, _ = run_scaled(make, scale_at=None)
    scaled, scaled_momenta, scheduler = run_scaled(make, scale_at)
    np.testing.assert_allclose(scaled[:scale_at], plain[:scale_at])
    np.testing.assert_allclose(scaled[scale_at:], plain[scale_at:] * 0.5, rtol=1e-12)
    np.testing.assert_array_equal(scaled_momenta, plain_momenta)  # momentum is not an lr
    assert scheduler.lr_scale == 0.5


def test_scale_lr_is_saved_with_the_state():
    make = SCALED["cyclic"]
    scaled, _, _ = run_scaled(make, scale_at=3)
    optimizer = optim.SGD([dc.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = make(optimizer)
    for step in range(10):
        if step == 3:
            scheduler.scale_lr(0.5)
        scheduler.step()
    saved = json.loads(json.dumps(scheduler.state_dict()))
    optimizer = optim.SGD([dc.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = make(optimizer)
    scheduler.load_state_dict(saved)
    rest = [advance(optimizer, scheduler, None, i)[0] for i in range(10, 24)]
    np.testing.assert_array_equal(rest, scaled[11:25])


def test_scale_lr_of_sequential_scales_each_scheduler_through_its_own_scale_lr():
    optimizer = optim.SGD([dc.zeros(2, requires_grad=True)], lr=0.1)
    first = lr_scheduler.StepLR(optimizer, step_size=2)
    second = lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    sequential = lr_scheduler.SequentialLR(optimizer, [first, second], milestones=[3])
    sequential.step()
    sequential.scale_lr(0.25)
    assert first.lr_scale == second.lr_scale == 0.25
    lr = optimizer.param_groups[0]["lr"]
    assert sequential.get_last_lr() == first.get_last_lr() == [lr] == [0.1 * 0.25]
    for _ in range(2):
        sequential.step()
    assert sequential.get_last_lr() == second.get_last_lr() == [0.1 * 0.25]


def test_nested_sequential_runs_as_the_flat_one():
    def flat(s, o):
        return s.SequentialLR(
            o,
            [s.LinearLR(o, start_factor=0.1, total_iters=10), s.CosineAnnealingLR(o, T_max=40),
             s.ExponentialLR(o, gamma=0.95)],
            milestones=[10, 50],
        )  # fmt: skip

    def nested(s, o):
        inner = s.SequentialLR(
            o,
            [s.LinearLR(o, start_factor=0.1, total_iters=10), s.CosineAnnealingLR(o, T_max=40)],
            milestones=[10],
        )
        return s.SequentialLR(o, [inner, s.ExponentialLR(o, gamma=0.95)], milestones=[50])

    np.testing.assert_array_equal(run(optim, "sgd", nested)[0], run(optim, "sgd", flat)[0])
    np.testing.assert_allclose(run(optim, "sgd", flat)[0], run(torch.optim, "sgd", flat)[0])


INTERVALS = {
    "LambdaLR": "epoch",
    "StepLR": "epoch",
    "MultiStepLR": "epoch",
    "ExponentialLR": "epoch",
    "CosineAnnealingLR": "epoch",
    "LinearLR": "epoch",
    "ReduceLROnPlateau": "epoch",
    "SequentialLR": "epoch",
    "OneCycleLR": "batch",
    "CyclicLR": "batch",
}


def test_interval_says_when_a_loop_steps_each_scheduler():
    public = {name for name in lr_scheduler.__all__ if name != "LRScheduler"}
    assert public == set(INTERVALS)
    for name, interval in INTERVALS.items():
        assert getattr(lr_scheduler, name).interval == interval, name
    assert "interval" not in lr_scheduler.StepLR(make_optimizer(optim, "sgd"), 3).state_dict()


def test_reduce_on_plateau_is_an_lr_scheduler_as_in_torch():
    optimizer = make_optimizer(optim, "sgd")
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer)
    torch_scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(torch.optim, "sgd"))
    assert isinstance(torch_scheduler, torch.optim.lr_scheduler.LRScheduler)
    assert isinstance(scheduler, lr_scheduler.LRScheduler)
    assert scheduler.last_epoch == torch_scheduler.last_epoch == 0
    assert scheduler.get_last_lr() == torch_scheduler.get_last_lr() == [0.1, 0.03]
    assert scheduler.base_lrs == [0.1, 0.03]
    with pytest.raises(NotImplementedError):
        scheduler.get_lr()  # no closed form, as in torch: each cut starts from the current lr


def test_scale_lr_on_plateau_keeps_the_lowered_lr():
    optimizer = optim.SGD([dc.zeros(2, requires_grad=True)], lr=0.1)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=100)
    scheduler.scale_lr(0.5)
    scheduler.step(1.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
