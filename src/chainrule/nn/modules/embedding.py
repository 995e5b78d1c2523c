r"""``Embedding``: a learnable lookup table of token vectors (``torch.nn.Embedding``)."""

from __future__ import annotations

from typing import Any

from chainrule import dtypes
from chainrule.creation import zeros
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.embedding import embedding
from chainrule.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    r"""A table :math:`W` (num_embeddings, embedding_dim); ``forward(x)`` returns the rows
    :math:`W_{x}` (shape ``x.shape + (embedding_dim,)``), and the gradient of a row is the
    sum of the upstream gradients of every position that looked it up.

    Initialised :math:`\mathcal N(0, 1)` with the ``padding_idx`` row zeroed, as PyTorch.

    Args:
        num_embeddings: table size (the vocabulary).
        embedding_dim: vector size.
        padding_idx: a row that stays zero (no gradient); negative counts from the end.
        max_norm, norm_type: renormalise looked-up rows to at most ``max_norm``.
        scale_grad_by_freq: divide gradients by the index frequency in the batch.
        sparse: only ``False``.
        _weight: an initial table; ``_freeze``: do not train it.

    Raises:
        IndexError: in ``forward``, for an index outside ``[0, num_embeddings)``.

    Example:
        >>> import chainrule as cr
        >>> emb = cr.nn.Embedding(10, 3, padding_idx=0)
        >>> emb(cr.tensor([[1, 2, 0]])).shape
        (1, 3, 3)
        >>> emb.weight.data[0].tolist()
        [0.0, 0.0, 0.0]
    """

    weight: Parameter

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for label, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Embedding: {label} must be a positive int, got {v!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within num_embeddings ({num_embeddings}), "
                    f"got {padding_idx}"
                )
            padding_idx %= num_embeddings
        if sparse:
            raise ValueError("Embedding: sparse gradients are not supported; use sparse=False")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        d = dtypes.resolve_dtype(dtype) if dtype is not None else None
        if _weight is None:
            self.weight = Parameter(
                zeros(num_embeddings, embedding_dim, dtype=d), requires_grad=not _freeze
            )
            self.reset_parameters()
        else:
            w = Parameter(_weight, requires_grad=not _freeze)
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight has shape {w.shape}, expected "
                    f"({num_embeddings}, {embedding_dim})"
                )
            self.weight = w

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An embedding whose table is ``embeddings`` (2-D), frozen by default."""
        w = embeddings.data if isinstance(embeddings, Tensor) else embeddings
        if getattr(w, "ndim", 0) != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, "
                f"embedding_dim), got shape {getattr(w, 'shape', None)}"
            )
        rows, dim = w.shape
        return cls(
            rows,
            dim,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=w,
            _freeze=freeze,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s
