"""``chainrule.callbacks``: Keras-named training callbacks (see :mod:`chainrule.training`).

Example:
    >>> import chainrule as cr
    >>> es = cr.callbacks.EarlyStopping(monitor="val_loss", patience=3)
    >>> isinstance(es, cr.callbacks.Callback)
    True
"""

from chainrule.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from chainrule.training.checkpoint import BackupAndRestore, ModelCheckpoint
from chainrule.training.history import History
from chainrule.training.state import BackupFallbackWarning

__all__ = [
    "BackupAndRestore",
    "BackupFallbackWarning",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
