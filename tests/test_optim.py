"""Optimizers and gradient clipping: hand-computed steps, convergence, parity with torch.optim."""

import math

import numpy as np
import pytest
import scipy.optimize
import torch

import descent as dc
from descent import optim


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # Tiny tensors: torch's thread pool only adds overhead (and noise on a busy machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def param(values, dtype="float64"):
    return dc.tensor(np.array(values, dtype=float), dtype=dtype, requires_grad=True)


# -- one row per optimizer and option -----------------------------------------------------
# (id, optimizer, options, lr on the parabola, lr on Rosenbrock, Rosenbrock steps)

CASES = [
    ("sgd", "SGD", {}, 0.05, 1e-3, 20000),
    ("sgd-momentum", "SGD", {"momentum": 0.9}, 0.05, 1e-3, 10000),
    ("sgd-dampening", "SGD", {"momentum": 0.9, "dampening": 0.3}, 0.05, 1e-3, 10000),
    ("sgd-nesterov", "SGD", {"momentum": 0.9, "nesterov": True}, 0.05, 1e-3, 10000),
    ("sgd-weight-decay", "SGD", {"weight_decay": 0.01}, 0.05, 1e-3, 20000),
    ("sgd-maximize", "SGD", {"momentum": 0.5, "maximize": True}, 0.05, 1e-3, 10000),
    ("adam", "Adam", {}, 0.05, 3e-3, 10000),
    ("adam-betas-eps", "Adam", {"betas": (0.8, 0.99), "eps": 1e-6}, 0.05, 1e-3, 10000),
    ("adam-amsgrad", "Adam", {"amsgrad": True}, 0.05, 0.1, 10000),
    ("adam-weight-decay", "Adam", {"weight_decay": 0.01}, 0.05, 3e-3, 10000),
    ("adam-maximize", "Adam", {"maximize": True}, 0.05, 3e-3, 10000),
    (
        "adam-decoupled",
        "Adam",
        {"weight_decay": 0.01, "decoupled_weight_decay": True},
        0.05,
        3e-3,
        10000,
    ),
    ("adamw", "AdamW", {}, 0.05, 3e-3, 10000),
    ("adamw-amsgrad", "AdamW", {"amsgrad": True, "weight_decay": 1e-4}, 0.05, 0.1, 10000),
    ("rmsprop", "RMSprop", {}, 0.01, 1e-3, 10000),
    ("rmsprop-alpha-eps", "RMSprop", {"alpha": 0.9, "eps": 1e-6}, 0.01, 1e-3, 10000),
    ("rmsprop-momentum", "RMSprop", {"momentum": 0.9}, 0.01, 3e-4, 10000),
    ("rmsprop-centered", "RMSprop", {"centered": True}, 0.01, 3e-4, 10000),
    (
        "rmsprop-centered-momentum",
        "RMSprop",
        {"centered": True, "momentum": 0.9},
        0.01,
        3e-4,
        10000,
    ),
    ("rmsprop-weight-decay", "RMSprop", {"weight_decay": 0.01}, 0.01, 3e-4, 20000),
    ("rmsprop-maximize", "RMSprop", {"maximize": True}, 0.01, 1e-3, 10000),
    ("adagrad", "Adagrad", {}, 0.5, 0.3, 10000),
    ("adagrad-lr-decay", "Adagrad", {"lr_decay": 1e-4}, 0.5, 0.3, 20000),
    ("adagrad-weight-decay", "Adagrad", {"weight_decay": 0.01}, 0.5, 0.3, 10000),
    ("adagrad-initial-accumulator", "Adagrad", {"initial_accumulator_value": 0.5}, 0.5, 0.3, 10000),
    ("adagrad-eps", "Adagrad", {"eps": 1e-3}, 0.5, 0.3, 10000),
    ("adagrad-maximize", "Adagrad", {"maximize": True}, 0.5, 0.3, 10000),
    ("adadelta", "Adadelta", {}, 1.0, 0.01, 20000),
    ("adadelta-rho-eps", "Adadelta", {"rho": 0.95, "eps": 3e-6}, 1.0, 0.01, 20000),
    ("adadelta-weight-decay", "Adadelta", {"weight_decay": 0.01}, 0.5, 0.01, 20000),
    ("adadelta-maximize", "Adadelta", {"maximize": True}, 1.0, 0.01, 20000),
    ("adamax", "Adamax", {}, 0.1, 0.01, 10000),
    ("adamax-betas-eps", "Adamax", {"betas": (0.8, 0.99), "eps": 1e-6}, 0.1, 0.01, 10000),
    ("adamax-weight-decay", "Adamax", {"weight_decay": 0.01}, 0.1, 0.01, 10000),
    ("adamax-maximize", "Adamax", {"maximize": True}, 0.1, 0.01, 10000),
    ("nadam", "NAdam", {}, 0.05, 3e-3, 10000),
    (
        "nadam-momentum-decay-betas",
        "NAdam",
        {"momentum_decay": 0.02, "betas": (0.95, 0.999)},
        0.05,
        3e-3,
        10000,
    ),
    ("nadam-weight-decay", "NAdam", {"weight_decay": 0.01}, 0.05, 3e-3, 10000),
    (
        "nadam-decoupled",
        "NAdam",
        {"weight_decay": 0.01, "decoupled_weight_decay": True},
        0.05,
        1e-3,
        20000,
    ),
    ("nadam-maximize", "NAdam", {"maximize": True}, 0.05, 3e-3, 10000),
    ("radam", "RAdam", {}, 0.05, 3e-3, 10000),
    ("radam-betas-eps", "RAdam", {"betas": (0.8, 0.99), "eps": 1e-6}, 0.05, 3e-3, 10000),
    ("radam-weight-decay", "RAdam", {"weight_decay": 0.01}, 0.05, 3e-3, 10000),
    (
        "radam-decoupled",
        "RAdam",
        {"weight_decay": 0.01, "decoupled_weight_decay": True},
        0.05,
        1e-3,
        20000,
    ),
    ("radam-maximize", "RAdam", {"maximize": True}, 0.05, 3e-3, 10000),
]
IDS = [case[0] for case in CASES]
# The learning rates of the 200-step runs against torch. The options of a row must keep that
# run out of an unstable phase, where a last-bit difference (torch's lerp is a fused
# multiply-add) grows to 1e-2 within 100 steps: torch against itself with one weight moved by
# one ulp does that (Adadelta with rho 0.95 and eps 1e-4; NAdam with betas (0.8, 0.99)).
TRAJECTORY_LR = {
    "SGD": 0.1,
    "Adam": 0.01,
    "AdamW": 0.01,
    "RMSprop": 0.01,
    "Adagrad": 0.1,
    "Adadelta": 1.0,
    "Adamax": 0.01,
    "NAdam": 0.01,
    "RAdam": 0.01,
}


