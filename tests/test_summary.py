"""``chainrule.summary``: the Keras-style table (shapes, counts, totals) for sequential, nested,
shared, frozen and multi-input models, and that building it leaves the model untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _mlp():
    return cr.nn.Sequential(
        cr.nn.Flatten(), cr.nn.Linear(12, 16), cr.nn.ReLU(), cr.nn.Linear(16, 3)
    )


def test_sequential_table_exact():
    text = cr.summary(_mlp(), (3, 4), quiet=True)
    assert text.splitlines() == [
        'Model: "Sequential"',
        "_" * 38,
        " Layer (type)   Output Shape   Param #",
        "=" * 38,
        " 0 (Flatten)    (None, 12)           0",
        " 1 (Linear)     (None, 16)         208",
        " 2 (ReLU)       (None, 16)           0",
        " 3 (Linear)     (None, 3)           51",
        "=" * 38,
        "Total params: 259 (1.01 KB)",
        "Trainable params: 259 (1.01 KB)",
        "Non-trainable params: 0 (0.00 B)",
        "_" * 38,
    ]


def test_totals_match_torch_parameter_count():
    tm = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    text = cr.summary(_mlp(), (12,), quiet=True)
    assert f"Total params: {sum(p.numel() for p in tm.parameters()):,} " in text


class Block(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = cr.nn.Sequential(cr.nn.Linear(4, 6), cr.nn.Tanh())
        self.gate = cr.nn.Parameter(cr.ones(6))
        self.register_buffer("count", cr.zeros(3))

    def forward(self, x):
        return self.inner(x) * self.gate


class Net(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Block()
        self.shared = cr.nn.Linear(6, 6)
        self.alias = self.shared  # the same layer under a second name
        self.head = cr.nn.Linear(6, 2)
        self.unused = cr.nn.Linear(5, 5)
        self.drop = cr.nn.Step()

    def forward(self, x):
        h = self.shared(self.shared(self.block(x)))
        return self.head(h), h.sum()


def test_nested_shared_frozen_unused():
    net = Net()
    net.block.inner.requires_grad_(False)
    lines = cr.summary(net, (4,), quiet=True).splitlines()
    body = [ln.split() for ln in lines[4 : lines.index("=" * len(lines[3]), 4)]]
    assert [r[0] for r in body] == [
        "block.inner.0",
        "block.inner.1",
        "block",
        "shared",
        "shared",
        "head",
        "unused",
        "drop",
    ]  # call order; the root has no parameters of its own, so no row; then unused layers
    assert body[0][-1] == "30"
    assert body[2][1:] == ["(Block)", "(None,", "6)", "6"]  # its own gate only
    assert body[3][-1] == "42" and body[4][-2:] == ["0", "(shared)"]
    assert body[6][-3:] == ["(not", "called)", "30"]
    total = sum(p.data.size for p in net.parameters())
    assert total == 30 + 6 + 42 + 14 + 30
    text = "\n".join(lines)
    assert f"Total params: {total:,} (488.00 B)" in text
    assert "Trainable params: 92 " in text and "Non-trainable params: 30 " in text
    assert "Buffers (not parameters): 3 (12.00 B)" in text


def test_root_with_own_parameters_and_tuple_output():
    class Root(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = cr.nn.Linear(3, 2)
            self.bias = cr.nn.Parameter(cr.zeros(2))

        def forward(self, x):
            h = self.lin(x) + self.bias
            return h, h.sum()

    body = cr.summary(Root(), (3,), quiet=True).splitlines()[4:6]
    assert body[1].split() == ["Root", "(Root)", "[(None,", "2),", "()]", "2"]


def test_model_left_untouched():
    net = Net()
    net.train()
    net.block.eval()
    state = cr.random.get_rng_state()
    before = {k: v.data.copy() for k, v in net.state_dict().items()}
    cr.summary(net, (4,), quiet=True)
    assert net.training and not net.block.training and net.shared.training
    assert all(p.grad is None for p in net.parameters())
    assert cr.random.get_rng_state() == state
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    assert not net.shared._forward_hooks


def test_print_fn_quiet_and_default_print(capsys):
    got = []
    text = cr.summary(_mlp(), (12,), print_fn=got.append)
    assert got == [text]
    cr.summary(_mlp(), (12,), quiet=True)
    assert capsys.readouterr().out == ""
    cr.summary(_mlp(), (12,))
    assert capsys.readouterr().out == text + "\n"


class TwoInputs(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = cr.nn.Linear(3, 4)
        self.b = cr.nn.Linear(5, 4)

    def forward(self, x, y):
        return self.a(x) + self.b(y)


class Lookup(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = cr.nn.Parameter(cr.randn(10, 3))

    def forward(self, idx):
        assert idx.dtype == np.int64
        return self.table[idx]


def test_multiple_inputs_and_integer_dtype():
    text = cr.summary(TwoInputs(), [(3,), (5,)], quiet=True)
    assert " a (Linear)" in text and "Total params: 40 " in text
    text = cr.summary(Lookup(), (7,), dtype="int64", quiet=True, batch_size=4)
    assert "(None, 7, 3)" in text and "Total params: 30 " in text


def test_bad_arguments():
    with pytest.raises(TypeError, match="input_shape must be a tuple of ints"):
        cr.summary(_mlp(), "12", quiet=True)
    with pytest.raises(TypeError, match="expected a chainrule.nn.Module"):
        cr.summary(torch.nn.Linear(2, 2), (2,), quiet=True)


def test_summary_is_the_function():
    import chainrule._summary as module

    assert cr.summary is module.summary and cr.summary(_mlp(), (12,), quiet=True)


def test_a_functional_model_is_titled_by_its_name():
    x = cr.Input(shape=(4,), name="x")
    model = cr.Model(x, cr.nn.Linear(4, 2)(x), name="tiny")
    assert cr.summary(model, (4,), quiet=True).splitlines()[0] == 'Model: "tiny"'
    assert cr.summary(cr.nn.Linear(4, 2), (4,), quiet=True).splitlines()[0] == 'Model: "Linear"'
