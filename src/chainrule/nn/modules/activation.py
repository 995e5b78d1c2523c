r"""Activation layers (PyTorch names and defaults): the nonlinearity :math:`a = g(h)` a neuron
applies to its summed input. The formulas and derivatives are in each class's docstring and in
the functional forms (:mod:`chainrule.ops.activation`); notes 002 collects them in a table.
``inplace`` arguments are accepted for compatibility; chainrule never overwrites an input.
"""

from __future__ import annotations

from typing import Any

from chainrule.creation import full
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import activation as A
from chainrule.ops.elementwise import relu, sigmoid, tanh
from chainrule.ops.linalg import linear
from chainrule.tensor import Tensor

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "SELU",
    "Argmax",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Maxout",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Softsign",
    "Step",
    "Swish",
    "Tanh",
    "Threshold",
]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class Sigmoid(Module):
    r"""Logistic sigmoid with optional slope β (notes 002): :math:`a = 1/(1 + e^{-βh})`.

    :math:`\partial a/\partial h = β a (1 - a)`. β = 1 is PyTorch's ``nn.Sigmoid``; a large β
    approaches the step function of the McCulloch-Pitts neuron.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Sigmoid(beta=2.0)(cr.tensor([0.0, 1.0]))
        tensor([0.5   , 0.8808])
    """

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = float(beta)

    def forward(self, input: Tensor) -> Tensor:
        if self.beta == 1.0:
            return sigmoid(input)
        return sigmoid(input * self.beta)

    def extra_repr(self) -> str:
        return "" if self.beta == 1.0 else f"beta={self.beta}"


class Tanh(Module):
    r""":math:`a = \tanh h = (e^h - e^{-h})/(e^h + e^{-h})`;
    :math:`\partial a/\partial h = 1 - a^2`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Tanh()(cr.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return tanh(input)


class ReLU(Module):
    r""":math:`a = \max(0, h)`; :math:`\partial a/\partial h = 1` for :math:`h > 0`, else 0
    (0 at h = 0, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReLU()(cr.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return relu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class ReLU6(Module):
    r""":math:`a = \min(\max(0, h), 6)`; :math:`\partial a/\partial h = 1` on (0, 6), else 0.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReLU6()(cr.tensor([7.0]))
        tensor([6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.relu6(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    r""":math:`a = h` for :math:`h > 0`, :math:`s h` otherwise; :math:`\partial a/\partial h = 1`
    or :math:`s`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LeakyReLU(0.2)(cr.tensor([-1.0]))
        tensor([-0.2])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        extra = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{extra}"


class PReLU(Module):
    r"""Leaky ReLU with a learnable slope: :math:`a = h` for :math:`h > 0`, :math:`α_c h`
    otherwise, one α per channel (``num_parameters`` = C) or one shared (1), initialised to
    ``init`` (0.25). :math:`\partial a/\partial α_c = h` where :math:`h \le 0`.

    Example:
        >>> import chainrule as cr
        >>> m = cr.nn.PReLU()
        >>> m(cr.tensor([-4.0, 1.0])).detach()
        tensor([-1.,  1.])
    """

    weight: Parameter

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int):
            raise TypeError(f"PReLU: num_parameters must be an int, got {num_parameters!r}")
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        # PyTorch keeps this as ``num_parameters``; here that name is Module.num_parameters(),
        # the parameter count, so the number of slopes is ``weight.shape[0]`` / ``num_slopes``
        self.num_slopes = num_parameters
        self.init = float(init)
        self.weight = Parameter(full((num_parameters,), self.init, dtype=dtype))

    def reset_parameters(self) -> None:
        self.weight.data[...] = self.init

    def forward(self, input: Tensor) -> Tensor:
        return A.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_slopes}"


