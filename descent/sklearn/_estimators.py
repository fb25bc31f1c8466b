"""`MLPClassifier` and `MLPRegressor`: targets, losses, scores and predictions."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from descent.nn import functional as F
from descent.sklearn._base import DTYPES, SPARSE, STOCHASTIC_SOLVERS, _BaseMLP
from descent.tensor import Tensor


def _is_stochastic(estimator) -> bool:
    """partial_fit's availability, as scikit-learn's: the stochastic solvers only."""
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator.solver} "
            "is not stochastic."
        )
    return True


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # = 1 / (1 + exp(-z)), without overflow


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier trained by descent; see `sklearn.neural_network`.

    Binary problems get one logistic output unit, multiclass ones a softmax over
    one unit per class, multilabel ones (y a binary indicator matrix) one logistic
    unit per label, as in scikit-learn. Attributes after fit: `classes_`,
    `model_` (the descent network), `optimizer_`, `coefs_`, `intercepts_`,
    `loss_`, `loss_curve_`, `best_loss_`, `validation_scores_`,
    `best_validation_score_`, `n_iter_`, `t_`, `n_layers_`, `n_outputs_`,
    `out_activation_`, `n_features_in_`.
    """

    def fit(self, X, y, sample_weight=None):
        """Train for up to max_iter epochs, from scratch or (warm_start) from the last fit."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_is_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); the first call needs `classes`, every label there will be."""
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _validate_input(self, X, y, first_pass, incremental, classes):
        X, y = validate_data(self, X, y, dtype=DTYPES, accept_sparse=SPARSE, multi_output=True,
                             reset=first_pass)  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        multilabel = y.ndim == 2
        if multilabel and type_of_target(y) != "multilabel-indicator":
            raise ValueError(
                f"{type(self).__name__} takes one label per sample or a binary indicator "
                f"matrix (multilabel), got {type_of_target(y)} targets"
            )
        if first_pass:
            self._multilabel = multilabel
        elif multilabel != self._multilabel:
            raise ValueError(
                "y is multilabel now but was not at the first fit, or the other way round"
            )
        if incremental and not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: every label "
                    "the data will hold, e.g. classes=np.unique(y_all)"
                )
            self.classes_ = unique_labels(classes)
        elif incremental and classes is not None:
            if not np.array_equal(unique_labels(classes), self.classes_):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call to "
                    f"partial_fit, which was {self.classes_!r}"
                )
        elif first_pass:
            self.classes_ = unique_labels(y)
        elif self.warm_start and not incremental:
            if not np.array_equal(unique_labels(y), self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has "
                    f"{unique_labels(y)}"
                )
        unknown = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unknown):
            raise ValueError(f"`y` has classes {unknown} not in `classes_` {self.classes_}")
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, got one class: "
                f"{self.classes_}"
            )
        return X, (y if multilabel else np.searchsorted(self.classes_, y))

    def _n_outputs(self, y) -> int:
        if self._multilabel:
            self.out_activation_ = "logistic"
            return y.shape[1]
        binary = len(self.classes_) == 2
        self.out_activation_ = "logistic" if binary else "softmax"
        return 1 if binary else len(self.classes_)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        if self.out_activation_ == "logistic":
            return y.astype(self.dtype).reshape(len(y), -1)
        return y

    def _sample_losses(self, logits: Tensor, target: Tensor) -> Tensor:
        """Each sample's log-loss: softmax cross-entropy, or summed over the logistic units."""
        if self.out_activation_ == "logistic":
            return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)
        return F.cross_entropy(logits, target, reduction="none")

    def _validation_score(self, X_val, y_val, sample_weight) -> float:
        predicted = self._indices(self._forward(X_val, check_input=False))
        right = (predicted == y_val).all(1) if self._multilabel else predicted == y_val
        return float(np.average(right, weights=sample_weight))

    def _indices(self, logits: np.ndarray) -> np.ndarray:
        """Class indices, or for multilabel the indicator matrix (each unit's logit > 0)."""
        if self._multilabel:
            return (logits > 0).astype(np.int64)
        return (logits[:, 0] > 0).astype(np.intp) if logits.shape[1] == 1 else logits.argmax(1)

    def predict(self, X):
        """The most probable class of each sample; for multilabel, each label's p > 0.5."""
        indices = self._indices(self._forward(X))
        return indices if self._multilabel else self.classes_[indices]

    def predict_log_proba(self, X):
        """Log-probabilities of the classes, columns in the order of `classes_`."""
        return np.log(self.predict_proba(X))

    def predict_proba(self, X):
        """Probabilities of the classes, columns in the order of `classes_`; rows sum to 1.
        For multilabel, each label's own probability (rows need not sum to 1)."""
        logits = self._forward(X)
        if self._multilabel:
            return _sigmoid(logits)
        if logits.shape[1] == 1:  # sigmoid(-z), sigmoid(z)
            logits = np.hstack([np.zeros_like(logits), logits])
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor trained by descent; see `sklearn.neural_network`.

    The loss is scikit-learn's squared error, mean((pred - y)**2) / 2, with one
    identity output unit per target column (several columns: multi-output).
    Attributes after fit are the classifier's, without `classes_`.
    """

    def fit(self, X, y, sample_weight=None):
        """Train for up to max_iter epochs, from scratch or (warm_start) from the last fit."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_is_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the last call."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_input(self, X, y, first_pass, incremental, classes):
        X, y = validate_data(self, X, y, dtype=DTYPES, accept_sparse=SPARSE, multi_output=True,
                             y_numeric=True, reset=first_pass)  # fmt: skip
        n_outputs = y.shape[1] if y.ndim == 2 else 1
        if not first_pass and n_outputs != self.n_outputs_:
            plural = {n: "output" if n == 1 else "outputs" for n in (n_outputs, self.n_outputs_)}
            raise ValueError(
                f"y has {n_outputs} {plural[n_outputs]}, but {type(self).__name__} was fitted "
                f"with {self.n_outputs_} {plural[self.n_outputs_]}"
            )
        return X, y

    def _n_outputs(self, y) -> int:
        self.out_activation_ = "identity"
        return y.shape[1] if y.ndim == 2 else 1

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return y.reshape(len(y), -1)

    def _sample_losses(self, pred: Tensor, target: Tensor) -> Tensor:
        """scikit-learn's squared loss per sample, mean over outputs of (pred - y)**2 / 2."""
        return F.mse_loss(pred, target, reduction="none").mean(1) * 0.5

    def _validation_score(self, X_val, y_val, sample_weight) -> float:
        pred = self._forward(X_val, check_input=False)
        if not np.isfinite(pred).all():
            return math.nan
        return float(r2_score(y_val.reshape(len(y_val), -1), pred, sample_weight=sample_weight))

    def predict(self, X):
        """The predicted targets: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        pred = self._forward(X)
        return pred.ravel() if pred.shape[1] == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
