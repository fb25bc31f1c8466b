"""scikit-learn estimators backed by descent: `MLPClassifier` and `MLPRegressor`.

They take `sklearn.neural_network`'s parameters with the same meanings, follow
scikit-learn's estimator conventions (so they work in `Pipeline`,
`GridSearchCV` and `cross_val_score`), and train with descent's `train.fit`.

Where they differ from scikit-learn's:

- `solver` is 'sgd', 'adam' (scikit-learn's two stochastic solvers) or one of
  descent's other optimizers, 'adamw', 'rmsprop', 'adagrad'; there is no 'lbfgs'.
  As in scikit-learn, `learning_rate` ('constant', 'invscaling', 'adaptive'),
  `power_t`, `momentum` and `nesterovs_momentum` apply to 'sgd' only, `beta_1` and
  `beta_2` to the Adams; `epsilon` to the Adams and RMSprop.
- `alpha` is scikit-learn's L2 penalty, 0.5 * alpha * ||W||^2 / batch size on the
  weights (not the biases), applied as coupled weight decay alpha / batch_size: a
  smaller last batch gets the full batch's decay. For 'adamw' it is AdamW's
  decoupled weight decay instead. `loss_curve_` includes the penalty, taken at the
  epoch's end weights.
- SGD momentum is PyTorch's form, which equals scikit-learn's at a constant rate.
- Weights start as scikit-learn's (Glorot uniform); training runs in `dtype`
  (float32 by default; float64 input is accepted and cast). Predictions and
  probabilities are returned as float64.
- Layers this small train on one BLAS thread (see `_base.ONE_THREAD_WORK`); predictions run
  through a float64 copy of the network, so they do not depend on the batch.
- Each `partial_fit` call shuffles in a new order drawn from one generator seeded by
  `random_state` (scikit-learn reseeds every call and repeats its order), so n calls
  of `partial_fit` equal `fit` with `max_iter=n`, bit for bit.
- Not supported: sparse input, `sample_weight`, multilabel classification,
  scikit-learn's `max_fun` (an lbfgs option).
"""

from descent.sklearn._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
