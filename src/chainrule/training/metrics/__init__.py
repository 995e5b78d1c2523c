r"""Metrics on NumPy arrays: functions, and stateful accumulators that ``fit`` uses.

Every function takes ``(y_true, y_pred)`` in that order (scikit-learn's and Keras's order; the
losses take PyTorch's ``(input, target)``). Classification predictions may be class indices
``(N,)``, scores or logits ``(N, C)`` (the arg-max is the predicted class), or probabilities of
the same shape as ``y_true`` (thresholded: binary or multi-label).

From the confusion matrix :math:`M_{ij}` = number of samples of true class :math:`i` predicted
as :math:`j`, with :math:`tp_c = M_{cc}`, :math:`fp_c = \sum_i M_{ic} - tp_c`,
:math:`fn_c = \sum_j M_{cj} - tp_c`:

.. math::
    P_c = \frac{tp_c}{tp_c + fp_c}, \quad R_c = \frac{tp_c}{tp_c + fn_c}, \quad
    F1_c = \frac{2 P_c R_c}{P_c + R_c}

``macro`` averages :math:`P_c` over the classes that occur in ``y_true`` or ``y_pred``
(scikit-learn's rule); ``micro`` pools the counts first; an undefined ratio (0/0) is 0.
Regression: :math:`MAE = \frac1n\sum|y-\hat y|`, :math:`MSE = \frac1n\sum(y-\hat y)^2`,
:math:`R^2 = 1 - \frac{\sum (y-\hat y)^2}{\sum (y-\bar y)^2}` per output column, then averaged.

Accumulators (:class:`Metric`) follow Keras: ``update(y_true, y_pred)``, ``result()``,
``reset()``; their ``state_dict()`` holds exact float64 totals, so a resumed epoch reports the
same numbers as an uninterrupted one.

The functions are in :mod:`~chainrule.training.metrics._functions`, the accumulators and
the name registry in :mod:`~chainrule.training.metrics._accumulators`; import both from
here (or from :mod:`chainrule.metrics`).
"""

from chainrule.training.metrics import _accumulators, _functions
from chainrule.training.metrics._accumulators import (
    Accuracy,
    ConfusionMatrix,
    F1Score,
    Mean,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    Precision,
    R2Score,
    Recall,
    TopKAccuracy,
    get_metric,
)
from chainrule.training.metrics._functions import (
    accuracy,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision,
    r2_score,
    recall,
    top_k_accuracy,
)

__all__ = [*_accumulators.__all__, *_functions.__all__]
