r"""``chainrule.viz``: pictures of what a CNN learned and what a generator makes.

- :func:`image_grid`: a batch of images ``(N, C, H, W)`` tiled into one array, as
  torchvision's ``make_grid`` (pure NumPy);
- :func:`filter_grid`: a convolution's kernels ``(O, C, kh, kw)`` tiled the same way, each
  kernel scaled to [0, 1] on its own (notes 003: "filter = kernel", each one "designed to
  detect specific patterns");
- :func:`feature_maps`: the activation maps ("activation map = feature map", notes 003) that
  chosen layers produce for one input, captured with forward hooks;
- :func:`save_image_grid`, :func:`plot_filters`, :func:`plot_feature_maps`: the same as PNG
  figures with titles;
- :func:`figure` and :func:`save_figure`: the one way chainrule makes and writes a
  matplotlib figure (its history, run-folder and example plots use them too).

matplotlib is optional: the array functions and :func:`save_image_grid` work without it
(``save_image_grid`` then writes a plain PNG with ``zlib``, without a title); the
functions that draw need it and say so (``pip install 'chainrule[viz]'``). Figures are built
with ``matplotlib.figure.Figure`` directly, so nothing here touches pyplot's global state or
the display backend: no ``matplotlib.use("Agg")``, no window, no figure to close.
"""

from __future__ import annotations

import os
import struct
import textwrap
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import to_numpy
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = [
    "feature_maps",
    "figure",
    "filter_grid",
    "image_grid",
    "plot_feature_maps",
    "plot_filters",
    "save_figure",
    "save_image_grid",
    "write_png",
]


def _array(x: Any, owner: str) -> np.ndarray:
    if isinstance(x, Module):
        raise TypeError(
            f"{owner}: expected an array or a Tensor, got the module {type(x).__name__}"
        )
    a = to_numpy(x.data if isinstance(x, Tensor) else x)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.number):
        raise TypeError(f"{owner}: expected a numeric array, got dtype {a.dtype}")
    return a.astype(np.float64)


