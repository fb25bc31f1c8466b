"""`MLPClassifier` and `MLPRegressor`: targets, losses, scores and predictions."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import validate_data

from descent import nn
from descent.nn import functional as F
from descent.sklearn._base import DTYPES, _BaseMLP
from descent.tensor import Tensor


def _half_mse(pred: Tensor, target: Tensor) -> Tensor:
    """scikit-learn's squared loss, mean((pred - target)**2) / 2."""
    return F.mse_loss(pred, target) * 0.5


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier trained by descent; see `sklearn.neural_network`.

    Binary problems get one logistic output unit, multiclass ones a softmax over
    one unit per class, as in scikit-learn. Attributes after fit: `classes_`,
    `model_` (the descent network), `optimizer_`, `coefs_`, `intercepts_`,
    `loss_`, `loss_curve_`, `best_loss_`, `validation_scores_`,
    `best_validation_score_`, `n_iter_`, `t_`, `n_layers_`, `n_outputs_`,
    `out_activation_`, `n_features_in_`.
    """

    def fit(self, X, y):
        """Train for up to max_iter epochs, from scratch or (warm_start) from the last fit."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y); the first call needs `classes`, every label there will be."""
        return self._fit(X, y, incremental=True, classes=classes)

    def _validate_input(self, X, y, first_pass, incremental, classes):
        X, y = validate_data(self, X, y, dtype=DTYPES, reset=first_pass)
        check_classification_targets(y)
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
        return X, np.searchsorted(self.classes_, y)

    def _n_outputs(self, y) -> int:
        binary = len(self.classes_) == 2
        self.out_activation_ = "logistic" if binary else "softmax"
        return 1 if binary else len(self.classes_)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        if self.n_outputs_ == 1:
            return y.astype(self.dtype).reshape(-1, 1)
        return y

    def _loss_fn(self):
        return nn.BCEWithLogitsLoss() if self.n_outputs_ == 1 else nn.CrossEntropyLoss()

    def _validation_score(self, X_val, y_val) -> float:
        return float(np.mean(self._indices(self._forward(X_val, check_input=False)) == y_val))

    def _indices(self, logits: np.ndarray) -> np.ndarray:
        return (logits[:, 0] > 0).astype(np.intp) if logits.shape[1] == 1 else logits.argmax(1)

    def predict(self, X):
        """The most probable class of each sample."""
        indices = self._indices(self._forward(X))
        return self.classes_[indices]

    def predict_log_proba(self, X):
        """Log-probabilities of the classes, columns in the order of `classes_`."""
        logits = self._forward(X)
        if logits.shape[1] == 1:  # log sigmoid(-z), log sigmoid(z)
            logits = np.hstack([np.zeros_like(logits), logits])
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict_proba(self, X):
        """Probabilities of the classes, columns in the order of `classes_`; rows sum to 1."""
        return np.exp(self.predict_log_proba(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor trained by descent; see `sklearn.neural_network`.

    The loss is scikit-learn's squared error, mean((pred - y)**2) / 2, with one
    identity output unit per target column (several columns: multi-output).
    Attributes after fit are the classifier's, without `classes_`.
    """

    def fit(self, X, y):
        """Train for up to max_iter epochs, from scratch or (warm_start) from the last fit."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over (X, y), continuing from the last call."""
        return self._fit(X, y, incremental=True)

    def _validate_input(self, X, y, first_pass, incremental, classes):
        X, y = validate_data(self, X, y, dtype=DTYPES, multi_output=True, y_numeric=True,
                             reset=first_pass)  # fmt: skip
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

    def _loss_fn(self):
        return _half_mse

    def _validation_score(self, X_val, y_val) -> float:
        pred = self._forward(X_val, check_input=False)
        if not np.isfinite(pred).all():
            return math.nan
        return float(r2_score(y_val.reshape(len(y_val), -1), pred))

    def predict(self, X):
        """The predicted targets: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        pred = self._forward(X)
        return pred.ravel() if pred.shape[1] == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