# -- a hand-computed step for each option ---------------------------------------------------

W0, G = [1.0, -2.0], [0.5, -0.25]
E = 1e-8  # the default eps of Adam and RMSprop


def nadam_momentum(t, beta1=0.5, momentum_decay=0.5):
    return beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))


# NAdam with betas (0.5, 0.75), momentum_decay 0.5: its momenta and their running product,
# which torch keeps in float32
MU1, MU2, MU3 = nadam_momentum(1), nadam_momentum(2), nadam_momentum(3)
P1 = float(np.float32(MU1))
P2 = float(np.float32(P1) * np.float32(MU2))
NADAM = {"lr": 0.1, "betas": (0.5, 0.75), "momentum_decay": 0.5}
# the first step from w = 1, g = 1: m = 0.5, v = 0.25, v / (1 - beta2) = 1
NADAM_STEP = 0.1 * (1 - MU1) / (1 - P1) / (1 + E) + 0.1 * MU2 / (1 - P1 * MU2) * 0.5 / (1 + E)

# RAdam with betas (0.5, 0.9): rho_inf = 19, and rho_t > 5 first at t = 6
RHO6 = 19 - 2 * 6 * 0.9**6 / (1 - 0.9**6)
R6 = math.sqrt((RHO6 - 4) * (RHO6 - 2) * 19 / (15 * 17 * RHO6))
# five steps of g = 0 and one of g = 1: m = 0.5, v = 0.1 at t = 6
RADAM_STEP6 = 0.1 * 0.5 / (1 - 0.5**6) * R6 * math.sqrt(1 - 0.9**6)
RADAM = {"lr": 0.1, "betas": (0.5, 0.9)}
SINGLE_STEPS = [
    # (id, optimizer, options, start, gradients applied in turn, expected weights)
    ("sgd", "SGD", {"lr": 0.1}, W0, [G], [0.95, -1.975]),
    # b1 = g, b2 = 0.9 g + g: w0 - 0.1 * 2.9 * g
    ("sgd-momentum", "SGD", {"lr": 0.1, "momentum": 0.9}, W0, [G, G], [0.855, -1.9275]),
    # b1 = g (no dampening at the first step), b2 = 0.9 g + 0.5 g: w0 - 0.1 * 2.4 * g
    (
        "sgd-dampening",
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
        W0,
        [G, G],
        [0.88, -1.94],
    ),
    # d1 = g + 0.9 g = 1.9 g; b2 = 1.9 g, d2 = g + 0.9 * 1.9 g = 2.71 g: w0 - 0.1 * 4.61 * g
    (
        "sgd-nesterov",
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        W0,
        [G, G],
        [0.7695, -1.88475],
    ),
    # g + 0.1 w0 = [0.6, -0.45]
    ("sgd-weight-decay", "SGD", {"lr": 0.1, "weight_decay": 0.1}, W0, [G], [0.94, -1.955]),
    ("sgd-maximize", "SGD", {"lr": 0.1, "maximize": True}, W0, [G], [1.05, -2.025]),
    # betas (0.5, 0.75), g = 1 then 0.5: m = 0.5, v = 0.25, m^ = v^ = 1; then
    # m = 0.5, m^ = 0.5 / 0.75 = 2/3, v = 0.75 * 0.25 + 0.25 * 0.25 = 0.25, v^ = 0.25 / 0.4375 = 4/7
    (
        "adam",
        "Adam",
        {"lr": 0.1, "betas": (0.5, 0.75)},
        [1.0],
        [[1.0], [0.5]],
        [1 - 0.1 / (1 + E) - 0.1 * (2 / 3) / (math.sqrt(4 / 7) + E)],
    ),
    # g = 1 then 0.25: m^ = 0.375 / 0.75 = 0.5; v falls to 0.203125, its maximum stays 0.25
    (
        "adam-amsgrad",
        "Adam",
        {"lr": 0.1, "betas": (0.5, 0.75), "amsgrad": True},
        [1.0],
        [[1.0], [0.25]],
        [1 - 0.1 / (1 + E) - 0.1 * 0.5 / (math.sqrt(0.25 / 0.4375) + E)],
    ),
    (
        "adam-no-amsgrad",
        "Adam",
        {"lr": 0.1, "betas": (0.5, 0.75)},
        [1.0],
        [[1.0], [0.25]],
        [1 - 0.1 / (1 + E) - 0.1 * 0.5 / (math.sqrt(0.203125 / 0.4375) + E)],
    ),
    ("adam-eps", "Adam", {"lr": 0.1, "eps": 1.0}, [1.0], [[1.0]], [0.95]),
    # g + 0.5 w = 1.5, and the first step has m^ / sqrt(v^) = 1.5 / 1.5
    (
        "adam-weight-decay",
        "Adam",
        {"lr": 0.1, "weight_decay": 0.5},
        [1.0],
        [[1.0]],
        [1 - 0.1 * 1.5 / (1.5 + E)],
    ),
    ("adam-maximize", "Adam", {"lr": 0.1, "maximize": True}, [1.0], [[1.0]], [1 + 0.1 / (1 + E)]),
    # w * (1 - 0.1 * 0.5), then the Adam step of g = 1
    (
        "adam-decoupled",
        "Adam",
        {"lr": 0.1, "weight_decay": 0.5, "decoupled_weight_decay": True},
        [1.0],
        [[1.0]],
        [0.95 - 0.1 / (1 + E)],
    ),
    ("adamw", "AdamW", {"lr": 0.1, "weight_decay": 0.5}, [1.0], [[1.0]], [0.95 - 0.1 / (1 + E)]),
    ("adamw-default-decay", "AdamW", {"lr": 0.1}, [1.0], [[1.0]], [0.999 - 0.1 / (1 + E)]),
    # alpha 0.5, g = 1 then 0.5: v = 0.5, then 0.25 + 0.125 = 0.375
    (
        "rmsprop",
        "RMSprop",
        {"lr": 0.1, "alpha": 0.5},
        [1.0],
        [[1.0], [0.5]],
        [1 - 0.1 / (math.sqrt(0.5) + E) - 0.1 * 0.5 / (math.sqrt(0.375) + E)],
    ),
    # the default alpha 0.99: v = 0.01
    ("rmsprop-alpha", "RMSprop", {"lr": 0.1}, [1.0], [[1.0]], [1 - 0.1 / (0.1 + E)]),
    (
        "rmsprop-eps",
        "RMSprop",
        {"lr": 0.1, "alpha": 0.5, "eps": 0.5},
        [1.0],
        [[1.0]],
        [1 - 0.1 / (math.sqrt(0.5) + 0.5)],
    ),
    # b = d1, then 0.9 d1 + d2
    (
        "rmsprop-momentum",
        "RMSprop",
        {"lr": 0.1, "alpha": 0.5, "momentum": 0.9},
        [1.0],
        [[1.0], [0.5]],
        [1 - 0.1 * 1.9 / (math.sqrt(0.5) + E) - 0.1 * 0.5 / (math.sqrt(0.375) + E)],
    ),
    # a = 0.5, sqrt(0.5 - 0.25); then a = 0.5, sqrt(0.375 - 0.25)
    (
        "rmsprop-centered",
        "RMSprop",
        {"lr": 0.1, "alpha": 0.5, "centered": True},
        [1.0],
        [[1.0], [0.5]],
        [1 - 0.1 / (0.5 + E) - 0.1 * 0.5 / (math.sqrt(0.125) + E)],
    ),
    # g + 0.5 w = 1.5, v = 0.5 * 2.25
    (
        "rmsprop-weight-decay",
        "RMSprop",
        {"lr": 0.1, "alpha": 0.5, "weight_decay": 0.5},
        [1.0],
        [[1.0]],
        [1 - 0.1 * 1.5 / (math.sqrt(1.125) + E)],
    ),
    (
        "rmsprop-maximize",
        "RMSprop",
        {"lr": 0.1, "alpha": 0.5, "maximize": True},
        [1.0],
        [[1.0]],
        [1 + 0.1 / (math.sqrt(0.5) + E)],
    ),
    # g = 1 then 0.5: s = 1, then 1.25
    (
        "adagrad",
        "Adagrad",
        {"lr": 0.1},
        [1.0],
        [[1.0], [0.5]],
        [1 - 0.1 / (1 + 1e-10) - 0.1 * 0.5 / (math.sqrt(1.25) + 1e-10)],
    ),
    # the second step's lr is 0.1 / (1 + 1 * 0.5)
    (
        "adagrad-lr-decay",
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.5},
        [1.0],
        [[1.0], [0.5]],
        [1 - 0.1 / (1 + 1e-10) - 0.1 / 1.5 * 0.5 / (math.sqrt(1.25) + 1e-10)],
    ),
    # s = 3 + 1
    (
        "adagrad-initial-accumulator",
        "Adagrad",
        {"lr": 0.1, "initial_accumulator_value": 3.0},
        [1.0],
        [[1.0]],
        [1 - 0.1 / (2 + 1e-10)],
    ),
    (
        "adagrad-weight-decay",
        "Adagrad",
        {"lr": 0.1, "weight_decay": 0.5},
        [1.0],
        [[1.0]],
        [1 - 0.1 * 1.5 / (1.5 + 1e-10)],
    ),
    ("adagrad-eps", "Adagrad", {"lr": 0.1, "eps": 1.0}, [1.0], [[1.0]], [0.95]),
    (
        "adagrad-maximize",
        "Adagrad",
        {"lr": 0.1, "maximize": True},
        [1.0],
        [[1.0]],
        [1 + 0.1 / (1 + 1e-10)],
    ),
    # rho 0.5, g = 1 then 0.5: v = 0.5, d1 = sqrt(eps) / sqrt(0.5 + eps), u = 0.5 d1^2;
    # then v = 0.375, d2 = sqrt(u + eps) / sqrt(0.375 + eps) * 0.5
    (
        "adadelta",
        "Adadelta",
        {"rho": 0.5},
        [1.0],
        [[1.0], [0.5]],
        [
            1
            - math.sqrt(1e-6 / (0.5 + 1e-6))
            - math.sqrt((0.5 * 1e-6 / (0.5 + 1e-6) + 1e-6) / (0.375 + 1e-6)) * 0.5
        ],
    ),
    # eps 1: d = sqrt(0 + 1) / sqrt(0.5 + 1)
    ("adadelta-eps", "Adadelta", {"rho": 0.5, "eps": 1.0}, [1.0], [[1.0]], [1 - 1 / 1.5**0.5]),
    (
        "adadelta-lr",
        "Adadelta",
        {"lr": 0.5, "rho": 0.5, "eps": 1.0},
        [1.0],
        [[1.0]],
        [1 - 0.5 / 1.5**0.5],
    ),
    # the default rho 0.9: v = 0.1
    ("adadelta-rho", "Adadelta", {"eps": 1.0}, [1.0], [[1.0]], [1 - 1 / math.sqrt(1.1)]),
    # g + 0.5 w = 1.5, v = 0.5 * 2.25
    (
        "adadelta-weight-decay",
        "Adadelta",
        {"rho": 0.5, "eps": 1.0, "weight_decay": 0.5},
        [1.0],
        [[1.0]],
        [1 - 1.5 / math.sqrt(2.125)],
    ),
    (
        "adadelta-maximize",
        "Adadelta",
        {"rho": 0.5, "eps": 1.0, "maximize": True},
        [1.0],
        [[1.0]],
        [1 + 1 / math.sqrt(1.5)],
    ),
    # betas (0.5, 0.75), g = 1 then 0.5: m = 0.5, u = 1 + eps; m = 0.5, u = 0.75 (1 + eps)
    (
        "adamax",
        "Adamax",
        {"lr": 0.1, "betas": (0.5, 0.75)},
        [1.0],
        [[1.0], [0.5]],
        [1 - 0.1 / (1 + E) - 0.1 / 0.75 * 0.5 / (0.75 * (1 + E))],
    ),
    # g = 1 then 2: the maximum takes |g| + eps = 2 + eps, m = 1.25
    (
        "adamax-max",
        "Adamax",
        {"lr": 0.1, "betas": (0.5, 0.75)},
        [1.0],
        [[1.0], [2.0]],
        [1 - 0.1 / (1 + E) - 0.1 / 0.75 * 1.25 / (2 + E)],
    ),
    # u = max(0, 1 + 1): lr / (1 - 0.9) * 0.1 / 2
    ("adamax-eps", "Adamax", {"lr": 0.1, "eps": 1.0}, [1.0], [[1.0]], [0.95]),
    (
        "adamax-weight-decay",
        "Adamax",
        {"lr": 0.1, "weight_decay": 0.5},
        [1.0],
        [[1.0]],
        [1 - 0.1 * 1.5 / (1.5 + E)],
    ),
    (
        "adamax-maximize",
        "Adamax",
        {"lr": 0.1, "maximize": True},
        [1.0],
        [[1.0]],
        [1 + 0.1 / (1 + E)],
    ),  # fmt: skip
    ("nadam", "NAdam", NADAM, [1.0], [[1.0]], [1 - NADAM_STEP]),
    # then g = 0.5: m = 0.5, v = 0.25, v^ = 0.25 / 0.4375
    (
        "nadam-two-steps",
        "NAdam",
        NADAM,
        [1.0],
        [[1.0], [0.5]],
        [
            1
            - NADAM_STEP
            - 0.1 * (1 - MU2) / (1 - P2) * 0.5 / (math.sqrt(0.25 / 0.4375) + E)
            - 0.1 * MU3 / (1 - P2 * MU3) * 0.5 / (math.sqrt(0.25 / 0.4375) + E)
        ],
    ),
    # momentum_decay 0: mu = beta1 / 2 = 0.25 at every step, the product 0.25 at the first
    (
        "nadam-no-momentum-decay",
        "NAdam",
        {**NADAM, "momentum_decay": 0.0},
        [1.0],
        [[1.0]],
        [1 - 0.1 / (1 + E) - 0.1 * 0.25 / (1 - 0.0625) * 0.5 / (1 + E)],
    ),
    (
        "nadam-eps",
        "NAdam",
        {**NADAM, "eps": 1.0},
        [1.0],
        [[1.0]],
        [1 - 0.1 * (1 - MU1) / (1 - P1) / 2 - 0.1 * MU2 / (1 - P1 * MU2) * 0.5 / 2],
    ),
    # g + 0.5 w = 1.5: m = 0.75, v^ = 2.25
    (
        "nadam-weight-decay",
        "NAdam",
        {**NADAM, "weight_decay": 0.5},
        [1.0],
        [[1.0]],
        [
            1
            - 0.1 * (1 - MU1) / (1 - P1) * 1.5 / (1.5 + E)
            - 0.1 * MU2 / (1 - P1 * MU2) * 0.75 / (1.5 + E)
        ],
    ),  # fmt: skip
    (
        "nadam-decoupled",
        "NAdam",
        {**NADAM, "weight_decay": 0.5, "decoupled_weight_decay": True},
        [1.0],
        [[1.0]],
        [0.95 - NADAM_STEP],
    ),
    ("nadam-maximize", "NAdam", {**NADAM, "maximize": True}, [1.0], [[1.0]], [1 + NADAM_STEP]),
    # rho_1 = 1 <= 5: the first step is lr * m^ = lr * g, not normalised as Adam's
    ("radam-first-step", "RAdam", {"lr": 0.1}, [1.0], [[2.0]], [0.8]),
    ("radam", "RAdam", RADAM, [1.0], [[0.0]] * 5 + [[1.0]], [1 - RADAM_STEP6 / (0.1**0.5 + E)]),
    (
        "radam-eps",
        "RAdam",
        {**RADAM, "eps": 1.0},
        [1.0],
        [[0.0]] * 5 + [[1.0]],
        [1 - RADAM_STEP6 / (math.sqrt(0.1) + 1)],
    ),
    # g + 0.5 w = 1.5
    ("radam-weight-decay", "RAdam", {"lr": 0.1, "weight_decay": 0.5}, [1.0], [[1.0]], [0.85]),
    # w shrinks by 1 - 0.1 * 0.2 at each step, and m and v see only the gradient
    (
        "radam-decoupled",
        "RAdam",
        {**RADAM, "weight_decay": 0.2, "decoupled_weight_decay": True},
        [1.0],
        [[0.0]] * 5 + [[1.0]],
        [0.98**6 - RADAM_STEP6 / (math.sqrt(0.1) + E)],
    ),
    ("radam-maximize", "RAdam", {"lr": 0.1, "maximize": True}, [1.0], [[1.0]], [1.1]),
]


