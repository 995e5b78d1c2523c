"""ONNX export and weight import (chainrule.io.export_onnx / load_onnx_weights, chainrule export).

Every export is checked the same way: ``onnx.checker`` passes (full check, with shape
inference), and onnxruntime, run on random inputs of batch sizes other than the example's,
reproduces chainrule's eval-mode forward to 1e-5 (relative to the output's scale, float32).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

onnx = pytest.importorskip("onnx", reason="onnx is not installed: pip install 'chainrule[onnx]'")
ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed: pip install 'chainrule[onnx]'"
)

from onnx import helper, numpy_helper  # noqa: E402

import cli_helpers  # noqa: E402
from chainrule.io import CheckpointError  # noqa: E402
from chainrule.io.onnx import ExportError  # noqa: E402

nn = cr.nn
TOL = 1e-5


# ---- helpers ----
def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and running statistics, so batch norm and biases are not identities."""
    rng = np.random.default_rng(seed)
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.data.dtype.kind == "f":
            v = rng.standard_normal(t.data.shape) * 0.5
            if "var" in name.split(".")[-1]:
                v = np.abs(v) + 0.5
            t.data[...] = v.astype(t.data.dtype)
    return model


def _like(x: cr.Tensor, batch: int, rng: np.random.Generator) -> np.ndarray:
    a = x.data
    shape = (batch, *a.shape[1:])
    if a.dtype.kind in "iu":
        return rng.integers(0, int(a.max()) + 1, shape).astype(a.dtype)
    return rng.standard_normal(shape).astype(a.dtype)


def _forward(
    model: nn.Module, feeds: list[np.ndarray], names: list[str] | None = None
) -> list[np.ndarray]:
    was = model.training
    model.eval()
    try:
        with cr.no_grad():
            xs = [cr.Tensor(f) for f in feeds]
            out = model(**dict(zip(names, xs))) if names else model(*xs)
    finally:
        model.train(was)
    return [o.data for o in _leaves(out)]


def _leaves(out) -> list[cr.Tensor]:
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    return [out]


