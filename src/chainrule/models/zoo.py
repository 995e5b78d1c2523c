"""The model zoo: named architectures for the examples, the tests and the command line.

Every model is built from PyTorch-shaped layers with PyTorch's parameter names, so each has an
equivalent ``torch.nn`` model whose ``state_dict`` loads as is (and back).

===============  =====================================================  ==========
name             what                                                   parameters
===============  =====================================================  ==========
``lenet5``       LeNet-5 as the notes' CNN pipeline (28x28 grey         61,706
                 images)
``vgg_small``    VGG-style: 2 stages of ConvBlocks (32, 64 channels),    421,738
                 batch norm, dropout; for Fashion-MNIST
``small_cnn``    2 ConvBlocks (16, 32 channels) for the 8x8 bundled     9,978
                 digits
``small_resnet`` a ConvBlock stem, 2 ResidualBlocks, global average     73,082
                 pooling (the modular pattern)
``mlp``          Linear -> activation -> (dropout), repeated, ->        varies
                 Linear
===============  =====================================================  ==========

:func:`get_model` builds one by name (the command line's ``--model``) from this closed
registry: a name never runs code from outside chainrule.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from chainrule import nn
from chainrule._suggest import unknown_name
from chainrule.models.blocks import ConvBlock, ResidualBlock, activation
from chainrule.nn.module import Module

__all__ = [
    "available_models",
    "get_model",
    "lenet5",
    "mlp",
    "small_cnn",
    "small_resnet",
    "vgg_small",
]


def _check(model: str, **values: Any) -> None:
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{model}: {k} must be a positive int, got {v!r}")


def _check_rate(model: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"{model}: dropout must be a probability in [0, 1), got {p!r}")
    return float(p)


def _after_pools(model: str, size: int, pools: int) -> int:
    out = size
    for _ in range(pools):
        out //= 2
    if out < 1:
        raise ValueError(
            f"{model}: input_size={size} is too small for {pools} 2x2 poolings "
            f"(needs at least {2**pools})"
        )
    return out


def lenet5(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """LeNet-5 for 28x28 images, as the notes' CNN pipeline (input -> feature maps -> pooling
    -> flatten -> fully connected -> output): conv 1->6 5x5 padding 2, ReLU, max pool 2,
    conv 6->16 5x5, ReLU, max pool 2, flatten, 400->120->84->``num_classes``.

    A flat ``Sequential``, so its keys (``0.weight``, ``3.weight``, ``7.weight``, ``9.weight``,
    ``11.weight`` and biases) are those of the same ``torch.nn.Sequential``. It outputs
    logits: train it with ``cross_entropy``.

    Example:
        >>> import chainrule as cr
        >>> model = cr.models.lenet5()
        >>> model(cr.zeros(2, 1, 28, 28)).shape, model.num_parameters()
        ((2, 10), 61706)
    """
    _check("lenet5", num_classes=num_classes, in_channels=in_channels)
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )


def _features_classifier(features: list[Module], classifier: list[Module]) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            [("features", nn.Sequential(*features)), ("classifier", nn.Sequential(*classifier))]
        )
    )


def vgg_small(
    in_channels: int = 1,
    num_classes: int = 10,
    channels: Sequence[int] = (32, 64),
    convs_per_stage: int = 1,
    hidden: int = 128,
    dropout: float = 0.25,
    input_size: int = 28,
) -> nn.Sequential:
    """A small VGG-style network (Simonyan & Zisserman's pattern: stacks of 3x3 convolutions,
    then a 2x2 max pool that halves the map while the channels grow), with batch norm and
    dropout, sized for 28x28 Fashion-MNIST on two CPU cores.

    Layout: ``features`` = for each stage, ``convs_per_stage`` :class:`ConvBlock` (3x3 conv,
    batch norm, ReLU), the last one pooling and dropping out ``dropout``; ``classifier`` =
    flatten, linear to ``hidden``, ReLU, dropout ``2 * dropout`` (at most 0.5), linear to
    ``num_classes`` (logits). Names look like ``features.0.conv.weight``, ``classifier.1.weight``.

    Cost, for sizing a CPU budget: the default (``convs_per_stage=1``) does 4.2 M multiply-adds
    per 28x28 image forward; ``convs_per_stage=2`` (VGG's stacked pairs, 468,010 parameters)
    does 18.7 M, the added 32->32 and 64->64 convolutions costing 7.2 M each. A training step
    costs about three forwards. Measured with the same architectures in PyTorch (Adam, lr 1e-3,
    batch 128, no schedule, Fashion-MNIST test set): one convolution per stage reaches 88.8%
    after 3 epochs and 91.05% after 8; two per stage reach 90.4% after 2 and 90.5% after 3,
    at 4.4 times the cost per epoch; hence the default.

    Example:
        >>> import chainrule as cr
        >>> model = cr.models.vgg_small()
        >>> model(cr.zeros(2, 1, 28, 28)).shape
        (2, 10)
        >>> list(model.state_dict())[:2]
        ['features.0.conv.weight', 'features.0.bn.weight']
    """
    channels = tuple(channels)
    if not channels:
        raise ValueError("vgg_small: channels must name at least one stage, got ()")
    _check(
        "vgg_small",
        in_channels=in_channels,
        num_classes=num_classes,
        hidden=hidden,
        convs_per_stage=convs_per_stage,
        input_size=input_size,
        **{f"channels[{i}]": c for i, c in enumerate(channels)},
    )
    p = _check_rate("vgg_small", dropout)
    side = _after_pools("vgg_small", input_size, len(channels))
    features: list[Module] = []
    c_in = in_channels
    for c in channels:
        for j in range(convs_per_stage):
            last = j == convs_per_stage - 1
            features.append(ConvBlock(c_in, c, 3, pool=last, dropout=p if last else 0.0))
            c_in = c
    classifier: list[Module] = [nn.Flatten(), nn.Linear(c_in * side * side, hidden), nn.ReLU()]
    if p > 0:
        classifier.append(nn.Dropout(min(0.5, 2 * p)))
    classifier.append(nn.Linear(hidden, num_classes))
    return _features_classifier(features, classifier)


def small_cnn(
    in_channels: int = 1,
    num_classes: int = 10,
    channels: Sequence[int] = (16, 32),
    dropout: float = 0.25,
    input_size: int = 8,
) -> nn.Sequential:
    """A small CNN for the bundled 8x8 digits: ConvBlock(1->16, no pool), ConvBlock(16->32,
    2x2 pool), flatten, dropout, linear to ``num_classes`` (logits).

    Example:
        >>> import chainrule as cr
        >>> model = cr.models.small_cnn()
        >>> model(cr.zeros(2, 1, 8, 8)).shape, model.num_parameters()
        ((2, 10), 9978)
    """
    channels = tuple(channels)
    if len(channels) != 2:
        raise ValueError(f"small_cnn: channels must be two ints, got {channels!r}")
    _check(
        "small_cnn",
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
        **{f"channels[{i}]": c for i, c in enumerate(channels)},
    )
    p = _check_rate("small_cnn", dropout)
    side = _after_pools("small_cnn", input_size, 1)
    features: list[Module] = [
        ConvBlock(in_channels, channels[0], 3, pool=False),
        ConvBlock(channels[0], channels[1], 3, pool=True),
    ]
    classifier: list[Module] = [nn.Flatten()]
    if p > 0:
        classifier.append(nn.Dropout(p))
    classifier.append(nn.Linear(channels[1] * side * side, num_classes))
    return _features_classifier(features, classifier)


class _GlobalAvgPool(Module):
    """Mean over the spatial axes: (N, C, H, W) -> (N, C)."""

    def forward(self, x: Any) -> Any:
        return x.mean(dim=(2, 3))


def small_resnet(
    in_channels: int = 1, num_classes: int = 10, channels: Sequence[int] = (16, 32, 64)
) -> nn.Sequential:
    """A small ResNet-style network built from blocks (the modular pattern): a ConvBlock stem
    (3x3, ``channels[0]``, no pool), one :class:`ResidualBlock` per further stage (stride 2,
    with a 1x1 projection), global average pooling and a linear classifier (logits).

    Example:
        >>> import chainrule as cr
        >>> model = cr.models.small_resnet()
        >>> model(cr.zeros(2, 1, 28, 28)).shape
        (2, 10)
        >>> "features.1.downsample.0.weight" in model.state_dict()
        True
    """
    channels = tuple(channels)
    if not channels:
        raise ValueError("small_resnet: channels must name at least one stage, got ()")
    _check(
        "small_resnet",
        in_channels=in_channels,
        num_classes=num_classes,
        **{f"channels[{i}]": c for i, c in enumerate(channels)},
    )
    features: list[Module] = [ConvBlock(in_channels, channels[0], 3, pool=False)]
    for c_in, c_out in zip(channels, channels[1:]):
        features.append(ResidualBlock(c_in, c_out, stride=2))
    classifier = [_GlobalAvgPool(), nn.Linear(channels[-1], num_classes)]
    return _features_classifier(features, classifier)


def mlp(
    in_features: int,
    hidden: Sequence[int] = (64,),
    out_features: int = 1,
    activation: str | Callable[[], Module] | None = "relu",
    dropout: float = 0.0,
    output_activation: str | Callable[[], Module] | None = None,
) -> nn.Sequential:
    r"""A multi-layer perceptron (the notes' ANN: input, hidden, output layers):
    ``Linear(in, h1), act, [Dropout], Linear(h1, h2), act, ..., Linear(h_last, out)``.

    A flat ``Sequential`` whose keys match the same ``torch.nn.Sequential``. The output has no
    activation by default (regression, or logits for a fused cross-entropy loss; see
    :func:`chainrule.recommend`); ``output_activation`` appends one.

    Args:
        in_features: input features.
        hidden: sizes of the hidden layers (``()`` for a linear model).
        out_features: outputs.
        activation: the hidden layers' activation, a name or a module factory.
        dropout: dropout probability after each hidden activation.
        output_activation: an activation after the last layer (``None`` for none).

    Example:
        >>> import chainrule as cr
        >>> model = cr.models.mlp(13, hidden=(32, 16), out_features=3, dropout=0.1)
        >>> [k for k in model.state_dict() if k.endswith("weight")]
        ['0.weight', '3.weight', '6.weight']
    """
    hidden = tuple(hidden)
    _check(
        "mlp",
        in_features=in_features,
        out_features=out_features,
        **{f"hidden[{i}]": h for i, h in enumerate(hidden)},
    )
    p = _check_rate("mlp", dropout)
    layers: list[Module] = []
    size = in_features
    for h in hidden:
        layers += [nn.Linear(size, h), activation_module(activation)]
        if p > 0:
            layers.append(nn.Dropout(p))
        size = h
    layers.append(nn.Linear(size, out_features))
    if output_activation is not None:
        layers.append(activation_module(output_activation))
    return nn.Sequential(*layers)


activation_module = activation  # the name ``activation`` is mlp's argument

_REGISTRY: dict[str, Callable[..., Module]] = {
    "lenet5": lenet5,
    "vgg_small": vgg_small,
    "small_cnn": small_cnn,
    "small_resnet": small_resnet,
    "mlp": mlp,
}


def available_models() -> list[str]:
    """Names :func:`get_model` accepts, sorted.

    Example:
        >>> import chainrule as cr
        >>> cr.models.available_models()
        ['lenet5', 'mlp', 'small_cnn', 'small_resnet', 'vgg_small']
    """
    return sorted(_REGISTRY)


def get_model(name: str, **kwargs: Any) -> Module:
    """Build a zoo model by name, e.g. ``get_model("vgg_small", dropout=0.3)``.

    Raises:
        ValueError: an unknown name (lists the valid names and suggests the nearest).
        TypeError: an argument the model does not take (lists the ones it does).

    Example:
        >>> import chainrule as cr
        >>> cr.models.get_model("mlp", in_features=4, hidden=(8,), out_features=2)
        Sequential(
          (0): Linear(in_features=4, out_features=8, bias=True)
          (1): ReLU()
          (2): Linear(in_features=8, out_features=2, bias=True)
        )
    """
    if not isinstance(name, str):
        raise TypeError(f"get_model: name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(
            unknown_name(
                "model", name, available_models(), owner="get_model", valid="models", cutoff=0.4
            )
        )
    fn = _REGISTRY[key]
    params = inspect.signature(fn).parameters
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        valid = ", ".join(params)
        raise TypeError(
            f"get_model({key!r}): unexpected argument{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; {key} takes: {valid}"
        )
    missing = [
        k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in kwargs
    ]
    if missing:
        raise TypeError(f"get_model({key!r}) needs {', '.join(missing)}")
    return fn(**kwargs)
