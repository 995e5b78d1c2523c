"""Transfer learning: load_pretrained (head excluded, renames, strict errors), PyTorch weights
through safetensors (both export routes give the same outputs as the PyTorch model), freezing
with requires_grad_(False) (frozen weights stay bit for bit, the new head learns), and the
example: a backbone pretrained on Fashion-MNIST classes 0-4 beats training from scratch on
classes 5-9 with 50 labels per class (margins measured over seeds, in the docstrings)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.io.torch_interop import (
    export_torch_weights,
    load_pretrained,
    torch_state_dict_to_numpy,
)
from example_helpers import fashion_mnist_or_skip, load_example, one_blas_thread
from harness import assert_close

tnn = torch.nn


def t_vgg1(num_classes=5):
    """torch twin of cr.models.vgg_small(convs_per_stage=1, num_classes=5)."""

    def block(cin, cout):
        return tnn.Sequential(
            OrderedDict(
                conv=tnn.Conv2d(cin, cout, 3, padding=1, bias=False),
                bn=tnn.BatchNorm2d(cout),
                act=tnn.ReLU(),
                pool=tnn.MaxPool2d(2),
                drop=tnn.Dropout(0.25),
            )
        )

    return tnn.Sequential(
        OrderedDict(
            features=tnn.Sequential(block(1, 32), block(32, 64)),
            classifier=tnn.Sequential(
                tnn.Flatten(),
                tnn.Linear(3136, 128),
                tnn.ReLU(),
                tnn.Dropout(0.5),
                tnn.Linear(128, num_classes),
            ),
        )
    )


def _trained_torch_vgg(rng):
    net = t_vgg1()
    with torch.no_grad():  # running statistics away from (0, 1)
        net.train()
        net(torch.from_numpy(rng.standard_normal((16, 1, 28, 28)).astype(np.float32)) * 2 + 1)
    return net.eval()


def test_torch_weights_through_safetensors_give_the_same_outputs(tmp_path, rng):
    net = _trained_torch_vgg(rng)
    x = rng.standard_normal((4, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x))
    # route 1: chainrule's exporter; route 2: the safetensors package alone
    export_torch_weights(net, tmp_path / "a.safetensors", metadata={"source": "torch"})
    from safetensors.torch import save_file

    save_file(net.state_dict(), str(tmp_path / "b.safetensors"))
    for name in ("a", "b"):
        model = cr.models.vgg_small(num_classes=5, convs_per_stage=1)
        loaded = load_pretrained(model, tmp_path / f"{name}.safetensors")
        assert len(loaded) == len(model.state_dict())
        model.eval()
        with cr.no_grad():
            assert_close(model(cr.tensor(x)), want)
        nbt = model.features[0].bn.num_batches_tracked
        assert int(np.asarray(nbt.data if hasattr(nbt, "data") else nbt)) == 1


def test_torch_state_dict_to_numpy():
    lin = tnn.Linear(3, 2).to(torch.bfloat16)
    sd = torch_state_dict_to_numpy(lin)
    assert sd["weight"].dtype == np.float32
    np.testing.assert_array_equal(sd["weight"], lin.weight.detach().float().numpy())
    with pytest.raises(TypeError, match="expected a torch.nn.Module or a state_dict, got int"):
        torch_state_dict_to_numpy(3)
    with pytest.raises(TypeError, match="entry 'w' is a list, not a tensor"):
        torch_state_dict_to_numpy({"w": [1.0]})


def test_load_pretrained_excludes_the_head_and_renames():
    src = cr.models.lenet5(num_classes=10)
    dst = cr.models.lenet5(num_classes=5)
    head_before = dst[11].weight.data.copy()
    loaded = load_pretrained(dst, src.state_dict(), exclude=["11."])
    assert loaded == [f"{i}.{p}" for i in (0, 3, 7, 9) for p in ("weight", "bias")]
    np.testing.assert_array_equal(dst[0].weight.data, src[0].weight.data)
    np.testing.assert_array_equal(dst[11].weight.data, head_before)  # the head keeps its init
    wrapped = {"module." + k: v for k, v in src.state_dict().items()}  # DataParallel-style
    other = cr.models.lenet5(num_classes=10)
    load_pretrained(other, wrapped, rename={"module.": ""})
    np.testing.assert_array_equal(other[9].weight.data, src[9].weight.data)
    load_pretrained(other, wrapped, rename=lambda k: k.removeprefix("module."), exclude="11.")


def test_load_pretrained_errors(tmp_path):
    src = cr.models.lenet5(num_classes=10)
    dst = cr.models.lenet5(num_classes=5)
    with pytest.raises(RuntimeError, match=r"size mismatch for 11.weight.*\(10, 84\).*\(5, 84\)"):
        load_pretrained(dst, src.state_dict())
    partial = {k: v for k, v in src.state_dict().items() if not k.startswith("0.")}
    with pytest.raises(RuntimeError, match="Missing key.*'0.weight', '0.bias'.*excluded.*11."):
        load_pretrained(dst, partial, exclude=["11."])
    extra = dict(src.state_dict(), **{"fc.weight": np.zeros(2)})
    with pytest.raises(RuntimeError, match="Unexpected key.*'fc.weight'"):
        load_pretrained(dst, extra, exclude=["11."])
    assert load_pretrained(dst, partial, exclude=["11."], strict=False)[0] == "3.weight"
    with pytest.raises(ValueError, match="expected a state_dict"):
        load_pretrained(dst, [1, 2])
    with pytest.raises(TypeError, match="rename must be a mapping"):
        load_pretrained(dst, partial, rename=3)
    path = tmp_path / "nested.safetensors"
    cr.save({"model": src.state_dict(), "step": 3}, path)
    with pytest.raises(ValueError, match="entry 'model' is a dict, not an array"):
        load_pretrained(dst, path)
    cr.save({"state_dict": src.state_dict(), "epoch": 1}, path)  # a training checkpoint
    assert len(load_pretrained(dst, path, exclude=["11."])) == 8


def test_frozen_backbone_stays_put_while_the_head_learns(rng):
    model = cr.models.lenet5(num_classes=5)
    model[:6].requires_grad_(False)
    frozen = {k: v.data.copy() for k, v in model.state_dict().items()}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == [f"{i}.{p}" for i in (7, 9, 11) for p in ("weight", "bias")]
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    opt = cr.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.compile(optimizer=opt, loss="cross_entropy")
    hist = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    for k, v in model.state_dict().items():
        same = np.array_equal(v.data, frozen[k])
        assert same == (k.split(".")[0] in ("0", "3")), k
    assert model[0].weight.grad is None


@pytest.fixture(scope="module")
def fashion():
    return fashion_mnist_or_skip()


def test_example_helpers(fashion):
    tl = load_example("transfer_learning")
    (x, y), _ = fashion
    xs, ys = tl.split(x[:2000], y[:2000], tl.TARGET)
    assert set(np.unique(ys)) == set(range(5)) and len(xs) == np.isin(y[:2000], tl.TARGET).sum()
    xl, yl = tl.few_labels(xs, ys, 7, seed=3)
    assert np.bincount(yl).tolist() == [7] * 5
    xl2, _ = tl.few_labels(xs, ys, 7, seed=3)
    np.testing.assert_array_equal(xl, xl2)


def test_fine_tuned_beats_scratch(fashion, tmp_path):
    """The example's short run: pretrain LeNet-5 on 6,000 images of classes 0-4 (2 epochs),
    then classes 5-9 from 50 labels per class, 3 seeds. Measured (seeds 0-4, test accuracy on
    the 5,000 test images of classes 5-9): fine-tuned 0.9130 / 0.9134 / 0.9172 / 0.9110 /
    0.9108, from scratch 0.8866 / 0.9040 / 0.9010 / 0.8960 / 0.9008: gains +0.026 / +0.009 /
    +0.016 / +0.015 / +0.010 (mean +0.015). The full run (30,000 source images, 5 epochs)
    gains +0.028 on average (min +0.019). About 25 s of CPU."""
    tl = load_example("transfer_learning")
    with one_blas_thread():
        r = tl.main(["--seeds", "3", "--out", str(tmp_path)])
    assert r["source_acc"] >= 0.75, r["source_acc"]  # measured 0.805
    assert (tmp_path / "pretrained_lenet5_classes0-4.safetensors").is_file()
    assert np.all(r["gains"] > 0), r["gains"]
    assert r["gains"].mean() >= 0.008, r["gains"]
    assert np.all(r["scratch"] >= 0.85), r["scratch"]  # both learn: chance is 0.2


def test_example_starts_from_pytorch_weights(fashion, tmp_path, capsys):
    """``--weights`` with a LeNet-5 trained in PyTorch (here: untrained, exported through
    safetensors): the example loads its backbone, freezes it and trains the new head."""
    tnet = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(400, 120),
        tnn.ReLU(),
        tnn.Linear(120, 84),
        tnn.ReLU(),
        tnn.Linear(84, 5),
    )
    path = export_torch_weights(tnet, tmp_path / "torch_lenet5.safetensors")
    tl = load_example("transfer_learning")
    argv = ["--weights", str(path), "--seeds", "1", "--epochs", "1", "--labels", "5"]
    with one_blas_thread():
        r = tl.main(argv + ["--out", str(tmp_path)])
    assert f"starting from {path}" in capsys.readouterr().out
    assert r["pairs"][0]["fine-tuned"]["trainable"] == 58_709  # conv backbone frozen
    assert "source_acc" not in r  # no pretraining
