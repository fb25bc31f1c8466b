"""descent.lab against theory: exact Hessians (closed form, PyTorch in float64), the stability
limits of least squares, and the gradient noise scale's closed form."""

import numpy as np
import pytest
import torch

import descent as dc
from descent import nn
from descent.data import DataLoader, RandomSampler, TensorDataset
from descent.lab import Arm, Budget, compare, lr_label
from descent.lab.compare import SHARPNESS_ITERATIONS, SHARPNESS_TOL
from descent.lab.gradients import gradient_probe
from descent.lab.lanczos import extreme_eigenvalues
from descent.lab.sharpness import top_eigenvalue
from descent.lab.stability import stability_limit
from descent.train import Callback, fit
from tests.test_lab_compare import assert_every_number_is_in_the_table

ITERATIONS, TOL = SHARPNESS_ITERATIONS, SHARPNESS_TOL  # what compare measures with


def torch_top_eigenvalue(model, loss_fn, x, y):
    """The exact top eigenvalue of the Hessian, from PyTorch's double backward in float64."""
    params = [p.detach().to(torch.float64) for p in model.parameters()]
    shapes, sizes = [p.shape for p in params], [p.numel() for p in params]
    flat = torch.cat([p.reshape(-1) for p in params])

    def loss(w):
        weights = [c.reshape(s) for c, s in zip(torch.split(w, sizes), shapes)]
        return loss_fn(torch.func.functional_call(model.double(), dict(zip(
            [n for n, _ in model.named_parameters()], weights)), (x,)), y)  # fmt: skip

    hessian = torch.autograd.functional.hessian(loss, flat)
    return float(torch.linalg.eigvalsh(hessian)[-1])


def descent_copy(torch_model, descent_model):
    for p, q in zip(descent_model.parameters(), torch_model.parameters()):
        p.data = dc.tensor(q.detach().numpy().astype(np.float32))
    return descent_model


def check(descent_model, descent_loss, x, y, exact):
    found = top_eigenvalue(descent_model, descent_loss, x, y, ITERATIONS, TOL)
    assert found.value == pytest.approx(exact, rel=1e-2)
    assert abs(found.value - exact) <= max(found.residual, 1e-6 * abs(exact))
    return found


# -- sharpness against exact Hessians ----------------------------------------------------------


def test_least_squares_sharpness_is_twice_the_top_eigenvalue_of_xtx_over_n():
    """descent's MSELoss is the mean of squares over samples (and outputs): H = 2 X^T X / n."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((200, 6)) * np.linspace(0.5, 2.0, 6)).astype(np.float32)
    y = rng.standard_normal((200, 1)).astype(np.float32)
    xb = np.hstack([x, np.ones((200, 1), np.float32)]).astype(np.float64)  # the bias column
    exact = float(np.linalg.eigvalsh(2 * xb.T @ xb / 200)[-1])
    dc.manual_seed(0)
    check(nn.Linear(6, 1), nn.MSELoss(), x, y, exact)


def test_close_top_eigenvalues_are_found_and_the_bound_holds():
    """Top two eigenvalues 0.5% apart in 300 dimensions: power iteration with compare's rule
    stopped 2.8% low on such a spectrum; Lanczos lands within 1% and says how close."""
    rng = np.random.default_rng(1)
    spectrum = np.concatenate([[1.0, 0.995], rng.uniform(-0.3, 0.9, 298)])
    basis, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    matrix = basis @ np.diag(spectrum) @ basis.T
    top, bottom = extreme_eigenvalues(lambda v: matrix @ v, 300, ITERATIONS, TOL)
    assert top.value == pytest.approx(1.0, rel=1e-2) and top.value <= 1.0 + 1e-12
    assert np.min(np.abs(spectrum - top.value)) <= top.residual
    assert bottom.value >= spectrum.min() - 1e-12


def test_logistic_regression_sharpness_matches_pytorch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5)).astype(np.float32)
    y = (x @ rng.standard_normal(5) + 0.5 * rng.standard_normal(300) > 0).astype(np.int64)
    torch.manual_seed(0)
    reference = torch.nn.Linear(5, 2)
    exact = torch_top_eigenvalue(reference, torch.nn.CrossEntropyLoss(),
                                 torch.tensor(x, dtype=torch.float64), torch.tensor(y))  # fmt: skip
    check(descent_copy(reference, nn.Linear(5, 2)), nn.CrossEntropyLoss(), x, y, exact)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_sharpness_matches_pytorch_at_initialization(activation):
    """The ReLU case read 19% high when the float32 difference step crossed kinks."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((256, 4)).astype(np.float32)
    y = rng.integers(0, 3, 256)
    torch.manual_seed(0)
    layer = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]
    reference = torch.nn.Sequential(torch.nn.Linear(4, 16), layer(), torch.nn.Linear(16, 3))
    exact = torch_top_eigenvalue(reference, torch.nn.CrossEntropyLoss(),
                                 torch.tensor(x, dtype=torch.float64), torch.tensor(y))  # fmt: skip
    ours = nn.Sequential(nn.Linear(4, 16), {"relu": nn.ReLU, "tanh": nn.Tanh}[activation](),
                         nn.Linear(16, 3))  # fmt: skip
    check(descent_copy(reference, ours), nn.CrossEntropyLoss(), x, y, exact)


