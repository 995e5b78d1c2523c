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


def backward(root: Tensor, grad: Any, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) * grad into ``.grad`` of every leaf that requires grad."""
    order = topological_order(root)
    grads: dict[int, Any] = {id(root): grad}
    handed_out: set[int] = set()  # arrays already stored in some leaf's .grad in this pass
    for node in reversed(order):
        g = grads.pop(id(node), None)
        ctx = node._ctx
        if ctx is None:  # a leaf: accumulate (PyTorch semantics)
            if g is None:
                continue
            if id(g) in handed_out or g.base is not None or not g.flags.writeable:
                # a leaf's .grad owns its buffer: optimizers and clip_grad_norm_ may scale it
                # in place, which must never touch another leaf's gradient or a saved array
                g = g.copy()
            handed_out.add(id(g))
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
        if node._retains_grad:
            node._accumulate_grad(g.copy())
        if ctx.parents is None:
            raise RuntimeError(_FREED)
        in_grads = ctx.backward(ctx, g)
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
