"""Training: ``fit``/``evaluate``/``predict``, metrics, callbacks and exact resume.

- :mod:`chainrule.training.trainer`: ``fit``, ``evaluate``, ``predict``, and
  :mod:`chainrule.training.compile`: ``compile_model`` (what
  ``nn.Module.compile/fit/evaluate/predict`` call);
- :mod:`chainrule.training.metrics` (public as ``chainrule.metrics``);
- :mod:`chainrule.training.callbacks`, :mod:`~chainrule.training.checkpoint` and
  :mod:`~chainrule.training.history` (public as ``chainrule.callbacks``);
- :mod:`chainrule.training.state`: what a ``BackupAndRestore`` file holds.
"""

from chainrule.training._loop import TrainingInterrupted
from chainrule.training.callbacks import Callback, CallbackList
from chainrule.training.history import History
from chainrule.training.state import BackupFallbackWarning
from chainrule.training.trainer import LOSSES, compile_model, evaluate, fit, predict

__all__ = [
    "LOSSES",
    "BackupFallbackWarning",
    "Callback",
    "CallbackList",
    "History",
    "TrainingInterrupted",
    "compile_model",
    "evaluate",
    "fit",
    "predict",
]
