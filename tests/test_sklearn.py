"""descent.sklearn: scikit-learn's estimator checks, its tools, learning results, bad input."""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    make_friedman1,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from descent.backend import blas_threads
from descent.data import DataLoader
from descent.sklearn import MLPClassifier, MLPRegressor, _data

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


SAMPLE_WEIGHT_CHECKS = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)


@parametrize_with_checks(
    [MLPClassifier(max_iter=100, random_state=0), MLPRegressor(max_iter=100, random_state=0)]
)
def test_sklearn_estimator_checks(estimator, check):
    # weights equal repeated rows only where the batches do not depend on the rows' count:
    # scikit-learn checks its own MLPs there with solver='lbfgs'; float64 for its rtol=1e-7
    if check.func.__name__ in SAMPLE_WEIGHT_CHECKS:
        estimator = clone(estimator).set_params(solver="lbfgs", dtype=np.float64)
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# -- learning results ------------------------------------------------------------------------


def test_digits_accuracy_matches_sklearn_within_a_point(digits):
    X_train, X_test, y_train, y_test = digits
    ours, theirs = [], []
    for seed in range(3):
        ours.append(MLPClassifier(random_state=seed).fit(X_train, y_train).score(X_test, y_test))
        with blas_threads(1):  # quicker on a busy machine
            model = SklearnClassifier(random_state=seed).fit(X_train, y_train)
        theirs.append(model.score(X_test, y_test))
    assert np.mean(ours) > 0.95
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01, (ours, theirs)


def test_regressor_r2_close_to_sklearn():
    X, y = make_friedman1(n_samples=1000, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scores = []
    for kind in (MLPRegressor, SklearnRegressor):
        model = TransformedTargetRegressor(
            make_pipeline(StandardScaler(), kind(random_state=0)), transformer=StandardScaler()
        )
        with blas_threads(1):
            scores.append(model.fit(X_train, y_train).score(X_test, y_test))
    ours, theirs = scores
    assert ours > 0.9
    assert ours > theirs - 0.03, scores


def test_multi_output_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    Y = np.column_stack([X[:, 0] - X[:, 1], np.tanh(X[:, 2]) + 0.5 * X[:, 3]])
    model = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, Y)
    assert model.predict(X).shape == (300, 2)
    assert model.n_outputs_ == 2 and model.out_activation_ == "identity"
    assert model.score(X, Y) > 0.9


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_solver_learns_iris(iris, solver):
    X, y = iris
    rate = {"adam": 0.01, "adamw": 0.01, "rmsprop": 0.01}.get(solver, 0.1)
    model = MLPClassifier(
        hidden_layer_sizes=(16,), solver=solver, learning_rate_init=rate, max_iter=100,
        random_state=0,
    )  # fmt: skip
    assert model.fit(X, y).score(X, y) > 0.9


# -- scikit-learn's tools ----------------------------------------------------------------------