# -- stability limits ------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                     {"momentum": 0.5, "dampening": 0.3},
                                     {"momentum": 0.9, "weight_decay": 0.5}])  # fmt: skip
def test_stability_limit_separates_converging_from_diverging_sgd_on_a_quadratic(options):
    """descent's own SGD on 0.5 h w^2: stable 1% below the limit, unstable 1% above."""
    lr = 0.1
    limit = stability_limit("sgd", lr, options)

    def final(h):
        w = nn.Parameter(dc.tensor([1.0], dtype=dc.float64))
        optimizer = dc.optim.SGD([w], lr=lr, **options)
        for _ in range(3000):
            if abs(float(w.item())) > 10:
                break  # unstable: growing geometrically
            optimizer.zero_grad()
            (0.5 * h * w * w).sum().backward()
            optimizer.step()
        return abs(float(w.item()))

    assert final(0.99 * limit) < 1.0 < final(1.01 * limit)
    assert np.isnan(stability_limit("adam", lr))


# -- verdicts against the 2/L threshold of least squares ---------------------------------------


def least_squares(n=256, d=5):
    """Linear regression with MSE and a bias: H = 2/n [X 1]^T [X 1], L its top eigenvalue."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)) * np.linspace(0.7, 1.4, d)
    y = x @ rng.standard_normal((d, 1)) + 0.1 * rng.standard_normal((n, 1))
    xb = np.hstack([x, np.ones((n, 1))])
    top = float(np.linalg.eigvalsh(2 / n * xb.T @ xb)[-1])
    return TensorDataset(x.astype(np.float32), y.astype(np.float32)), x, y, top


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_full_batch_verdicts_flip_at_two_over_l():
    """Gradient descent on least squares converges for lr < 2/L and diverges above it: just
    below reads good, just above (falls, then grows geometrically) reads diverged."""
    data, _, _, top = least_squares()
    arms = [Arm("full", "sgd", f * 2 / top) for f in (0.95, 1.05, 1.1)]
    result = compare(data, None, lambda: nn.Linear(5, 1), arms, Budget("updates", 60),
                     seeds=(0,))  # fmt: skip
    assert [arm.row["lr_label"] for arm in result.arms] == ["good", "diverged", "diverged"]
    for arm in result.arms:
        assert arm.row["edge_of_stability"] == pytest.approx(top / (arm.arm.lr * top / 2))
    words = " ".join(result.sentences())
    assert "diverged: its training loss ended at" in words or "was growing" in words


# -- the gradient noise scale -------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 16])
def test_noise_scale_matches_its_closed_form_on_linear_regression(batch_size):
    """Per-sample gradients of (x.w + b - y)^2 are 2 [x 1] r: tr(Sigma) and |G|^2 exactly."""
    _, x, y, _ = least_squares()
    dc.manual_seed(0)
    model = nn.Linear(5, 1)
    w = np.r_[model.weight.detach().numpy().ravel(), model.bias.detach().numpy()].astype(float)
    xb = np.hstack([x, np.ones((len(x), 1))])
    per_sample = 2 * xb * (xb @ w - y.ravel())[:, None]
    mean = per_sample.mean(0)
    spread = np.sum((per_sample - mean) ** 2, 1)
    exact = float(spread.mean() / (mean @ mean))
    batches = 1000
    probe = gradient_probe(model, nn.MSELoss(), dc.tensor(x.astype(np.float32)),
                           dc.tensor(y.astype(np.float32)), batch_size, lr=0.1, batches=batches,
                           seed=0)  # fmt: skip
    # within 3 standard errors of the per-sample estimator (heavy-tailed: x^2 r^2); a batch
    # of 16 averages its samples, so its error is smaller still
    error = 3 * spread.std() / spread.mean() / np.sqrt(batches)
    assert probe.noise_scale == pytest.approx(exact, rel=error)
    assert 0 < probe.cosine < 1 and probe.loss_step_noise > 0


# -- the table and the sentences under a seconds budget -----------------------------------------


def test_a_seconds_budget_reports_each_seeds_whole_run():
    """Seeds stop at different points under a time budget; the row and the sentences use
    every seed's whole curve, so the sentences' numbers are the table's."""
    data, _, _, top = least_squares()
    arms = [Arm("full", "sgd", 1 / top), Arm(8, "sgd", 0.2 / top), Arm(1, "sgd", 0.05 / top)]
    result = compare(data, None, lambda: nn.Linear(5, 1), arms, Budget("seconds", 0.1),
                     seeds=(0, 1))  # fmt: skip
    for arm in result.arms:
        finals = [t.points["loss"][-1] for t in arm.traces]
        assert arm.row["train_loss"] == pytest.approx(np.mean(finals))
        assert arm.row["updates"] == pytest.approx(np.mean([t.points["updates"][-1]
                                                            for t in arm.traces]))  # fmt: skip
        assert len(arm.curves["loss"].mean) == max(len(t.points["loss"]) for t in arm.traces)
    assert_every_number_is_in_the_table(result)


