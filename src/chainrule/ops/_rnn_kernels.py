r"""The fused recurrences behind ``RNN``, ``LSTM`` and ``GRU``: one ``Function`` per layer and
direction. The public functions and the shape checks live in :mod:`chainrule.ops.recurrent`.

Why fused. Written with elementwise ops and ``matmul``, one LSTM step is about fifteen graph
nodes, so a 50-step layer is ~750 nodes whose bookkeeping costs more than their arithmetic. Here
a layer is a single node:

1. the input projections of *all* steps are one GEMM, :math:`X W_{ih}^\top` on the
   (T·B, I) matrix of inputs (they do not depend on the recurrence);
2. ``forward`` runs the time loop (one small GEMM :math:`h_{t-1} W_{hh}^\top` per step plus the
   gate arithmetic, in place) and saves the activated gates;
3. ``backward`` runs backpropagation through time (BPTT): a loop over the steps in reverse that
   carries :math:`∂C/∂h` (and :math:`∂C/∂c`) back one step with one GEMM, and stores every step's
   :math:`δ_t = ∂C/∂z_t`; after the loop the weight gradients are each one GEMM over all steps,
   :math:`∂C/∂W_{ih} = Σ_t δ_t x_t^\top` and :math:`∂C/∂W_{hh} = Σ_t δ_t h_{t-1}^\top`.
   Derivative factors that do not depend on :math:`∂C/∂h` (such as :math:`σ' = a(1-a)`) are
   computed for all steps at once, before the loop, so the loop body is a handful of calls.

Notation (the notes' 002, "Backpropagation"): :math:`z` is a linear mix, :math:`a = σ(z)` an
activation, :math:`C` the cost and :math:`δ = ∂C/∂z`. Shapes are time-major: ``x`` is (T, B, I),
states are (B, H); rows are batch items, so :math:`z_t = x_t W_{ih}^\top + h_{t-1} W_{hh}^\top + b`.
A reversed direction (``reverse=True``) runs the same recurrence from t = T−1 down to 0; its
"previous" state of step t is the state of step t + 1.

Functions here return one array (chainrule ops are single-output), packed along time:
``Y[:T]`` are the outputs :math:`h_t`, ``Y[T]`` is the final state :math:`h_n` and, for the LSTM,
``Y[T+1]`` is the final cell :math:`c_n`. The gradient arrives packed the same way.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import (
    BlasTasks,
    errstate,
    get_array_module,
    parallel_for,
    single_thread_blas,
)

__all__ = ["GRULayer", "LSTMLayer", "RNNLayer"]


def _sigmoid_(a: Any, xp: Any) -> Any:
    """σ(a) = 1 / (1 + e^{−a}) in place. e^{−a} overflows to inf for a < −88 (float32), which
    gives the exact limit 0; callers hold ``errstate(over="ignore")`` so no warning is raised.
    (NumPy's float32 exp is about twice as fast as its tanh here, hence no tanh form.)"""
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    return xp.divide(1, a, out=a)


def _steps(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous_span(states: Any, first: Any, reverse: bool, t0: int, t1: int, out: Any) -> Any:
    """Rows t0..t1 of :func:`_previous`, written into ``out`` (t1 − t0, B, H)."""
    T = states.shape[0]
    if reverse:
        if t1 == T:
            out[:-1] = states[t0 + 1 : T]
            out[-1] = first
        else:
            out[...] = states[t0 + 1 : t1 + 1]
    elif t0 == 0:
        out[0] = first
        out[1:] = states[: t1 - 1]
    else:
        out[...] = states[t0 - 1 : t1 - 1]
    return out


def _previous(states: Any, first: Any, reverse: bool, out: Any = None) -> Any:
    """The state each step starts from, stacked: [h_0, h_1, …, h_{T−1}] forward,
    [h_2, …, h_T, h_0] (step t starts from t + 1) for a reversed direction."""
    if out is None:
        out = get_array_module(states).empty_like(states)
    return _previous_span(states, first, reverse, 0, states.shape[0], out)


# Note [BLAS helper thread] (chainrule.backend): the layers' large products, cut by time into
# spans, overlap the time loop when they are worth a thread hand-off.
_OVERLAP_MIN_FLOP = 16e6
_OVERLAP_SPANS = 8


def _spans(T: int, reverse: bool, tasks: BlasTasks | None) -> list[tuple[int, int, range]]:
    """The steps of a time loop as spans ``(t0, t1, steps in loop order)``, listed in loop
    order: ``_OVERLAP_SPANS`` of them with a helper thread, else one."""
    n = min(T, _OVERLAP_SPANS) if tasks is not None else 1
    bounds = [T * i // n for i in range(n + 1)]
    spans = [(a, b, range(b - 1, a - 1, -1) if reverse else range(a, b))
             for a, b in zip(bounds, bounds[1:]) if a < b]  # fmt: skip
    return spans[::-1] if reverse else spans


def _overlap(like: Any, flop: float) -> BlasTasks | None:
    """A helper thread for the layer's large products, when they are worth it."""
    return BlasTasks.create(like) if flop >= _OVERLAP_MIN_FLOP else None


def _project(
    x: Any, wT: Any, out: Any, tasks: BlasTasks | None, spans: list, bias: Any = None
) -> Any:
    """``out[t] = x_t wT`` for all steps (the input projections, which do not depend on the
    recurrence): one GEMM; or, with a helper thread, the loop's first span here and the
    others queued (the loop joins task k − 1 before it starts span k), each span adding
    ``bias`` too. Returns the bias the loop must still add per step (``None`` when the
    spans added it, or there is none)."""
    xp = get_array_module(x)
    I, G = x.shape[2], wT.shape[1]

    def project(t0: int, t1: int) -> None:
        o = xp.matmul(x[t0:t1].reshape(-1, I), wT, out=out[t0:t1].reshape(-1, G))
        if bias is not None:
            o += bias

    if tasks is None:
        xp.matmul(x.reshape(-1, I), wT, out=out.reshape(-1, G))
        return bias  # added per step by the loop, while the step's rows are in cache
    project(spans[0][0], spans[0][1])
    for t0, t1, _ in spans[1:]:
        tasks.add(partial(project, t0, t1))
    return None


class _Grads:
    r"""The gradients that follow from the stacked deltas δ (T, B, G) when the input and the
    hidden side share them (RNN, LSTM), for all T·B rows of a span of steps at once:
    ∂C/∂x_t = δ_t W_ih, ∂C/∂b = Σ_t Σ_batch δ_t, and
    [∂C/∂W_ih, ∂C/∂W_hh] = Σ_t δ_tᵀ [x_t, h_{t−1}] as a single GEMM against the
    (rows, I + H) matrix of inputs and previous states (one larger GEMM runs faster than two).
    :meth:`result` computes them over all steps at once, unless :meth:`queue` handed them to
    the helper thread span by span while the backward loop went on (Note [BLAS helper
    thread]); the sums over spans are added in time order."""

    def __init__(self, ctx: Any, dZ: Any, x: Any, w_ih: Any, states: Any, h0: Any, i_w_hh: int):
        self.xp = xp = get_array_module(dZ)
        self.dZ, self.x, self.w_ih, self.states, self.h0 = dZ, x, w_ih, states, h0
        need = ctx.needs_input_grad
        self.reverse, self.has_bias = ctx.reverse, ctx.has_bias
        self.want_ih, self.want_hh = need[ctx.i_w_ih], need[i_w_hh]
        # a fresh array, not a view, so the engine need not copy it into x.grad
        self.dx = xp.empty(x.shape, dtype=x.dtype) if need[0] else None
        self.steps = dZ.shape[0]
        self.dW: dict[int, Any] = {}
        self.db: dict[int, Any] = {}

    def queue(self, tasks: BlasTasks | None, t0: int, t1: int) -> None:
        """Hand the parts of steps t0..t1 to the helper thread, once the backward loop has
        finished them (nothing without a helper: :meth:`result` then does all steps at once)."""
        if tasks is not None:
            tasks.add(partial(self.span_dw, t0, t1))
            tasks.add(partial(self.span_dx, t0, t1))

    def span_dx(self, t0: int, t1: int) -> None:
        """∂C/∂x_t for steps t0..t1 (none when x needs no gradient)."""
        if self.dx is not None:
            d2 = self.dZ[t0:t1].reshape(-1, self.dZ.shape[2])
            self.xp.matmul(d2, self.w_ih, out=self.dx[t0:t1].reshape(-1, self.x.shape[2]))

    def span_dw(self, t0: int, t1: int) -> None:
        """The parts of ∂C/∂W_ih, ∂C/∂W_hh and ∂C/∂b from steps t0..t1."""
        xp, x = self.xp, self.x
        B, G = self.dZ.shape[1], self.dZ.shape[2]
        I, H = x.shape[2], self.states.shape[2]
        d2 = self.dZ[t0:t1].reshape(-1, G)
        db = d2.sum(axis=0) if self.has_bias else None
        dW = None
        if self.want_ih and self.want_hh:
            XH = xp.empty((t1 - t0, B, I + H), dtype=x.dtype)
            XH[..., :I] = x[t0:t1]
            _previous_span(self.states, self.h0, self.reverse, t0, t1, XH[..., I:])
            dW = d2.T @ XH.reshape(-1, I + H)
        elif self.want_ih:
            dW = d2.T @ x[t0:t1].reshape(-1, I)
        elif self.want_hh:
            prev = xp.empty((t1 - t0, B, H), dtype=x.dtype)
            dW = d2.T @ _previous_span(self.states, self.h0, self.reverse, t0, t1, prev).reshape(
                -1, H
            )
        self.dW[t0], self.db[t0] = dW, db

    def result(self) -> tuple[Any, Any, Any, Any]:
        """(∂C/∂x, ∂C/∂W_ih, ∂C/∂W_hh, ∂C/∂b): the spans' sums added in time order, or all
        steps in one go when no span was queued."""
        xp = self.xp
        if not self.dW:
            self.span_dx(0, self.steps)
            self.span_dw(0, self.steps)
        dW, db = BlasTasks.ordered_sum(self.dW), BlasTasks.ordered_sum(self.db)
        I = self.x.shape[2]
        dw_ih = dw_hh = None
        if self.want_ih and self.want_hh:
            dw_ih, dw_hh = xp.ascontiguousarray(dW[:, :I]), xp.ascontiguousarray(dW[:, I:])
        elif self.want_ih:
            dw_ih = dW
        elif self.want_hh:
            dw_hh = dW
        return self.dx, dw_ih, dw_hh, db


def _dx(d2: Any, x: Any, w_ih: Any) -> Any:
    """∂C/∂x = δ W_ih for all T·B rows, written in place in x's shape: a fresh array, not a
    view, so the engine need not copy it before storing it in ``x.grad``."""
    dx = get_array_module(d2).empty(x.shape, dtype=x.dtype)
    get_array_module(d2).matmul(d2, w_ih, out=dx.reshape(d2.shape[0], x.shape[-1]))
    return dx


def _input_grads(ctx: Any, dZx: Any, x: Any, w_ih: Any) -> tuple[Any, Any, Any]:
    r"""Input-side gradients from the stacked input-side deltas δ (T, B, G) (GRU, whose hidden
    side has its own deltas): ∂C/∂x_t = δ_t W_ih, ∂C/∂W_ih = Σ_t δ_tᵀ x_t,
    ∂C/∂b_ih = Σ_t Σ_batch δ_t; each is one GEMM (or sum) over all T·B rows."""
    T, B, G = dZx.shape
    d2 = dZx.reshape(T * B, G)
    need = ctx.needs_input_grad
    dx = _dx(d2, x, w_ih) if need[0] else None
    dw = d2.T @ x.reshape(T * B, -1) if need[ctx.i_w_ih] else None
    db = d2.sum(axis=0) if ctx.has_bias else None
    return dx, dw, db


class RNNLayer(Function):
    r"""Elman RNN layer: :math:`z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}`,
    :math:`h_t = σ(z_t)` with σ = tanh or ReLU.

    BPTT: :math:`∂C/∂h_t = g_t + W_{hh}^\top δ_{t+1}` (:math:`g_t` the upstream gradient of the
    output at t, plus that of :math:`h_n` at the last step), :math:`δ_t = ∂C/∂h_t ⊙ σ'(z_t)` with
    :math:`σ' = 1 - h_t^2` (tanh) or :math:`[h_t > 0]` (ReLU), :math:`∂C/∂h_0 = W_{hh}^\top δ_1`.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", reverse=False):
        xp = get_array_module(x)
        T, B, I = x.shape
        H = w_hh.shape[1]
        Y = xp.empty((T + 1, B, H), dtype=x.dtype)
        tasks = _overlap(x, 2.0 * T * B * I * H)
        spans = _spans(T, reverse, tasks)
        Z = xp.empty((T, B, H), dtype=x.dtype)
        bias = None if b_ih is None else b_ih + b_hh
        with single_thread_blas():
            bias = _project(x, w_ih.T, Z, tasks, spans, bias)  # Note [BLAS helper thread]
            w_hhT = w_hh.T
            h = h0
            # Note [small products on one BLAS thread] (the helper exists only where it applies)
            for k, (_, _, steps) in enumerate(spans):
                if tasks is not None and k:
                    tasks.join(k - 1)  # this span's projections
                for t in steps:
                    y = xp.matmul(h, w_hhT, out=Y[t])
                    y += Z[t]
                    if bias is not None:
                        y += bias
                    if nonlinearity == "tanh":
                        xp.tanh(y, out=y)
                    else:
                        xp.maximum(y, 0, out=y)
                    h = y
        Y[T] = h
        ctx.i_w_ih = 2
        ctx.has_bias = b_ih is not None
        ctx.reverse = reverse
        ctx.info = (nonlinearity, reverse)
        ctx.save_for_backward(x, h0, w_ih, w_hh, Y)
        return Y

    @staticmethod
    def backward(ctx, gY):
        x, h0, w_ih, w_hh, Y = ctx.saved_tensors
        nonlinearity, reverse = ctx.info
        xp = get_array_module(gY)
        T = x.shape[0]
        Hs = Y[:T]
        D = (1 - Hs * Hs) if nonlinearity == "tanh" else (Hs > 0).astype(Y.dtype)  # σ'(z_t)
        dZ = xp.empty_like(Hs)
        B, I, H = Hs.shape[1], x.shape[2], Hs.shape[2]
        tasks = _overlap(gY, 2.0 * T * B * H * (2 * I + H))
        grads = _Grads(ctx, dZ, x, w_ih, Hs, h0, 3)
        dh = gY[T].copy()
        with single_thread_blas():
            for t0, t1, steps in _spans(T, not reverse, tasks):
                for t in steps:
                    dh += gY[t]
                    dz = xp.multiply(dh, D[t], out=dZ[t])
                    dh = dz @ w_hh  # ∂C/∂h_{t−1} through the recurrence
                grads.queue(tasks, t0, t1)  # Note [BLAS helper thread]
            if tasks is not None:
                tasks.join_all()
        dx, dw_ih, dw_hh, db = grads.result()
        dh0 = dh if ctx.needs_input_grad[1] else None
        return dx, dh0, dw_ih, dw_hh, db, (None if db is None else db.copy())


class _LSTMFactors:
    r"""The factors of the LSTM's BPTT equations that do not depend on ∂C/∂h, for all steps:
    σ' = a(1 − a) of i, f, o (``S``), :math:`P = o ⊙ (1 − \tanh^2 c_t)` (∂C/∂c_t gains
    ∂C/∂h_t ⊙ P), :math:`Q = \tanh c_t ⊙ o(1 − o)` (δ^o = ∂C/∂h_t ⊙ Q) and
    :math:`R = [g ⊙ i(1−i),\ c_{t−1} ⊙ f(1−f),\ i ⊙ (1 − g^2)]` ([δ^i, δ^f, δ^g] = ∂C/∂c_t ⊙ R),
    computed span by span of steps (:meth:`span`) from the activated gates ``A`` (i, f, o, g),
    the cells ``C`` and their tanh ``TC``."""

    def __init__(self, A: Any, C: Any, TC: Any, c0: Any, reverse: bool) -> None:
        xp = get_array_module(A)
        T, B, H = C.shape
        self.A, self.C, self.TC, self.c0, self.reverse = A, C, TC, c0, reverse
        self.S = xp.empty((T, B, 3 * H), dtype=A.dtype)
        self.P = xp.empty_like(TC)
        self.R = xp.empty((T, B, 3, H), dtype=A.dtype)
        self.Q = self.S[..., 2 * H :]
        self.c_prev = xp.empty_like(C)

    def span(self, a: int, b: int) -> None:
        xp = get_array_module(self.A)
        H = self.C.shape[2]
        A, S, R = self.A, self.S, self.R
        s, tc, ga = S[a:b], self.TC[a:b], A[a:b, :, 3 * H :]
        xp.subtract(1, A[a:b, :, : 3 * H], out=s)
        s *= A[a:b, :, : 3 * H]
        p = xp.multiply(tc, tc, out=self.P[a:b])
        xp.subtract(1, p, out=p)
        p *= A[a:b, :, 2 * H : 3 * H]
        s[..., 2 * H :] *= tc
        xp.multiply(ga, s[..., :H], out=R[a:b, :, 0])
        cp = _previous_span(self.C, self.c0, self.reverse, a, b, self.c_prev[a:b])
        xp.multiply(cp, s[..., H : 2 * H], out=R[a:b, :, 1])
        r2 = xp.multiply(ga, ga, out=R[a:b, :, 2])
        xp.subtract(1, r2, out=r2)
        r2 *= A[a:b, :, :H]


class LSTMLayer(Function):
    r"""LSTM layer, PyTorch's gate order (i, f, g, o):

    .. math::
        z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh} = [z^i; z^f; z^g; z^o],\quad
        i = σ(z^i),\ f = σ(z^f),\ g = \tanh(z^g),\ o = σ(z^o),

        c_t = f ⊙ c_{t-1} + i ⊙ g,\qquad h_t = o ⊙ \tanh(c_t).

    BPTT, from t = T down to 1, starting from :math:`∂C/∂h_n, ∂C/∂c_n`:

    .. math::
        ∂C/∂h_t = g_t + W_{hh}^\top δ_{t+1},\qquad
        ∂C/∂c_t = ∂C/∂h_t ⊙ o ⊙ (1 - \tanh^2 c_t) + ∂C/∂c_{t+1} ⊙ f_{t+1},

        δ^o = ∂C/∂h_t ⊙ \tanh c_t ⊙ o(1-o),\quad δ^i = ∂C/∂c_t ⊙ g ⊙ i(1-i),

        δ^f = ∂C/∂c_t ⊙ c_{t-1} ⊙ f(1-f),\quad δ^g = ∂C/∂c_t ⊙ i ⊙ (1 - g^2),

    and :math:`∂C/∂h_0 = W_{hh}^\top δ_1`, :math:`∂C/∂c_0 = ∂C/∂c_1 ⊙ f_1`.

    Inside, the gates are stored in the order (i, f, o, g) and g is computed as
    :math:`2σ(2z^g) - 1`, so that one sigmoid covers all four gates; the weight rows are permuted
    once per call and the deltas are written back in PyTorch's order, so the gradients need no
    permutation.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False):
        xp = get_array_module(x)
        T, B, I = x.shape
        H = w_hh.shape[1]
        # Rows permuted to (i, f, o, g) and scaled by −1 (−2 for g), so that each step's
        # pre-activation is already the exponent of σ(z) = 1/(1 + e^{−z}), and one sigmoid
        # covers all four gates: tanh(z) = 2σ(2z) − 1. (NumPy's float32 exp is about twice as
        # fast as its tanh, and each NumPy call saved is saved 2·T times.)
        perm = xp.concatenate((xp.arange(2 * H), xp.arange(3 * H, 4 * H), xp.arange(2 * H, 3 * H)))
        scale = xp.full((4 * H, 1), -1.0, dtype=x.dtype)
        scale[3 * H :] = -2.0
        tasks = _overlap(x, 8.0 * T * B * I * H)
        spans = _spans(T, reverse, tasks)
        A = xp.empty((T, B, 4 * H), dtype=x.dtype)
        bias = None if b_ih is None else (b_ih + b_hh)[perm] * scale[:, 0]
        with errstate(over="ignore"), single_thread_blas():
            bias = _project(x, (w_ih[perm] * scale).T, A, tasks, spans, bias)  # Note [BLAS helper]
            w_hhT = (w_hh[perm] * scale).T
            Y = xp.empty((T + 2, B, H), dtype=x.dtype)
            C = xp.empty((T, B, H), dtype=x.dtype)
            TC = xp.empty((T, B, H), dtype=x.dtype)
            hz = xp.empty((B, 4 * H), dtype=x.dtype)
            ig = xp.empty((B, H), dtype=x.dtype)
            h, c = h0, c0
            # with a helper thread, training: the BPTT factors of each finished span on it
            factors = None
            if tasks is not None and any(ctx.needs_input_grad):
                factors = _LSTMFactors(A, C, TC, c0, reverse)
            # e^{−z} = inf gives σ = 0 exactly; Note [small products on one BLAS thread]
            for k, (t0, t1, steps) in enumerate(spans):
                if tasks is not None and k:
                    tasks.join(k - 1)  # this span's projections
                for t in steps:
                    a = A[t]  # −z_t, then the activated gates [i, f, o, g] of step t
                    a += xp.matmul(h, w_hhT, out=hz)
                    if bias is not None:  # added here, while A[t] is in cache
                        a += bias
                    xp.exp(a, out=a)
                    a += 1
                    xp.divide(1, a, out=a)
                    g = a[:, 3 * H :]
                    g *= 2
                    g -= 1
                    ct = xp.multiply(a[:, H : 2 * H], c, out=C[t])  # f ⊙ c_{t−1}
                    ct += xp.multiply(a[:, :H], g, out=ig)  # + i ⊙ g
                    tc = xp.tanh(ct, out=TC[t])
                    h = xp.multiply(a[:, 2 * H : 3 * H], tc, out=Y[t])  # o ⊙ tanh c_t
                    c = ct
                if tasks is not None and factors is not None:
                    tasks.add(partial(factors.span, t0, t1))
            if tasks is not None:
                tasks.join_all()
        Y[T] = h
        Y[T + 1] = c
        ctx.i_w_ih = 3
        ctx.has_bias = b_ih is not None
        ctx.reverse = reverse
        ctx.factors = factors
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, A, C, TC, Y)
        return Y

    @staticmethod
    def backward(ctx, gY):
        x, h0, c0, w_ih, w_hh, A, C, TC, Y = ctx.saved_tensors
        reverse = ctx.reverse
        xp = get_array_module(gY)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        f = A[..., H : 2 * H]
        factors = ctx.factors  # computed by the forward's helper thread, or here, on the pool
        if factors is None:
            factors = _LSTMFactors(A, C, TC, c0, reverse)
            parallel_for(T, factors.span, 14 * TC.nbytes, TC)
        ctx.factors = None
        P, Q, R = factors.P, factors.Q, factors.R
        I = x.shape[2]
        tasks = _overlap(gY, 8.0 * T * B * H * (2 * I + H))
        spans = _spans(T, not reverse, tasks)
        dZ = xp.empty((T, B, 4, H), dtype=A.dtype)  # δ in PyTorch's gate order (i, f, g, o)
        tmp = xp.empty((B, H), dtype=A.dtype)
        grads = _Grads(ctx, dZ.reshape(T, B, 4 * H), x, w_ih, Y[:T], h0, 4)
        dh = gY[T].copy()
        dc = gY[T + 1].copy()
        with single_thread_blas():
            for t0, t1, steps in spans:
                for t in steps:
                    dh += gY[t]
                    dc += xp.multiply(dh, P[t], out=tmp)
                    xp.multiply(dc[:, None, :], R[t], out=dZ[t, :, :3])
                    xp.multiply(dh, Q[t], out=dZ[t, :, 3])
                    dc *= f[t]  # ∂C/∂c_{t−1}
                    dh = dZ[t].reshape(B, 4 * H) @ w_hh  # ∂C/∂h_{t−1} through the recurrence
                grads.queue(tasks, t0, t1)  # Note [BLAS helper thread]
            if tasks is not None:
                tasks.join_all()
        dx, dw_ih, dw_hh, db = grads.result()
        need = ctx.needs_input_grad
        return (
            dx,
            dh if need[1] else None,
            dc if need[2] else None,
            dw_ih,
            dw_hh,
            db,
            None if db is None else db.copy(),
        )


