"""``chainrule.optim``: optimizers, learning-rate schedules and weight averaging.

PyTorch's names, defaults and update order, so a run can be checked step for step against
``torch.optim``. Each optimizer lives in its own file with its algorithm in the docstring.

Example:
    >>> import chainrule as cr
    >>> model = cr.nn.Linear(3, 1)
    >>> opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    >>> sorted(cr.optim.OPTIMIZERS)
    ['adadelta', 'adagrad', 'adam', 'adamw', 'nadam', 'rmsprop', 'sgd']
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam
from chainrule.optim.adamw import AdamW
from chainrule.optim.ema import ExponentialMovingAverage
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

#: Keras-style lower-case names (``compile(optimizer="adam")``) to classes.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "nadam": NAdam,
}

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "ExponentialMovingAverage",
    "NAdam",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
]