def assert_matches(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if want.dtype.kind == "f":
        scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL * scale, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check_export(
    model: nn.Module, example, tmp_path: Path, batches=(1, 5), name="m", keyword: bool = False, **kw
) -> Path:
    """Export, run the ONNX checker, compare onnxruntime with chainrule on fresh batches."""
    path = tmp_path / f"{name}.onnx"
    cr.io.export_onnx(model, example, path, **kw)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    sess = _session(path)
    xs = (
        list(example.values())
        if isinstance(example, dict)
        else (list(example) if isinstance(example, (tuple, list)) else [example])
    )
    in_names = [i.name for i in sess.get_inputs()]
    rng = np.random.default_rng(7)
    for batch in batches if kw.get("dynamic_batch", True) else (xs[0].shape[0],):
        feeds = [_like(x, batch, rng) for x in xs]
        got = sess.run(None, dict(zip(in_names, feeds)))
        want = _forward(model, feeds, list(example) if isinstance(example, dict) else None)
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            assert_matches(g, w, f"output {k}, batch {batch}")
    return path


# ---- the zoo ----
ZOO = [
    ("mlp", {"in_features": 20, "hidden": (32, 16), "out_features": 5, "dropout": 0.2}, (20,)),
    ("lenet5", {}, (1, 28, 28)),
    ("vgg_small", {}, (1, 28, 28)),
    ("small_cnn", {}, (1, 8, 8)),
    ("small_resnet", {}, (1, 28, 28)),
]


@pytest.mark.parametrize("name, kwargs, shape", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_models_export_and_match(name, kwargs, shape, tmp_path):
    model = _randomize(cr.models.get_model(name, **kwargs))
    model.train()
    path = check_export(model, cr.randn(3, *shape), tmp_path, batches=(1, 4), name=name)
    assert model.training, "the model's mode is restored after the export"
    proto = onnx.load(str(path))
    inits = {t.name for t in proto.graph.initializer}
    params = {k for k, _ in model.named_parameters()}
    assert params <= inits, "every parameter is an initializer named by its state_dict key"
    dim0 = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "batch"


# ---- single layers ----
LAYERS = [
    ("linear", lambda: nn.Linear(6, 4), (6,)),
    ("linear_no_bias_3d", lambda: nn.Linear(6, 4, bias=False), (3, 6)),
    ("conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), (3, 10)),
    ("conv1d_reflect", lambda: nn.Conv1d(3, 4, 3, padding=2, padding_mode="reflect"), (3, 9)),
    ("conv2d", lambda: nn.Conv2d(3, 4, 3), (3, 8, 8)),
    ("conv2d_stride_pad", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False), (3, 9, 9)),
    (
        "conv2d_dilation_groups",
        lambda: nn.Conv2d(6, 9, 3, groups=3, dilation=2, padding=2),
        (6, 9, 9),
    ),
    ("conv2d_same_even_kernel", lambda: nn.Conv2d(3, 4, 4, padding="same"), (3, 9, 9)),
    ("conv2d_reflect", lambda: nn.Conv2d(3, 4, 3, padding=2, padding_mode="reflect"), (3, 8, 8)),
    (
        "conv2d_replicate",
        lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="replicate"),
        (3, 8, 8),
    ),
    (
        "conv2d_circular",
        lambda: nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="circular"),
        (3, 8, 8),
    ),
    (
        "conv_transpose2d",
        lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1),
        (4, 5, 5),
    ),
    (
        "conv_transpose2d_groups_dilation",
        lambda: nn.ConvTranspose2d(4, 6, 3, groups=2, dilation=2),
        (4, 5, 5),
    ),
    ("conv_transpose1d", lambda: nn.ConvTranspose1d(4, 3, 4, stride=3, padding=1), (4, 6)),
    ("maxpool2d", lambda: nn.MaxPool2d(2), (2, 8, 8)),
    ("maxpool2d_pad_ceil", lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (2, 8, 8)),
    ("maxpool2d_dilation", lambda: nn.MaxPool2d(2, 1, padding=1, dilation=3), (2, 8, 8)),
    ("maxpool1d_ceil", lambda: nn.MaxPool1d(3, 2, ceil_mode=True), (2, 10)),
    ("avgpool2d", lambda: nn.AvgPool2d(2), (2, 8, 8)),
    ("avgpool2d_pad_include", lambda: nn.AvgPool2d(3, 1, padding=1), (2, 7, 7)),
    (
        "avgpool2d_pad_exclude",
        lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False),
        (2, 8, 8),
    ),
    ("avgpool2d_ceil_include", lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), (2, 8, 8)),
    (
        "avgpool2d_ceil_exclude",
        lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
        (2, 8, 8),
    ),
    ("avgpool2d_divisor", lambda: nn.AvgPool2d(2, divisor_override=3), (2, 7, 7)),
    ("avgpool1d", lambda: nn.AvgPool1d(3, 2, padding=1, count_include_pad=False), (2, 9)),
    ("lppool2d", lambda: nn.LPPool2d(2, 2), (2, 6, 6)),
    ("adaptive_avg_global", lambda: nn.AdaptiveAvgPool2d(1), (2, 5, 5)),
    ("adaptive_avg_divisible", lambda: nn.AdaptiveAvgPool2d(2), (2, 8, 8)),
    ("adaptive_avg_uneven", lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 7, 5)),
    ("adaptive_avg1d", lambda: nn.AdaptiveAvgPool1d(3), (2, 7)),
    ("adaptive_max_divisible", lambda: nn.AdaptiveMaxPool2d(2), (2, 8, 8)),
    ("adaptive_max_uneven", lambda: nn.AdaptiveMaxPool2d((3, 4)), (2, 7, 5)),
    ("adaptive_max1d", lambda: nn.AdaptiveMaxPool1d(3), (2, 8)),
    ("batchnorm1d", lambda: nn.BatchNorm1d(5), (5,)),
    ("batchnorm1d_sequence", lambda: nn.BatchNorm1d(5), (5, 7)),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), (3, 4, 4)),
    ("batchnorm2d_no_affine", lambda: nn.BatchNorm2d(3, affine=False), (3, 4, 4)),
    ("batchnorm2d_batch_stats", lambda: nn.BatchNorm2d(3, track_running_stats=False), (3, 4, 4)),
    ("layernorm", lambda: nn.LayerNorm(8), (8,)),
    ("layernorm_2d_no_affine", lambda: nn.LayerNorm((4, 5), elementwise_affine=False), (3, 4, 5)),
    ("dropout", lambda: nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5)), (6,)),
    ("flatten", lambda: nn.Flatten(), (2, 3, 4)),
    ("identity", lambda: nn.Sequential(nn.Identity(), nn.Linear(3, 2)), (3,)),
    ("relu", lambda: nn.ReLU(), (6,)),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), (6,)),
    ("sigmoid", lambda: nn.Sigmoid(), (6,)),
    ("tanh", lambda: nn.Tanh(), (6,)),
    ("elu", lambda: nn.ELU(0.7), (6,)),
    ("selu", lambda: nn.SELU(), (6,)),
    ("celu", lambda: nn.CELU(1.3), (6,)),
    ("gelu", lambda: nn.GELU(), (6,)),
    ("gelu_tanh", lambda: nn.GELU("tanh"), (6,)),
    ("silu", lambda: nn.SiLU(), (6,)),
    ("swish", lambda: nn.Swish(), (6,)),
    ("softplus", lambda: nn.Softplus(), (6,)),
    ("softplus_beta_threshold", lambda: nn.Softplus(2.0, 1.0), (6,)),
    ("softmax", lambda: nn.Softmax(1), (6,)),
    ("log_softmax", lambda: nn.LogSoftmax(-1), (3, 6)),
    ("prelu_channels", lambda: nn.PReLU(3), (3, 4, 4)),
    ("prelu_shared", lambda: nn.PReLU(), (5,)),
    ("hardtanh", lambda: nn.Hardtanh(-0.5, 0.7), (6,)),
    ("relu6", lambda: nn.ReLU6(), (6,)),
    ("log_sigmoid", lambda: nn.LogSigmoid(), (6,)),
    ("softsign", lambda: nn.Softsign(), (6,)),
    ("threshold", lambda: nn.Threshold(0.1, -2.0), (6,)),
    ("step", lambda: nn.Step(), (6,)),
    ("maxout", lambda: nn.Maxout(6, 3, 2), (6,)),
    ("argmax", lambda: nn.Sequential(nn.Linear(6, 4), nn.Argmax()), (6,)),
    ("lstm", lambda: nn.LSTM(3, 5, batch_first=True), (4, 3)),
    (
        "lstm_2_layers_bidirectional",
        lambda: nn.LSTM(3, 5, 2, batch_first=True, bidirectional=True),
        (4, 3),
    ),
    ("lstm_time_major", lambda: nn.LSTM(3, 5), (4, 3)),
    ("gru_bidirectional", lambda: nn.GRU(3, 5, batch_first=True, bidirectional=True), (4, 3)),
    (
        "rnn_relu_no_bias",
        lambda: nn.RNN(3, 5, nonlinearity="relu", bias=False, batch_first=True),
        (4, 3),
    ),
]