# -- verdicts against the exact mean-square stability threshold of SGD ----------------------


def realizable_least_squares(n=40, d=4):
    """y = x.w + b exactly, so SGD's error e = w - w* has no noise term: e' = (I - lr H_B) e."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)) * np.linspace(0.7, 1.4, d)
    y = x @ rng.standard_normal((d, 1)) + 0.3
    data = TensorDataset(x.astype(np.float32), y.astype(np.float32))
    return data, np.hstack([x, np.ones((n, 1))])  # the rows a_i = [x_i 1]


def second_moment_map(a, lr, batch_size):
    """The linear map S -> E[(I - lr H_B) S (I - lr H_B)] of E[e e^T] for a batch of B
    samples drawn with replacement, H_B = 2/B sum_k a_k a_k^T (descent's MSE has no 1/2):
    E[H_B S H_B] = H S H + (E[H_i S H_i] - H S H) / B. As a matrix on row-major vec(S)."""
    p = a.shape[1]
    each = 2 * np.einsum("ni,nj->nij", a, a)
    h, eye = each.mean(0), np.eye(p)
    own = np.einsum("nij,nkl->ikjl", each, each).reshape(p * p, p * p) / len(a)
    return (np.kron(eye, eye) - lr * (np.kron(eye, h) + np.kron(h, eye))
            + lr**2 * ((1 - 1 / batch_size) * np.kron(h, h) + own / batch_size))  # fmt: skip


def mean_square_limit(a, batch_size):
    """The learning rate where the map's spectral radius crosses 1, by bisection."""
    low, high = 0.0, 4 / np.linalg.eigvalsh(2 * a.T @ a / len(a))[-1]
    for _ in range(60):
        middle = (low + high) / 2
        radius = np.abs(np.linalg.eigvals(second_moment_map(a, middle, batch_size))).max()
        low, high = (middle, high) if radius < 1 else (low, middle)
    return low


@pytest.mark.parametrize("batch_size", [1, 8])
def test_the_second_moment_map_matches_sampled_sgd(batch_size):
    """Five steps of 20000 sampled SGD runs against the map, within Monte Carlo error."""
    _, a = realizable_least_squares()
    lr, runs, steps = 0.8 * mean_square_limit(a, batch_size), 20000, 5
    start = np.linspace(-1, 1, a.shape[1])
    rng, e = np.random.default_rng(0), np.tile(start, (runs, 1))
    for _ in range(steps):
        rows = a[rng.integers(0, len(a), (runs, batch_size))]  # (runs, B, p)
        residuals = np.einsum("rbi,ri->rb", rows, e)
        e = e - lr * 2 / batch_size * np.einsum("rbi,rb->ri", rows, residuals)
    moment = np.linalg.matrix_power(second_moment_map(a, lr, batch_size), steps)
    predicted = (moment @ np.outer(start, start).ravel()).reshape(len(start), -1)
    sampled = e.T @ e / runs
    spread = np.sqrt(np.var(np.einsum("ri,rj->rij", e, e), 0) / runs)
    assert np.all(np.abs(sampled - predicted) <= 5 * spread + 1e-12)


class FullLoss(Callback):
    """The loss on the whole training set every `every` updates, as compare records it."""

    def __init__(self, x, y, every):
        self.x, self.y, self.every = dc.tensor(x), dc.tensor(y), every
        self.losses, self.updates = [], []

    def record(self, updates):
        with dc.no_grad():
            self.losses.append(float(nn.MSELoss()(self.run.model(self.x), self.y).item()))
        self.updates.append(updates)

    def on_train_begin(self, logs=None):
        self.record(0)

    def on_batch_end(self, step, logs=None):
        if (step + 1) % self.every == 0:
            self.record(step + 1)


def sgd_with_replacement(data, lr, batch_size, updates, seed):
    """descent's SGD from fixed initial weights, batches of `batch_size` samples drawn with
    replacement (the map's sampling) by `seed`: the full training loss along the run."""
    dc.manual_seed(0)
    model = nn.Linear(data.tensors[0].shape[1], 1)
    sampler = RandomSampler(data, replacement=True, num_samples=batch_size * updates,
                            generator=np.random.default_rng(seed))  # fmt: skip
    recorder = FullLoss(*data.tensors, every=max(updates // 60, 1))
    fit(model, nn.MSELoss(), dc.optim.SGD(model.parameters(), lr=lr),
        DataLoader(data, batch_size, sampler=sampler), epochs=1, metrics=(),
        callbacks=[recorder], progress=False)  # fmt: skip
    return recorder


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("batch_size, updates", [(1, 600), (32, 150)])
def test_verdicts_flip_at_the_mean_square_stability_threshold(batch_size, updates):
    """The mean loss over seeds (what compare reads) is good at 0.8 lr* and diverged at
    1.25 lr*, lr* being where E[e e^T] stops shrinking. For batch 1 lr* is far below 2/L:
    a single sample's curvature 2|a_i|^2 overshoots long before the mean Hessian does. Here
    lr* = 0.132 (batch 1) and 0.395 (batch 32) against 2/L = 0.412. The batches are drawn
    with replacement, the map's sampling (compare reshuffles each epoch instead)."""
    data, a = realizable_least_squares()
    limit = mean_square_limit(a, batch_size)
    two_over_l = 2 / np.linalg.eigvalsh(2 * a.T @ a / len(a))[-1]
    assert limit == pytest.approx({1: 0.1323, 32: 0.3945}[batch_size], rel=1e-3)
    assert two_over_l == pytest.approx(0.4118, rel=1e-3)
    for factor, verdict in ((0.8, "good"), (1.25, "diverged")):
        runs = [sgd_with_replacement(data, factor * limit, batch_size, updates, seed)
                for seed in range(5)]  # fmt: skip
        mean = np.mean([run.losses for run in runs], axis=0)
        assert lr_label(mean, updates=runs[0].updates) == verdict, (factor, mean[::10])
