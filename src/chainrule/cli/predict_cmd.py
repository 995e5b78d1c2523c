"""``chainrule predict CHECKPOINT INPUT...``: classify images or arrays, top-k with
probabilities.

Inputs:

- image files (PNG, JPEG, BMP, GIF... through Pillow, the optional ``image`` extra):
  converted to grayscale, resized to the model's input size, scaled to [0, 1]; a light
  background is inverted (``--invert auto``), since the datasets are light strokes on dark;
- ``.npy`` arrays, read with ``allow_pickle=False`` through :func:`chainrule.io.load_array`
  (an object array is refused, RELIABILITY A21): one sample of the model's input shape
  (``C x H x W``, ``H x W`` or flat) or a batch of them; integer arrays are scaled by 1/255,
  floats are taken as already in [0, 1].
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.cli._common import add_allow_code, common

__all__ = ["add_parser", "load_image", "load_inputs", "run"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
MAX_PIXELS = 40_000_000  # larger images are refused (decompression bombs)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        parents=[common()],
        help="classify image files or .npy arrays",
        description="Classify image files (PNG/JPEG..., needs Pillow) or .npy arrays with a "
        "trained model (a run folder or a checkpoint written by chainrule train) "
        "and print the top-k classes with their probabilities.",
    )
    p.add_argument("target", metavar="CHECKPOINT", help="a run folder or checkpoint file")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or .npy arrays")
    p.add_argument("-k", "--top-k", type=int, default=3, help="classes to show (default 3)")
    p.add_argument(
        "--invert",
        choices=("auto", "yes", "no"),
        default="auto",
        help="invert image brightness: auto inverts images with a light border "
        "(dark strokes on white), as the datasets are light on dark",
    )
    add_allow_code(p)
    return p


def load_image(path: Path, shape: tuple[int, ...], invert: str = "auto") -> np.ndarray:
    """One image file as a float32 array of ``shape`` (``C x H x W`` or flat), in [0, 1]."""
    from chainrule.cli.build import CLIError

    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise CLIError(
            f"{path}: reading images needs Pillow (pip install 'chainrule[image]'); "
            "or pass a .npy array"
        ) from None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                gray = im.convert("L")
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as e:
        raise CLIError(f"{path} is not a readable image ({' '.join(str(e).split())})") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise CLIError(f"{path} cannot be read as an image ({' '.join(str(e).split())})") from None
    side = shape[-2:] if len(shape) == 3 else _square(shape, path)
    h, w = side
    resample = Image.Resampling.LANCZOS
    a = np.asarray(gray.resize((w, h), resample), dtype=np.float32) / np.float32(255.0)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if invert == "yes" or (invert == "auto" and float(border.mean()) > 0.5):
        a = 1.0 - a
    if len(shape) == 3 and shape[0] != 1:
        a = np.repeat(a[None], shape[0], axis=0)
    return a.reshape(shape).astype(np.float32)


def _square(shape: tuple[int, ...], path: Path) -> tuple[int, int]:
    from chainrule.cli.build import CLIError

    side = int(round(np.sqrt(shape[0])))
    if side * side != shape[0]:
        raise CLIError(
            f"{path}: the model takes vectors of {shape[0]} values, which is not a "
            "square image; pass a .npy array instead"
        )
    return side, side


def _fits(got: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """Whether an array of shape ``got`` is one sample or a batch of the model's ``shape``:
    ``shape`` itself, ``N x shape``, flat (``size`` or ``N x size``) or, for one-channel
    models, ``H x W`` / ``N x H x W``."""
    size = int(np.prod(shape))
    if got[-len(shape) :] == shape or got == (size,) or (len(got) == 2 and got[1] == size):
        return True
    return len(got) in (2, 3) and got[-1] * got[-2] == size and (len(shape) == 1 or shape[0] == 1)


def load_array_input(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A ``.npy`` file as a batch ``N x shape`` (float32)."""
    from chainrule.cli.build import CLIError
    from chainrule.io import load_array

    arr = load_array(path)  # allow_pickle=False semantics: object arrays are refused
    if not isinstance(arr, np.ndarray):
        raise CLIError(f"{path}: expected one array (.npy), got an archive of {len(arr)}")
    if arr.dtype.kind not in "uif" or arr.dtype.kind == "b":
        raise CLIError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    size = int(np.prod(shape))
    if arr.size == 0 or arr.size % size:
        raise CLIError(
            f"{path}: an array of shape {arr.shape} does not hold samples of the "
            f"model's input shape {shape} ({size} values each)"
        )
    if not _fits(arr.shape, shape):
        raise CLIError(
            f"{path}: an array of shape {arr.shape} does not match the model's "
            f"input shape {shape} (one sample, or a batch N x {shape})"
        )
    x = arr.reshape((-1, *shape))
    if arr.dtype.kind in "ui":
        x = x.astype(np.float32) / np.float32(255.0)
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise CLIError(f"{path}: the array holds NaN or infinite values")
    return x


def load_inputs(
    paths: list[str], shape: tuple[int, ...], invert: str = "auto"
) -> tuple[np.ndarray, list[str]]:
    """All inputs stacked, with a label per sample (``file`` or ``file[i]``)."""
    from chainrule.cli.build import CLIError

    xs, labels = [], []
    for name in paths:
        p = Path(name)
        if not p.is_file():
            raise CLIError(f"{p}: no such file" if not p.exists() else f"{p} is not a file")
        suffix = p.suffix.lower()
        if suffix == ".npy":
            x = load_array_input(p, shape)
            xs.append(x)
            labels += [name] if len(x) == 1 else [f"{name}[{i}]" for i in range(len(x))]
        elif suffix in IMAGE_SUFFIXES:
            xs.append(load_image(p, shape, invert)[None])
            labels.append(name)
        else:
            raise CLIError(
                f"{p}: unknown input type {suffix or '(no suffix)'}; expected an "
                f"image ({', '.join(sorted(IMAGE_SUFFIXES))}) or a .npy array"
            )
    return np.concatenate(xs), labels


def run(args: argparse.Namespace) -> int:
    from chainrule.cli.build import CLIError, apply_preprocess, load_trained
    from chainrule.cli.runner import test_predictions

    if args.top_k < 1:
        raise CLIError(f"--top-k must be >= 1, got {args.top_k}")
    trained = load_trained(args.target, allow_code=args.allow_code)
    x, labels = load_inputs(args.inputs, trained.input_shape, args.invert)
    x = apply_preprocess(x, trained.preprocess)
    bar = not args.quiet and getattr(sys.stderr, "isatty", lambda: False)()
    logits = test_predictions(trained.model, x, 256, bar=bar)
    z = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    classes = trained.spec.classes
    k = min(args.top_k, prob.shape[1])
    width = max(len(s) for s in labels)
    for label, p in zip(labels, prob):
        top = np.argsort(-p, kind="stable")[:k]
        text = ", ".join(f"{classes[i]} {100 * p[i]:.1f}%" for i in top)
        print(f"{label.ljust(width)}  {text}")
    return 0