@pytest.mark.parametrize("factory, shape", [pytest.param(f, s, id=n) for n, f, s in LAYERS])
def test_layer_exports_and_matches(factory, shape, tmp_path):
    model = _randomize(factory())
    x = cr.Tensor(np.random.default_rng(1).standard_normal((3, *shape)).astype(np.float32) * 2)
    check_export(model, x, tmp_path)


def test_embedding_takes_integer_indices(tmp_path):
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    x = cr.Tensor(np.array([[1, 2, 3], [4, 5, 9]], dtype=np.int64))
    path = check_export(model, x, tmp_path)
    assert _session(path).get_inputs()[0].type == "tensor(int64)"


def test_float64_model(tmp_path):
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)).double()
    check_export(model, cr.randn(3, 5, dtype="float64"), tmp_path)


OPSET_MODEL = [13, 17, 18, 19, 20]


@pytest.mark.parametrize("opset", OPSET_MODEL)
def test_opsets(opset, tmp_path):
    """The converters whose ONNX form changed between opsets (Reduce axes, LayerNorm, Gelu,
    circular Pad) at each opset."""
    model = _randomize(
        nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular"),
            nn.BatchNorm2d(4),
            nn.GELU(),
            nn.AdaptiveMaxPool2d((2, 3)),
            nn.Flatten(),
            nn.LayerNorm(24),
            nn.GELU("tanh"),
            nn.Linear(24, 3),
            nn.LogSoftmax(1),
        )
    )
    path = check_export(model, cr.randn(2, 2, 6, 7), tmp_path, opset=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset


# ---- graphs: functional models, merges, custom modules ----
def _two_input_model() -> cr.Model:
    image = cr.Input(shape=(1, 8, 8), name="image")
    features = cr.Input(shape=(5,), name="features")
    h = nn.Flatten()(nn.MaxPool2d(2)(nn.ReLU()(nn.Conv2d(1, 4, 3, padding=1)(image))))
    t = nn.Linear(5, 8)(features)
    both = nn.Concatenate(dim=1)([h, t])
    gated = nn.Multiply()([nn.Add()([t, nn.Linear(5, 8)(features)]), t])
    label = nn.Linear(72, 10, bias=True)(both)
    value = nn.Linear(8, 1)(gated)
    return cr.Model([image, features], {"label": label, "value": value}, name="two_inputs")


def test_functional_two_input_model(tmp_path):
    model = _randomize(_two_input_model())
    example = {"image": cr.randn(2, 1, 8, 8), "features": cr.randn(2, 5)}
    path = check_export(model, example, tmp_path)
    sess = _session(path)
    assert [i.name for i in sess.get_inputs()] == ["image", "features"]
    assert [o.name for o in sess.get_outputs()] == ["label", "value"]
    # positional example inputs take the model's own input names
    path2 = tmp_path / "positional.onnx"
    cr.io.export_onnx(
        model, (cr.randn(2, 1, 8, 8), cr.randn(2, 5)), path2, output_names=["logits", "score"]
    )
    sess2 = _session(path2)
    assert [i.name for i in sess2.get_inputs()] == ["image", "features"]
    assert [o.name for o in sess2.get_outputs()] == ["logits", "score"]


@pytest.mark.parametrize(
    "merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]
)
def test_merge_layers(merge, tmp_path):
    a, b = cr.Input(shape=(4,), name="a"), cr.Input(shape=(4,), name="b")
    layer = getattr(nn, merge)() if merge != "Concatenate" else nn.Concatenate(dim=1)
    y = layer([nn.Linear(4, 3)(a), nn.Tanh()(nn.Linear(4, 3)(b))])
    model = _randomize(cr.Model([a, b], y))
    check_export(model, {"a": cr.randn(2, 4), "b": cr.randn(2, 4)}, tmp_path)


class _Custom(nn.Module):
    """A forward with tensor methods only: shapes, indexing, reductions, comparisons."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.scale = nn.Parameter(cr.randn(4))

    def forward(self, x):  # (N, 3, 4)
        h = (self.lin(x) * self.scale).permute(0, 2, 1).reshape(x.shape[0], -1)  # (N, 12)
        b = cr.cat([h[:, :5] * 2.0 - 1.0, h[:, -3:], h[:, ::4]], dim=1)  # (N, 11)
        c = b.unsqueeze(1).expand(-1, 2, -1)
        c = cr.stack([c[:, 0], c[:, 1] ** 2], dim=1)
        z = (c - c.mean(dim=(1, 2), keepdim=True)).abs().sqrt()
        z = z + c.var(dim=2).unsqueeze(2).clamp(min=0.1).log()
        z = cr.where(z > 0.5, z, z * 0.1)
        z = z.max(dim=1) + z.logsumexp(dim=1) - z.std()
        return z.softmax(dim=-1), z.argmax(dim=1), z[:, None, 2]


def test_custom_module_forward(tmp_path):
    model = _randomize(_Custom())
    path = check_export(model, cr.randn(3, 3, 4), tmp_path)
    assert [o.name for o in _session(path).get_outputs()] == ["output_0", "output_1", "output_2"]


def test_broadcast_to_the_batch_size(tmp_path):
    class Token(nn.Module):  # a learned token expanded to the batch (ViT's class token)
        def __init__(self):
            super().__init__()
            self.token = nn.Parameter(cr.randn(1, 1, 4))

        def forward(self, x):  # (N, T, 4)
            return cr.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)

    check_export(Token(), cr.randn(2, 3, 4), tmp_path)


def test_static_batch(tmp_path):
    model = _randomize(cr.models.get_model("small_cnn"))
    path = check_export(model, cr.randn(4, 1, 8, 8), tmp_path, dynamic_batch=False)
    dims = _session(path).get_inputs()[0].shape
    assert dims == [4, 1, 8, 8]
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        _session(path).run(None, {"input": np.zeros((2, 1, 8, 8), np.float32)})


class _Tagger(nn.Module):
    """Tokens -> embedding -> bidirectional GRU -> per-step class log-probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.rnn = nn.GRU(6, 8, batch_first=True, bidirectional=True)
        self.out = nn.Linear(16, 5)

    def forward(self, tokens):
        y, _ = self.rnn(self.emb(tokens))
        return self.out(y).log_softmax(-1)


def test_dynamic_batch_and_sequence_length(tmp_path):
    model = _randomize(_Tagger())
    rng = np.random.default_rng(0)
    path = tmp_path / "tagger.onnx"
    cr.io.export_onnx(
        model,
        cr.Tensor(rng.integers(0, 20, (2, 7))),
        path,
        dynamic_axes={"input": {0: "batch", 1: "length"}},
    )
    sess = _session(path)
    assert sess.get_inputs()[0].shape == ["batch", "length"]
    assert sess.get_outputs()[0].shape == ["batch", "length", 5]
    for batch, length in ((1, 3), (4, 11)):
        tokens = rng.integers(0, 20, (batch, length))
        assert_matches(sess.run(None, {"input": tokens})[0], _forward(model, [tokens])[0])
    with pytest.raises(ValueError, match="dynamic_axes names 'tokens', which is not an input"):
        cr.io.export_onnx(
            model, cr.Tensor(rng.integers(0, 20, (2, 7))), path, dynamic_axes={"tokens": [0]}
        )


def test_recurrent_state_given_as_inputs(tmp_path):
    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)

        def forward(self, x, h0, c0):
            y, (h, c) = self.lstm(x, (h0, c0))
            return y, h, c

    model = _randomize(WithState())
    rng = np.random.default_rng(0)
    example = {
        "x": cr.randn(2, 5, 3),
        "h0": cr.randn(2, 2, 4),
        "c0": cr.randn(2, 2, 4),
    }
    path = tmp_path / "state.onnx"
    cr.io.export_onnx(
        model, example, path, dynamic_axes={"x": [0, 1], "h0": {1: "batch"}, "c0": {1: "batch"}}
    )
    sess = _session(path)
    feeds = {
        "x": rng.standard_normal((3, 6, 3)),
        "h0": rng.standard_normal((2, 3, 4)),
        "c0": rng.standard_normal((2, 3, 4)),
    }
    feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    got = sess.run(None, feeds)
    want = _forward(model, list(feeds.values()), list(feeds))
    for g, w in zip(got, want):
        assert_matches(g, w)


