"""``chainrule.metrics``: classification and regression metrics on arrays, and accumulators.

See :mod:`chainrule.training.metrics` for the formulas.

Example:
    >>> import chainrule as cr
    >>> cr.metrics.accuracy([0, 1, 1], [0, 1, 0])
    0.6666666666666666
"""

from chainrule.training.metrics import *  # noqa: F403
from chainrule.training.metrics import __all__  # noqa: F401
