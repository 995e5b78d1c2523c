r"""Shape ops: ``reshape/view, transpose/permute, flatten, squeeze/unsqueeze, expand/
broadcast_to, concat/cat, stack, split/chunk, pad``.

None of these change a value, only where it sits, so each backward moves the gradient back:
reshape reshapes it back, a permutation applies the inverse permutation, broadcasting sums
over the copied axes, concatenation splits, padding crops (and, for reflect/replicate/
circular padding, adds the copied border cells back onto their sources).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module
from chainrule.ops._broadcast import normalize_dim, sum_to_shape
from chainrule.ops.arithmetic import binary_operands
from chainrule.ops.elementwise import _tensor, cast
from chainrule.tensor import Tensor

__all__ = [
    "broadcast_to",
    "cat",
    "chunk",
    "concat",
    "expand",
    "flatten",
    "pad",
    "permute",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
    "view",
]


class Reshape(Function):
    r"""y = x viewed with a new shape;  ∂C/∂x = (∂C/∂y) reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.in_shape), None


class Permute(Function):
    r"""y = x with axes reordered by ``perm``;  ∂C/∂x = (∂C/∂y) with the inverse order."""

    @staticmethod
    def forward(ctx, x, perm):
        ctx.perm = perm
        return x.transpose(perm)

    @staticmethod
    def backward(ctx, gy):
        inv = [0] * len(ctx.perm)
        for i, p in enumerate(ctx.perm):
            inv[p] = i
        return gy.transpose(inv), None


class Expand(Function):
    r"""y = x broadcast to ``shape`` (a view);  ∂C/∂x = Σ over the broadcast axes."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, gy):
        return sum_to_shape(gy, ctx.in_shape), None


class Concat(Function):
    r"""y = [x_1; x_2; …] along ``dim``;  ∂C/∂x_k = the k-th block of ∂C/∂y."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        return get_array_module(*xs).concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, gy):
        out, start = [], 0
        index: list[Any] = [slice(None)] * gy.ndim
        for need, n in zip(ctx.needs_input_grad, ctx.sizes):
            if need:
                index[ctx.dim] = slice(start, start + n)
                out.append(gy[tuple(index)])
            else:
                out.append(None)
            start += n
        return tuple(out)


