"""The functional pattern: a model with two inputs and two outputs (notes 001: "allows complex
architecture where layers have multiple i/p, o/p").

Data: the bundled 8x8 handwritten digits (``chainrule.data.datasets.digits()``).

- input ``image``: the 1x8x8 picture, through a small convolutional branch;
- input ``profile``: 16 tabular features derived from the picture, its 8 row sums and 8 column
  sums (how much ink each row and column holds), through a dense branch;
- the two branches are concatenated and feed two heads:
  - ``digit``: 10 class scores (logits), trained with cross-entropy;
  - ``ink``: the picture's ink mass (mean pixel intensity), a regression target trained with
    mean squared error on its standardized value (z-score over the training set). It is a
    linear function of the profile, so the dense branch can learn it almost exactly: the
    regression head is a check that both heads train, each from the branch that serves it.

``compile`` takes a loss per output and ``loss_weights``; ``fit`` trains both heads at once.
Dropout sits on the image branch only, so it does not blur the regression path.

Run:  python examples/functional_two_heads.py            (about 30 epochs)
      python examples/functional_two_heads.py --quick    (a short run, as the tests do)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule.data.datasets import digits
from chainrule.models import ConvBlock


def profile_features(images: np.ndarray) -> np.ndarray:
    """Row sums and column sums of each (1, 8, 8) image, scaled to [0, 1]: (N, 16)."""
    img = images[:, 0]
    return np.concatenate([img.sum(axis=2), img.sum(axis=1)], axis=1).astype(np.float32) / 8


def ink_mass(images: np.ndarray) -> np.ndarray:
    """Mean pixel intensity of each image: (N, 1), in [0, 1]."""
    return images.mean(axis=(1, 2, 3))[:, None].astype(np.float32)


def build_model() -> cr.Model:
    image = cr.Input(shape=(1, 8, 8), name="image")
    profile = cr.Input(shape=(16,), name="profile")
    h = ConvBlock(1, 16, pool=False)(image)  # (None, 16, 8, 8)
    h = ConvBlock(16, 32, pool=True)(h)  # (None, 32, 4, 4)
    h = cr.nn.Dropout(0.25)(cr.nn.Flatten()(h))  # (None, 512)
    t = cr.nn.Linear(16, 32)(profile).relu()  # (None, 32)
    joined = cr.nn.Concatenate(dim=1)([h, t])  # (None, 544)
    digit = cr.nn.Linear(544, 10)
    digit.name = "digit"
    ink = cr.nn.Linear(544, 1)
    ink.name = "ink"
    return cr.Model(
        inputs=[image, profile],
        outputs={"digit": digit(joined), "ink": ink(joined)},
        name="two_heads",
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (8 epochs)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (8 if args.quick else 30)
    say = (lambda *a: None) if args.quiet else print

    cr.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = digits()
    train_x = {"image": x_train, "profile": profile_features(x_train)}
    test_x = {"image": x_test, "profile": profile_features(x_test)}
    ink_train, ink_test = ink_mass(x_train), ink_mass(x_test)
    mean, std = ink_train.mean(), ink_train.std()
    train_y = {"digit": y_train, "ink": (ink_train - mean) / std}

    model = build_model()
    model.summary(print_fn=say)
    model.compile(
        optimizer=cr.optim.Adam(model.parameters(), lr=3e-3),
        loss={"digit": "cross_entropy", "ink": "mse"},
        loss_weights={"digit": 1.0, "ink": 0.5},
        metrics={"digit": ["accuracy"], "ink": ["mae"]},
    )
    start = time.perf_counter()
    history = model.fit(
        train_x,
        train_y,
        batch_size=64,
        epochs=epochs,
        verbose=0 if args.quiet else 2,
        seed=args.seed,
    )
    seconds = time.perf_counter() - start

    out = model.predict(test_x)
    accuracy = float(np.mean(out["digit"].argmax(axis=1) == y_test))
    ink_mae = float(np.mean(np.abs(out["ink"] * std + mean - ink_test)))
    baseline_mae = float(np.mean(np.abs(mean - ink_test)))
    majority = float(np.mean(y_test == np.bincount(y_train).argmax()))
    say(
        f"\ntrained {epochs} epochs in {seconds:.1f} s "
        f"(final training loss {history.history['loss'][-1]:.4f})"
    )
    say(f"digit head: test accuracy {accuracy:.4f}  (majority-class baseline {majority:.4f})")
    say(f"ink head:   test MAE {ink_mae:.4f}  (predicting the training mean: {baseline_mae:.4f})")
    return {
        "accuracy": accuracy,
        "ink_mae": ink_mae,
        "baseline_mae": baseline_mae,
        "seconds": seconds,
    }


if __name__ == "__main__":
    main()
