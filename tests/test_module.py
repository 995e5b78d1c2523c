"""The module system (``chainrule.nn.Module``, ``Parameter``, containers) against PyTorch's
behaviour: registration, traversal, modes, freezing, dtype conversion, state_dict round trips
and their errors, repr and hooks."""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.scale = nn.Parameter(cr.ones(8))
        self.head = nn.Linear(8, 3)
        self.register_buffer("steps", cr.zeros(1, dtype="int64"))
        self.register_buffer("running", cr.zeros(8))
        self.register_buffer("scratch", cr.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.features(x) * self.scale)


class TorchNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8)
        )
        self.scale = torch.nn.Parameter(torch.ones(8))
        self.head = torch.nn.Linear(8, 3)
        self.register_buffer("steps", torch.zeros(1, dtype=torch.int64))
        self.register_buffer("running", torch.zeros(8))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.features(x) * self.scale)


# ---- registration ----
def test_setattr_registers_parameters_modules_buffers():
    m = Net()
    assert list(m._parameters) == ["scale"]
    assert list(m._modules) == ["features", "head"]
    assert list(m._buffers) == ["steps", "running", "scratch"]
    m.plain = 3  # a plain attribute stays plain
    assert m.plain == 3 and "plain" not in m._parameters
    m.head = None  # a registered name may be set to None
    assert m._modules["head"] is None and m.head is None
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'scale'"):
        m.scale = cr.ones(8)
    with pytest.raises(TypeError, match="cannot assign int as child module 'features'"):
        m.features = 5
    m.register_parameter("extra", nn.Parameter(cr.ones(1)))
    m.scale = nn.Parameter(cr.zeros(8))  # replacing a parameter keeps its place, as torch
    assert np.all(m.scale.data == 0) and list(m._parameters) == ["scale", "extra"]
    m.features = nn.Identity()
    assert list(m._modules) == ["features", "head"]
    del m.scale
    assert "scale" not in m._parameters


def test_setattr_before_init_and_missing_attribute():
    class Bad(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(cr.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Bad()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nothing'"):
        _ = Net().nothing


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="buffer name can"):
        m.register_buffer("a.b", cr.zeros(1))
    with pytest.raises(TypeError, match="cannot assign ndarray object to buffer 'b'"):
        m.register_buffer("b", np.zeros(1))
    with pytest.raises(TypeError, match="cannot assign Tensor object to parameter 'p'"):
        m.register_parameter("p", cr.zeros(1))
    with pytest.raises(KeyError, match="attribute 'train' already exists"):
        m.register_buffer("train", cr.zeros(1))


def test_buffers_persistent_and_not():
    m = Net()
    assert [n for n, _ in m.named_buffers()] == ["steps", "running", "scratch"]
    assert [k for k in m.state_dict() if k in ("steps", "running", "scratch")] == [
        "steps",
        "running",
    ]
    assert list(m.state_dict()) == list(TorchNet().state_dict())


# ---- traversal ----
def test_named_parameters_order_and_names_match_torch():
    ours = [(n, p.shape) for n, p in Net().named_parameters()]
    theirs = [(n, tuple(p.shape)) for n, p in TorchNet().named_parameters()]
    assert ours == theirs
    assert [n for n, _ in Net().named_parameters(prefix="model")][0] == "model.scale"
    assert [n for n, _ in Net().named_parameters(recurse=False)] == ["scale"]


def test_shared_parameters_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    tlin = torch.nn.Linear(3, 3)
    tseq = torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin)
    assert [n for n, _ in seq.named_parameters()] == [n for n, _ in tseq.named_parameters()]
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == len(list(tseq.modules())) == 3
    assert list(seq.state_dict()) == list(tseq.state_dict())  # state_dict keeps every name
    shared = nn.Module()
    shared.a = nn.Parameter(cr.ones(2))
    shared.b = shared.a
    assert len(list(shared.parameters())) == 1


def test_children_and_modules():
    m = Net()
    assert [type(c).__name__ for c in m.children()] == ["Sequential", "Linear"]
    assert [n for n, _ in m.named_modules()] == [n for n, _ in TorchNet().named_modules()]
    assert [n for n, _ in m.named_children()] == ["features", "head"]


def test_apply_visits_children_first():
    order = []
    Net().apply(lambda mod: order.append(type(mod).__name__))
    assert order == ["Linear", "ReLU", "Linear", "Sequential", "Linear", "Net"]