def test_pipeline_in_grid_search_and_cross_val_score(iris):
    X, y = load_iris(return_X_y=True)
    mlp = MLPClassifier(learning_rate_init=0.01, max_iter=100, random_state=0)
    pipe = make_pipeline(StandardScaler(), mlp)
    grid = {
        "mlpclassifier__hidden_layer_sizes": [(8,), (16,)],
        "mlpclassifier__activation": ["relu", "tanh"],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_score_ > 0.85
    assert set(search.best_params_) == set(grid)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    scores = cross_val_score(mlp, *iris, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85


def test_a_deep_copy_predicts_the_same_and_trains_on(iris):
    # (pickling, as joblib does, is among the estimator checks)
    X, y = iris
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(twin.predict_proba(X), model.predict_proba(X))
    twin.partial_fit(X, y)  # the optimizer state came along
    model.partial_fit(X, y)
    np.testing.assert_array_equal(twin.predict_proba(X), model.predict_proba(X))


# -- scikit-learn's semantics -------------------------------------------------------------------


def test_random_state_makes_fits_identical(iris):
    X, y = iris
    fits = [MLPClassifier(max_iter=30, random_state=seed).fit(X, y) for seed in (3, 3, 4)]
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    assert fits[0].loss_curve_ != fits[2].loss_curve_


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("kind", [MLPClassifier, MLPRegressor])
def test_partial_fit_equals_continued_training(iris, kind, shuffle):
    # with shuffle, both draw each epoch's order from the one generator made at the first fit
    X, y = iris
    options = dict(hidden_layer_sizes=(8,), batch_size=32, shuffle=shuffle, n_iter_no_change=100,
                   random_state=0)  # fmt: skip
    whole = kind(max_iter=5, **options).fit(X, y)
    steps = kind(**options)
    for _ in range(5):
        steps.partial_fit(X, y, **({"classes": np.unique(y)} if kind is MLPClassifier else {}))
    for a, b in zip(whole.coefs_ + whole.intercepts_, steps.coefs_ + steps.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(whole.loss_curve_, steps.loss_curve_)
    assert steps.n_iter_ == 1 and steps.t_ == whole.t_ == 5 * len(X)


def test_partial_fit_draws_a_new_order_each_call_and_fit_starts_over(iris, monkeypatch):
    X, y = iris
    orders = []
    begin = DataLoader._begin_epoch

    def record(loader):
        begin(loader)
        orders.append(loader._order.copy())

    monkeypatch.setattr(DataLoader, "_begin_epoch", record)
    model = MLPClassifier(hidden_layer_sizes=(4,), batch_size=10, random_state=0)
    for _ in range(3):
        model.partial_fit(X, y, classes=[0, 1, 2])
    # an int seed does not repeat the order (the first call's draws follow the weights')
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    # `fit` starts the generator over: refitting the same estimator repeats the first run
    model.set_params(max_iter=2).fit(X, y)
    first = model.loss_curve_
    orders.clear()
    assert model.fit(X, y).loss_curve_ == first
    fresh = MLPClassifier(hidden_layer_sizes=(4,), batch_size=10, max_iter=2, random_state=0)
    assert fresh.fit(X, y).loss_curve_ == first
    np.testing.assert_array_equal(orders[0], orders[2])
    np.testing.assert_array_equal(orders[1], orders[3])


def test_binary_classes_get_one_logistic_unit_and_two_columns():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    model = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)
    model.fit(X, y)
    assert model.out_activation_ == "logistic" and model.n_outputs_ == 1
    proba = model.predict_proba(X)
    assert proba.shape == (200, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), model.predict_log_proba(X), atol=1e-12)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))
    assert model.score(X, y) > 0.9


def test_multiclass_is_softmax_and_shapes_follow_sklearn(iris):
    X, y = iris
    model = MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=10, random_state=0).fit(X, y)
    assert model.out_activation_ == "softmax" and model.n_layers_ == 4
    assert [c.shape for c in model.coefs_] == [(4, 7), (7, 5), (5, 3)]
    assert [b.shape for b in model.intercepts_] == [(7,), (5,), (3,)]
    assert len(model.loss_curve_) == model.n_iter_ == 10
    assert model.n_features_in_ == 4 and list(model.classes_) == [0, 1, 2]


