"""``chainrule.nn``: modules, layers, activations, losses and initialisers (PyTorch names)."""

from chainrule.nn import functional, init, utils
from chainrule.nn.module import IncompatibleKeys, Module
from chainrule.nn.modules import activation as _activation  # the families, for __all__
from chainrule.nn.modules import conv as _conv
from chainrule.nn.modules import dropout as _dropout
from chainrule.nn.modules import embedding as _embedding
from chainrule.nn.modules import loss as _loss
from chainrule.nn.modules import merge as _merge
from chainrule.nn.modules import normalization as _normalization
from chainrule.nn.modules import pooling as _pooling
from chainrule.nn.modules import recurrent as _recurrent
from chainrule.nn.modules.activation import *  # noqa: F403
from chainrule.nn.modules.container import ModuleDict, ModuleList, Sequential
from chainrule.nn.modules.conv import *  # noqa: F403
from chainrule.nn.modules.dropout import *  # noqa: F403
from chainrule.nn.modules.embedding import *  # noqa: F403
from chainrule.nn.modules.linear import Flatten, Identity, Linear
from chainrule.nn.modules.loss import *  # noqa: F403
from chainrule.nn.modules.merge import *  # noqa: F403
from chainrule.nn.modules.normalization import *  # noqa: F403
from chainrule.nn.modules.pooling import *  # noqa: F403
from chainrule.nn.modules.recurrent import *  # noqa: F403
from chainrule.nn.parameter import Buffer, Parameter

__all__ = sorted(
    {
        "Buffer",
        "Flatten",
        "Identity",
        "IncompatibleKeys",
        "Linear",
        "Module",
        "ModuleDict",
        "ModuleList",
        "Parameter",
        "Sequential",
        "functional",
        "init",
        "utils",
    }.union(
        *(
            m.__all__
            for m in (
                _activation,
                _conv,
                _dropout,
                _embedding,
                _loss,
                _merge,
                _normalization,
                _pooling,
                _recurrent,
            )
        )
    )
)