# ---- what cannot be exported: clear errors ----
def test_unsupported_layer_names_the_layer_and_lists_what_is_supported(tmp_path):
    pred, target = cr.Input(shape=(3,), name="pred"), cr.Input(shape=(3,), name="target")
    model = cr.Model([pred, target], nn.HuberLoss()(nn.Linear(3, 3)(pred), target))
    with pytest.raises(ExportError) as info:
        cr.io.export_onnx(model, (cr.randn(2, 3), cr.randn(2, 3)), tmp_path / "loss.onnx")
    msg = str(info.value)
    for frag in (
        "layer 'huberloss' (HuberLoss)",
        "op Huber",
        "no ONNX converter",
        "Supported layers",
        "Conv2d",
        "BatchNorm2d",
        "ResidualBlock",
    ):
        assert frag in msg, (frag, msg)
    assert not (tmp_path / "loss.onnx").exists()


def test_tensor_from_numpy_inside_forward_is_refused(tmp_path):
    class FromNumpy(nn.Module):
        def forward(self, x):
            return x - cr.Tensor(x.data.mean(axis=0))  # computed outside the graph

    for dynamic in (True, False):
        with pytest.raises(ValueError, match="made outside chainrule's ops.*changes with the"):
            cr.io.export_onnx(
                FromNumpy(), cr.randn(3, 4), tmp_path / "a.onnx", dynamic_batch=dynamic
            )