def test_convergence_warning_and_tolerance(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    # with a huge tol only the first epoch improves; the run stops when
    # n_iter_no_change + 1 epochs in a row did not, as scikit-learn's does
    model = MLPClassifier(tol=10.0, n_iter_no_change=2, random_state=0).fit(X, y)
    assert model.n_iter_ == 4
    assert model.best_loss_ == min(model.loss_curve_)


def test_early_stopping_keeps_the_best_validation_weights(digits):
    X_train, _, y_train, _ = digits
    options = dict(early_stopping=True, n_iter_no_change=3, random_state=0)
    model = MLPClassifier(**options).fit(X_train, y_train)
    assert model.n_iter_ < 200 and model.best_loss_ is None
    assert len(model.validation_scores_) == len(model.loss_curve_) == model.n_iter_
    best = int(np.argmax(model.validation_scores_))
    assert model.best_validation_score_ == model.validation_scores_[best]
    assert best + 1 < model.n_iter_  # later epochs were worse, and were undone:
    # the same run cut off after the best epoch ends with the same weights
    cut = MLPClassifier(max_iter=best + 1, **options).fit(X_train, y_train)
    for a, b in zip(model.coefs_ + model.intercepts_, cut.coefs_ + cut.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_warm_start_continues_from_the_last_fit(iris):
    X, y = iris
    model = MLPClassifier(max_iter=5, warm_start=True, n_iter_no_change=100, random_state=0)
    first = [w.copy() for w in model.fit(X, y).coefs_]
    model.fit(X, y)
    assert len(model.loss_curve_) == 10 and model.n_iter_ == 5 and model.t_ == 10 * len(X)
    cold = MLPClassifier(max_iter=5, n_iter_no_change=100, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])
    assert not np.array_equal(model.coefs_[0], first[0])


def test_sgd_learning_rate_schedules(iris):
    X, y = iris
    sgd = dict(solver="sgd", learning_rate_init=0.1, random_state=0, max_iter=4)
    model = MLPClassifier(learning_rate="invscaling", power_t=0.5, **sgd).fit(X, y)
    assert model.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 / (4 * 150 + 1) ** 0.5)
    # adaptive: the rate drops five-fold whenever the loss stalls for n_iter_no_change epochs
    model = MLPClassifier(learning_rate="adaptive", tol=10.0, n_iter_no_change=1, **sgd)
    model.fit(X, y)
    assert model.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 / 5)
    constant = MLPClassifier(**sgd).fit(X, y)
    assert constant.optimizer_.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_sgd_learning_rate_follows_sklearn_through_partial_fit_and_warm_start(iris, learning_rate):
    """The schedulers carry the rate over from call to call as scikit-learn's solver does."""
    X, y = iris
    options = dict(solver="sgd", learning_rate=learning_rate, learning_rate_init=0.1,
                   hidden_layer_sizes=(5,), random_state=0, n_iter_no_change=1,
                   tol=10.0 if learning_rate == "adaptive" else 1e-4)  # fmt: skip
    ours, theirs = MLPClassifier(**options), SklearnClassifier(**options)
    for _ in range(4):
        ours.partial_fit(X, y, classes=[0, 1, 2])
        theirs.partial_fit(X, y, classes=[0, 1, 2])
        assert ours.optimizer_.param_groups[0]["lr"] == pytest.approx(
            theirs._optimizer.learning_rate
        )
    for model in (ours, theirs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.set_params(max_iter=6).fit(X, y)
            model.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert ours.optimizer_.param_groups[0]["lr"] == pytest.approx(theirs._optimizer.learning_rate)
    assert ours.n_iter_ == theirs.n_iter_


def test_alpha_is_an_l2_penalty_on_the_weights(iris):
    X, y = iris
    norms = []
    for alpha in (0.0, 3.0):
        model = MLPClassifier(hidden_layer_sizes=(16,), alpha=alpha, batch_size=16,
                              learning_rate_init=0.01, random_state=0).fit(X, y)  # fmt: skip
        norms.append(sum(float(np.sum(w**2)) for w in model.coefs_))
    assert norms[1] < 0.5 * norms[0]


def test_float64_training_and_full_batch(iris):
    X, y = iris
    model = MLPClassifier(dtype=np.float64, batch_size="full", max_iter=10, random_state=0)
    model.fit(X, y)
    assert model.coefs_[0].dtype == np.float64 and model.t_ == 10 * len(X)
    assert MLPClassifier(max_iter=10, random_state=0).fit(X, y).coefs_[0].dtype == np.float32


def test_verbose_prints_the_loss(iris, capsys):
    X, y = iris
    MLPClassifier(max_iter=2, verbose=True, random_state=0).fit(X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, named",
    [
        ("solver", "lbgfs", "did you mean 'lbfgs'"),
        ("max_fun", 0, "max_fun=0"),
        ("activation", "softplus", "logistic"),
        ("learning_rate", "cosine", "invscaling"),
        ("batch_size", 0, "batch_size=0"),
        ("hidden_layer_sizes", (10, 0), "hidden_layer_sizes must be > 0"),
        ("validation_fraction", 1.0, "validation_fraction=1.0"),
        ("alpha", -1.0, "alpha=-1.0"),
    ],
)
def test_bad_parameters_are_named_at_fit(iris, option, value, named):
    X, y = iris
    model = MLPClassifier(**{option: value})  # __init__ only stores
    with pytest.raises(ValueError, match=named.replace("(", "\\(").replace(")", "\\)")):
        model.fit(X, y)


def test_wrong_feature_count_at_predict(iris):
    X, y = iris
    model = MLPClassifier(max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        model.predict(X[:, :3])


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(np.zeros((2, 3)))


def test_partial_fit_needs_classes_first_and_keeps_them(iris):
    X, y = iris
    model = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # a class may be missing at first
    assert list(model.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="not in `classes_`"):
        model.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="not the same as on the first call"):
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_classification_needs_labels_and_two_classes(iris):
    X, y = iris
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier().fit(X, np.zeros(len(X)))


def test_output_count_must_match_the_fitted_regressor():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="y has 1 output.*fitted with 2 outputs"):
        model.partial_fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="y has 3 outputs.*fitted with 2 outputs"):
        model.partial_fit(X, np.hstack([Y, Y[:, :1]]))
    model.partial_fit(X, Y)
    one = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="y has 2 outputs.*fitted with 1 output\\b"):
        one.set_params(warm_start=True).fit(X, Y)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_diverging_training_says_so(iris):
    X, y = iris
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        MLPRegressor(solver="sgd", learning_rate_init=10.0, max_iter=20).fit(X * 1e3, y * 1e3)


