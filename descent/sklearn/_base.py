"""What `MLPClassifier` and `MLPRegressor` share: parameters, the network, the training loop."""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from descent import nn, optim
from descent.autograd import no_grad
from descent.backend import blas_threads, blas_threads_for
from descent.errors import unknown_name
from descent.nn.models import mlp
from descent.optim.lr_scheduler import LambdaLR
from descent.sklearn import _lbfgs
from descent.sklearn._data import Batches, dense_rows, row_chunks
from descent.tensor import Tensor, wrap
from descent.train import Callback
from descent.train import fit as train_fit

# scikit-learn's activation names -> descent's (descent's own names work too)
ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "gelu": "gelu",
    "leaky_relu": "leaky_relu",
}
STOCHASTIC_SOLVERS = tuple(optim.OPTIMIZERS)
SOLVERS = (*STOCHASTIC_SOLVERS, "lbfgs")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
DTYPES = (np.float32, np.float64)
SPARSE = ("csr", "csc")
"""The sparse formats accepted, as scikit-learn's MLP."""
ADAPTIVE_FACTOR = 0.2
"""learning_rate='adaptive' divides the rate by 5 each time the loss stalls."""
ADAPTIVE_MIN_LR = 1e-6
"""... and stops training instead once the rate is at or below this."""


