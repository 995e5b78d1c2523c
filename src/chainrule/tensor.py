"""``Tensor``: an array of the backend plus what reverse-mode differentiation needs.

A tensor holds ``data`` (a NumPy or CuPy array), ``grad`` (a tensor of the same shape, filled
by :meth:`Tensor.backward`), ``requires_grad`` and, when an op produced it while gradients
were being recorded, the op's context ``_ctx`` (its inputs and saved arrays). Methods are
one-line delegations to the ops in :mod:`chainrule.ops`, grouped by family below.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.backend import get_array_module, to_numpy

__all__ = ["Tensor", "tensor"]


class Tensor:
    """A multi-dimensional array that can record the ops applied to it for ``backward``.

    Build one with :func:`chainrule.tensor` (or ``zeros``, ``randn``, ...). Arithmetic,
    indexing and the methods below mirror PyTorch's names and semantics.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = (
        "data",
        "_grad",
        "_requires_grad",
        "_ctx",
        "_retains_grad",
        "_grad_hooks",
        "__weakref__",
    )
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        arr = _to_array(data, dtype)
        self.data = arr
        self._grad: Tensor | None = None
        self._ctx: Any = None
        self._retains_grad = False
        self._grad_hooks: list[Callable[[Any], Any]] | None = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: Any, requires_grad: bool, ctx: Any) -> Tensor:
        """Fast constructor for op outputs: no conversion, no checks."""
        t = object.__new__(cls)
        if isinstance(data, np.generic):
            data = np.asarray(data)
        t.data = data
        t._grad = None
        t._requires_grad = requires_grad
        t._ctx = ctx
        t._retains_grad = False
        t._grad_hooks = None
        return t

    # ---- autograd attributes ----
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (only floating tensors can require gradients)."""
        if requires_grad and not dtypes.is_floating(self.data.dtype):
            raise RuntimeError(
                f"only tensors of floating dtype can require gradients, got dtype "
                f"{self.data.dtype}; convert with .float() first"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError(
                "requires_grad can only be turned off on leaf tensors; use .detach() instead"
            )
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (a tensor of this tensor's shape), or ``None``."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        g = value if isinstance(value, Tensor) else Tensor(value, dtype=self.data.dtype)
        if g.shape != self.shape:
            raise ValueError(f"assigned grad has shape {g.shape}, expected {self.shape}")
        self._grad = g

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        return self._ctx

    def _accumulate_grad(self, g: Any) -> None:
        if self._grad is None:
            self._grad = Tensor._make(g, False, None)
            return
        cur = self._grad.data
        if cur.flags.writeable and cur.dtype == g.dtype and cur.shape == g.shape:
            cur += g  # in place, as PyTorch's AccumulateGrad: no new array per backward
        else:  # a read-only or differently typed .grad that the user assigned
            self._grad.data = cur + g

    def retain_grad(self) -> None:
        """Keep ``.grad`` for a non-leaf tensor after backward (for inspection)."""
        if self._ctx is None:
            return
        self._retains_grad = True

    def register_hook(self, hook: Callable[[Any], Any]) -> None:
        """Call ``hook(grad_array)`` each time the gradient with respect to this tensor is
        computed; it may return a replacement array. On a leaf the (replaced) gradient is
        what accumulates into ``.grad``; on an intermediate tensor it is what flows on to
        the tensor's inputs (and into ``.grad`` with :meth:`retain_grad`), as in PyTorch.

        Example:
            >>> import chainrule as cr
            >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> y = x * 3
            >>> y.register_hook(lambda g: g * 0)
            >>> (y * y).sum().backward()
            >>> x.grad
            tensor([0., 0.])
        """
        if self._grad_hooks is None:
            self._grad_hooks = []
        self._grad_hooks.append(hook)

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Args:
            gradient: d(loss)/d(self); may be omitted only for a single-element tensor.
            retain_graph: keep the graph so backward can run through it again.

        Raises:
            RuntimeError: the tensor does not require grad, or is not a scalar and no
                ``gradient`` was given.
        """
        from chainrule.autograd.engine import backward

        if not dtypes.is_floating(self.data.dtype):
            raise RuntimeError(
                f"backward: cannot differentiate a tensor of dtype {self.data.dtype}; only "
                "floating tensors carry gradients (integer and bool results of argmax, "
                "comparisons or .long() are cut from the graph)"
            )
        if not self._requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "nothing to differentiate (did you create it under no_grad, or forget "
                "requires_grad=True?)"
            )
        xp = get_array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this tensor has "
                    f"shape {self.shape}: pass gradient= of that shape, or reduce it first"
                )
            g = xp.ones_like(self.data)
        else:
            g = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient)
            if g.shape != self.data.shape:
                raise RuntimeError(
                    f"backward: gradient has shape {g.shape}, expected {self.data.shape}"
                )
            # No copy of the caller's array (a full pass on big gradients): backward functions
            # never write into their upstream gradient (CONTRIBUTING), a read-only view turns
            # any attempt into an error instead of a silent change to the caller's array, and
            # a leaf that receives it copies it (Note [gradient ownership]).
            g = g.astype(self.data.dtype, copy=False)
            if isinstance(g, np.ndarray):
                g = g.view()
                g.flags.writeable = False
        backward(self, g, retain_graph=retain_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut from the graph."""
        return Tensor._make(self.data, False, None)

    def detach_(self) -> Tensor:
        self._ctx = None
        self._requires_grad = False
        return self

    # ---- array attributes ----
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> str:
        return "cpu" if get_array_module(self.data) is np else "cuda"

    def size(self, dim: int | None = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"a Tensor with {self.data.size} elements cannot be converted to a Python scalar"
            )
        return self.data.reshape(()).item()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on CPU)."""
        if self._requires_grad:
            # PyTorch refuses here; returning the array is harmless because backward never
            # reads .data of an input after the forward pass recorded what it needs.
            pass
        return to_numpy(self.data)

    def tolist(self) -> Any:
        return to_numpy(self.data).tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = to_numpy(self.data)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(
            to_numpy(self.data),
            separator=", ",
            prefix="tensor(",
            threshold=200,
            precision=4,
            floatmode="maxprec",
        )
        extra = ""
        if self.data.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}Backward>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

    # ---- dtype conversion ----
    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> Tensor:
        """Cast to ``dtype`` (differentiable between floating types). Devices other than
        ``'cpu'`` are not supported by the NumPy backend."""
        if dtype is None and args:
            dtype = args[0]
        dtype = kwargs.get("dtype", dtype)
        if isinstance(dtype, str) and dtype in ("cpu",):
            return self
        if dtype is None:
            return self
        return _ops.elementwise.cast(self, dtype)

    def type(self, dtype: Any) -> Tensor:
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    def clone(self) -> Tensor:
        return _ops.elementwise.clone(self)

    def contiguous(self) -> Tensor:
        return self

    def cpu(self) -> Tensor:
        return self

    # ---- in-place data updates (not recorded: for init and optimizers) ----
    def _check_inplace(self) -> None:
        from chainrule.autograd.grad_mode import is_grad_enabled

        if self._requires_grad and self._ctx is None and is_grad_enabled():
            raise RuntimeError(
                "a leaf tensor that requires grad is being modified in place; wrap the update "
                "in chainrule.no_grad()"
            )

    def fill_(self, value: builtins.float) -> Tensor:
        self._check_inplace()
        self.data[...] = value
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def copy_(self, src: Any) -> Tensor:
        self._check_inplace()
        arr = src.data if isinstance(src, Tensor) else src
        xp = get_array_module(self.data)
        arr = xp.asarray(arr)
        try:
            self.data[...] = xp.broadcast_to(arr, self.data.shape)
        except ValueError as e:
            raise ValueError(
                f"copy_: source of shape {arr.shape} cannot be broadcast to {self.shape}"
            ) from e
        return self

    # ---- arithmetic (ops/arithmetic.py, ops/linalg.py) ----
    def __add__(self, other: Any) -> Tensor:
        return _ops.arithmetic.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.arithmetic.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.arithmetic.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.arithmetic.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.arithmetic.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.arithmetic.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.arithmetic.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.arithmetic.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.arithmetic.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.arithmetic.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.linalg.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.arithmetic.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.elementwise.abs(self)

    def add(self, other: Any, alpha: builtins.float = 1) -> Tensor:
        return _ops.arithmetic.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other: Any, alpha: builtins.float = 1) -> Tensor:
        return _ops.arithmetic.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        return _ops.arithmetic.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return _ops.arithmetic.div(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return _ops.arithmetic.pow(self, exponent)

    def neg(self) -> Tensor:
        return _ops.arithmetic.neg(self)

    def matmul(self, other: Any) -> Tensor:
        return _ops.linalg.matmul(self, other)

    # ---- comparisons (no gradient; bool results) ----
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.elementwise.compare(self, other, "eq")

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.elementwise.compare(self, other, "ne")

    def __lt__(self, other: Any) -> Tensor:
        return _ops.elementwise.compare(self, other, "lt")

    def __le__(self, other: Any) -> Tensor:
        return _ops.elementwise.compare(self, other, "le")

    def __gt__(self, other: Any) -> Tensor:
        return _ops.elementwise.compare(self, other, "gt")

    def __ge__(self, other: Any) -> Tensor:
        return _ops.elementwise.compare(self, other, "ge")

    def __invert__(self) -> Tensor:
        return _ops.elementwise.logical_not(self)

    def __and__(self, other: Any) -> Tensor:
        return _ops.elementwise.compare(self, other, "and")

    def __or__(self, other: Any) -> Tensor:
        return _ops.elementwise.compare(self, other, "or")

    def eq(self, other: Any) -> Tensor:
        return self.__eq__(other)

    # ---- elementwise (ops/elementwise.py) ----
    def exp(self) -> Tensor:
        return _ops.elementwise.exp(self)

    def log(self) -> Tensor:
        return _ops.elementwise.log(self)

    def sqrt(self) -> Tensor:
        return _ops.elementwise.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.elementwise.abs(self)

    def sin(self) -> Tensor:
        return _ops.elementwise.sin(self)

    def cos(self) -> Tensor:
        return _ops.elementwise.cos(self)

    def tanh(self) -> Tensor:
        return _ops.elementwise.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.elementwise.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.elementwise.relu(self)

    def sign(self) -> Tensor:
        return _ops.elementwise.sign(self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return _ops.elementwise.clip(self, min, max)

    clamp = clip

    def maximum(self, other: Any) -> Tensor:
        return _ops.elementwise.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.elementwise.minimum(self, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        return _ops.elementwise.where(condition, self, other)

    # ---- reductions (ops/reduction.py) ----
    def sum(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        axis: Any = None,
        keepdims: builtins.bool | None = None,
        dtype: Any = None,
    ) -> Tensor:
        return _ops.reduction.sum(self, dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        axis: Any = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        axis: Any = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        axis: Any = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        correction: builtins.float | None = None,
        unbiased: builtins.bool | None = None,
        axis: Any = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.var(
            self,
            dim,
            keepdim,
            correction=correction,
            unbiased=unbiased,
            axis=axis,
            keepdims=keepdims,
        )

    def std(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        correction: builtins.float | None = None,
        unbiased: builtins.bool | None = None,
        axis: Any = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.std(
            self,
            dim,
            keepdim,
            correction=correction,
            unbiased=unbiased,
            axis=axis,
            keepdims=keepdims,
        )

    def logsumexp(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        axis: Any = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.reduction.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def softmax(self, dim: builtins.int = -1) -> Tensor:
        return _ops.activation.softmax(self, dim)

    def log_softmax(self, dim: builtins.int = -1) -> Tensor:
        return _ops.activation.log_softmax(self, dim)

    # ---- shape (ops/shape.py, ops/indexing.py) ----
    def reshape(self, *shape: Any) -> Tensor:
        return _ops.shape.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        return _ops.shape.reshape(self, *shape)

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.shape.reshape(self, other.shape)

    def transpose(self, dim0: builtins.int = -2, dim1: builtins.int = -1) -> Tensor:
        return _ops.shape.transpose(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        return _ops.shape.permute(self, *dims)

    @property
    def T(self) -> Tensor:  # noqa: N802  (NumPy / PyTorch name)
        return _ops.shape.permute(self, tuple(reversed(range(self.data.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        return _ops.shape.transpose(self, -2, -1)

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        return _ops.shape.flatten(self, start_dim, end_dim)

    def squeeze(self, dim: Any = None) -> Tensor:
        return _ops.shape.squeeze(self, dim)

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        return _ops.shape.unsqueeze(self, dim)

    def expand(self, *shape: Any) -> Tensor:
        return _ops.shape.expand(self, *shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.shape.expand(self, other.shape)

    def broadcast_to(self, shape: Sequence[builtins.int]) -> Tensor:
        return _ops.shape.broadcast_to(self, shape)

    def split(self, split_size_or_sections: Any, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.shape.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.shape.chunk(self, chunks, dim)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.indexing.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "chainrule tensors do not support item assignment inside the graph; build the "
            "result with chainrule.where(mask, a, b) or concat, or modify .data under no_grad"
        )


def _to_array(data: Any, dtype: Any = None) -> Any:
    """Convert ``data`` to a backend array with ``torch.tensor``'s dtype inference."""
    if isinstance(data, Tensor):
        data = data.data
    want = None if dtype is None else dtypes.resolve_dtype(dtype)
    xp = get_array_module(data)
    if xp is np and not isinstance(data, np.ndarray):
        if isinstance(data, np.generic):
            arr = np.asarray(data)
        else:
            arr = np.asarray(data)
            if want is None:  # Python numbers: float -> default float, int -> int64
                if arr.dtype.kind == "f":
                    arr = arr.astype(dtypes.get_default_dtype())
                elif arr.dtype.kind in "iu":
                    arr = arr.astype(dtypes.int64)
    else:
        arr = data
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"cannot build a tensor from data of dtype {arr.dtype}; expected numbers or bools"
        )
    if want is not None:
        arr = arr.astype(want, copy=False)
    else:
        dtypes.resolve_dtype(
            arr.dtype
        )  # refuses unsupported dtypes such as uint16 with a clear error
    return arr


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Build a tensor from a Python number, a nested list, a NumPy array or another tensor.

    The data is copied. Dtypes are inferred as ``torch.tensor`` does: Python floats give
    float32 (the default dtype), Python ints give int64, bools give bool, a NumPy array keeps
    its dtype.

    Args:
        data: the values.
        dtype: a dtype or dtype name (``'float64'``); unknown names raise ``TypeError``.
        requires_grad: record operations on this tensor for ``backward``.

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([1, 2]).dtype, cr.tensor([1.5]).dtype
        (dtype('int64'), dtype('float32'))
    """
    arr = _to_array(data, dtype)
    if isinstance(data, (Tensor, np.ndarray)) or arr is data:
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


from chainrule import ops as _ops  # noqa: E402  (ops import Tensor from this module)
