"""examples/cnn_fashion.py learns: LeNet-5 and the VGG-style network on Fashion-MNIST subsets
with fixed seeds, thresholds set from measured runs with a margin (the measured values are in
each test's docstring), and the figures it saves (filters, feature maps) are PNGs.

BLAS is limited to one thread: with pytest-xdist's workers each starting two BLAS threads on
a 2-core machine, OpenBLAS's threads wait on each other. Skipped, with the reason shown, where
the Fashion-MNIST files are not installed."""

from __future__ import annotations

import pytest

from example_helpers import fashion_mnist_or_skip, is_png, load_example


@pytest.fixture(scope="module")
def example():
    fashion_mnist_or_skip()
    return load_example("cnn_fashion")


def test_both_cnns_learn_a_small_subset_and_save_figures(example, tmp_path):
    """1,024 training images, the short run's epochs (LeNet-5 5, VGG-style 2), tested on the
    first 1,000 test images (chance: 10%). Measured test accuracy, seeds 0 / 1 / 2: LeNet-5
    0.595 / 0.575 / 0.582, VGG-style 0.609 / 0.693 / 0.611 (16 steps per epoch: noisy). About
    6 s of CPU."""
    pytest.importorskip("matplotlib")
    argv = ["--train-size", "1024", "--test-size", "1000", "--out", str(tmp_path)]
    r = example.main(argv + ["--verbose", "0", "--threads", "1"])
    assert set(r) == {"lenet5", "vgg"}
    assert r["lenet5"]["test_acc"] >= 0.48, r["lenet5"]["test_acc"]
    assert r["vgg"]["test_acc"] >= 0.50, r["vgg"]["test_acc"]
    for name in ("lenet5", "vgg"):
        loss = r[name]["history"]["loss"]
        assert loss[-1] < loss[0], loss
        assert r[name]["figures"] == [
            tmp_path / f"filters_{name}.png",
            tmp_path / f"feature_maps_{name}.png",
        ]
        assert all(is_png(p) for p in r[name]["figures"])
    assert r["vgg"]["params"] == 421_738 and r["lenet5"]["params"] == 61_706


@pytest.mark.slow
def test_short_run(example, tmp_path):
    """The example's default short run (3,000 training images, 2,000 test images). Measured
    test accuracy, seeds 0 / 1 / 2: LeNet-5 0.7425 / 0.7265 / 0.7345, VGG-style 0.785 / 0.817 /
    0.8085. About 12 s of CPU."""
    r = example.main(["--no-plot", "--verbose", "0", "--threads", "1", "--out", str(tmp_path)])
    assert r["lenet5"]["test_acc"] >= 0.68, r["lenet5"]["test_acc"]
    assert r["vgg"]["test_acc"] >= 0.74, r["vgg"]["test_acc"]


def test_unknown_model_fails_before_loading(example):
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose lenet5 or vgg"):
        example.main(["--models", "lenet5,resnet"])