class _EndOfEpoch(Callback):
    """Runs scikit-learn's end of an epoch, `rule(loss) -> stop`, then steps the scheduler
    that carries out its learning-rate schedule: after the rule, because the schedule
    reads what the rule recorded (samples seen, the rate cuts), as scikit-learn does."""

    def __init__(self, rule: Callable[[float], bool], scheduler: LambdaLR | None) -> None:
        self.rule, self.scheduler = rule, scheduler
        self.stopped = False  # by scikit-learn's rules, not by running out of epochs

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.stopped = self.stop_training = self.rule(logs["loss"])
        if self.scheduler is not None:
            self.scheduler.step()


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the network, the loop."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=np.float32,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    # -- parameters ---------------------------------------------------------------------

    def _check_params(self) -> list[int]:
        """Raise ValueError for a bad parameter; return the hidden widths as a list."""
        name = type(self).__name__
        if self.activation not in ACTIVATIONS:
            raise unknown_name(f"{name} activation", self.activation, ACTIVATIONS)
        if self.solver not in SOLVERS:
            raise unknown_name(f"{name} solver", self.solver, SOLVERS)
        if self.learning_rate not in LEARNING_RATES:
            raise unknown_name(f"{name} learning_rate", self.learning_rate, LEARNING_RATES)
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if isinstance(sizes, Iterable) else [sizes]
        if not all(isinstance(s, (int, np.integer)) and s > 0 for s in sizes):
            raise ValueError(f"{name}: hidden_layer_sizes must be > 0, got {sizes}")
        positive = {"learning_rate_init": self.learning_rate_init, "max_iter": self.max_iter,
                    "epsilon": self.epsilon, "n_iter_no_change": self.n_iter_no_change,
                    "max_fun": self.max_fun}  # fmt: skip
        for key, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name}: {key}={value!r} must be > 0")
        for key in ("alpha", "power_t", "tol"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"{name}: {key}={getattr(self, key)!r} must be >= 0")
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"{name}: momentum={self.momentum!r} must lie in [0, 1]")
        for key in ("beta_1", "beta_2"):
            if not 0 <= getattr(self, key) < 1:
                raise ValueError(f"{name}: {key}={getattr(self, key)!r} must lie in [0, 1)")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"{name}: validation_fraction={self.validation_fraction!r} must lie in (0, 1)"
            )
        batch = self.batch_size
        if batch not in ("auto", "full") and (
            isinstance(batch, (bool, str)) or not isinstance(batch, (int, np.integer)) or batch < 1
        ):
            raise ValueError(f"{name}: batch_size={batch!r} must be 'auto', 'full' or an int >= 1")
        if self.dtype not in DTYPES and self.dtype not in ("float32", "float64"):
            raise ValueError(f"{name}: dtype={self.dtype!r} must be float32 or float64")
        return sizes

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size == "full":
            return n_samples
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got `batch_size`={self.batch_size} larger than the {n_samples} samples; "
                "it is clipped to the sample size",
                UserWarning,
                stacklevel=4,
            )
        return min(int(self.batch_size), n_samples)

    # -- the network and its optimizer ----------------------------------------------------

    def _initialize(self, layer_units: list[int], rng: np.random.RandomState) -> None:
        """A fresh network with scikit-learn's Glorot-uniform weights, and fresh records."""
        dtype = np.dtype(self.dtype)
        self.model_ = mlp(layer_units[0], layer_units[1:-1], layer_units[-1],
                          ACTIVATIONS[self.activation])  # fmt: skip
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        for layer in self._linears():
            fan_out, fan_in = layer.weight.shape
            bound = math.sqrt(factor / (fan_in + fan_out))
            # drawn as scikit-learn's (fan_in, fan_out) coefs_, stored as (out, in)
            layer.weight._data = rng.uniform(-bound, bound, (fan_in, fan_out)).T.astype(dtype)
            layer.bias._data = rng.uniform(-bound, bound, fan_out).astype(dtype)
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = layer_units[-1]
        self.t_ = 0
        self.optimizer_ = None
        if self.solver == "lbfgs":  # as scikit-learn's: no per-epoch records
            return
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _linears(self) -> list[nn.Linear]:
        return [m for m in self.model_ if isinstance(m, nn.Linear)]

    def _make_optimizer(self) -> optim.Optimizer:
        """The solver over the weights (with AdamW's decoupled decay) and the biases."""
        weights = [layer.weight for layer in self._linears()]
        biases = [layer.bias for layer in self._linears()]
        decay = self.alpha if self.solver == "adamw" else 0.0  # else the loss has the penalty
        groups = [{"params": weights, "weight_decay": decay},
                  {"params": biases, "weight_decay": 0.0}]  # fmt: skip
        options = {"lr": self.learning_rate_init}
        if self.solver == "sgd":
            nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
            options.update(momentum=self.momentum, nesterov=nesterov)
        elif self.solver in ("adam", "adamw", "adamax", "nadam", "radam"):
            options.update(betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        elif self.solver in ("rmsprop", "adadelta"):
            options.update(eps=self.epsilon)
        return optim.create(self.solver, groups, **options)

    def _make_scheduler(self, fresh: bool) -> LambdaLR | None:
        """scikit-learn's learning_rate for SGD as a scheduler, stepped after each epoch's
        record; None for a constant rate and for the other solvers (which ignore it).

        invscaling: lr = learning_rate_init / (t_ + 1) ** power_t, t_ the samples seen.
        adaptive: lr = learning_rate_init * 0.2 ** cuts, a cut each time the loss stalls.
        The first epoch keeps the rate the optimizer has: learning_rate_init when it is
        `fresh`, else where the last fit or partial_fit left it.
        """
        if self.solver != "sgd" or self.learning_rate == "constant":
            return None
        start = 1.0 if fresh else self.optimizer_.param_groups[0]["lr"] / self.learning_rate_init
        self._lr_cuts = 0
        if self.learning_rate == "invscaling":
            return LambdaLR(self.optimizer_, functools.partial(self._invscaling, start))
        return LambdaLR(self.optimizer_, functools.partial(self._adaptive, start))

    def _invscaling(self, start: float, epoch: int) -> float:
        return start if epoch == 0 else (self.t_ + 1) ** -self.power_t

    def _adaptive(self, start: float, epoch: int) -> float:
        return start * ADAPTIVE_FACTOR**self._lr_cuts

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices as scikit-learn lays them out, (fan_in, fan_out): live views."""
        check_is_fitted(self, "model_")
        return [layer.weight._data.T for layer in self._linears()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "model_")
        return [layer.bias._data for layer in self._linears()]

    # -- the loss ---------------------------------------------------------------------------

    def _data_loss(self, pred: Tensor, target, total: float) -> Tensor:
        """The (sample-weighted) sum of the samples' losses over `total`, the batch's weight."""
        y, weights = target
        losses = self._sample_losses(pred, y)
        return (losses if weights is None else losses * weights).sum() / total

    def _penalty(self, total: float) -> Tensor | None:
        """scikit-learn's L2 term, 0.5 * alpha * ||W||^2 / total (the batch's summed sample
        weight); None where there is none (alpha = 0, or AdamW's decoupled decay)."""
        if self.alpha == 0 or self.solver == "adamw":
            return None
        squares = [(layer.weight * layer.weight).sum() for layer in self._linears()]
        return sum(squares[1:], squares[0]) * (0.5 * self.alpha / total)

    def _batch_loss(self, pred: Tensor, target) -> Tensor:
        """A batch's loss as scikit-learn's `_backprop` has it: the weighted mean of the
        samples' losses plus the L2 term over the batch's summed weight."""
        weights = target[1]
        total = len(pred._data) if weights is None else float(weights._data.sum())
        loss, penalty = self._data_loss(pred, target, total), self._penalty(total)
        return loss if penalty is None else loss + penalty

    # -- training ---------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, incremental: bool, classes=None):
        sizes = self._check_params()
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, first_pass, incremental, classes)
        X = X.tocsr() if sp.issparse(X) else X  # rows are gathered: CSR slices them fast
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_random_state"):
            # made by the first fit and by every `fit`; `partial_fit` carries it on
            self._random_state = check_random_state(self.random_state)
            self._shuffle_rng = None
        rng = self._random_state
        if first_pass:
            self._initialize([X.shape[1], *sizes, self._n_outputs(y)], rng)
        widest = max(a * b for a, b in zip([X.shape[1], *sizes], [*sizes, self.n_outputs_]))
        try:
            if self.solver == "lbfgs":
                with blas_threads(blas_threads_for(X.shape[0] * widest)):
                    self._fit_lbfgs(X, self._targets(y), sample_weight)
            else:
                self._fit_stochastic(X, y, sample_weight, incremental, widest)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if not all(np.isfinite(p._data).all() for p in self.model_.parameters()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed (e.g. StandardScaler), or lower "
                "learning_rate_init."
            )
        return self

    def _fit_lbfgs(self, X, targets: np.ndarray, weights) -> None:
        """scikit-learn's full-batch solver; the pass over X runs in chunks of rows (a sparse
        X densified a chunk at a time), their gradients accumulating."""
        dtype = np.dtype(self.dtype)
        total = X.shape[0] if weights is None else float(weights.sum())

        def loss_and_backward() -> float:
            value = 0.0
            for rows in row_chunks(X.shape[0]):
                x = Tensor(dense_rows(X, rows, dtype), dtype=dtype)
                w = None if weights is None else Tensor(weights[rows], dtype=dtype)
                part = self._data_loss(self.model_(x), (self._target_tensor(targets[rows]), w),
                                       total)  # fmt: skip
                part.backward()
                value += float(part.item())
            penalty = self._penalty(total)
            if penalty is not None:
                penalty.backward()
                value += float(penalty.item())
            return value

        params = list(self.model_.parameters())
        self.loss_, self.n_iter_ = _lbfgs.minimize(
            params, loss_and_backward, max_iter=self.max_iter, max_fun=self.max_fun,
            tol=self.tol, verbose=bool(self.verbose))  # fmt: skip

    def _target_tensor(self, targets: np.ndarray) -> Tensor:
        """Targets as the loss takes them: class indices int64, others in the training dtype."""
        if targets.dtype.kind in "iu":
            return wrap(targets.astype(np.int64, copy=False))
        return Tensor(targets, dtype=np.dtype(self.dtype))

    def _fit_stochastic(self, X, y, sample_weight, incremental: bool, widest: int) -> None:
        """scikit-learn's `_fit_stochastic`: epochs of mini-batches through `train.fit`."""
        rng = self._random_state
        X_val = y_val = sw_val = None
        if self.early_stopping:
            stratify = y if is_classifier(self) and y.ndim == 1 else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            parts = train_test_split(
                *arrays, random_state=rng, test_size=self.validation_fraction, stratify=stratify
            )
            X, X_val, y, y_val = parts[:4]
            if sample_weight is not None:
                sample_weight, sw_val = parts[4:]
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        fresh = not incremental or self.optimizer_ is None
        if fresh:
            self.optimizer_ = self._make_optimizer()
        if self._shuffle_rng is None:
            self._shuffle_rng = np.random.default_rng(int(rng.randint(2**31)))
        # every epoch's order, of fit or of partial_fit, is the next draw from this generator
        batches = Batches(X, self._targets(y), sample_weight, self.dtype, batch_size,
                          self.shuffle, self._shuffle_rng)  # fmt: skip
        self.n_iter_ = 0
        self._best_state = None
        rule = functools.partial(self._end_epoch, n_samples=n_samples,
                                 validation=(X_val, y_val, sw_val))  # fmt: skip
        end = _EndOfEpoch(rule, self._make_scheduler(fresh))
        try:
            with blas_threads(blas_threads_for(batch_size * widest)):
                train_fit(self.model_, self._batch_loss, self.optimizer_, batches,
                          epochs=1 if incremental else self.max_iter, metrics=None,
                          callbacks=[end], progress=False)  # fmt: skip
        finally:
            if self._best_state is not None:
                self.model_.load_state_dict(self._best_state)
            del self._best_state
        if not incremental and not end.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _end_epoch(self, loss, n_samples, validation) -> bool:
        """scikit-learn's end of an epoch: record, compare with tol; True to stop.

        With learning_rate='adaptive' a stall cuts the rate (the scheduler divides it
        by 5 when it is stepped next) instead of stopping, while the rate is above 1e-6.
        """
        self.n_iter_ += 1
        self.t_ += n_samples
        self.loss_ = loss
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        if self.early_stopping:
            score = self._validation_score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            improved = not score < self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_state = {k: v.clone() for k, v in self.model_.state_dict().items()}
        else:
            improved = not self.loss_ > self.best_loss_ - self.tol
            self.best_loss_ = min(self.best_loss_, self.loss_)
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
        sgd = self.solver == "sgd"
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if self.early_stopping else "Training loss"
            message = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")  # fmt: skip
            lr = self.optimizer_.param_groups[0]["lr"]
            if sgd and self.learning_rate == "adaptive" and lr > ADAPTIVE_MIN_LR:
                self._lr_cuts += 1
                self._no_improvement_count = 0
                if self.verbose:
                    print(f"{message} Setting learning rate to {lr * ADAPTIVE_FACTOR:f}")
            else:
                if self.verbose:
                    print(message, "Learning rate too small. Stopping." if sgd else "Stopping.")
                return True
        return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- prediction -------------------------------------------------------------------------

    def _forward(self, X, check_input: bool = True) -> np.ndarray:
        """The network's outputs for X (logits for a classifier) as float64.

        Checked input (predict, predict_proba) runs through a float64 copy of the network:
        float32 BLAS rounds a row differently depending on how many rows come with it,
        and a sample's prediction should not depend on its batch. The validation score
        during training runs in the training dtype. A sparse X is densified in chunks of rows.
        """
        if check_input:
            check_is_fitted(self, "model_")
            X = validate_data(self, X, reset=False, dtype=DTYPES, accept_sparse=SPARSE)
        model = self._float64_model() if check_input else self.model_
        dtype = model[0].weight.dtype
        X = X.tocsr() if sp.issparse(X) else X
        parts = row_chunks(X.shape[0]) if sp.issparse(X) else [slice(None)]
        with no_grad():
            outs = [model(Tensor(dense_rows(X, rows, dtype), dtype=dtype))._data for rows in parts]
        out = outs[0] if len(outs) == 1 else np.concatenate(outs)
        return out.astype(np.float64, copy=False)

    def _float64_model(self) -> nn.Module:
        if self.model_[0].weight.dtype == np.float64:
            return self.model_
        model = copy.deepcopy(self.model_)
        for param in model.parameters():
            param._data = param._data.astype(np.float64)
        return model