def _scale01(a: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
    """(a - min) / (max - min) over ``axes``; a constant (or NaN) block maps to 0.5."""
    lo = np.min(a, axis=axes, keepdims=True)
    span = np.max(a, axis=axes, keepdims=True) - lo
    flat = ~(span > 0)  # constant (or NaN) blocks
    with np.errstate(invalid="ignore"):
        out = (a - lo) / np.where(flat, 1.0, span)
    return np.where(flat, 0.5, out)


def image_grid(
    images: Any,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 1.0,
) -> np.ndarray:
    r"""Tile ``N`` images into one ``(H', W')`` (1 channel) or ``(H', W', 3)`` array in [0, 1],
    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` between them.

    With ``normalize``, pixels are mapped by :math:`(x - lo)/(hi - lo)` with ``value_range =
    (lo, hi)`` (e.g. ``(-1, 1)`` for a tanh generator) or, by default, the batch's min and max
    (each image's own with ``scale_each``); otherwise they are clipped to [0, 1].

    Args:
        images: ``(N, C, H, W)``, ``(N, H, W)`` or ``(H, W)``, with ``C`` 1 or 3.
        nrow: images per row (PyTorch's name; the grid has ``ceil(N / nrow)`` rows).

    Raises:
        ValueError: a shape other than those, ``C`` not 1 or 3, ``nrow < 1``, ``padding < 0``,
            or an empty ``value_range``.

    Example:
        >>> import numpy as np
        >>> image_grid(np.zeros((5, 1, 4, 4)), nrow=3, padding=1).shape
        (11, 16)
    """
    a = _array(images, "image_grid")
    if a.ndim == 2:
        a = a[None, None]
    elif a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] not in (1, 3) or a.shape[0] == 0:
        raise ValueError(
            f"image_grid: expected images (N, C, H, W) with N >= 1 and C 1 or 3, (N, H, W) or "
            f"(H, W), got shape {np.shape(images)}"
        )
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"image_grid: nrow must be a positive int, got {nrow!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"image_grid: padding must be an int >= 0, got {padding!r}")
    if normalize:
        if value_range is not None:
            lo, hi = (float(v) for v in value_range)
            if not hi > lo:
                raise ValueError(f"image_grid: value_range must have lo < hi, got {value_range}")
            a = (np.clip(a, lo, hi) - lo) / (hi - lo)
        else:
            a = _scale01(a, (1, 2, 3) if scale_each else None)
    a = np.clip(a, 0.0, 1.0)
    n, c, h, w = a.shape
    cols = min(int(nrow), n)
    rows = -(-n // cols)
    p = int(padding)
    # every tile with its top/left padding, then the tiles laid out row by row in one reshape
    tiles = np.full((rows * cols, c, h + p, w + p), float(pad_value))
    tiles[:n, :, p:, p:] = a
    grid = tiles.reshape(rows, cols, c, h + p, w + p).transpose(2, 0, 3, 1, 4)
    grid = grid.reshape(c, rows * (h + p), cols * (w + p))
    grid = np.pad(grid, ((0, 0), (0, p), (0, p)), constant_values=float(pad_value))
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def filter_grid(weight: Any, nrow: int | None = None, padding: int = 1) -> np.ndarray:
    """The kernels of a convolution ``(O, C, kh, kw)`` (a weight array, a Parameter or a
    ``Conv2d``) as one image: each kernel scaled to [0, 1] on its own; ``C == 3`` kernels are
    shown in colour, other channel counts as their mean over ``C``.

    Example:
        >>> import chainrule as cr
        >>> filter_grid(cr.nn.Conv2d(1, 6, 5), nrow=3).shape
        (13, 19)
    """
    w = getattr(weight, "weight", weight) if isinstance(weight, Module) else weight
    a = _array(w, "filter_grid")
    if a.ndim != 4 or a.shape[0] == 0:
        raise ValueError(
            f"filter_grid: expected convolution kernels (out_channels, in_channels, kh, kw), "
            f"got shape {a.shape}"
        )
    if a.shape[1] != 3:
        a = a.mean(axis=1, keepdims=True)
    a = _scale01(a, (1, 2, 3))
    if nrow is None:
        nrow = int(np.ceil(np.sqrt(a.shape[0])))
    return image_grid(a, nrow=nrow, padding=padding, pad_value=1.0)


def _resolve_layers(model: Module, layers: Any) -> list[tuple[str, Module]]:
    named = [(n, m) for n, m in model.named_modules() if n]
    if layers is None:
        from chainrule.nn.modules.conv import Conv2d

        picked: list[tuple[str, Module]] = [(n, m) for n, m in named if isinstance(m, Conv2d)]
        if not picked:
            raise ValueError(
                f"feature_maps: {type(model).__name__} has no Conv2d layer; name the layers "
                f"to capture with layers=[...] (its layers: {', '.join(n for n, _ in named)})"
            )
        return picked
    if isinstance(layers, (str, Module)):
        layers = [layers]
    by_name = dict(named)
    out = []
    for item in layers:
        if isinstance(item, Module):
            names = [n for n, m in named if m is item]
            if not names:
                raise ValueError(
                    f"feature_maps: the layer {type(item).__name__} is not part of the model"
                )
            out.append((names[0], item))
        elif isinstance(item, str) and item in by_name:
            out.append((item, by_name[item]))
        else:
            raise ValueError(f"feature_maps: no layer named {item!r}; layers: {', '.join(by_name)}")
    return out


def feature_maps(model: Module, x: Any, layers: Any = None) -> dict[str, np.ndarray]:
    """Run ``x`` through ``model`` (eval mode, no gradients) and return the output of each
    chosen layer as a NumPy array, keyed by the layer's dotted name, in call order.

    Args:
        model: any module.
        x: a batch the model accepts (array or Tensor), e.g. one image ``(1, C, H, W)``.
        layers: layer names (``"features.0.act"``), module objects, or ``None`` for every
            ``Conv2d``.

    The model's training mode is restored afterwards and its hooks removed, even on error.

    Example:
        >>> import chainrule as cr
        >>> maps = feature_maps(cr.models.lenet5(), cr.zeros(1, 1, 28, 28))
        >>> {k: v.shape for k, v in maps.items()}
        {'0': (1, 6, 28, 28), '3': (1, 16, 10, 10)}
    """
    if not isinstance(model, Module):
        raise TypeError(f"feature_maps: model must be a Module, got {type(model).__name__}")
    chosen = _resolve_layers(model, layers)
    captured: dict[str, np.ndarray] = {}

    def hook_for(name: str) -> Any:
        def hook(module: Module, inputs: Any, output: Any) -> None:
            if name not in captured and isinstance(output, Tensor):
                captured[name] = to_numpy(output.data).copy()

        return hook

    removers = [m.register_forward_hook(hook_for(n)) for n, m in chosen]
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    finally:
        for remove in removers:
            remove()
        model.train(was_training)
    missing = [n for n, _ in chosen if n not in captured]
    if missing:
        raise ValueError(
            f"feature_maps: layer(s) {', '.join(missing)} were not called by the forward pass "
            f"or did not return a Tensor"
        )
    return {n: captured[n] for n, _ in chosen}


def _png_bytes(pixels: np.ndarray) -> bytes:
    """Encode ``(H, W)`` or ``(H, W, 3)`` uint8 pixels as a PNG (8-bit grey or RGB)."""
    h, w = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    rows = np.concatenate(
        [np.zeros((h, 1), np.uint8), np.ascontiguousarray(pixels).reshape(h, -1)], axis=1
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike, image: Any, scale: int = 1) -> None:
    """Write an image in [0, 1], ``(H, W)`` grey or ``(H, W, 3)`` RGB, as a PNG without
    matplotlib, each pixel repeated ``scale`` times in both directions.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.png"
        >>> write_png(path, np.eye(4), scale=2)
        >>> path.read_bytes()[1:4]
        b'PNG'
    """
    a = _array(image, "write_png")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or a.size == 0:
        raise ValueError(f"write_png: expected (H, W) or (H, W, 3) pixels, got shape {a.shape}")
    s = int(scale)
    if s < 1:
        raise ValueError(f"write_png: scale must be >= 1, got {scale!r}")
    pixels = np.round(np.clip(np.nan_to_num(a, nan=0.0), 0, 1) * 255).astype(np.uint8)
    pixels = pixels.repeat(s, axis=0).repeat(s, axis=1)
    with open(path, "wb") as f:
        f.write(_png_bytes(pixels))


def figure(figsize: tuple[float, float], owner: str = "this plot", **kwargs: Any) -> Any:
    """A new ``matplotlib.figure.Figure`` of ``figsize`` inches, made without pyplot (no global
    state, no display backend, nothing to close); ``kwargs`` go to ``Figure`` (``dpi``,
    ``layout="constrained"``...).

    Raises:
        ImportError: matplotlib is not installed (the message names ``owner`` and the
            ``viz`` extra).

    Example:
        >>> fig = figure((4, 3), layout="constrained")
        >>> ax = fig.add_subplot()
        >>> fig.get_size_inches().tolist()
        [4.0, 3.0]
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            f"{owner} needs matplotlib: pip install 'chainrule[viz]' (or matplotlib); "
            "image_grid, filter_grid, feature_maps and save_image_grid work without it"
        ) from None
    return Figure(figsize=figsize, **kwargs)


def save_figure(fig: Any, path: str | os.PathLike, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` (the format from its extension: PNG, PDF, SVG...), creating
    the missing parent folders; returns the path.

    Example:
        >>> import os, tempfile
        >>> p = save_figure(figure((2, 2)), os.path.join(tempfile.mkdtemp(), "a", "f.png"))
        >>> p.name, p.read_bytes()[:4] == b"\\x89PNG"
        ('f.png', True)
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi if dpi is not None else "figure")
    return p


def save_image_grid(
    images: Any,
    path: str | os.PathLike,
    nrow: int = 8,
    title: str | None = None,
    value_range: tuple[float, float] | None = None,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Save a batch of images as one tiled PNG (with ``title`` and per-image ``labels`` when
    matplotlib is installed; a plain, 4x upscaled PNG otherwise) and return the grid array.

    ``value_range``: the pixels' range, e.g. ``(-1, 1)`` for a tanh generator (default: clip
    to [0, 1]).

    Example:
        >>> import numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> save_image_grid(np.zeros((4, 1, 8, 8)), path, nrow=2, title="zeros").shape
        (22, 22)
    """
    grid = image_grid(images, nrow=nrow, normalize=value_range is not None, value_range=value_range)
    n = int(np.shape(images)[0]) if np.ndim(images) >= 3 else 1
    if labels is not None and len(labels) != n:
        raise ValueError(f"save_image_grid: got {len(labels)} labels for {n} images")
    height, width = grid.shape[:2]
    inches = max(5.0, min(12.0, width / 40))
    lines = textwrap.wrap(title, width=int(inches * 11)) if title else []
    head = 0.1 + 0.22 * len(lines)  # inches of title above the grid
    try:
        fig = figure((inches, inches * height / width + head), owner="save_image_grid")
    except ImportError:
        write_png(path, grid, scale=4)
        return grid
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - head / fig.get_figheight()))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if labels is not None:
        h, w = np.shape(images)[-2:]
        cols = min(int(nrow), n)
        for i, text in enumerate(labels):
            r, q = divmod(i, cols)
            ax.text(
                2 + q * (w + 2),
                2 + r * (h + 2) + 1,
                text,
                color="red",
                fontsize=7,
                va="top",
                ha="left",
            )
    if lines:
        fig.suptitle("\n".join(lines), fontsize=10, y=1.0 - 0.05 / fig.get_figheight(), va="top")
    save_figure(fig, path, dpi=100)
    return grid


