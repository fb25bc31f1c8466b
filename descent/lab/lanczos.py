"""The extreme eigenvalues of a symmetric map known only by its products, with an error bound.

Power iteration stops when its estimate changes little between steps, which also
happens when it is still far from the top eigenvalue: with two close eigenvalues it
creeps, and a relative-change rule of 1e-3 stopped 2.8% low on a tanh network. Lanczos
builds a Krylov basis instead and reads the top and the bottom eigenvalues off a small
tridiagonal matrix; it converges to a close pair (a cluster) far faster, finds the most
positive eigenvalue without a second, shifted run, and its stopping rule is honest: for
an estimate theta with Ritz vector u, some eigenvalue lies within the residual
||A u - theta u|| of theta (a theorem for symmetric maps, not a heuristic), and theta
never exceeds the top eigenvalue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Eigenvalue:
    """An estimate of an extreme eigenvalue: some eigenvalue lies within `residual` of
    `value` (||A u - value u|| for its unit Ritz vector u); `converged` when that bound
    met the tolerance; `iterations` matrix-vector products were spent."""

    value: float
    residual: float
    iterations: int
    converged: bool


def extreme_eigenvalues(matvec: Callable[[np.ndarray], np.ndarray], size: int, iterations: int,
                        tol: float, seed: int = 0) -> tuple[Eigenvalue, Eigenvalue]:  # fmt: skip
    """The (top, bottom) eigenvalues of the symmetric map `matvec` on vectors of `size`.

    Lanczos with full reorthogonalization (the basis is kept, `iterations` vectors of
    `size`) from a random start seeded by `seed`. It stops when the top estimate's
    residual is at most `tol` times the larger of the two estimates' magnitudes, or after
    `iterations` products. Raises FloatingPointError when a product is not finite.
    """
    steps = min(int(iterations), size)
    q = np.random.default_rng(seed).standard_normal(size)
    basis = [q / np.linalg.norm(q)]
    alphas: list[float] = []
    betas: list[float] = []
    for k in range(1, steps + 1):
        w = np.asarray(matvec(basis[-1]), dtype=np.float64)
        if not np.isfinite(w).all():
            raise FloatingPointError(
                "a Hessian-vector product is not finite; is the loss finite at these weights?"
            )
        alphas.append(float(basis[-1] @ w))
        stacked = np.array(basis)
        for _ in range(2):  # twice is enough (Kahan): the basis stays orthonormal to rounding
            w = w - stacked.T @ (stacked @ w)
        beta = float(np.linalg.norm(w))
        values, vectors = _ritz(alphas, betas)
        residuals = beta * np.abs(vectors[-1])
        scale = max(abs(values[0]), abs(values[-1]))
        top = Eigenvalue(float(values[-1]), float(residuals[-1]), k, False)
        bottom = Eigenvalue(float(values[0]), float(residuals[0]), k, False)
        done = residuals[-1] <= tol * scale or beta <= 1e-12 * max(scale, 1e-300)
        if done or k == steps:
            return _mark(top, tol * scale), _mark(bottom, tol * scale)
        betas.append(beta)
        basis.append(w / beta)
    raise AssertionError("unreachable: the loop returns at its last step")


def _ritz(alphas: list[float], betas: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the Lanczos tridiagonal matrix."""
    t = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    return np.linalg.eigh(t)


def _mark(estimate: Eigenvalue, bound: float) -> Eigenvalue:
    return Eigenvalue(estimate.value, estimate.residual, estimate.iterations,
                      bool(estimate.residual <= bound))  # fmt: skip
