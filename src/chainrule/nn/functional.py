"""``chainrule.nn.functional``: the stateless form of every layer, activation and loss,
with PyTorch's argument names (``torch.nn.functional``). Each name is defined, with its
forward and backward, in the family module of :mod:`chainrule.ops` it is imported from."""

from chainrule.ops.activation import *  # noqa: F403
from chainrule.ops.conv import *  # noqa: F403
from chainrule.ops.dropout import *  # noqa: F403
from chainrule.ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from chainrule.ops.embedding import *  # noqa: F403
from chainrule.ops.linalg import linear  # noqa: F401
from chainrule.ops.loss import *  # noqa: F403
from chainrule.ops.normalization import *  # noqa: F403
from chainrule.ops.pooling import *  # noqa: F403
from chainrule.ops.recurrent import *  # noqa: F403
from chainrule.ops.shape import pad  # noqa: F401
