"""The modular pattern (notes 001: "breaking down the model into reusable components"): a small
ResNet-style network assembled from the reusable blocks of ``chainrule.models.blocks``.

- ``ConvBlock``: convolution, batch norm, ReLU (and optionally max pool, dropout);
- ``ResidualBlock``: two 3x3 convolution + batch norm layers and a skip connection, with a 1x1
  projection when the stride or the channel count changes.

The network is a ``Module`` whose attributes are blocks, so every parameter gets a nested,
PyTorch-style name (``stages.0.conv1.weight``, ``stages.0.downsample.0.weight``): the same
class written with ``torch.nn`` blocks has the same ``state_dict`` keys. The script prints the
model, its parameter names and shapes, then trains it on the bundled 8x8 digits with ``fit``.

Run:  python examples/modular_blocks.py            (20 epochs)
      python examples/modular_blocks.py --quick    (a short run, as the tests do)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

import chainrule as cr
from chainrule.data.datasets import digits
from chainrule.models import ConvBlock, ResidualBlock


class SmallResNet(cr.nn.Module):
    """stem (ConvBlock) -> residual stages (each halves the map) -> global average -> linear."""

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, channels: Sequence[int] = (16, 32)
    ) -> None:
        super().__init__()
        self.stem = ConvBlock(in_channels, channels[0], 3, pool=False)
        self.stages = cr.nn.Sequential(
            *(ResidualBlock(c_in, c_out, stride=2) for c_in, c_out in zip(channels, channels[1:]))
        )
        self.extra = ResidualBlock(channels[-1], channels[-1])  # same shape: identity skip
        self.head = cr.nn.Linear(channels[-1], num_classes)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = self.extra(self.stages(self.stem(x)))
        return self.head(x.mean(dim=(2, 3)))  # global average pooling, then logits


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (5 epochs)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 20)
    say = (lambda *a: None) if args.quiet else print

    cr.manual_seed(args.seed)
    model = SmallResNet()
    cr.summary(model, (1, 8, 8), print_fn=say)  # one row per layer, nested names
    say("\nstate_dict keys (nested names):")
    for key, value in model.state_dict().items():
        say(f"  {key:<40} {tuple(value.shape)}")

    (x_train, y_train), (x_test, y_test) = digits()
    model.compile(
        optimizer=cr.optim.Adam(model.parameters(), lr=3e-3),
        loss="cross_entropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=epochs,
        verbose=0 if args.quiet else 2,
        seed=args.seed,
    )
    seconds = time.perf_counter() - start
    logits = model.predict(x_test)
    accuracy = float(np.mean(logits.argmax(axis=1) == y_test))
    say(
        f"\n{epochs} epochs in {seconds:.1f} s: test accuracy {accuracy:.4f} "
        f"({model.num_parameters():,} parameters)"
    )
    return {"accuracy": accuracy, "seconds": seconds, "keys": list(model.state_dict())}


if __name__ == "__main__":
    main()
