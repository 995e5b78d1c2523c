"""chainrule.viz: grids (exact pixel placement and scaling), feature maps captured by hooks
(equal to running the layers by hand, hooks removed and mode restored), the PNG writer
(decoded back with Pillow), and the matplotlib figures (titles, panels, files)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import viz

PIL = pytest.importorskip("PIL.Image")


def _read_png(path):
    with PIL.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def test_image_grid_places_every_image():
    imgs = np.arange(5 * 2 * 3, dtype=np.float64).reshape(5, 1, 2, 3) / 30
    grid = viz.image_grid(imgs, nrow=3, padding=1, pad_value=0.25)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1)
    for i in range(5):
        r, q = divmod(i, 3)
        np.testing.assert_array_equal(
            grid[1 + 3 * r : 3 + 3 * r, 1 + 4 * q : 4 + 4 * q], imgs[i, 0]
        )
    assert np.all(grid[0] == 0.25) and np.all(grid[4:6, 9:12] == 0.25)  # padding, empty cell


def test_image_grid_scaling_and_colour():
    x = np.array([[[[-1.0, 1.0]]], [[[0.0, 0.5]]]])
    np.testing.assert_allclose(viz.image_grid(x, padding=0), [[0, 1, 0, 0.5]])  # clipped
    np.testing.assert_allclose(
        viz.image_grid(x, padding=0, normalize=True, value_range=(-1, 1)), [[0, 1, 0.5, 0.75]]
    )
    np.testing.assert_allclose(
        viz.image_grid(x, padding=0, normalize=True, scale_each=True), [[0, 1, 0, 1]]
    )
    np.testing.assert_allclose(
        viz.image_grid(np.full((1, 1, 2, 2), 3.0), normalize=True)[2:4, 2:4], 0.5
    )
    rgb = viz.image_grid(np.zeros((2, 3, 4, 4)), nrow=2)
    assert rgb.shape == (8, 14, 3)
    assert viz.image_grid(cr.zeros(3, 5, 5)).shape == (9, 23)  # (N, H, W) tensors


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.zeros((2, 2, 4, 4)),), r"C 1 or 3.*got shape \(2, 2, 4, 4\)"),
        ((np.zeros((0, 1, 4, 4)),), "N >= 1"),
        ((np.zeros((2, 1, 4, 4)), 0), "nrow must be a positive int, got 0"),
        ((np.array([[True]]),), "numeric"),
    ],
)
def test_image_grid_errors(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        viz.image_grid(*args)
    with pytest.raises(ValueError, match="value_range must have lo < hi"):
        viz.image_grid(np.zeros((1, 1, 2, 2)), normalize=True, value_range=(1, 1))


def test_filter_grid_scales_each_kernel():
    w = np.stack([np.arange(9.0).reshape(1, 3, 3), -100 * np.arange(9.0).reshape(1, 3, 3)])
    grid = viz.filter_grid(w, nrow=2, padding=1)
    np.testing.assert_allclose(grid[1:4, 1:4], np.arange(9.0).reshape(3, 3) / 8)
    np.testing.assert_allclose(grid[1:4, 5:8], 1 - np.arange(9.0).reshape(3, 3) / 8)
    conv = cr.nn.Conv2d(4, 6, 3)  # several input channels: their mean
    expect = conv.weight.data.mean(axis=1)[2]
    tile = viz.filter_grid(conv)[1:4, 9:12]  # kernel 2: row 0, column 2 of a 3-wide grid
    np.testing.assert_allclose(tile, (expect - expect.min()) / np.ptp(expect), atol=1e-6)
    with pytest.raises(
        ValueError, match=r"\(out_channels, in_channels, kh, kw\), got shape \(3, 3\)"
    ):
        viz.filter_grid(np.zeros((3, 3)))


def test_feature_maps_match_the_layers_and_clean_up(rng):
    model = cr.models.vgg_small(convs_per_stage=1)
    model.train()
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    maps = viz.feature_maps(model, x, ["features.0.act", model.features[1].conv])
    assert list(maps) == ["features.0.act", "features.1.conv"]
    model.eval()
    with cr.no_grad():
        b0 = model.features[0]
        h = b0.act(b0.bn(b0.conv(cr.tensor(x))))
        np.testing.assert_allclose(maps["features.0.act"], h.data, rtol=1e-6)
        h = b0.drop(b0.pool(h))
        np.testing.assert_allclose(
            maps["features.1.conv"], model.features[1].conv(h).data, rtol=1e-5
        )
    assert model.training is False  # restored to what it was before the call (eval here)
    model.train()
    viz.feature_maps(model, x)
    assert model.training is True
    assert all(not m._forward_hooks for m in model.modules())
    default = viz.feature_maps(cr.models.lenet5(), x[:1])
    assert {k: v.shape for k, v in default.items()} == {"0": (1, 6, 28, 28), "3": (1, 16, 10, 10)}


def test_feature_maps_errors():
    model = cr.models.lenet5()
    with pytest.raises(ValueError, match="no layer named 'conv9'; layers: 0, 1"):
        viz.feature_maps(model, cr.zeros(1, 1, 28, 28), ["conv9"])
    with pytest.raises(ValueError, match="Linear is not part of the model"):
        viz.feature_maps(model, cr.zeros(1, 1, 28, 28), [cr.nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="has no Conv2d layer"):
        viz.feature_maps(cr.nn.Sequential(cr.nn.Linear(2, 2)), cr.zeros(1, 2))
    with pytest.raises(TypeError, match="model must be a Module"):
        viz.feature_maps(np.zeros(2), cr.zeros(1, 2))

    class Skips(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = cr.nn.Linear(2, 2), cr.nn.ReLU()

        def forward(self, x):
            return self.used(x)

    net = Skips()
    with pytest.raises(ValueError, match="unused were not called"):
        viz.feature_maps(net, cr.zeros(1, 2), ["used", "unused"])
    assert all(not m._forward_hooks for m in net.modules())


def test_write_png_round_trip(tmp_path):
    grey = np.linspace(0, 1, 12).reshape(3, 4)
    viz.write_png(tmp_path / "g.png", grey, scale=2)
    back = _read_png(tmp_path / "g.png")
    np.testing.assert_array_equal(
        back, np.round(grey * 255).astype(np.uint8).repeat(2, 0).repeat(2, 1)
    )
    rgb = np.random.default_rng(0).random((5, 2, 3))
    viz.write_png(tmp_path / "c.png", rgb)
    np.testing.assert_array_equal(_read_png(tmp_path / "c.png"), np.round(rgb * 255))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 3\) pixels, got shape \(2, 2, 2\)"):
        viz.write_png(tmp_path / "x.png", np.zeros((2, 2, 2)))


def test_save_image_grid_without_matplotlib(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import raises ImportError
    imgs = np.random.default_rng(1).uniform(-1, 1, (6, 1, 4, 4))
    grid = viz.save_image_grid(imgs, tmp_path / "s.png", nrow=3, value_range=(-1, 1))
    back = _read_png(tmp_path / "s.png")
    assert back.shape == (4 * grid.shape[0], 4 * grid.shape[1])
    np.testing.assert_array_equal(back[::4, ::4], np.round(grid * 255))
    hint = r"plot_filters needs matplotlib: pip install 'chainrule\[viz\]'"
    with pytest.raises(ImportError, match=hint):
        viz.plot_filters(cr.nn.Conv2d(1, 2, 3))
    history = cr.callbacks.History()
    history.on_epoch_end(0, {"loss": 0.5})
    with pytest.raises(ImportError, match="History.plot needs matplotlib"):
        history.plot()


def test_figures(tmp_path):
    pytest.importorskip("matplotlib")
    conv = cr.nn.Conv2d(1, 5, 3)
    fig = viz.plot_filters(conv, tmp_path / "f.png", title="test")
    assert len(fig.axes) == 5 and fig._suptitle.get_text().startswith("test: 5 x 3x3")
    _read_png(tmp_path / "f.png")
    model = cr.models.lenet5()
    x = cr.zeros(1, 1, 28, 28)
    fig = viz.plot_feature_maps(
        viz.feature_maps(model, x), tmp_path / "m.png", image=x, max_channels=3, title="maps"
    )
    assert len(fig.axes) == 1 + 3 + 3 and fig._suptitle.get_text() == "maps"
    assert fig.axes[1].get_ylabel() == "0\n6 x 28x28"
    grid = viz.save_image_grid(
        np.zeros((4, 1, 8, 8)), tmp_path / "s.png", nrow=2, title="t", labels=list("abcd")
    )
    assert grid.shape == (22, 22) and _read_png(tmp_path / "s.png").ndim == 3
    with pytest.raises(ValueError, match="got 3 labels for 4 images"):
        viz.save_image_grid(np.zeros((4, 1, 8, 8)), tmp_path / "s.png", labels=list("abc"))
    with pytest.raises(ValueError, match="non-empty dict"):
        viz.plot_feature_maps({})