def test_constant_made_inside_forward_is_kept(tmp_path):
    class WithConstant(nn.Module):
        def forward(self, x):
            return x * cr.tensor([1.0, 2.0, 3.0, 4.0]) + cr.ones(4)

    check_export(WithConstant(), cr.randn(3, 4), tmp_path)


def test_value_dependent_control_flow_is_refused(tmp_path):
    class Branchy(nn.Module):
        def forward(self, x):
            return x.relu() if float(x.sum()) > 0 else x.tanh().exp()

    # sum -3 < 0 here; the second trace (one more sample: the first again) sums to 6 > 0
    x = cr.tensor([[3.0, 3.0, 3.0], [-4.0, -4.0, -4.0]])
    with pytest.raises(ValueError, match="ran different ops on two inputs"):
        cr.io.export_onnx(Branchy(), x, tmp_path / "a.onnx")


def test_dropout_forced_on_is_refused(tmp_path):
    class Noisy(nn.Module):
        def forward(self, x):
            return nn.functional.dropout(x, 0.5, training=True)

    with pytest.raises(ValueError, match="dropout is active"):
        cr.io.export_onnx(Noisy(), cr.randn(3, 4), tmp_path / "a.onnx")


def test_bad_arguments(tmp_path):
    model = nn.Linear(3, 2)
    x = cr.randn(2, 3)
    with pytest.raises(ValueError, match="opset must be an int from 13"):
        cr.io.export_onnx(model, x, tmp_path / "a.onnx", opset=12)
    with pytest.raises(TypeError, match="must be a chainrule.nn.Module"):
        cr.io.export_onnx(lambda t: t, x, tmp_path / "a.onnx")
    with pytest.raises(ValueError, match="input_names must be 1 non-empty string"):
        cr.io.export_onnx(model, x, tmp_path / "a.onnx", input_names=["a", "b"])
    with pytest.raises(IsADirectoryError, match="is a folder"):
        cr.io.export_onnx(model, x, tmp_path)
    with pytest.raises(TypeError, match="example_input must be a Tensor"):
        cr.io.export_onnx(model, "x", tmp_path / "a.onnx")
    with pytest.raises(ValueError, match="running the model on the example input failed"):
        cr.io.export_onnx(model, cr.randn(2, 4), tmp_path / "a.onnx")