class ELU(Module):
    r""":math:`a = h` for :math:`h > 0`, :math:`α(e^h - 1)` otherwise;
    :math:`\partial a/\partial h = 1` or :math:`a + α`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ELU()(cr.tensor([2.0]))
        tensor([2.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(Module):
    r""":math:`a = \max(0, h) + \min(0, α(e^{h/α} - 1))`; :math:`\partial a/\partial h = e^{h/α}`
    for :math:`h \le 0`, else 1.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.CELU()(cr.tensor([1.0]))
        tensor([1.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    r"""Self-normalising ELU: :math:`a = λh` for :math:`h > 0`, :math:`λα(e^h - 1)` otherwise
    (λ ≈ 1.0507, α ≈ 1.6733); pair it with ``init.lecun_normal_``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SELU()(cr.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.selu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class SiLU(Module):
    r""":math:`a = h\,σ(h)` (swish with β = 1); :math:`\partial a/\partial h = σ(h)(1 + h(1-σ(h)))`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SiLU()(cr.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.silu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Swish(Module):
    r"""Swish (notes 002): :math:`a = h\,σ(βh)`;
    :math:`\partial a/\partial h = βa + σ(βh)(1 - βa)`.

    With ``learnable=True`` β is a parameter (named ``beta``, shape (1,)) trained with the
    rest, :math:`\partial a/\partial β = h^2 σ(βh)(1 - σ(βh))`. β = 1 is SiLU.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Swish(beta=1.0)(cr.tensor([0.0, 1.0]))
        tensor([0.    , 0.7311])
    """

    beta: Any  # a float, or a Parameter when learnable

    def __init__(self, beta: float = 1.0, learnable: bool = False, dtype: Any = None) -> None:
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = Parameter(full((1,), float(beta), dtype=dtype))
        else:
            self.beta = float(beta)

    def forward(self, input: Tensor) -> Tensor:
        return A.swish(input, self.beta)

    def extra_repr(self) -> str:
        if self.learnable:
            return "learnable=True"
        return f"beta={self.beta}"


class GELU(Module):
    r""":math:`a = h\,Φ(h)` (Φ the standard normal CDF), or its tanh approximation;
    :math:`\partial a/\partial h = Φ(h) + hφ(h)`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.GELU(approximate="tanh")(cr.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return A.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    r""":math:`a = \frac1β\ln(1 + e^{βh})` (:math:`h` where :math:`βh >` threshold);
    :math:`\partial a/\partial h = σ(βh)`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softplus()(cr.tensor([1e4]))
        tensor([10000.])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    r""":math:`a = \ln σ(h)`; :math:`\partial a/\partial h = 1 - σ(h)`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LogSigmoid()(cr.tensor([-1e4]))
        tensor([-10000.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.log_sigmoid(input)


class Hardtanh(Module):
    r""":math:`a = \min(\max(h, lo), hi)`; :math:`\partial a/\partial h = 1` strictly inside.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Hardtanh()(cr.tensor([2.0]))
        tensor([1.])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        extra = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{extra}"


class Softsign(Module):
    r""":math:`a = h/(1 + |h|)`; :math:`\partial a/\partial h = 1/(1 + |h|)^2`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softsign()(cr.tensor([1.0]))
        tensor([0.5])
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.softsign(input)


class Threshold(Module):
    r"""PyTorch's threshold: :math:`a = h` if :math:`h > θ` else ``value``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Threshold(0.1, 20.0)(cr.tensor([0.0, 1.0]))
        tensor([20.,  1.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        extra = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{extra}"


class Step(Module):
    r"""The McCulloch-Pitts neuron's activation (notes 002): :math:`y = 1` if :math:`h > θ`,
    else 0. No gradient: backward gives zeros (see :func:`chainrule.nn.functional.step`).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Step(theta=0.5)(cr.tensor([0.5, 0.6]))
        tensor([0., 1.])
    """

    def __init__(self, theta: float = 0.0) -> None:
        super().__init__()
        self.theta = theta

    def forward(self, input: Tensor) -> Tensor:
        return A.step(input, self.theta)

    def extra_repr(self) -> str:
        return f"theta={self.theta}"


class Softmax(Module):
    r""":math:`a_i = e^{h_i} / \sum_j e^{h_j}` over ``dim``;
    :math:`\partial a_i/\partial h_j = a_i(δ_{ij} - a_j)`.

    ``dim=None`` means the last axis (PyTorch's implicit choice is deprecated there).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softmax(dim=1)(cr.tensor([[0.0, 0.0]]))
        tensor([[0.5, 0.5]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return A.softmax(input, -1 if self.dim is None else self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    r""":math:`a_i = h_i - \ln\sum_j e^{h_j}` over ``dim``; :math:`\partial a_i/\partial h_j =
    δ_{ij} - \mathrm{softmax}(h)_j`. ``dim=None`` means the last axis.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LogSoftmax(dim=1)(cr.tensor([[0.0, 0.0]]))
        tensor([[-0.6931, -0.6931]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return A.log_softmax(input, -1 if self.dim is None else self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Argmax(Module):
    r"""The decision: the index of the largest score, :math:`\hat y = \arg\max_i h_i` (notes
    002's table: "final decision in classification"). Not differentiable; put it after
    training, on top of logits or probabilities.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Argmax()(cr.tensor([[0.1, 2.0, -1.0]]))
        tensor([1])
    """

    def __init__(self, dim: int = -1, keepdim: bool = False) -> None:
        super().__init__()
        self.dim = dim
        self.keepdim = keepdim

    def forward(self, input: Tensor) -> Tensor:
        return A.argmax(input, self.dim, self.keepdim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}" + (", keepdim=True" if self.keepdim else "")


class Maxout(Module):
    r"""Maxout layer (Goodfellow et al. 2013; notes 002's table): ``pieces`` = k affine maps
    per output unit and their maximum,

    .. math:: a_j = \max_{p < k} (w_{jk+p}^\top x + b_{jk+p}),

    one ``Linear(in_features, out_features * pieces)`` (``weight`` (out·k, in), ``bias``
    (out·k); rows jk..jk+k−1 belong to unit j) followed by :func:`~chainrule.nn.functional.maxout`.
    The gradient flows to the winning piece only. Generalises ReLU (pieces h and 0).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Maxout(4, 3, pieces=2)(cr.zeros(5, 4)).shape
        (5, 3)
    """

    weight: Parameter
    bias: Parameter | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        pieces: int = 2,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive int, got {pieces!r}")
        from chainrule.nn.modules.linear import Linear

        proto = Linear(in_features, out_features * pieces, bias=bias, dtype=dtype)
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = pieces
        self.weight = proto.weight
        if bias:
            self.bias = proto.bias
        else:
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"Maxout expected input with last dimension {self.in_features} (in_features), "
                f"got shape {tuple(input.shape)}"
            )
        return A.maxout(linear(input, self.weight, self.bias), self.pieces, dim=-1)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"pieces={self.pieces}, bias={self.bias is not None}"
        )