class Stack(Function):
    r"""y = the x_k stacked along a new axis ``dim``;  ∂C/∂x_k = (∂C/∂y) at index k."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        return get_array_module(*xs).stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, gy):
        xp = get_array_module(gy)
        return tuple(
            xp.take(gy, k, axis=ctx.dim) if need else None
            for k, need in enumerate(ctx.needs_input_grad)
        )


class Narrow(Function):
    r"""y = x[..., start:stop, ...] along ``dim``;  ∂C/∂x is ∂C/∂y placed back, zero elsewhere."""

    @staticmethod
    def forward(ctx, x, dim, start, stop):
        ctx.info = (x.shape, x.dtype, dim, start, stop)
        index = [slice(None)] * x.ndim
        index[dim] = slice(start, stop)
        return x[tuple(index)]

    @staticmethod
    def backward(ctx, gy):
        shape, dtype, dim, start, stop = ctx.info
        gx = get_array_module(gy).zeros(shape, dtype=dtype)
        index = [slice(None)] * len(shape)
        index[dim] = slice(start, stop)
        gx[tuple(index)] = gy
        return gx, None, None, None


class Pad(Function):
    r"""y = x with borders added (constant, reflect, replicate or circular);
    ∂C/∂x = the centre of ∂C/∂y, plus, for the copying modes, the border cells added back onto
    the cells they copied."""

    @staticmethod
    def forward(ctx, x, widths, mode, value):
        xp = get_array_module(x)
        ctx.info = (widths, mode)
        if mode == "constant":
            return xp.pad(x, widths, mode="constant", constant_values=value)
        np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        return xp.pad(x, widths, mode=np_mode)

    @staticmethod
    def backward(ctx, gy):
        widths, mode = ctx.info
        g = gy
        for axis in range(g.ndim):
            lo, hi = widths[axis]
            if lo or hi:
                g = _unpad_axis(g, axis, lo, hi, mode)
        return g, None, None, None


def _unpad_axis(g: Any, axis: int, lo: int, hi: int, mode: str) -> Any:
    """The adjoint of padding one axis: crop, and add copied border cells to their sources.
    The loop runs over pad positions (a few), never over data."""
    n = g.shape[axis] - lo - hi
    gm = g.swapaxes(0, axis)
    core = gm[lo : lo + n].copy()
    if mode == "replicate":
        if lo:
            core[0] += gm[:lo].sum(axis=0)
        if hi:
            core[n - 1] += gm[lo + n :].sum(axis=0)
    elif mode == "reflect":
        for i in range(1, lo + 1):
            core[i] += gm[lo - i]
        for i in range(1, hi + 1):
            core[n - 1 - i] += gm[lo + n - 1 + i]
    elif mode == "circular":
        for i in range(lo):
            core[n - lo + i] += gm[i]
        for i in range(hi):
            core[i] += gm[lo + n + i]
    return core.swapaxes(0, axis)


# ---- public functions ----
def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """Same data, new shape (one dimension may be -1 and is inferred).

    Example:
        >>> import chainrule as cr
        >>> cr.arange(6).reshape(2, 3).shape
        (2, 3)
    """
    input = _tensor(input, "reshape")
    shp = _shape_arg(shape)
    if shp == input.data.shape:
        return input
    n = input.data.size
    known = 1
    for s in shp:
        if s != -1:
            known *= s
    if (
        shp.count(-1) > 1
        or any(s < -1 for s in shp)
        or (n != known if -1 not in shp else (known == 0 or n % known))
    ):
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {input.shape} ({n} elements) into "
            f"shape {shp}"
        )
    return Reshape.apply(input, shp)


view = reshape


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the axes: ``permute(x, (2, 0, 1))`` puts axis 2 first."""
    input = _tensor(input, "permute")
    perm = _shape_arg(dims)
    nd = input.data.ndim
    norm = tuple(normalize_dim(d, nd, "permute") for d in perm)
    if sorted(norm) != list(range(nd)):
        raise ValueError(
            f"permute: dims {perm} are not a permutation of the {nd} axes of a tensor of shape "
            f"{input.shape}"
        )
    if norm == tuple(range(nd)):
        return input
    return Permute.apply(input, norm)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two axes."""
    input = _tensor(input, "transpose")
    nd = input.data.ndim
    if nd < 2 and dim0 in (-2, -1, 0) and dim1 in (-2, -1, 0):
        return input
    a, b = normalize_dim(dim0, nd, "transpose"), normalize_dim(dim1, nd, "transpose")
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return permute(input, perm)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one."""
    input = _tensor(input, "flatten")
    shape = input.data.shape
    if not shape:
        return reshape(input, (1,))
    s = normalize_dim(start_dim, len(shape), "flatten")
    e = normalize_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return reshape(input, shape[:s] + (n,) + shape[e + 1 :])


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove axes of size 1 (all of them, or those in ``dim``; others are left, as torch)."""
    input = _tensor(input, "squeeze")
    shape = input.data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = dim if isinstance(dim, Sequence) else (dim,)
        drop = {normalize_dim(d, len(shape), "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in drop and s == 1))
    return reshape(input, new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert an axis of size 1 at ``dim`` (negative counts from the end of the result)."""
    input = _tensor(input, "unsqueeze")
    shape = input.data.shape
    d = normalize_dim(dim, len(shape) + 1, "unsqueeze")
    return reshape(input, shape[:d] + (1,) + shape[d:])


def expand(input: Tensor, *shape: Any) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a dimension)."""
    input = _tensor(input, "expand")
    shp = _shape_arg(shape)
    old = input.data.shape
    lead = len(shp) - len(old)
    if lead < 0:
        raise ValueError(f"expand: target shape {shp} has fewer dims than the input {old}")
    full = tuple(
        o if s == -1 and i >= lead else s for i, (s, o) in enumerate(zip(shp, (None,) * lead + old))
    )
    return broadcast_to(input, full)


def broadcast_to(input: Tensor, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` by NumPy's rules (a read-only view)."""
    input = _tensor(input, "broadcast_to")
    shp = tuple(int(s) for s in shape)
    if shp == input.data.shape:
        return input
    old = input.data.shape
    ok = len(shp) >= len(old) and all(o == s or o == 1 for o, s in zip(old[::-1], shp[::-1]))
    if not ok:
        raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {old} to {shp}")
    return Expand.apply(input, shp)


