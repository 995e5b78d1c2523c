"""The backward pass: reverse-mode differentiation over the recorded graph.

The graph is walked in topological order with an explicit stack (never recursion, so a
chain of 10,000 ops is fine), each node's ``backward`` is called once with the sum of the
gradients flowing into its output, and the node's saved arrays and parents are dropped as
soon as it has run, so memory is returned during the pass, not after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainrule.backend import get_array_module

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

__all__ = ["backward", "topological_order"]

_FREED = (
    "Trying to backward through the graph a second time: its saved arrays were freed by the "
    "first backward. Call backward(retain_graph=True) the first time if you need a second pass."
)


def topological_order(root: Tensor) -> list[Tensor]:
    """Tensors reachable from ``root`` through recorded ops, inputs before outputs."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None and ctx.parents is not None:
            for p, need in zip(ctx.parents, ctx.needs_input_grad):
                if need and id(p) not in visited:
                    stack.append((p, False))
    return order


def _buffer(a: Any) -> Any:
    """The object owning ``a``'s memory (NumPy and CuPy point a view's ``base`` at it)."""
    b = getattr(a, "base", None)
    return a if b is None else b


class _Buffers:
    """Note [gradient ownership]

    A leaf's ``.grad`` must own its memory: optimizers and ``clip_grad_norm_`` update it in
    place, which must never reach another leaf's gradient, a forward value or an array saved
    for backward. Copying every gradient that is a view is safe but mostly wasted (the
    transposed, cropped input gradient of a convolution is a view of a buffer its backward
    just allocated) and costs a pass over the array. The precise rule, by buffer (the array
    owning the memory): a leaf copies its gradient only when the buffer

    - is read-only, or not an array (a broadcast view, bytes, a memory map);
    - already backs another leaf's gradient in this pass (an op that hands the same upstream
      gradient, or views of it, to two inputs: ``a + b``, ``cat``);
    - backs a forward value of the graph (a tensor's ``data``) or an array saved for backward
      (the arrays a backward sees that may outlive the pass: the node that returns a saved
      array, or a view of one, pins it before its saved arrays are released);
    - came from a hook (the hook may keep it).

    Arrays that a backward allocated and only handed on are then taken without a copy. The
    forward values are collected once per pass, lazily, when the first leaf is reached.
    """

    __slots__ = ("order", "pinned", "persistent")

    def __init__(self, order: list[Tensor]) -> None:
        self.order = order
        self.pinned: dict[int, Any] = {}  # id(buffer) -> buffer (kept alive: ids stay unique)
        self.persistent: set[int] | None = None

    def pin(self, a: Any) -> None:
        b = _buffer(a)
        self.pinned[id(b)] = b

    def _collect(self) -> set[int]:
        # every tensor of the graph is alive while ``order`` is, so the ids stay unique
        return {id(_buffer(t.data)) for t in self.order}

    def owned(self, a: Any) -> bool:
        """True when ``a`` may become a leaf's ``.grad`` without a copy."""
        b = _buffer(a)
        if not (isinstance(b, type(a)) and a.flags.writeable) or id(b) in self.pinned:
            return False
        if self.persistent is None:
            self.persistent = self._collect()
        return id(b) not in self.persistent


def backward(root: Tensor, grad: Any, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) * grad into ``.grad`` of every leaf that requires grad."""
    order = topological_order(root)
    grads: dict[int, Any] = {id(root): grad}
    bufs = _Buffers(order)  # Note [gradient ownership]
    for node in reversed(order):
        g = grads.pop(id(node), None)
        ctx = node._ctx
        if ctx is None:  # a leaf: accumulate (PyTorch semantics)
            if g is None:
                continue
            if not bufs.owned(g):
                g = g.copy()
            bufs.pin(g)  # from now on a leaf's .grad
            if node._grad_hooks:
                for hook in node._grad_hooks:
                    r = hook(g)
                    if r is not None:
                        g = r
            node._accumulate_grad(g)
            continue
        if g is None:
            continue
        if node._grad_hooks:  # hooks on an intermediate tensor change what flows on
            for hook in node._grad_hooks:
                r = hook(g)
                if r is not None:
                    g = r
                    bufs.pin(r)  # the hook may keep it
        if node._retains_grad:
            node._accumulate_grad(g.copy())
        if ctx.parents is None:
            raise RuntimeError(_FREED)
        in_grads = ctx.backward(ctx, g)
        saved = getattr(ctx, "saved_tensors", ())
        if saved:  # Note [gradient ownership]: a gradient on a saved array is never a leaf's own
            sb = {id(_buffer(a)) for a in saved if a is not None}
            for pg in in_grads:
                if pg is not None and id(_buffer(pg)) in sb:
                    bufs.pin(pg)
        for p, need, pg in zip(ctx.parents, ctx.needs_input_grad, in_grads):
            if not need or pg is None:
                continue
            if pg.shape != p.data.shape:
                raise RuntimeError(
                    f"{type(ctx).__name__}.backward returned a gradient of shape {pg.shape} "
                    f"for an input of shape {p.data.shape}"
                )
            if pg.dtype != p.data.dtype:
                pg = pg.astype(p.data.dtype, copy=False)
            k = id(p)
            prev = grads.get(k)
            if prev is None:
                grads[k] = pg
            else:
                grads[k] = get_array_module(prev).add(prev, pg)
        if not retain_graph:  # free as we go: saved arrays and the links to inputs
            ctx.saved_tensors = ()
            ctx.parents = None