@pytest.mark.parametrize("solver", ["adadelta", "adamax", "nadam", "radam", "rmsprop", "adagrad"])
def test_every_solver_trains_with_its_own_optimizer(solver):
    from descent import optim
    from descent.sklearn import MLPClassifier

    X, y = load_iris(return_X_y=True)
    model = MLPClassifier(solver=solver, max_iter=3, random_state=0).fit(X, y)
    assert type(model.optimizer_) is optim.OPTIMIZERS[solver]


# -- sample weights, lbfgs, sparse input, multilabel -----------------------------------------


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sample_weight_of_ones_equals_none(iris, solver):
    X, y = iris
    options = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=20, random_state=0)
    plain = MLPClassifier(**options).fit(X, y)
    ones = MLPClassifier(**options).fit(X, y, sample_weight=np.ones(len(y)))
    for a, b in zip(plain.coefs_ + plain.intercepts_, ones.coefs_ + ones.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert plain.loss_ == pytest.approx(ones.loss_, rel=1e-6)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_integer_weights_equal_repeated_rows(iris, solver):
    X, y = iris
    counts = np.random.default_rng(0).integers(0, 4, len(y))
    options = dict(hidden_layer_sizes=(8,), solver=solver, batch_size="full", max_iter=30,
                   alpha=0.1, shuffle=False, dtype=np.float64, random_state=0)  # fmt: skip
    weighted = MLPRegressor(**options).fit(X, y, sample_weight=counts)
    repeated = MLPRegressor(**options).fit(np.repeat(X, counts, 0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6, atol=1e-8)
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-6)


def test_weighted_loss_and_penalty_are_sklearns(iris):
    # lbfgs in float64 follows scikit-learn's path to 1e-6: the same loss, weights, penalty
    X, y = iris
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    options = dict(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.5, max_iter=50,
                   random_state=0)  # fmt: skip
    ours = MLPClassifier(dtype=np.float64, **options).fit(X, y, sample_weight=w)
    theirs = SklearnClassifier(**options).fit(X, y, sample_weight=w)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    assert ours.score(X, y, sample_weight=w) == theirs.score(X, y, sample_weight=w)


def test_sample_weight_in_partial_fit_and_early_stopping(iris):
    X, y = iris
    w = np.where(y == 0, 5.0, 1.0)
    model = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    model.partial_fit(X, y, sample_weight=w, classes=[0, 1, 2])
    assert model.n_iter_ == 1
    stopped = MLPClassifier(early_stopping=True, random_state=0).fit(X, y, sample_weight=w)
    assert len(stopped.validation_scores_) == stopped.n_iter_
    with pytest.raises(ValueError, match="sample_weight"):
        model.partial_fit(X, y, sample_weight=w[:-1])


@pytest.mark.parametrize("load", [load_digits, load_breast_cancer])
def test_lbfgs_matches_sklearn(load):
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)  # fmt: skip
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    options = dict(hidden_layer_sizes=(16,), solver="lbfgs", alpha=1.0, random_state=0)
    ours = MLPClassifier(**options).fit(X_train, y_train)
    with blas_threads(1):
        theirs = SklearnClassifier(**options).fit(X_train, y_train)
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.01
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0.01)
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")
    assert ours.n_iter_ <= ours.max_iter


