"""``chainrule.models``: the three ways to build a model (notes 001) and a small model zoo.

- Sequential: :class:`chainrule.nn.Sequential` (with Keras's ``add``).
- Functional: :func:`Input` and :class:`Model` (several inputs and outputs, shared layers).
- Modular: reusable blocks as ``Module`` subclasses (:mod:`chainrule.models.blocks`).

:func:`recommend` turns the notes' task table (002) into an output activation, a loss and an
optimizer.
"""

from chainrule.models.functional import Input, Model, SymbolicTensor
from chainrule.models.recommend import Recommendation, recommend

__all__ = ["Input", "Model", "Recommendation", "SymbolicTensor", "recommend"]
