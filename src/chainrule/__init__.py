"""chainrule: deep learning from first principles on NumPy.

A tensor with reverse-mode automatic differentiation (define-by-run, like PyTorch), the
layers, losses, optimizers and training loop built on it, each formula of the notes written
as code a reader can find, run and check against PyTorch.

Example:
    >>> import chainrule as cr
    >>> w = cr.tensor([2.0], requires_grad=True)
    >>> loss = ((w * 3.0 - 1.0) ** 2).sum()
    >>> loss.backward()
    >>> w.grad
    tensor([30.])
"""

from chainrule import (
    dtypes,
    nn,  # noqa: E402,I001  (nn builds on everything above)
)
from chainrule._summary import summary  # noqa: E402
from chainrule.autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.gradcheck import gradcheck  # noqa: E402
from chainrule.backend import get_num_threads, set_num_threads  # Note [intra-op threads]
from chainrule.creation import (
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    zeros,
    zeros_like,
)
from chainrule.dtypes import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from chainrule.ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    concat,
    cos,
    div,
    exp,
    expand,
    flatten,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    narrow,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from chainrule.random import Generator, default_generator, manual_seed, seed
from chainrule.tensor import Tensor, tensor

float = float32  # noqa: A001  (torch.float)
double = float64
long = int64
bool = bool_  # noqa: A001

__version__ = "0.1.0"

# Sub-packages and names that pull in more code are loaded on first use (PEP 562), so
# ``import chainrule`` stays fast and optional dependencies are never imported eagerly.
_LAZY_MODULES = {
    "optim",
    "data",
    "io",
    "callbacks",
    "models",
    "training",
    "tune",
    "metrics",
    "viz",
}
_LAZY_NAMES = {
    "save": ("chainrule.io", "save"),
    "load": ("chainrule.io", "load"),
    "Input": ("chainrule.models.functional", "Input"),
    "Model": ("chainrule.models.functional", "Model"),
    "recommend": ("chainrule.models.recommend", "recommend"),
}


def __getattr__(name: str):  # noqa: ANN202
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"chainrule.{name}")
    if name in _LAZY_NAMES:
        mod, attr = _LAZY_NAMES[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The eager names and the lazy ones (so ``dir()`` and tab completion show them)."""
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_NAMES))


__all__ = [
    "Function",
    "Input",
    "Model",
    "Generator",
    "gradcheck",
    "nn",
    "Tensor",
    "__version__",
    "abs",
    "add",
    "amax",
    "amin",
    "arange",
    "argmax",
    "argmin",
    "as_tensor",
    "bool",
    "bool_",
    "broadcast_to",
    "cat",
    "callbacks",
    "chunk",
    "clamp",
    "clip",
    "concat",
    "cos",
    "data",
    "default_generator",
    "div",
    "double",
    "dtypes",
    "empty",
    "enable_grad",
    "exp",
    "expand",
    "eye",
    "flatten",
    "float",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "get_default_dtype",
    "get_num_threads",
    "int8",
    "int16",
    "int32",
    "int64",
    "io",
    "is_grad_enabled",
    "linspace",
    "log",
    "log_softmax",
    "load",
    "logsumexp",
    "long",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "metrics",
    "min",
    "minimum",
    "models",
    "mul",
    "narrow",
    "neg",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "permute",
    "pow",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "recommend",
    "relu",
    "reshape",
    "save",
    "seed",
    "set_default_dtype",
    "set_num_threads",
    "set_grad_enabled",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "summary",
    "tanh",
    "tensor",
    "training",
    "transpose",
    "tune",
    "uint8",
    "unsqueeze",
    "var",
    "viz",
    "where",
    "zeros",
    "zeros_like",
]