def test_lbfgs_limits_and_no_partial_fit(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        model = MLPClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    assert model.n_iter_ == 5
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(solver="lbfgs", max_fun=3, random_state=0).fit(X, y)
    assert not hasattr(model, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as caught:
        MLPRegressor(solver="lbfgs").partial_fit(X, y)
    assert "only available for stochastic optimizers" in str(caught.value.__cause__)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("kind", [MLPClassifier, MLPRegressor])
def test_sparse_input_gives_the_dense_results(iris, kind, solver):
    X, y = iris
    X = np.where(np.abs(X) < 0.5, 0.0, X)  # mostly zeros
    options = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=20, random_state=0)
    dense = kind(**options).fit(X, y)
    for fmt in (sp.csr_matrix, sp.csc_matrix):
        sparse = kind(**options).fit(fmt(X), y)
        np.testing.assert_allclose(sparse.predict(fmt(X)), dense.predict(X), rtol=1e-6)
        np.testing.assert_array_equal(sparse.predict(fmt(X)), sparse.predict(X))
        assert sparse.loss_ == pytest.approx(dense.loss_, rel=1e-6)


def test_full_batch_passes_and_sparse_predictions_run_in_chunks(iris, monkeypatch):
    X, y = iris
    options = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=20, random_state=0)
    whole = MLPClassifier(**options).fit(X, y)
    monkeypatch.setattr(_data, "PREDICT_ROWS", 16)
    chunked = MLPClassifier(**options).fit(sp.csr_matrix(X), y)
    assert chunked.loss_ == pytest.approx(whole.loss_, rel=1e-5)
    np.testing.assert_allclose(chunked.coefs_[0], whole.coefs_[0], rtol=1e-4, atol=1e-6)
    proba = chunked.predict_proba(X)
    np.testing.assert_array_equal(chunked.predict_proba(sp.csr_matrix(X)), proba)


def test_multilabel_matches_sklearn():
    X, Y = make_multilabel_classification(n_samples=600, n_features=20, n_classes=5,
                                          random_state=0)  # fmt: skip
    X = StandardScaler().fit_transform(X)
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
    options = dict(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    ours = MLPClassifier(**options).fit(X_train, Y_train)
    with blas_threads(1):
        theirs = SklearnClassifier(**options).fit(X_train, Y_train)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 5
    np.testing.assert_array_equal(ours.classes_, np.arange(5))
    proba = ours.predict_proba(X_test)
    assert proba.shape == (len(X_test), 5)
    np.testing.assert_array_equal(ours.predict(X_test), (proba > 0.5).astype(int))
    ours_score, theirs_score = ours.score(X_test, Y_test), theirs.score(X_test, Y_test)
    assert abs(ours_score - theirs_score) <= 0.04, (ours_score, theirs_score)
    lbfgs = dict(options, solver="lbfgs", alpha=1.0)
    ours = MLPClassifier(**lbfgs).fit(X_train, Y_train)
    with blas_threads(1):
        theirs = SklearnClassifier(**lbfgs).fit(X_train, Y_train)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0.01)
