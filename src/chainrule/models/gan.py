r"""A DCGAN pair (Radford, Metz & Chintala, 2016) sized for small grey images: 28x28
(Fashion-MNIST, MNIST) and the bundled 8x8 digits (notes 001: "GAN: consists of a generator and
discriminator").

The generator :math:`G` maps a latent vector :math:`z \sim \mathcal N(0, I)` to an image in
[-1, 1]; the discriminator :math:`D` maps an image to one logit :math:`\ell`, with
:math:`D(x) = \sigma(\ell)` the probability that :math:`x` is real. Training alternates

.. math::
    L_D = -\log \sigma(\ell(x)) - \log(1 - \sigma(\ell(G(z)))), \qquad
    L_G = -\log \sigma(\ell(G(z)))

(the non-saturating generator loss), both written as ``binary_cross_entropy_with_logits``.

Architecture (``s = image_size``, ``b = width``, ``s0 = s / 4``), DCGAN's rules: strided
(transposed) convolutions instead of pooling, batch norm in both nets except the generator's
output and the discriminator's input, ReLU in the generator with tanh at its output,
LeakyReLU(0.2) in the discriminator:

- :class:`DCGANGenerator`: ``z (N, latent_dim, 1, 1)`` -> ConvTranspose2d(latent, 2b, s0) -> BN ->
  ReLU -> ConvTranspose2d(2b, b, 4, stride 2, padding 1) -> BN -> ReLU ->
  ConvTranspose2d(b, C, 4, 2, 1) -> tanh: ``s0 -> 2 s0 -> 4 s0 = s``.
- :class:`DCGANDiscriminator`: Conv2d(C, b, 4, 2, 1) -> LeakyReLU -> Conv2d(b, 2b, 4, 2, 1) -> BN
  -> LeakyReLU -> Conv2d(2b, 1, s0) -> one logit per image: ``s -> s/2 -> s/4 -> 1``.

The names carry the ``DCGAN`` prefix so that they never shadow ``chainrule.Generator``, the
random number generator. Both keep their layers in ``main`` (a ``Sequential``), as PyTorch's
DCGAN example does, so their ``state_dict`` keys (``main.0.weight``, ...) load into the same
``torch.nn`` model.
:func:`dcgan_init_` applies the paper's initialisation (convolutions :math:`\mathcal N(0,
0.02^2)`, batch norm :math:`\gamma \sim \mathcal N(1, 0.02^2)`, :math:`\beta = 0`).
"""

from __future__ import annotations

from typing import Any

from chainrule import nn
from chainrule.nn.module import Module
from chainrule.random import Generator as RandomGenerator
from chainrule.tensor import Tensor

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "dcgan_init_"]