class GRULayer(Function):
    r"""GRU layer, PyTorch's gate order (r, z, n) and form of n:

    .. math::
        r = σ(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}),\quad
        u = σ(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}),

        n = \tanh(W_{in} x_t + b_{in} + r ⊙ m),\quad m = W_{hn} h_{t-1} + b_{hn},\qquad
        h_t = (1 - u) ⊙ n + u ⊙ h_{t-1}

    (u is PyTorch's z, renamed so as not to clash with the linear mix z). BPTT:

    .. math::
        ∂C/∂h_t = g_t + [∂C/∂h_t\ \text{from step}\ t+1],\quad
        δ^n = ∂C/∂h_t ⊙ (1-u) ⊙ (1-n^2),\quad δ^u = ∂C/∂h_t ⊙ (h_{t-1} - n) ⊙ u(1-u),

        δ^r = δ^n ⊙ m ⊙ r(1-r),\qquad ∂C/∂m = δ^n ⊙ r,

        ∂C/∂h_{t-1} = ∂C/∂h_t ⊙ u + [δ^r, δ^u, ∂C/∂m]\, W_{hh}.

    The input side sees the deltas [δ^r, δ^u, δ^n], the hidden side [δ^r, δ^u, δ^n ⊙ r]; each
    side's weight gradient is one GEMM over all steps.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse=False):
        xp = get_array_module(x)
        T, B, I = x.shape
        H = w_hh.shape[1]
        A = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, 3 * H)  # one GEMM for all steps
        if b_ih is not None:
            A += b_ih
            A[..., : 2 * H] += b_hh[: 2 * H]
            b_hn = b_hh[2 * H :]
        w_hhT = w_hh.T
        M = xp.empty((T, B, H), dtype=x.dtype)
        Y = xp.empty((T + 1, B, H), dtype=x.dtype)
        hz = xp.empty((B, 3 * H), dtype=x.dtype)
        h = h0
        with errstate(over="ignore"), single_thread_blas():
            for t in _steps(T, reverse):
                a = A[t]  # becomes the activated gates [r, u, n] of step t
                xp.matmul(h, w_hhT, out=hz)
                a[:, : 2 * H] += hz[:, : 2 * H]
                _sigmoid_(a[:, : 2 * H], xp)
                m = M[t]
                m[...] = hz[:, 2 * H :]
                if b_ih is not None:
                    m += b_hn
                n = a[:, 2 * H :]
                n += a[:, :H] * m
                xp.tanh(n, out=n)
                y = xp.subtract(h, n, out=Y[t])
                y *= a[:, H : 2 * H]
                y += n
                h = y
        Y[T] = h
        ctx.i_w_ih = 2
        ctx.has_bias = b_ih is not None
        ctx.reverse = reverse
        ctx.save_for_backward(x, h0, w_ih, w_hh, A, M, Y)
        return Y

    @staticmethod
    def backward(ctx, gY):
        x, h0, w_ih, w_hh, A, M, Y = ctx.saved_tensors
        reverse = ctx.reverse
        xp = get_array_module(gY)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        r, u, n = A[..., :H], A[..., H : 2 * H], A[..., 2 * H :]
        prev = _previous(Y[:T], h0, reverse)
        # factors that do not depend on ∂C/∂h, for all steps at once
        E = (1 - u) * (1 - n * n)  # δ^n = ∂C/∂h_t ⊙ E
        F = (prev - n) * u * (1 - u)  # δ^u = ∂C/∂h_t ⊙ F
        K = M * r * (1 - r)  # δ^r = δ^n ⊙ K
        dZh = xp.empty((T, B, 3 * H), dtype=A.dtype)  # hidden side [δ^r, δ^u, δ^n ⊙ r]
        dN = xp.empty((T, B, H), dtype=A.dtype)  # δ^n (input side)
        dh = gY[T].copy()
        with single_thread_blas():  # Note [small products on one BLAS thread]
            for t in _steps(T, not reverse):
                dh += gY[t]
                dn = xp.multiply(dh, E[t], out=dN[t])
                dz = dZh[t]
                xp.multiply(dn, K[t], out=dz[:, :H])
                xp.multiply(dh, F[t], out=dz[:, H : 2 * H])
                xp.multiply(dn, r[t], out=dz[:, 2 * H :])
                dh *= u[t]
                dh += dz @ w_hh  # ∂C/∂h_{t−1}: directly through u ⊙ h_{t−1}, and through z
        dZx = xp.concatenate((dZh[..., : 2 * H], dN), axis=2)
        dx, dw_ih, db_ih = _input_grads(ctx, dZx, x, w_ih)
        need = ctx.needs_input_grad
        dw_hh = dZh.reshape(-1, 3 * H).T @ prev.reshape(-1, H) if need[3] else None
        db_hh = dZh.reshape(-1, 3 * H).sum(axis=0) if ctx.has_bias else None
        return dx, (dh if need[1] else None), dw_ih, dw_hh, db_ih, db_hh