# ---- modes and gradients ----
def test_train_eval_propagate():
    m = Net()
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.features.train()
    assert m.features[0].training and not m.training and not m.head.training
    with pytest.raises(ValueError, match="expected to be a bool"):
        m.train("yes")


def test_requires_grad_false_freezes():
    m = Net()
    m.features.requires_grad_(False)
    out = m(cr.randn(5, 4)).sum()
    out.backward()
    assert all(p.grad is None for p in m.features.parameters())
    assert m.head.weight.grad is not None and m.scale.grad is not None
    assert len(list(m.parameters())) == 7  # frozen parameters are still parameters
    assert m.num_parameters() == 4 * 8 + 8 + 8 * 8 + 8 + 8 + 8 * 3 + 3
    assert m.num_parameters(trainable_only=True) == 8 + 8 * 3 + 3


def test_zero_grad():
    m = Net()
    m(cr.randn(2, 4)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(p.grad.data) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


# ---- dtype ----
def test_to_double_float():
    m = Net()
    m(cr.randn(2, 4)).sum().backward()
    assert m.double() is m
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert all(p.grad.dtype == np.float64 for p in m.parameters())
    assert m.running.dtype == np.float64 and m.steps.dtype == np.int64  # ints untouched
    out = m(cr.randn(2, 4, dtype="float64"))
    assert out.dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    m.to(torch.float64)
    assert m.head.weight.dtype == np.float64
    m.to(dtype="float32")
    assert m.head.weight.dtype == np.float32
    with pytest.raises(TypeError, match="only accepts floating dtypes"):
        m.to("int32")


# ---- state_dict ----
def _torch_state(tm):
    return {k: v.detach().numpy() for k, v in tm.state_dict().items()}


def test_load_from_torch_tensors_and_numpy_gives_same_outputs():
    tm = TorchNet()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    expected = tm(torch.from_numpy(x)).detach().numpy()
    for source in (tm.state_dict(), _torch_state(tm)):
        m = Net()
        result = m.load_state_dict(source)
        assert result.missing_keys == [] and result.unexpected_keys == []
        np.testing.assert_allclose(m(cr.tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_load_state_dict_is_in_place():
    m = Net()
    w = m.head.weight
    m.load_state_dict({k: v.data * 0 + 2 for k, v in m.state_dict().items()})
    assert m.head.weight is w and np.all(w.data == 2)
    assert m.head.weight.dtype == np.float32


def test_load_state_dict_casts_float64_values():
    m = Net()
    sd = {k: np.asarray(v.data, dtype=np.float64) for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert m.head.weight.dtype == np.float32


def test_state_dict_round_trip_to_torch():
    m = Net()
    tm = TorchNet()
    tm.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in m.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(
        m(cr.tensor(x)).data, tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_strict_errors_list_everything_in_torch_wording():
    sd = {k: v.data for k, v in Net().state_dict().items()}
    del sd["head.bias"]
    sd["features.1.weight"] = np.zeros(3)
    sd["head.weight"] = np.zeros((4, 8))
    ours = Net()
    with pytest.raises(RuntimeError) as e:
        ours.load_state_dict(sd)
    msg = str(e.value)
    tsd = {k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()}
    with pytest.raises(RuntimeError) as te:
        TorchNet().load_state_dict(tsd)
    expected = str(te.value).replace(" \n", "\n").replace("torch.Size([4, 8])", "(4, 8)")
    expected = expected.replace("torch.Size([3, 8])", "(3, 8)").rstrip()
    assert msg.replace("TorchNet", "Net") == expected.replace("TorchNet", "Net")
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "head.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "features.1.weight".' in msg
    assert re.search(
        r"size mismatch for head\.weight: .* shape \(4, 8\) from checkpoint, "
        r"the shape in current model is \(3, 8\)",
        msg,
    )
    # nothing was loaded
    assert not np.all(ours.head.weight.data == 0)


def test_non_strict_reports_keys_and_still_refuses_bad_shapes():
    m = Net()
    r = m.load_state_dict({"head.weight": np.ones((3, 8)), "junk": np.zeros(1)}, strict=False)
    assert "head.bias" in r.missing_keys and r.unexpected_keys == ["junk"]
    assert np.all(m.head.weight.data == 1)
    with pytest.raises(RuntimeError, match="size mismatch for head.weight"):
        m.load_state_dict({"head.weight": np.ones((2, 8))}, strict=False)
    with pytest.raises(TypeError, match="expected a mapping"):
        m.load_state_dict([1, 2])


def test_state_dict_shares_memory_and_detaches():
    m = Net()
    sd = m.state_dict()
    assert not sd["head.weight"].requires_grad
    sd["head.weight"].data[0, 0] = 42.0
    assert m.head.weight.data[0, 0] == 42.0
    assert m.state_dict(keep_vars=True)["head.weight"] is m.head.weight


# ---- repr ----
def test_repr_matches_torch():
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1, bias=False)))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.Linear(3, 1, False))
    )
    assert repr(ours) == repr(theirs)
    assert repr(Net()).replace("Net", "X") == repr(TorchNet()).replace("TorchNet", "X")
    assert repr(nn.ModuleDict({"a": nn.ReLU()})) == repr(
        torch.nn.ModuleDict({"a": torch.nn.ReLU()})
    )
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    assert repr(nn.Parameter(cr.tensor([1.0]))).startswith("Parameter containing:\n")


