"""Batch transforms on NumPy arrays: normalise, one-hot, random crop, random flip, compose.

Every transform takes a whole batch (first axis = samples) and works on it with a few
vectorised NumPy operations; none modifies its input. Random transforms draw from their own
:class:`chainrule.Generator` (by default seeded from chainrule's default generator when the
transform is built) and expose ``state_dict()``/``load_state_dict()`` so an interrupted run
resumes with the same augmentations. Images are ``N x C x H x W`` (or ``N x H x W``).
A chainrule tensor given to a transform comes back as a tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.data._util import as_generator, check_int, to_array
from chainrule.random import Generator

__all__ = [
    "Compose",
    "Normalize",
    "OneHot",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Transform",
    "one_hot",
]


def _wrap_like(result: np.ndarray, original: Any) -> Any:
    from chainrule.tensor import Tensor

    return Tensor(result) if isinstance(original, Tensor) else result


class Transform:
    """Base class: ``__call__(batch) -> batch``; stateless unless overridden."""

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _RandomTransform(Transform):
    generator: Generator

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or "generator" not in state:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: expected a dict with a 'generator' "
                f"state, got {state!r:.80}"
            )
        self.generator.set_state(dict(state["generator"]))


class Compose(Transform):
    """Apply transforms in order.

    Example:
        >>> import numpy as np
        >>> t = Compose([Normalize(0.5, 0.5), RandomHorizontalFlip(p=0.0, generator=0)])
        >>> t(np.ones((2, 1, 2, 2), np.float32))[0, 0]
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def state_dict(self) -> dict[str, Any]:
        states = [getattr(t, "state_dict", None) for t in self.transforms]
        return {"transforms": [s() if callable(s) else None for s in states]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        subs = state.get("transforms") if isinstance(state, dict) else None
        if not isinstance(subs, (list, tuple)) or len(subs) != len(self.transforms):
            raise ValueError(
                f"Compose.load_state_dict: expected states for {len(self.transforms)} "
                f"transforms, got {subs!r:.80}"
            )
        for t, s in zip(self.transforms, subs):
            load = getattr(t, "load_state_dict", None)
            if s is not None and callable(load):
                load(s)

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class Normalize(Transform):
    r"""Per-channel standardisation :math:`x' = (x - \mu_c) / \sigma_c`.

    Args:
        mean: a number, or one value per channel (axis 1 of the batch).
        std: the same; every value must be > 0.

    Floating inputs keep their dtype; integer inputs (e.g. ``uint8`` images) give float32.

    Example:
        >>> import numpy as np
        >>> Normalize([0.5, 0.0], [0.5, 2.0])(np.ones((1, 2, 1, 1), np.float32)).ravel()
        array([1. , 0.5], dtype=float32)
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        m = np.asarray(mean, dtype=np.float64)
        s = np.asarray(std, dtype=np.float64)
        if m.ndim > 1 or s.ndim > 1:
            raise ValueError(
                f"Normalize: mean and std must be numbers or 1-D sequences (one per channel), "
                f"got shapes {m.shape} and {s.shape}"
            )
        if m.ndim == 1 and s.ndim == 1 and m.shape != s.shape:
            raise ValueError(
                f"Normalize: mean has {m.size} values but std has {s.size}; give one per channel"
            )
        if not np.all(np.isfinite(m)) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(
                f"Normalize: std must be finite and > 0 (and mean finite), got "
                f"mean={m.tolist()}, std={s.tolist()}"
            )
        self.mean, self.std = m, s

    def __call__(self, x: Any) -> Any:
        a = to_array(x)
        dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        m, s = self.mean.astype(dt), self.std.astype(dt)
        channels = max(m.size if m.ndim else 1, s.size if s.ndim else 1)
        if m.ndim or s.ndim:
            if a.ndim < 2 or a.shape[1] != channels:
                raise ValueError(
                    f"Normalize: expected a batch with {channels} channels on axis 1, got shape "
                    f"{a.shape}"
                )
            shape = (1, channels) + (1,) * (a.ndim - 2)
            m, s = m.reshape(shape) if m.ndim else m, s.reshape(shape) if s.ndim else s
        out = (a.astype(dt, copy=False) - m) / s
        return _wrap_like(out.astype(dt, copy=False), x)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def one_hot(labels: Any, num_classes: int = -1, dtype: Any = np.float32) -> Any:
    r"""One-hot encode integer class labels: :math:`y_{ik} = 1` if :math:`k = t_i` else 0.

    Args:
        labels: integer class indices of any shape (an array, list or chainrule tensor).
        num_classes: the number of classes ``C``; ``-1`` uses ``max(labels) + 1``.
        dtype: output dtype, float32 by default (Keras's ``to_categorical``; note that
            ``torch.nn.functional.one_hot`` returns int64: pass ``dtype="int64"`` for that).

    Returns:
        ``labels.shape + (C,)``; a chainrule tensor (not differentiable) for tensor input.

    Raises:
        TypeError: non-integer labels.
        ValueError: a label outside ``[0, C - 1]`` (the first offending position and value).

    Example:
        >>> one_hot([2, 0], 3)
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)
    """
    t = to_array(labels)
    if t.dtype.kind not in "iu" and not (t.dtype.kind == "b"):
        raise TypeError(
            f"one_hot: labels must be integers (class indices), got dtype {t.dtype}; "
            f"cast with .astype(int) if they are whole numbers"
        )
    t = t.astype(np.int64, copy=False)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int, got {type(num_classes).__name__}")
    if num_classes == -1:
        if t.size == 0:
            raise ValueError("one_hot: num_classes=-1 needs at least one label")
        num_classes = int(t.max()) + 1
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be >= 1 (or -1), got {num_classes}")
    bad = (t < 0) | (t >= num_classes)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        where = pos[0] if len(pos) == 1 else pos
        raise ValueError(
            f"one_hot: label {int(t[pos])} at index {where} is outside the valid range "
            f"[0, {num_classes - 1}] for num_classes={num_classes}"
        )
    out = np.eye(num_classes, dtype=np.dtype(dtype))[t]
    return _wrap_like(out, labels)


class OneHot(Transform):
    """Batch transform form of :func:`one_hot` (for ``target_transform=``).

    Example:
        >>> OneHot(3)(np.array([1]))
        array([[0., 1., 0.]], dtype=float32)
    """

    def __init__(self, num_classes: int, dtype: Any = np.float32) -> None:
        self.num_classes = check_int(num_classes, "num_classes", "OneHot", 1)
        self.dtype = np.dtype(dtype)

    def __call__(self, labels: Any) -> Any:
        return one_hot(labels, self.num_classes, self.dtype)

    def __repr__(self) -> str:
        return f"OneHot({self.num_classes})"


def _as_images(a: np.ndarray, owner: str) -> np.ndarray:
    if a.ndim < 3:
        raise ValueError(
            f"{owner}: expected a batch of images N x C x H x W or N x H x W, got shape {a.shape}"
        )
    return a


class RandomCrop(_RandomTransform):
    """Pad each image by ``padding`` pixels (value ``fill``), then cut a random
    ``size`` window from it, independently per sample (one vectorised gather per batch).

    Args:
        size: output ``(h, w)`` or an int for a square.
        padding: pixels added on every side before cropping.
        fill: the padding value.
        generator: a :class:`chainrule.Generator`, an int seed, or ``None`` (seeded from the
            default generator).

    Example:
        >>> import numpy as np
        >>> RandomCrop(28, padding=4, generator=0)(np.zeros((5, 1, 28, 28))).shape
        (5, 1, 28, 28)
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int = 0,
        fill: float = 0.0,
        generator: Generator | int | None = None,
    ) -> None:
        hw = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if len(hw) != 2:
            raise ValueError(f"RandomCrop: size must be an int or (h, w), got {size!r}")
        self.size = (
            check_int(hw[0], "size", "RandomCrop", 1),
            check_int(hw[1], "size", "RandomCrop", 1),
        )
        self.padding = check_int(padding, "padding", "RandomCrop", 0)
        self.fill = fill
        self.generator = as_generator(generator, "RandomCrop")

    def __call__(self, x: Any) -> Any:
        a = _as_images(to_array(x), "RandomCrop")
        p, (h, w) = self.padding, self.size
        n, lead, hh, ww = a.shape[0], a.shape[1:-2], a.shape[-2] + 2 * p, a.shape[-1] + 2 * p
        if h > hh or w > ww:
            raise ValueError(
                f"RandomCrop: crop size {(h, w)} is larger than the padded image "
                f"{(hh, ww)} (input {a.shape[-2:]}, padding {p})"
            )
        if p:  # one allocation filled with the padding value, the image copied in
            padded = np.full((*a.shape[:-2], hh, ww), self.fill, dtype=a.dtype)
            padded[..., p : p + a.shape[-2], p : p + a.shape[-1]] = a
            a = padded
        a = a.reshape(n, -1, hh, ww)
        oy = self.generator.integers(0, hh - h + 1, (n,))
        ox = self.generator.integers(0, ww - w + 1, (n,))
        # every h x w window as a view (N, C, oy, ox, h, w); pick one window per sample
        windows = np.lib.stride_tricks.sliding_window_view(a, (h, w), axis=(-2, -1))
        out = windows[np.arange(n), :, oy, ox].reshape((n, *lead, h, w))
        return _wrap_like(out, x)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(_RandomTransform):
    """Mirror each image left-right (last axis) with probability ``p``, per sample.

    Example:
        >>> import numpy as np
        >>> RandomHorizontalFlip(p=1.0, generator=0)(np.array([[[[1, 2, 3]]]]))
        array([[[[3, 2, 1]]]])
    """

    def __init__(self, p: float = 0.5, generator: Generator | int | None = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.generator = as_generator(generator, "RandomHorizontalFlip")

    def __call__(self, x: Any) -> Any:
        a = _as_images(to_array(x), "RandomHorizontalFlip")
        flip = self.generator.random((a.shape[0],)) < self.p
        out = np.where(flip.reshape((-1,) + (1,) * (a.ndim - 1)), a[..., ::-1], a)
        return _wrap_like(out, x)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