def test_verification_catches_a_wrong_graph(tmp_path, monkeypatch):
    from chainrule.io.onnx import _convert
    from chainrule.ops import elementwise

    wrong = dict(_convert.CONVERTERS)
    wrong[elementwise.ReLU] = (lambda cx: cx.b.op("Sigmoid", [cx.x(0)]), False)
    monkeypatch.setattr(_convert, "CONVERTERS", wrong)
    path = tmp_path / "wrong.onnx"
    with pytest.raises(ExportError, match="verification failed"):
        cr.io.export_onnx(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), cr.randn(2, 3), path)
    assert not path.exists(), "nothing is written when the graph does not match"
    cr.io.export_onnx(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), cr.randn(2, 3), path, verify=False)
    assert path.exists()


def test_missing_onnx_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[onnx\]'"):
        cr.io.export_onnx(nn.Linear(2, 2), cr.randn(1, 2), tmp_path / "a.onnx")
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[onnx\]'"):
        cr.io.load_onnx_weights(tmp_path / "a.onnx")


def test_importing_chainrule_does_not_import_onnx():
    import subprocess

    code = (
        "import sys, chainrule as cr, chainrule.io, chainrule.cli.main; "
        "cr.io.export_onnx; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


# ---- weights back ----
def test_weights_round_trip_and_come_back_after_fine_tuning_elsewhere(tmp_path):
    model = _randomize(cr.models.get_model("small_resnet", channels=(4, 8)))
    path = tmp_path / "resnet.onnx"
    cr.io.export_onnx(model, cr.randn(2, 1, 12, 12), path)
    state = model.state_dict()
    back = cr.io.load_onnx_weights(path)
    assert list(back) == list(state), "every state_dict key, in order"
    for k, v in state.items():
        assert back[k].dtype == v.data.dtype and back[k].tobytes() == v.data.tobytes(), k
    # "fine-tuned elsewhere": another tool changes the initializers and saves the file
    proto = onnx.load(str(path))
    for t in proto.graph.initializer:
        arr = numpy_helper.to_array(t)
        if arr.dtype == np.float32:
            t.CopyFrom(numpy_helper.from_array((arr * 1.5 + 0.01).astype(np.float32), t.name))
    onnx.save(proto, str(tmp_path / "tuned.onnx"))
    fresh = cr.models.get_model("small_resnet", channels=(4, 8))
    fresh.load_state_dict(cr.io.load_onnx_weights(tmp_path / "tuned.onnx"))  # strict
    x = np.random.default_rng(3).standard_normal((3, 1, 12, 12)).astype(np.float32)
    got = _session(tmp_path / "tuned.onnx").run(None, {"input": x})[0]
    assert_matches(got, _forward(fresh, [x])[0])
    assert not np.allclose(got, _forward(model, [x])[0], atol=1e-3)


def test_shared_weights_map_to_every_key(tmp_path):
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.Tanh(), lin)
    path = check_export(model, cr.randn(2, 3), tmp_path)
    back = cr.io.load_onnx_weights(path)
    assert list(back) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(onnx.load(str(path)).graph.initializer) == 2


def test_external_data(tmp_path):
    model = _randomize(cr.models.get_model("small_cnn"))
    path = check_export(model, cr.randn(2, 1, 8, 8), tmp_path, external_data=True)
    data = path.with_name(path.name + ".data")
    assert data.exists() and path.stat().st_size < 10_000
    back = cr.io.load_onnx_weights(path)
    assert all(np.array_equal(back[k], v.data) for k, v in model.state_dict().items())


