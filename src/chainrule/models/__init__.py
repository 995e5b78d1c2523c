"""``chainrule.models``: the three ways to build a model (notes 001) and a small model zoo.

- Sequential: :class:`chainrule.nn.Sequential` (with Keras's ``add``).
- Functional: :func:`Input` and :class:`Model` (several inputs and outputs, shared layers).
- Modular: reusable blocks as ``Module`` subclasses (:class:`ConvBlock`,
  :class:`ResidualBlock`, :class:`LinearBlock`).
- The perceptron of notes 002 (:class:`Perceptron`, trained by its own learning rule).
- The zoo: :func:`lenet5`, :func:`vgg_small`, :func:`small_cnn`, :func:`small_resnet`,
  :func:`mlp`, by name through :func:`get_model` / :func:`available_models`.
- A DCGAN pair for 28x28 and 8x8 images: :class:`DCGANGenerator`, :class:`DCGANDiscriminator`
  and their initialisation :func:`dcgan_init_`.

:func:`recommend` turns the notes' task table (002) into an output activation, a loss and an
optimizer.
"""

from chainrule.models.blocks import ConvBlock, LinearBlock, ResidualBlock
from chainrule.models.functional import Input, Model, SymbolicTensor
from chainrule.models.gan import DCGANDiscriminator, DCGANGenerator, dcgan_init_
from chainrule.models.perceptron import Perceptron
from chainrule.models.recommend import Recommendation, recommend
from chainrule.models.zoo import (
    available_models,
    get_model,
    lenet5,
    mlp,
    small_cnn,
    small_resnet,
    vgg_small,
)

__all__ = [
    "ConvBlock",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Input",
    "LinearBlock",
    "Model",
    "Perceptron",
    "Recommendation",
    "ResidualBlock",
    "SymbolicTensor",
    "available_models",
    "dcgan_init_",
    "get_model",
    "lenet5",
    "mlp",
    "recommend",
    "small_cnn",
    "small_resnet",
    "vgg_small",
]
