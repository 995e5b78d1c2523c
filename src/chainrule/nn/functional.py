"""``chainrule.nn.functional``: the stateless form of every layer, activation and loss,
with PyTorch's argument names (``torch.nn.functional``). Each name is defined, with its
forward and backward, in the family module of :mod:`chainrule.ops` it is imported from."""

from chainrule.ops import activation as _activation  # the families, for __all__
from chainrule.ops import conv as _conv
from chainrule.ops import dropout as _dropout
from chainrule.ops import embedding as _embedding
from chainrule.ops import loss as _loss
from chainrule.ops import normalization as _normalization
from chainrule.ops import pooling as _pooling
from chainrule.ops import recurrent as _recurrent
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

__all__ = sorted(
    {"linear", "pad", "relu", "sigmoid", "tanh"}.union(
        *(
            m.__all__
            for m in (
                _activation,
                _conv,
                _dropout,
                _embedding,
                _loss,
                _normalization,
                _pooling,
                _recurrent,
            )
        )
    )
)