def plot_filters(
    weight: Any, path: str | os.PathLike | None = None, title: str | None = None
) -> Any:
    """A matplotlib figure of a convolution's kernels, one panel per kernel (index above it,
    grey scale, each kernel scaled to its own min..max with the range printed), saved to
    ``path`` if given. Needs matplotlib.

    Example:
        >>> import chainrule as cr
        >>> fig = plot_filters(cr.nn.Conv2d(1, 4, 3), title="untrained")
        >>> len(fig.axes)
        4
    """
    w = getattr(weight, "weight", weight) if isinstance(weight, Module) else weight
    a = _array(w, "plot_filters")
    if a.ndim != 4 or a.shape[0] == 0:
        raise ValueError(
            f"plot_filters: expected convolution kernels (out_channels, in_channels, kh, kw), "
            f"got shape {a.shape}"
        )
    o = a.shape[0]
    cols = int(np.ceil(np.sqrt(o)))
    rows = -(-o // cols)
    width = max(5.0, 1.3 * cols)
    fig = figure((width, 1.4 * rows + 0.8), owner="plot_filters")
    for i in range(o):
        ax = fig.add_subplot(rows, cols, i + 1)
        k = a[i] if a.shape[1] == 3 else a[i].mean(axis=0)
        if a.shape[1] == 3:
            ax.imshow(_scale01(k, None).transpose(1, 2, 0), interpolation="nearest")
        else:
            ax.imshow(k, cmap="gray", interpolation="nearest")
        ax.set_title(f"#{i} [{k.min():+.2f}, {k.max():+.2f}]", fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
    channels = "" if a.shape[1] in (1, 3) else f" (mean over {a.shape[1]} input channels)"
    text = (
        title or "convolution kernels"
    ) + f": {o} x {a.shape[2]}x{a.shape[3]}{channels}; dark = negative, light = positive"
    fig.suptitle("\n".join(textwrap.wrap(text, width=int(width * 13))), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    if path is not None:
        save_figure(fig, path, dpi=120)
    return fig


def plot_feature_maps(
    maps: dict[str, Any],
    path: str | os.PathLike | None = None,
    image: Any = None,
    max_channels: int = 8,
    title: str | None = None,
    layer_titles: Iterable[str] | None = None,
) -> Any:
    """A matplotlib figure with one row per layer of :func:`feature_maps`' output (the first
    sample, the first ``max_channels`` channels, each scaled to its own range; the row is
    labelled with the layer name and the map size), the input ``image`` top left when given;
    saved to ``path`` if given. Needs matplotlib.

    Example:
        >>> import chainrule as cr
        >>> model = cr.models.lenet5()
        >>> x = cr.zeros(1, 1, 28, 28)
        >>> fig = plot_feature_maps(feature_maps(model, x), image=x, max_channels=4)
        >>> len(fig.axes)
        9
    """
    if not isinstance(maps, dict) or not maps:
        raise ValueError("plot_feature_maps: expected a non-empty dict {layer name: maps}")
    arrays = {k: _array(v, "plot_feature_maps") for k, v in maps.items()}
    for k, v in arrays.items():
        if v.ndim != 4:
            raise ValueError(
                f"plot_feature_maps: layer {k!r} gave shape {v.shape}, expected (N, C, H, W)"
            )
    names = list(layer_titles) if layer_titles is not None else list(arrays)
    if len(names) != len(arrays):
        raise ValueError("plot_feature_maps: layer_titles must have one entry per layer")
    lead = 1 if image is not None else 0
    cols = lead + min(max_channels, max(v.shape[1] for v in arrays.values()))
    rows = len(arrays)
    fig = figure((1.3 * cols + 0.8, 1.6 * rows + 0.6), owner="plot_feature_maps")
    if image is not None:  # the input once, top left
        ax = fig.add_subplot(rows, cols, 1)
        img = _array(image, "plot_feature_maps")
        img = img.reshape(img.shape[-2:]) if img.size == np.prod(img.shape[-2:]) else img[0]
        if img.ndim == 3:
            img = _scale01(img, None).transpose(1, 2, 0)
        ax.imshow(img, cmap="gray", interpolation="nearest")
        ax.set_title("input", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    for r, (v, label) in enumerate(zip(arrays.values(), names)):
        for c in range(min(max_channels, v.shape[1])):
            ax = fig.add_subplot(rows, cols, r * cols + lead + c + 1)
            ax.imshow(v[0, c], cmap="viridis", interpolation="nearest")
            ax.set_title(f"channel {c}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{label}\n{v.shape[1]} x {v.shape[2]}x{v.shape[3]}", fontsize=7)
    fig.suptitle(title or "feature maps (each map scaled to its own range)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    if path is not None:
        save_figure(fig, path, dpi=120)
    return fig