def _same_dtype(tensors: Sequence[Any], op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or not tensors:
        raise TypeError(f"{op}: expected a non-empty list or tuple of tensors")
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    d0 = ts[0].data.dtype
    if any(t.data.dtype != d0 for t in ts):
        target = ts[0]
        for t in ts[1:]:
            target, _ = binary_operands(target, t, op)
        d = target.data.dtype
        ts = [cast(t, d) for t in ts]
    return ts


def concat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing axis ``dim`` (``torch.cat``).

    Example:
        >>> import chainrule as cr
        >>> cr.cat([cr.zeros(2, 3), cr.ones(1, 3)]).shape
        (3, 3)
    """
    ts = _same_dtype(tensors, "concat")
    nd = ts[0].data.ndim
    d = normalize_dim(dim, nd, "concat")
    for k, t in enumerate(ts):
        s0, s = ts[0].data.shape, t.data.shape
        if len(s) != nd or s[:d] + s[d + 1 :] != s0[:d] + s0[d + 1 :]:
            raise ValueError(
                f"concat: sizes of tensors must match except in dimension {d}; tensor 0 has "
                f"shape {s0}, tensor {k} has shape {s}"
            )
    if len(ts) == 1:
        return ts[0]
    return Concat.apply(*ts, dim=d)


cat = concat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis ``dim``."""
    ts = _same_dtype(tensors, "stack")
    s0 = ts[0].data.shape
    for k, t in enumerate(ts):
        if t.data.shape != s0:
            raise ValueError(
                f"stack expects each tensor to be equal size, but got {s0} at entry 0 and "
                f"{t.data.shape} at entry {k}"
            )
    d = normalize_dim(dim, len(s0) + 1, "stack")
    return Stack.apply(*ts, dim=d)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start:start+length`` along ``dim`` (a negative ``start`` counts from the
    end, as ``torch.narrow``).

    Raises:
        IndexError: ``dim`` or ``start`` is out of range.
        ValueError: ``length`` is negative or runs past the end of the dimension.

    Example:
        >>> import chainrule as cr
        >>> cr.narrow(cr.arange(5), 0, -3, 2).tolist()
        [2, 3]
    """
    input = _tensor(input, "narrow")
    shape = input.data.shape
    d = normalize_dim(dim, len(shape), "narrow")
    n = shape[d]
    if not -n <= start <= n:
        raise IndexError(
            f"narrow: start {start} is out of range for dimension {d} of size {n} "
            f"(tensor of shape {shape})"
        )
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise ValueError(
            f"narrow: start ({start}) + length ({length}) must lie within dimension {d} of "
            f"size {n} (tensor of shape {shape}); length must be non-negative"
        )
    return Narrow.apply(input, d, start, start + length)


def split(input: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut into pieces of ``split_size`` (the last may be smaller) or of the listed sizes."""
    input = _tensor(input, "split")
    d = normalize_dim(dim, input.data.ndim, "split")
    n = input.data.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(
                f"split: sections {sizes} sum to {sum(sizes)}, but dimension {d} has size {n}"
            )
    out, start = [], 0
    for s in sizes:
        out.append(Narrow.apply(input, d, start, start + s))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut into ``chunks`` nearly equal pieces (as ``torch.chunk``)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.data.shape[normalize_dim(dim, input.data.ndim, "chunk")]
    return split(input, max(1, -(-n // chunks)), dim)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with PyTorch's argument form: ``pad = (left, right, top, bottom, ...)`` pairs from
    the last dimension backwards; ``mode`` is 'constant', 'reflect', 'replicate' or 'circular'.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.pad(cr.ones(1, 2), (1, 1)).tolist()
        [[0.0, 1.0, 1.0, 0.0]]
    """
    input = _tensor(input, "pad")
    pads = [int(p) for p in pad]
    nd = input.data.ndim
    if len(pads) % 2 or len(pads) // 2 > nd:
        raise ValueError(
            f"pad: expected an even number of pad values covering at most {nd} dims, got {pads}"
        )
    if any(p < 0 for p in pads):
        raise ValueError(f"pad: negative padding is not supported, got {pads}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(
            f"pad: unknown mode {mode!r}; expected 'constant', 'reflect', 'replicate' or 'circular'"
        )
    widths = [(0, 0)] * nd
    for i in range(len(pads) // 2):
        widths[nd - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    for ax, (lo, hi) in enumerate(widths):
        n = input.data.shape[ax]
        if mode == "reflect" and (lo >= n or hi >= n) and (lo or hi):
            raise ValueError(
                f"pad: reflect padding ({lo}, {hi}) must be smaller than the input size {n} "
                f"of dimension {ax}"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular padding ({lo}, {hi}) exceeds dimension size {n}")
    return Pad.apply(input, tuple(widths), mode, value)