@pytest.mark.parametrize(
    "name, options, start, grads, expected",
    [row[1:] for row in SINGLE_STEPS],
    ids=[row[0] for row in SINGLE_STEPS],
)
def test_hand_computed_steps(name, options, start, grads, expected):
    w = param(start)
    optimizer = getattr(optim, name)([w], **options)
    for g in grads:
        w.grad = np.array(g)
        optimizer.step()
    np.testing.assert_allclose(w.data, expected, rtol=1e-13, atol=1e-15)


def test_plain_sgd_is_exactly_w_minus_lr_grad():
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5, 7)).astype(np.float32)
    g = rng.standard_normal((5, 7)).astype(np.float32)
    w = dc.tensor(w0.copy(), requires_grad=True)
    w.grad = g.copy()
    optim.SGD([w], lr=0.03).step()
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w.data, w0 - np.float32(0.03) * g)
    np.testing.assert_array_equal(w.grad, g)  # the gradient is left alone


# -- convergence ----------------------------------------------------------------------------

A, C = np.array([1.0, 4.0, 10.0]), np.array([1.0, -2.0, 3.0])


def parabola(w):
    return 0.5 * np.sum(A * (w - C) ** 2)


def parabola_grad(w):
    return A * (w - C)


def rosenbrock(w):
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def rosenbrock_grad(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def descend(name, options, grad, start, steps):
    w = param(start)
    optimizer = getattr(optim, name)([w], **options)
    sign = -1.0 if options.get("maximize") else 1.0  # maximize -f: the same minimum
    for _ in range(steps):
        w.grad = sign * grad(w.data)
        optimizer.step()
    return w.data


def minimum(objective, grad, start, options):
    """Where the optimizer should end: coupled weight decay adds wd / 2 * |w|^2 to f."""
    wd = 0.0 if options.get("decoupled_weight_decay") else options.get("weight_decay", 0.0)
    result = scipy.optimize.minimize(
        lambda w: objective(w) + wd / 2 * w @ w,
        start,
        jac=lambda w: grad(w) + wd * w,
        method="BFGS",
        options={"gtol": 1e-12},
    )
    return result.x


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_converges_on_a_parabola(case):
    _, name, options, lr, _, _ = case
    w = descend(name, {**options, "lr": lr}, parabola_grad, np.zeros(3), 2000)
    np.testing.assert_allclose(w, minimum(parabola, parabola_grad, C, options), atol=1e-2)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_converges_on_rosenbrock(case):
    _, name, options, _, lr, steps = case
    w = descend(name, {**options, "lr": lr}, rosenbrock_grad, np.array([-1.2, 1.0]), steps)
    target = minimum(rosenbrock, rosenbrock_grad, np.ones(2), options)
    np.testing.assert_allclose(w, target, atol=3e-2)
    assert rosenbrock(w) < 1e-2 + rosenbrock(target)


# -- against torch.optim on a small network ---------------------------------------------------

RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((16, 3)), RNG.standard_normal((16, 2))
WEIGHTS = [
    RNG.standard_normal((3, 8)) * 0.5,
    RNG.standard_normal(8) * 0.1,
    RNG.standard_normal((8, 2)) * 0.5,
    RNG.standard_normal(2) * 0.1,
]


def mlp_loss_descent(params, sign=1.0):
    w1, b1, w2, b2 = params
    x, y = dc.tensor(X, dtype="float64"), dc.tensor(Y, dtype="float64")
    return (((x @ w1 + b1).tanh() @ w2 + b2 - y) ** 2).mean() * sign


def mlp_loss_torch(params, sign=1.0):
    w1, b1, w2, b2 = params
    x, y = torch.tensor(X), torch.tensor(Y)
    return ((torch.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean() * sign


def train_descent(make_optimizer, steps, sign=1.0, weights=None):
    params = [param(w) for w in weights or WEIGHTS]
    optimizer = make_optimizer(params)
    for _ in range(steps):
        optimizer.zero_grad()
        mlp_loss_descent(params, sign).backward()
        optimizer.step()
    return [p.detach().numpy() for p in params], optimizer


def train_torch(make_optimizer, steps, sign=1.0):
    params = [torch.tensor(w, requires_grad=True) for w in WEIGHTS]
    optimizer = make_optimizer(params)
    for _ in range(steps):
        optimizer.zero_grad()
        mlp_loss_torch(params, sign).backward()
        optimizer.step()
    return [p.detach().numpy() for p in params]


def assert_close_to_torch(ours, theirs, start=WEIGHTS):
    moved = max(np.abs(a - w).max() for a, w in zip(theirs, start))
    assert moved > 0.05, "the run barely moved: it would not tell the optimizers apart"
    difference = max(np.abs(a - b).max() for a, b in zip(ours, theirs))
    assert difference < 1e-6, f"largest parameter difference to torch: {difference:.3g}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_trajectory_matches_torch(case):
    _, name, options, _, _, _ = case
    options = {**options, "lr": TRAJECTORY_LR[name]}
    sign = -1.0 if options.get("maximize") else 1.0
    ours, _ = train_descent(lambda ps: getattr(optim, name)(ps, **options), 200, sign)
    theirs = train_torch(lambda ps: getattr(torch.optim, name)(ps, **options), 200, sign)
    assert_close_to_torch(ours, theirs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "NAdam"])
def test_param_groups_with_their_own_options_match_torch(name):
    first = {"lr": {"SGD": 0.2, "Adagrad": 0.2, "Adadelta": 2.0}.get(name, 0.02)}
    second = {"lr": first["lr"] / 10, "weight_decay": 0.1}

    def groups(ps):
        return [{"params": ps[:2], **first}, {"params": ps[2:], **second}]

    ours, optimizer = train_descent(lambda ps: getattr(optim, name)(groups(ps)), 200)
    theirs = train_torch(lambda ps: getattr(torch.optim, name)(groups(ps)), 200)
    assert_close_to_torch(ours, theirs)
    assert [g["lr"] for g in optimizer.param_groups] == [first["lr"], second["lr"]]
    assert optimizer.param_groups[0]["weight_decay"] == 0  # the default fills the rest


def test_a_group_with_lr_zero_stays_put():
    ours, _ = train_descent(
        lambda ps: optim.Adam([{"params": ps[:2], "lr": 0.0}, {"params": ps[2:]}], lr=0.01), 20
    )
    np.testing.assert_array_equal(ours[0], WEIGHTS[0])
    np.testing.assert_array_equal(ours[1], WEIGHTS[1])
    assert np.abs(ours[2] - WEIGHTS[2]).max() > 1e-3


# -- state_dict -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_resumes_exactly(case):
    _, name, options, _, _, _ = case
    options = {**options, "lr": TRAJECTORY_LR[name]}
    sign = -1.0 if options.get("maximize") else 1.0

    def make(ps):
        return getattr(optim, name)(
            [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.005}], **options
        )

    uninterrupted, _ = train_descent(make, 20, sign)
    halfway, optimizer = train_descent(make, 10, sign)
    saved = optimizer.state_dict()
    train_more = [p.copy() for p in halfway]
    optimizer.step()  # a later step must not change what was saved

    params = [param(w) for w in train_more]
    resumed = make(params)
    resumed.load_state_dict(saved)
    for _ in range(10):
        resumed.zero_grad()
        mlp_loss_descent(params, sign).backward()
        resumed.step()
    for a, b in zip(uninterrupted, params):
        np.testing.assert_array_equal(a, b.data)


def test_state_dict_layout_is_torchs():
    _, optimizer = train_descent(lambda ps: optim.Adam([{"params": ps[:1]}, {"params": ps[1:]}]), 3)
    state = optimizer.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1, 2, 3]]
    assert state["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(state["state"]) == [0, 1, 2, 3]
    assert state["state"][2]["step"] == 3
    assert set(state["state"][2]) == {"step", "exp_avg", "exp_avg_sq"}
    assert isinstance(state["state"][2]["exp_avg"], dc.Tensor)  # as torch's, a tensor
    assert state["state"][2]["exp_avg"].shape == WEIGHTS[2].shape
    assert state["state"][2]["step"].dtype == np.float32 and state["state"][2]["step"].ndim == 0
    torch_optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    assert set(optimizer.defaults) <= set(torch_optimizer.state_dict()["param_groups"][0])


@pytest.mark.parametrize("name", sorted({case[1] for case in CASES}))
def test_names_and_defaults_are_torchs(name):
    ours = getattr(optim, name)([param([1.0])])
    theirs = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
    assert {k: theirs.defaults[k] for k in ours.defaults} == ours.defaults


def test_plain_sgd_keeps_no_state():
    _, optimizer = train_descent(lambda ps: optim.SGD(ps, lr=0.1), 2)
    assert optimizer.state_dict()["state"] == {}


def test_load_state_dict_refuses_what_does_not_fit():
    _, optimizer = train_descent(lambda ps: optim.Adam([{"params": ps[:2]}, {"params": ps[2:]}]), 2)
    saved = optimizer.state_dict()
    params = [param(w) for w in WEIGHTS]
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        optim.Adam(params).load_state_dict(saved)
    with pytest.raises(ValueError, match="param group 1 has 2 parameters in the state and 1"):
        optim.Adam([{"params": params[:2]}, {"params": params[2:3]}]).load_state_dict(saved)
    swapped = [params[0], params[1], params[3], params[2]]  # shapes (2,) and (8, 2) swapped
    target = optim.Adam([{"params": swapped[:2]}, {"params": swapped[2:]}])
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 2 has shape \(8, 2\)"):
        target.load_state_dict(saved)
    assert target.state == {}  # nothing was loaded
    with pytest.raises(ValueError, match="lacks the options"):
        optim.SGD([{"params": params[:2]}, {"params": params[2:]}]).load_state_dict(
            optim.Adagrad([{"params": params[:2]}, {"params": params[2:]}]).state_dict()
        )


def test_load_state_dict_casts_and_copies():
    w = param([1.0, 2.0], dtype="float32")
    optimizer = optim.SGD([w], lr=0.1, momentum=0.9)
    saved = {
        "state": {"0": {"momentum_buffer": np.array([1.0, 1.0])}},
        "param_groups": [{**optimizer.state_dict()["param_groups"][0], "lr": 0.5}],
    }
    optimizer.load_state_dict(saved)
    buffer = optimizer.state[w]["momentum_buffer"]
    assert buffer.dtype == np.float32 and buffer is not saved["state"]["0"]["momentum_buffer"]
    assert optimizer.param_groups[0]["lr"] == 0.5 and optimizer.param_groups[0]["params"] == [w]


# -- the loop -------------------------------------------------------------------------------


def test_parameters_without_a_gradient_are_skipped():
    a, b = param([1.0, 2.0]), param([3.0])
    a.grad = np.array([1.0, 1.0])
    optimizer = optim.Adam([a, b], lr=0.1)
    optimizer.step()
    assert b.data.tolist() == [3.0] and b not in optimizer.state
    assert optimizer.state[a]["step"] == 1


def test_float32_parameters_keep_float32_state():
    w = param(np.ones((3, 2)), dtype="float32")
    w.grad = np.full((3, 2), 0.5, dtype=np.float32)
    optimizer = optim.Adam([w], lr=0.1, amsgrad=True)
    optimizer.step()
    assert w.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in optimizer.state[w].items() if k != "step")


