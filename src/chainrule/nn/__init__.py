"""``chainrule.nn``: modules, layers, activations, losses and initialisers (PyTorch names)."""

from chainrule.nn import functional, init, utils
from chainrule.nn.module import IncompatibleKeys, Module
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