def test_foreign_onnx_file_gives_its_initializer_names(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])],
        [
            numpy_helper.from_array(w, "W"),
            helper.make_tensor("b", onnx.TensorProto.INT64, [2], [4, 5]),
        ],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "f.onnx"))
    back = cr.io.load_onnx_weights(tmp_path / "f.onnx")
    assert list(back) == ["W", "b"]
    np.testing.assert_array_equal(back["W"], w)
    np.testing.assert_array_equal(back["b"], [4, 5])


# ---- loading is safe: sizes checked, external data confined ----
def _one_initializer_model(tensor) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [tensor],
    )
    return helper.make_model(graph)


def _external_tensor(location: str, offset: int = 0, length: int = 16) -> onnx.TensorProto:
    t = onnx.TensorProto(name="w", data_type=onnx.TensorProto.FLOAT, dims=[4])
    t.data_location = onnx.TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def _save(proto: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(proto.SerializeToString())
    return path


def test_loading_refuses_lies_and_escapes(tmp_path):
    sub = tmp_path / "model"
    sub.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    (sub / "ok.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    cases = {
        "garbage": (b"\xff\x00 not a protobuf " * 10, "not an ONNX model"),
        "raw_data_short": (
            _one_initializer_model(
                onnx.TensorProto(
                    name="w", data_type=onnx.TensorProto.FLOAT, dims=[4], raw_data=b"\0" * 12
                )
            ),
            "holds 12 bytes",
        ),
        "typed_data_short": (
            _one_initializer_model(
                helper.make_tensor("w", onnx.TensorProto.FLOAT, [2], [1.0, 2.0])
            ),
            None,
        ),
        "huge_dims": (
            _one_initializer_model(
                onnx.TensorProto(
                    name="w", data_type=onnx.TensorProto.FLOAT, dims=[2**31, 2**31], raw_data=b""
                )
            ),
            "declares",
        ),
        "string_tensor": (
            _one_initializer_model(helper.make_tensor("w", onnx.TensorProto.STRING, [1], [b"x"])),
            "element type STRING",
        ),
        "escape": (
            _one_initializer_model(_external_tensor("../secret.bin")),
            "leaves the model's folder",
        ),
        "absolute": (_one_initializer_model(_external_tensor(str(secret))), "absolute"),
        "past_end": (_one_initializer_model(_external_tensor("ok.bin", offset=8)), "holds 16"),
        "length_lie": (
            _one_initializer_model(_external_tensor("ok.bin", length=8)),
            "length field 8",
        ),
        "missing": (_one_initializer_model(_external_tensor("nope.bin")), "missing"),
    }
    typed = cases["typed_data_short"][0]
    typed.graph.initializer[0].dims[:] = [3]  # declares 3 values, holds 2
    cases["typed_data_short"] = (typed, "holds 2")
    for name, (content, fragment) in cases.items():
        path = sub / f"{name}.onnx"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            _save(content, path)
        with pytest.raises(CheckpointError) as info:
            cr.io.load_onnx_weights(path)
        assert str(path) in str(info.value) and fragment in str(info.value), (name, info.value)
    ok = _save(_one_initializer_model(_external_tensor("ok.bin")), sub / "ok.onnx")
    np.testing.assert_array_equal(cr.io.load_onnx_weights(ok)["w"], np.arange(4))
    (sub / "link.bin").symlink_to(secret)
    linked = _save(_one_initializer_model(_external_tensor("link.bin")), sub / "link.onnx")
    with pytest.raises(CheckpointError, match="symbolic link|leaves the model's folder"):
        cr.io.load_onnx_weights(linked)
    with pytest.raises(FileNotFoundError):
        cr.io.load_onnx_weights(sub / "absent.onnx")


def test_loading_refuses_malformed_chainrule_metadata(tmp_path):
    path = check_export(nn.Linear(2, 2), cr.randn(1, 2), tmp_path)
    for key, value, fragment in (
        ("chainrule.state_dict", "{not json", "not valid JSON"),
        ("chainrule.state_dict", json.dumps({"missing": ["w"]}), "does not hold"),
        ("chainrule.state_dict", json.dumps(["w"]), "not a JSON object"),
        (
            "chainrule.extra_state",
            json.dumps({"n": {"dtype": "O", "shape": [], "data": [1]}}),
            "malformed",
        ),
        ("chainrule.state_dict", "[" * 100_000, "not valid JSON"),
    ):
        proto = onnx.load(str(path))
        props = {p.key: p.value for p in proto.metadata_props}
        helper.set_model_props(proto, {**props, key: value})
        bad = _save(proto, tmp_path / "bad.onnx")
        with pytest.raises(CheckpointError, match=fragment):
            cr.io.load_onnx_weights(bad)


# ---- the command line ----


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny ``chainrule train`` run whose inputs are standardised (data.normalize)."""
    cwd = tmp_path_factory.mktemp("export_cli")
    r = cli_helpers.cli(
        "train",
        *cli_helpers.TINY,
        "--set",
        "data.normalize=true",
        "--runs-dir",
        "runs",
        "--name",
        "tiny",
        "-q",
        cwd=cwd,
    )
    assert r.rc == 0, r.err
    (folder,) = list((cwd / "runs").iterdir())
    return folder


def test_cli_export_run_folder_includes_the_standardisation(run_dir, tmp_path):
    from chainrule.cli.build import apply_preprocess, load_trained

    out = tmp_path / "digits.onnx"
    r = cli_helpers.cli("export", run_dir, "--format", "onnx", "-o", out, cwd=tmp_path)
    assert r.rc == 0, r.err
    assert "Exported small_cnn" in r.out and "standardises its input" in r.out
    trained = load_trained(run_dir)
    assert "mean" in trained.preprocess
    (x, _), _ = cr.data.datasets.digits()
    x = x[:17].reshape(17, 1, 8, 8).astype(np.float32)
    got = _session(out).run(None, {"input": x})[0]
    want = _forward(trained.model, [apply_preprocess(x, trained.preprocess)])[0]
    assert_matches(got, want)
    assert list(cr.io.load_onnx_weights(out)) == list(trained.model.state_dict())
    r = cli_helpers.cli(
        "export",
        run_dir,
        "--no-preprocess",
        "--static-batch",
        "-o",
        tmp_path / "raw.onnx",
        cwd=tmp_path,
    )
    assert r.rc == 0, r.err
    got = _session(tmp_path / "raw.onnx").run(None, {"input": x[:1]})[0]
    assert_matches(got, _forward(trained.model, [x[:1]])[0])


def test_cli_export_state_dict_checkpoint_with_a_model_name(tmp_path):
    model = _randomize(cr.models.get_model("lenet5"))
    cr.io.save(model.state_dict(), tmp_path / "lenet.safetensors")
    r = cli_helpers.cli(
        "export", "lenet.safetensors", "--model", "lenet5", "--data", "fashion-mnist", cwd=tmp_path
    )
    assert r.rc == 0, r.err
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    got = _session(tmp_path / "lenet.onnx").run(None, {"input": x})[0]
    assert_matches(got, _forward(model, [x])[0])
    mlp = _randomize(cr.models.get_model("mlp", in_features=64, out_features=10))
    cr.io.save(mlp.state_dict(), tmp_path / "mlp.safetensors")
    r = cli_helpers.cli(
        "export",
        "mlp.safetensors",
        "--model",
        "mlp",
        "--set",
        "model.in_features=64",
        "--set",
        "model.out_features=10",
        "--input-shape",
        "64",
        "-o",
        "m.onnx",
        cwd=tmp_path,
    )
    assert r.rc == 0, r.err
    x = np.random.default_rng(1).random((2, 64), dtype=np.float32)
    assert_matches(_session(tmp_path / "m.onnx").run(None, {"input": x})[0], _forward(mlp, [x])[0])


def test_cli_export_errors_are_one_line(run_dir, tmp_path):
    cr.io.save(cr.models.get_model("small_cnn").state_dict(), tmp_path / "sd.safetensors")
    cases = [
        (("sd.safetensors",), "carries no chainrule run configuration"),
        (("sd.safetensors", "--model", "small_cnn"), "give the input shape"),
        (("sd.safetensors", "--model", "lenet5", "--data", "digits"), "cannot take"),
        (("sd.safetensors", "--model", "lenet5", "--input-shape", "1,28,28"), "does not fit"),
        ((run_dir, "-o", "x.txt"), "must end in .onnx"),
        ((run_dir, "--format", "tflite"), "invalid choice"),
        (("nothing",), "no such run folder"),
    ]
    for args, fragment in cases:
        cli_helpers.assert_one_line_error(cli_helpers.cli("export", *args, cwd=tmp_path), fragment)
    assert not any(p.suffix == ".onnx" for p in tmp_path.iterdir())


def test_example_script_runs(tmp_path):
    import subprocess

    script = Path(__file__).resolve().parent.parent / "examples" / "export_onnx.py"
    r = subprocess.run(
        [sys.executable, str(script), "--epochs", "1", "--out", str(tmp_path / "digits.onnx")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr
    assert "agree on 100.0%" in r.stdout, r.stdout