def test_zero_grad():
    a, b = param([1.0]), param([2.0])
    a.grad, b.grad = np.array([3.0]), np.array([4.0])
    grad = b.grad
    optimizer = optim.SGD([a, b])
    optimizer.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0] and b.grad is grad and grad.tolist() == [0.0]
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_with_a_closure():
    w = param([3.0])
    optimizer = optim.SGD([w], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with dc.no_grad():  # the closure records its graph all the same
        loss = optimizer.step(closure)
    assert loss.item() == 9.0 and w.data.tolist() == [1.5]


def test_add_param_group_and_named_parameters():
    a, b = param([1.0]), param([2.0])
    optimizer = optim.SGD([("a", a)], lr=0.1, momentum=0.5)
    optimizer.add_param_group({"params": [("b", b)], "lr": 0.01})
    assert optimizer.param_groups[1]["momentum"] == 0.5
    assert [g["param_names"] for g in optimizer.param_groups] == [["a"], ["b"]]
    a.grad, b.grad = np.array([1.0]), np.array([1.0])
    optimizer.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 1.99])
    assert "lr: 0.01" in repr(optimizer)


BAD_INPUT = [
    (
        lambda p: optim.SGD(p, lr=-0.1),
        ValueError,
        "SGD: Invalid learning rate: -0.1; lr must be >= 0",
    ),
    (
        lambda p: optim.SGD(p, momentum=-0.5),
        ValueError,
        "SGD: Invalid momentum value: -0.5; momentum must be >= 0",
    ),
    (
        lambda p: optim.SGD(p, weight_decay=-1),
        ValueError,
        "SGD: Invalid weight_decay value: -1; weight_decay must be >= 0",
    ),
    (lambda p: optim.SGD(p, nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    (
        lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        "dampening=0.1",
    ),
    (lambda p: optim.SGD(p, momentm=0.9), TypeError, "unexpected keyword argument 'momentm'"),
    (
        lambda p: optim.SGD([{"params": p, "lr": -1.0}]),
        ValueError,
        "SGD: Invalid learning rate: -1.0",
    ),
    (
        lambda p: optim.Adam(p, lr=-1e-3),
        ValueError,
        "Adam: Invalid learning rate: -0.001; lr must be >= 0",
    ),
    (
        lambda p: optim.Adam(p, betas=(0.9, 1.0)),
        ValueError,
        r"Adam: Invalid beta parameter at index 1: 1.0; betas must be two numbers in \[0, 1\)",
    ),
    (
        lambda p: optim.Adam(p, betas=(-0.1, 0.9)),
        ValueError,
        "Invalid beta parameter at index 0: -0.1",
    ),
    (
        lambda p: optim.Adam(p, eps=-1e-8),
        ValueError,
        "Adam: Invalid epsilon value: -1e-08; eps must be >= 0",
    ),
    (
        lambda p: optim.Adam(p, weight_decay=-0.1),
        ValueError,
        "Adam: Invalid weight_decay value: -0.1",
    ),
    (lambda p: optim.Adam(p, foreach=True), TypeError, "unexpected keyword argument 'foreach'"),
    (lambda p: optim.AdamW(p, lr=-1.0), ValueError, "AdamW: Invalid learning rate: -1.0"),
    (
        lambda p: optim.AdamW(p, decoupled_weight_decay=False),
        TypeError,
        "AdamW.__init__.. got an unexpected keyword argument 'decoupled_weight_decay'",
    ),
    (
        lambda p: optim.RMSprop(p, alpha=-0.9),
        ValueError,
        "RMSprop: Invalid alpha value: -0.9; alpha must be >= 0",
    ),
    (lambda p: optim.RMSprop(p, momentum=-1), ValueError, "RMSprop: Invalid momentum value: -1"),
    (lambda p: optim.RMSprop(p, eps=-1.0), ValueError, "RMSprop: Invalid epsilon value: -1.0"),
    (
        lambda p: optim.Adagrad(p, lr_decay=-0.1),
        ValueError,
        "Adagrad: Invalid lr_decay value: -0.1; lr_decay must be >= 0",
    ),
    (
        lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
        ValueError,
        "Invalid initial_accumulator_value value: -1",
    ),
    (lambda p: optim.Adagrad(p, eps=-1.0), ValueError, "Adagrad: Invalid epsilon value: -1.0"),
    (lambda p: optim.Adadelta(p, lr=-1.0), ValueError, "Adadelta: Invalid learning rate: -1.0"),
    (
        lambda p: optim.Adadelta(p, rho=1.5),
        ValueError,
        r"Adadelta: Invalid rho value: 1.5; rho must be in \[0, 1\]",
    ),
    (lambda p: optim.Adadelta(p, eps=-1e-6), ValueError, "Adadelta: Invalid epsilon value: -1e-06"),
    (
        lambda p: optim.Adadelta(p, weight_decay=-1),
        ValueError,
        "Adadelta: Invalid weight_decay value: -1",
    ),
    (
        lambda p: optim.Adadelta(p, betas=(0.9, 0.9)),
        TypeError,
        "unexpected keyword argument 'betas'",
    ),
    (lambda p: optim.Adamax(p, lr=-1.0), ValueError, "Adamax: Invalid learning rate: -1.0"),
    (
        lambda p: optim.Adamax(p, betas=(1.0, 0.9)),
        ValueError,
        "Adamax: Invalid beta parameter at index 0: 1.0",
    ),
    (lambda p: optim.Adamax(p, eps=-1.0), ValueError, "Adamax: Invalid epsilon value: -1.0"),
    (lambda p: optim.Adamax(p, amsgrad=True), TypeError, "unexpected keyword argument 'amsgrad'"),
    (
        lambda p: optim.NAdam(p, momentum_decay=-0.1),
        ValueError,
        "NAdam: Invalid momentum_decay value: -0.1",
    ),
    (
        lambda p: optim.NAdam(p, betas=(0.9,)),
        ValueError,
        r"NAdam: Invalid beta parameters: \(0.9,\); betas must be two",
    ),
    (
        lambda p: optim.NAdam(p, weight_decay=-0.1),
        ValueError,
        "NAdam: Invalid weight_decay value: -0.1",
    ),
    (lambda p: optim.RAdam(p, lr=-1.0), ValueError, "RAdam: Invalid learning rate: -1.0"),
    (
        lambda p: optim.RAdam(p, betas=(0.9, -0.1)),
        ValueError,
        "RAdam: Invalid beta parameter at index 1: -0.1",
    ),
    (lambda p: optim.RAdam(p, eps=-1.0), ValueError, "RAdam: Invalid epsilon value: -1.0"),
    (
        lambda p: optim.RAdam(p, momentum_decay=0.1),
        TypeError,
        "unexpected keyword argument 'momentum_decay'",
    ),
    (lambda p: optim.SGD([]), ValueError, "empty parameter list"),
    (lambda p: optim.SGD(p[0]), TypeError, "got one Tensor; pass \\[tensor\\]"),
    (lambda p: optim.SGD([np.zeros(3)]), TypeError, "parameter 0 is a ndarray"),
    (lambda p: optim.SGD(set(p)), TypeError, "not a set"),
    (lambda p: optim.SGD([p[0], p[0]]), ValueError, "appears twice"),
    (
        lambda p: optim.SGD([{"params": p}, {"params": p[:1]}]),
        ValueError,
        "more than one param group",
    ),
    (lambda p: optim.SGD([p[0] * 2]), ValueError, "not a leaf"),
    (lambda p: optim.SGD([{"lr": 0.1}]), ValueError, "needs a 'params' entry"),
]


@pytest.mark.parametrize("make, error, message", BAD_INPUT)
def test_bad_input_is_refused_clearly(make, error, message):
    with pytest.raises(error, match=message):
        make([param([1.0, 2.0]), param([3.0])])


def test_a_gradient_of_the_wrong_shape_is_named():
    w = param([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"assigned grad has data of a different size"):
        w.grad = np.ones(3)  # refused where it is assigned, as in torch
    w.grad = np.ones(2)
    w._grad._data = np.ones(3)  # a gradient that changed shape behind the setter's back
    with pytest.raises(ValueError, match=r"shape \(2,\) has a gradient of shape \(3,\)"):
        optim.SGD([w]).step()


# -- gradient clipping ------------------------------------------------------------------------


def pairs(dtype, with_missing_grad=True):
    rng = np.random.default_rng(3)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    ours, theirs = [], []
    for i, shape in enumerate(shapes):
        data, grad = rng.standard_normal(shape), rng.standard_normal(shape) * 2
        a = dc.tensor(data, dtype=dtype, requires_grad=True)
        b = torch.tensor(data, dtype=getattr(torch, dtype), requires_grad=True)
        if not (with_missing_grad and i == 1):
            a.grad = grad.astype(dtype)
            b.grad = torch.tensor(grad, dtype=getattr(torch, dtype))
        ours.append(a)
        theirs.append(b)
    return ours, theirs


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-6)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(dtype, rtol, norm_type, max_norm):
    ours, theirs = pairs(dtype)
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.dtype == np.dtype(dtype)
    np.testing.assert_allclose(float(total), expected.item(), rtol=rtol)
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None
        else:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=rtol)
    clipped = np.linalg.norm(np.concatenate([a.grad.ravel() for a in ours if a.grad is not None]))
    if norm_type == 2.0:
        assert clipped <= max_norm * (1 + 1e-6)


def test_clip_grad_norm_of_one_tensor_and_of_none():
    w = param([3.0, 4.0])
    w.grad = np.array([3.0, 4.0])
    assert optim.clip_grad_norm_(w, 1.0) == 5.0
    np.testing.assert_allclose(w.grad, np.array([0.6, 0.8]) * 5 / (5 + 1e-6))
    assert optim.clip_grad_norm_([param([1.0])], 1.0) == 0.0


def test_clip_grad_norm_nonfinite():
    ours, theirs = pairs("float64")
    ours[0].grad[0, 0] = theirs[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        optim.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    total = optim.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total == expected.item() == np.inf
    np.testing.assert_array_equal(ours[2].grad, theirs[2].grad.numpy())  # zeros, as torch's


def test_clip_grad_value_matches_torch():
    ours, theirs = pairs("float32")
    optim.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for a, b in zip(ours, theirs):
        if b.grad is not None:
            np.testing.assert_array_equal(a.grad, b.grad.numpy())
            assert np.abs(a.grad).max() == np.float32(0.7)


def test_clip_bad_input():
    with pytest.raises(ValueError, match="max_norm=-1.0 must be >= 0"):
        optim.clip_grad_norm_([param([1.0])], -1.0)
    with pytest.raises(ValueError, match="clip_value=-0.5 must be >= 0"):
        optim.clip_grad_value_([param([1.0])], -0.5)