# ---- hooks ----
def test_forward_hooks_and_pre_hooks():
    m = nn.Linear(2, 2)
    seen = []
    remove = m.register_forward_hook(
        lambda mod, inp, out: seen.append((mod, inp[0].shape, out.shape))
    )
    x = cr.ones(3, 2)
    m(x)
    assert seen == [(m, (3, 2), (3, 2))]
    remove()
    m(x)
    assert len(seen) == 1
    remove2 = m.register_forward_hook(lambda mod, inp, out: out * 0)  # replaces the output
    assert np.all(m(x).data == 0)
    remove2()
    remove3 = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,))  # replaces the input
    np.testing.assert_allclose(m(x).data, np.broadcast_to(m.bias.data, (3, 2)))
    remove3()


# ---- containers ----
def test_sequential_indexing_slicing_add():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert seq.add(c) is seq and len(seq) == 3
    assert seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert [n for n, _ in sub.named_children()] == ["1", "2"]  # names kept, as torch
    assert [
        n for n, _ in torch.nn.Sequential(*[torch.nn.ReLU() for _ in range(3)])[1:].named_children()
    ] == [
        "1",
        "2",
    ]
    with pytest.raises(IndexError, match="index 3 is out of range for Sequential of length 3"):
        seq[3]
    d = nn.Linear(2, 3)
    seq[0] = d
    assert seq[0] is d and list(seq._modules) == ["0", "1", "2"]  # same place, as torch
    assert seq(cr.ones(4, 2)).shape == (4, 1)
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_children()] == ["enc", "act"]
    assert isinstance(named[1], nn.Tanh)


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity)
    assert [n for n, _ in layers.named_parameters()] == ["1.weight", "1.bias", "2.weight", "2.bias"]

    class Plain(nn.Module):  # a Python list would hide its layers' parameters
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    assert list(Plain().parameters()) == []


def test_module_dict():
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    assert list(d.keys()) == ["enc", "act"] and "enc" in d and "dec" not in d
    d["dec"] = nn.Linear(3, 2)
    assert len(d) == 3 and list(d) == ["enc", "act", "dec"]
    assert [n for n, _ in d.named_parameters()] == [
        "enc.weight",
        "enc.bias",
        "dec.weight",
        "dec.bias",
    ]
    assert isinstance(d["act"], nn.ReLU) and [type(v).__name__ for v in d.values()] == [
        "Linear",
        "ReLU",
        "Linear",
    ]
    assert [k for k, _ in d.items()] == ["enc", "act", "dec"]
    with pytest.raises(KeyError):
        d["missing"]


def test_get_submodule_parameter_buffer_as_torch():
    net, tnet = Net(), TorchNet()
    for target in ("features", "features.1", "features.2", "head"):
        assert type(net.get_submodule(target)).__name__ == type(tnet.get_submodule(target)).__name__
    assert net.get_submodule("features.2") is net.features[2] and net.get_submodule("") is net
    for target in ("features.0.weight", "scale", "head.bias"):
        assert net.get_parameter(target).shape == tuple(tnet.get_parameter(target).shape)
    assert net.get_parameter("scale") is net.scale
    assert net.get_buffer("steps") is net.steps and net.get_buffer("scratch").shape == (2,)
    with pytest.raises(AttributeError, match=r"get_submodule\('features.5'\): features .*has no "):
        net.get_submodule("features.5")
    with pytest.raises(AttributeError):  # torch refuses it the same way
        tnet.get_submodule("features.5")
    with pytest.raises(AttributeError, match="has no parameter 'bias'; its parameters: \\['scale'"):
        net.get_parameter("bias")
    with pytest.raises(AttributeError, match="has no buffer 'weight'"):
        net.get_buffer("head.weight")
