"""The one place that imports Optuna, an optional extra of chainrule.

Every entry point of :mod:`chainrule.tune` calls :func:`require_optuna` first, so a missing
Optuna is one clear error that says how to install it, and ``import chainrule.tune`` itself
works without it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = "pip install 'chainrule[tune]'"


def require_optuna(what: str = "chainrule.tune") -> ModuleType:
    """Return the ``optuna`` module, or raise a ``ModuleNotFoundError`` saying how to get it.

    Example:
        >>> require_optuna().__name__
        'optuna'
    """
    try:
        optuna = importlib.import_module("optuna")
    except ImportError as e:
        raise ModuleNotFoundError(
            f"{what} needs Optuna, an optional extra of chainrule, which is not installed "
            f"({e}). Install it with: {INSTALL_HINT}",
            name="optuna",
        ) from None
    return optuna
