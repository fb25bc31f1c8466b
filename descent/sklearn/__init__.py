"""scikit-learn estimators backed by descent: `MLPClassifier` and `MLPRegressor`.

They take `sklearn.neural_network`'s parameters with the same meanings, follow
scikit-learn's estimator conventions (so they work in `Pipeline`,
`GridSearchCV` and `cross_val_score`), and train with descent's `train.fit`.

Where they differ from scikit-learn's:

- `solver` is 'sgd', 'adam', 'lbfgs' (scikit-learn's three) or one of descent's
  other optimizers, 'adamw', 'rmsprop', 'adagrad', ...
  As in scikit-learn, `learning_rate` ('constant', 'invscaling', 'adaptive'),
  `power_t`, `momentum` and `nesterovs_momentum` apply to 'sgd' only, `beta_1` and
  `beta_2` to the Adams; `epsilon` to the Adams and RMSprop.
- `alpha` is scikit-learn's L2 penalty, 0.5 * alpha * ||W||^2 on the weights (not the
  biases) over the batch's summed sample weight (its size without weights), added
  to each batch's loss as in scikit-learn's `_backprop`; for 'adamw' it is AdamW's
  decoupled weight decay instead. `sample_weight` (fit, partial_fit, score) weighs
  each sample's loss: a batch's loss is their weighted mean, as in scikit-learn.
- 'lbfgs' runs SciPy's L-BFGS-B (`max_iter`, `max_fun`, `tol` as scikit-learn's) on
  the parameters packed into one float64 vector, with the loss and gradient from the
  network in `dtype`: float32 by default, so its loss_ matches scikit-learn's to ~0.1%;
  dtype=float64 follows its path to 1e-6. As in scikit-learn it records no
  `loss_curve_` and has no `partial_fit`.
- Sparse input (CSR, CSC) is densified a batch of rows at a time (4096 rows for
  'lbfgs' and predictions): memory grows with the batch, but there is no sparse
  product, so a very wide sparse X trains at dense speed.
- Multilabel targets (a binary indicator matrix) get one logistic unit per label,
  as in scikit-learn; `predict` thresholds each probability at 0.5.
- SGD momentum is PyTorch's form, which equals scikit-learn's at a constant rate.
- Weights start as scikit-learn's (Glorot uniform); training runs in `dtype`
  (float32 by default; float64 input is accepted and cast). Predictions and
  probabilities are returned as float64.
- Layers this small train on one BLAS thread (see `_base.ONE_THREAD_WORK`); predictions run
  through a float64 copy of the network, so they do not depend on the batch.
- Each `partial_fit` call shuffles in a new order drawn from one generator seeded by
  `random_state` (scikit-learn reseeds every call and repeats its order), so n calls
  of `partial_fit` equal `fit` with `max_iter=n`, bit for bit.
"""

from descent.sklearn._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