def _check_sizes(owner: str, image_size: Any, channels: Any, width: Any) -> None:
    for name, v in (("channels", channels), ("width", width), ("image_size", image_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{owner}: {name} must be a positive int, got {v!r}")
    if image_size % 4:
        raise ValueError(
            f"{owner}: image_size must be a multiple of 4 (two stride-2 stages: 8 -> 2 -> 1 "
            f"for the digits, 28 -> 7 for Fashion-MNIST), got {image_size}"
        )


class DCGANGenerator(Module):
    r"""DCGAN generator: a latent vector ``z`` -> an image ``(C, s, s)`` in [-1, 1] (tanh).

    Args:
        latent_dim: length of ``z``.
        image_size: ``s``, a multiple of 4 (28 or 8 here).
        channels: image channels ``C``.
        width: ``b``, the channels of the last hidden stage (the first has ``2 b``).

    ``forward`` takes ``z`` as ``(N, latent_dim)`` or ``(N, latent_dim, 1, 1)``.

    Example:
        >>> import chainrule as cr
        >>> g = DCGANGenerator(latent_dim=16, image_size=8, width=8)
        >>> g(cr.randn(3, 16)).shape
        (3, 1, 8, 8)
    """

    main: nn.Sequential

    def __init__(
        self, latent_dim: int = 64, image_size: int = 28, channels: int = 1, width: int = 32
    ) -> None:
        super().__init__()
        _check_sizes("DCGANGenerator", image_size, channels, width)
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ValueError(
                f"DCGANGenerator: latent_dim must be a positive int, got {latent_dim!r}"
            )
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        s0, b = image_size // 4, width
        self.main = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 2 * b, s0, 1, 0, bias=False),
            nn.BatchNorm2d(2 * b),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * b, b, 4, 2, 1, bias=False),
            nn.BatchNorm2d(b),
            nn.ReLU(),
            nn.ConvTranspose2d(b, channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        shape = tuple(z.shape)
        if len(shape) == 2 and shape[1] == self.latent_dim:
            z = z.reshape(shape[0], self.latent_dim, 1, 1)
        elif not (len(shape) == 4 and shape[1:] == (self.latent_dim, 1, 1)):
            raise ValueError(
                f"DCGANGenerator: expected z of shape (N, {self.latent_dim}) or "
                f"(N, {self.latent_dim}, 1, 1), got {shape}"
            )
        return self.main(z)

    def sample_latent(self, n: int, generator: RandomGenerator | None = None) -> Tensor:
        """``n`` latent vectors :math:`z \\sim \\mathcal N(0, I)`, shape ``(n, latent_dim)``."""
        from chainrule.creation import randn

        return randn(n, self.latent_dim, generator=generator)

    def extra_repr(self) -> str:
        return (
            f"latent_dim={self.latent_dim}, image_size={self.image_size}, channels={self.channels}"
        )


class DCGANDiscriminator(Module):
    r"""DCGAN discriminator: an image ``(N, C, s, s)`` -> one logit per image ``(N, 1)``
    (``sigmoid(logit)`` is the probability that the image is real; train it with
    ``binary_cross_entropy_with_logits``).

    Args:
        image_size: ``s``, a multiple of 4 (28 or 8 here).
        channels: image channels ``C``.
        width: ``b``, the channels of the first convolution (the second has ``2 b``).

    Example:
        >>> import chainrule as cr
        >>> d = DCGANDiscriminator(image_size=28, width=8)
        >>> d(cr.zeros(5, 1, 28, 28)).shape
        (5, 1)
    """

    main: nn.Sequential

    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 32) -> None:
        super().__init__()
        _check_sizes("DCGANDiscriminator", image_size, channels, width)
        self.image_size, self.channels = image_size, channels
        s0, b = image_size // 4, width
        self.main = nn.Sequential(
            nn.Conv2d(channels, b, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(b, 2 * b, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * b),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * b, 1, s0, 1, 0),
        )

    def forward(self, x: Tensor) -> Tensor:
        want = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(
                f"DCGANDiscriminator: expected images (N, {want[0]}, {want[1]}, {want[2]}), "
                f"got {tuple(x.shape)}"
            )
        return self.main(x).reshape(x.shape[0], 1)

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, channels={self.channels}"


def dcgan_init_(module: Module, generator: RandomGenerator | None = None) -> Module:
    r"""DCGAN's initialisation, in place: every (transposed) convolution's weight
    :math:`\sim \mathcal N(0, 0.02^2)`, every batch norm's :math:`\gamma \sim \mathcal N(1,
    0.02^2)` and :math:`\beta = 0`; convolution biases are zeroed.

    Example:
        >>> g = dcgan_init_(DCGANGenerator(latent_dim=8, image_size=8, width=4))
        >>> round(float(g.main[0].weight.data.std()), 1)
        0.0
    """
    from chainrule.nn.init import normal_, zeros_

    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            normal_(m.weight, 0.0, 0.02, generator=generator)
            if m.bias is not None:
                zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.weight is not None and m.bias is not None:
            normal_(m.weight, 1.0, 0.02, generator=generator)
            zeros_(m.bias)
    return module
