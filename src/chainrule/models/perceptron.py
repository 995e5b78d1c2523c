r"""The perceptron of the notes (002, "Perceptron" and "Learning with Perceptrons").

K McCulloch-Pitts neurons share N inputs plus a constant *bias input* (the notes' extra input
node, −1 by default). The weights are an (N + 1) × K matrix :math:`w_{ij}`, input i to neuron j
(the bias input's weights are the last row: its weight plays the role of the threshold θ).
Neuron j sums :math:`h_j = \sum_i w_{ij} x_i` and fires, :math:`y_j = 1`, if :math:`h_j > 0`.

Learning (the perceptron rule): show the samples one at a time, and after each one move every
weight by :math:`w_{ij} \leftarrow w_{ij} + η (t_j - y_j) x_i` — nothing changes when the
output is right. Repeat for up to ``epochs`` passes over the data, stopping after a pass with no
error. If the classes are linearly separable this converges (the perceptron convergence
theorem); if not (XOR) it never does, and ``fit`` says so with a :class:`ConvergenceWarning`.

The rule is online: each update changes the prediction for the next sample, so the samples are
visited in a Python loop (the vectorised form would be a different algorithm, batch
perceptron). The arithmetic per sample is one small vector-matrix product.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from chainrule import dtypes
from chainrule.backend import get_array_module
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor

__all__ = ["ConvergenceWarning", "Perceptron", "PerceptronHistory"]


class ConvergenceWarning(UserWarning):
    """A training procedure stopped at its iteration limit without converging."""


@dataclass
class PerceptronHistory:
    """What :meth:`Perceptron.fit` did: wrong outputs per epoch, and whether an epoch made
    no error (``converged``) before the epoch limit."""

    errors: list[int] = field(default_factory=list)
    converged: bool = False

    @property
    def epochs(self) -> int:
        """Number of passes over the data that were run."""
        return len(self.errors)


def _as_array(x: Any, dtype: Any = None) -> Any:
    if isinstance(x, Tensor):
        x = x.data
    xp = get_array_module(x)
    return xp.asarray(x, dtype=dtype)


class Perceptron(Module):
    r"""A single layer of K threshold neurons trained by the perceptron rule.

    Args:
        in_features: N, the number of inputs.
        out_features: K, the number of neurons (outputs).
        eta: the learning rate η (the notes: typically 0.1-0.4).
        bias_input: the constant extra input (the notes: usually −1, 0 or 1).
        init_scale: initial weights are drawn from U(−init_scale, init_scale) ("small random
            numbers"), from ``generator`` or chainrule's default generator.
        dtype: weight dtype (float32 by default).

    Attributes:
        weight: the (N + 1) × K weights, the bias input's row last. A parameter with
            ``requires_grad=False``: it is learned by the rule, not by gradients (the step
            activation has none).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.models.perceptron import Perceptron
        >>> _ = cr.manual_seed(0)
        >>> p = Perceptron(2)
        >>> x = [[0, 0], [0, 1], [1, 0], [1, 1]]
        >>> history = p.fit(x, [0, 0, 0, 1])  # logical AND
        >>> history.converged, p.predict(x).ravel().tolist()
        (True, [0, 0, 0, 1])
    """

    weight: Parameter

    def __init__(
        self,
        in_features: int,
        out_features: int = 1,
        eta: float = 0.25,
        bias_input: float = -1.0,
        init_scale: float = 0.05,
        generator: Generator | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Perceptron: {name} must be a positive int, got {v!r}")
        if not eta > 0:
            raise ValueError(f"Perceptron: the learning rate eta must be positive, got {eta}")
        self.in_features = in_features
        self.out_features = out_features
        self.eta = float(eta)
        self.bias_input = float(bias_input)
        d = dtypes.resolve_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        g = generator if generator is not None else default_generator
        w = g.uniform((in_features + 1, out_features), -init_scale, init_scale).astype(d)
        self.weight = Parameter(w, requires_grad=False)

    # ---- the neuron ----
    def _augment(self, x: Any) -> Any:
        """The inputs with the constant bias input appended: (n, N) -> (n, N + 1)."""
        arr = _as_array(x, self.weight.data.dtype)
        if arr.ndim == 1 and self.in_features == 1 and arr.shape[0] != 1:
            arr = arr[:, None]
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.in_features:
            raise ValueError(
                f"Perceptron expected inputs of shape (n, {self.in_features}) (in_features), "
                f"got shape {tuple(_as_array(x).shape)}"
            )
        xp = get_array_module(arr)
        bias = xp.full((arr.shape[0], 1), self.bias_input, dtype=arr.dtype)
        return xp.concatenate([arr, bias], axis=1)

    def decision_function(self, x: Any) -> Tensor:
        r"""The summed inputs :math:`h_j = \sum_i w_{ij} x_i` (bias input included), (n, K)."""
        return Tensor(self._augment(x) @ self.weight.data)

    def forward(self, x: Any) -> Tensor:
        """The outputs :math:`y_j = 1` if :math:`h_j > 0` else 0, as floats, shape (n, K)."""
        h = self.decision_function(x).data
        return Tensor((h > 0).astype(h.dtype))

    def predict(self, x: Any, **kwargs: Any) -> Any:
        """The outputs as an integer array of shape (n, K)."""
        return (self.decision_function(x).data > 0).astype("int64")

    # ---- learning ----
    def _targets(self, t: Any, n: int) -> Any:
        arr = _as_array(t)
        if arr.ndim == 1 and self.out_features == 1:
            arr = arr[:, None]
        if arr.shape != (n, self.out_features):
            raise ValueError(
                f"Perceptron: targets must have shape ({n}, {self.out_features}) (or ({n},) "
                f"for one neuron), got {tuple(arr.shape)}"
            )
        xp = get_array_module(arr)
        if not xp.isin(arr, (0, 1)).all():
            bad = arr[~xp.isin(arr, (0, 1))].reshape(-1)[0]
            raise ValueError(f"Perceptron: targets must be 0 or 1, got {bad.item()!r}")
        return arr.astype(self.weight.data.dtype)

    def fit(  # type: ignore[override]
        self,
        x: Any,
        t: Any,
        epochs: int = 100,
        eta: float | None = None,
        shuffle: bool = False,
        generator: Generator | None = None,
        verbose: bool = False,
    ) -> PerceptronHistory:
        r"""Train with the perceptron rule :math:`w_{ij} \leftarrow w_{ij} + η (t_j - y_j) x_i`,
        one sample at a time, for up to ``epochs`` passes; stop after a pass with no error.
        (This replaces :meth:`Module.fit`'s gradient descent: the step has no gradient.)

        Args:
            x: inputs, (n, N).
            t: targets in {0, 1}, (n, K) or (n,) for one neuron.
            epochs: the most passes over the data.
            eta: learning rate (default: the one given at construction).
            shuffle: visit the samples in a new random order each pass (from ``generator``,
                or chainrule's default generator).
            verbose: print the number of errors of each pass.

        Returns:
            A :class:`PerceptronHistory`: wrong outputs per pass and ``converged``.

        Warns:
            ConvergenceWarning: the last pass still made errors (``converged`` is False);
                the data may not be linearly separable.
        """
        eta = self.eta if eta is None else float(eta)
        if not eta > 0:
            raise ValueError(f"Perceptron.fit: eta must be positive, got {eta}")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"Perceptron.fit: epochs must be a positive int, got {epochs!r}")
        xa = self._augment(x)
        ta = self._targets(t, xa.shape[0])
        xp = get_array_module(xa)
        w = self.weight.data
        g = generator if generator is not None else default_generator
        history = PerceptronHistory()
        for epoch in range(epochs):
            order = g.permutation(xa.shape[0]) if shuffle else range(xa.shape[0])
            wrong = 0
            for i in order:
                xi = xa[i]
                y = (xi @ w > 0).astype(w.dtype)  # the neurons' outputs for this sample
                diff = ta[i] - y
                if diff.any():
                    w += w.dtype.type(eta) * xp.outer(xi, diff)  # w_ij += η (t_j − y_j) x_i
                    wrong += int(xp.count_nonzero(diff))
            history.errors.append(wrong)
            if verbose:
                print(f"epoch {epoch + 1}: {wrong} errors")
            if wrong == 0:
                history.converged = True
                break
        if not history.converged:
            warnings.warn(
                f"Perceptron did not converge in {epochs} epochs ({history.errors[-1]} wrong "
                f"outputs in the last one): the classes may not be linearly separable (XOR is "
                f"not); a multi-layer perceptron can learn them",
                ConvergenceWarning,
                stacklevel=2,
            )
        return history

    def score(self, x: Any, t: Any) -> float:
        """The fraction of samples whose every output is right."""
        xa = self._augment(x)
        ta = self._targets(t, xa.shape[0])
        y = (xa @ self.weight.data > 0).astype(ta.dtype)
        return float((y == ta).all(axis=1).mean())

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, eta={self.eta}, "
            f"bias_input={self.bias_input}"
        )
