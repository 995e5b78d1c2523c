"""Datasets, transforms and splits: values against PyTorch / scikit-learn / the definitions,
argument errors, and determinism (RELIABILITY E3, E5, E7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.data import (
    Compose,
    KFold,
    Normalize,
    OneHot,
    RandomCrop,
    RandomHorizontalFlip,
    StratifiedKFold,
    Subset,
    TensorDataset,
    one_hot,
    random_split,
    train_test_split,
)

# ---------------------------------------------------------------- datasets


def test_tensor_dataset_items_and_batches() -> None:
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ds = TensorDataset(cr.tensor(x), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert xi.tolist() == [6.0, 7.0] and yi == 3
    assert ds[-1][1] == 9
    xb, yb = ds.get_batch(np.array([9, 0, 4]))
    assert xb.tolist() == [[18, 19], [0, 1], [8, 9]] and yb.tolist() == [9, 0, 4]
    xs, _ = ds.get_batch(slice(2, 4))
    xs[0, 0] = -1.0
    assert x[2, 0] == 4.0  # batches never alias the dataset


def test_tensor_dataset_errors() -> None:
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match=r"lengths \[3, 4\]"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(np.float32(1.0))
    ds = TensorDataset(np.zeros(3))
    with pytest.raises(IndexError, match="index 3 is out of range for 3 samples"):
        ds[3]
    with pytest.raises(TypeError, match="index must be an int"):
        ds[1.0]


def test_tensor_dataset_transforms_apply_per_item_and_per_batch() -> None:
    x = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2)
    ds = TensorDataset(
        x, np.array([1, 2]), transform=Normalize(1.0, 2.0), target_transform=OneHot(3)
    )
    xi, yi = ds[1]
    assert np.array_equal(xi, (x[1] - 1) / 2) and yi.tolist() == [0, 0, 1]
    xb, yb = ds.get_batch(slice(0, 2))
    assert np.array_equal(xb, (x - 1) / 2) and yb.shape == (2, 3)


def test_subset_keeps_fast_path_and_validates() -> None:
    ds = TensorDataset(np.arange(10) * 10)
    s = Subset(ds, [9, 2, -1])
    assert len(s) == 3 and s[0][0] == 90 and s[2][0] == 90
    assert s.get_batch(np.array([1, 0]))[0].tolist() == [20, 90]
    with pytest.raises(IndexError, match=r"\[-10, 9\]"):
        Subset(ds, [10])
    with pytest.raises(TypeError, match="ints"):
        Subset(ds, [0.5])
    assert not hasattr(Subset([1, 2, 3], [0]), "get_batch")


# ---------------------------------------------------------------- transforms


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_matches_torch(rng, dtype) -> None:
    x = rng.random((4, 3, 5, 5)).astype(dtype)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    out = Normalize(mean, std)(x)
    tx = torch.from_numpy(x)
    tm = torch.tensor(mean, dtype=tx.dtype)[:, None, None]
    ts = torch.tensor(std, dtype=tx.dtype)[:, None, None]
    ref = ((tx - tm) / ts).numpy()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(Normalize(0.5, 0.25)(x), ((tx - 0.5) / 0.25).numpy())


def test_normalize_uint8_gives_float32_and_tensor_in_tensor_out() -> None:
    x = np.full((2, 1, 2, 2), 255, np.uint8)
    out = Normalize(127.5, 127.5)(x)
    assert out.dtype == np.float32 and np.all(out == 1.0)
    t = Normalize(0.0, 2.0)(cr.ones(1, 1, 2, 2))
    assert isinstance(t, cr.Tensor) and t.numpy().ravel().tolist() == [0.5] * 4


def test_normalize_errors() -> None:
    with pytest.raises(ValueError, match="std must be finite and > 0"):
        Normalize(0.0, 0.0)
    with pytest.raises(ValueError, match="one per channel"):
        Normalize([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match=r"3 channels on axis 1, got shape \(2, 1, 4, 4\)"):
        Normalize([0, 0, 0], [1, 1, 1])(np.zeros((2, 1, 4, 4)))


@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_one_hot_matches_torch(rng, shape) -> None:
    labels = rng.integers(0, 5, shape)
    ref = torch.nn.functional.one_hot(torch.from_numpy(labels), 5).numpy()
    out = one_hot(labels, 5)
    assert out.dtype == np.float32 and out.shape == (*shape, 5)
    np.testing.assert_array_equal(out, ref.astype(np.float32))
    np.testing.assert_array_equal(one_hot(labels, 5, dtype="int64"), ref)
    ref_auto = torch.nn.functional.one_hot(torch.from_numpy(labels)).numpy()
    np.testing.assert_array_equal(one_hot(labels, dtype=np.int64), ref_auto)
    t = one_hot(cr.tensor(labels), 5)
    assert isinstance(t, cr.Tensor) and not t.requires_grad and t.shape == (*shape, 5)
    np.testing.assert_array_equal(OneHot(5)(labels), out)


def test_one_hot_errors() -> None:
    with pytest.raises(ValueError, match=r"label 12 at index 1 is outside .*\[0, 9\]"):
        one_hot(np.array([0, 12, 3]), 10)
    with pytest.raises(ValueError, match=r"label -1 at index \(1, 0\)"):
        one_hot(np.array([[0], [-1]]), 10)
    with pytest.raises(TypeError, match="integers"):
        one_hot(np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        one_hot(np.array([0]), 0)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        OneHot(0)


def _windows(padded: np.ndarray, h: int, w: int) -> list[np.ndarray]:
    H, W = padded.shape[-2:]
    return [padded[..., i : i + h, j : j + w] for i in range(H - h + 1) for j in range(W - w + 1)]


@pytest.mark.parametrize(
    "shape,size,padding", [((6, 2, 5, 5), 5, 2), ((6, 4, 7), (3, 5), 0), ((4, 1, 4, 4), 2, 1)]
)
def test_random_crop_is_a_window_of_the_padded_image(rng, shape, size, padding) -> None:
    x = rng.random(shape).astype(np.float32)
    out = RandomCrop(size, padding=padding, fill=-1.0, generator=0)(x)
    h, w = (size, size) if isinstance(size, int) else size
    assert out.shape == (*shape[:-2], h, w) and out.dtype == x.dtype
    pad = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
    padded = np.pad(x, pad, constant_values=-1.0)
    for i in range(shape[0]):
        assert any(np.array_equal(out[i], win) for win in _windows(padded[i], h, w)), i


def test_random_crop_uses_every_offset_and_identity_when_full() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4).repeat(400, axis=0)
    out = RandomCrop(2, generator=1)(x)
    corners = {float(v) for v in out[:, 0, 0, 0]}
    assert corners == {0, 1, 2, 4, 5, 6, 8, 9, 10}
    np.testing.assert_array_equal(RandomCrop(4, generator=0)(x), x)


def test_random_crop_errors() -> None:
    with pytest.raises(ValueError, match=r"crop size \(9, 9\) is larger than the padded image"):
        RandomCrop(9, padding=0, generator=0)(np.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="N x C x H x W"):
        RandomCrop(2, generator=0)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="padding must be >= 0"):
        RandomCrop(2, padding=-1)
    with pytest.raises(ValueError, match=r"\(h, w\)"):
        RandomCrop((1, 2, 3))


def test_random_horizontal_flip() -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3).repeat(2000, axis=0)
    x = x + np.arange(2000, dtype=np.float32)[:, None, None, None] * 10
    out = RandomHorizontalFlip(0.5, generator=3)(x)
    same = np.all(out == x, axis=(1, 2, 3))
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    assert np.all(same ^ flipped)
    assert 1000 - 112 < flipped.sum() < 1000 + 112  # 5 sigma of Binomial(2000, 0.5)
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0, generator=0)(x), x)
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0, generator=0)(x), x[..., ::-1])
    with pytest.raises(ValueError, match=r"probability in \[0, 1\], got 1.5"):
        RandomHorizontalFlip(1.5)


def _pipeline(seed=None) -> Compose:
    return Compose(
        [
            RandomHorizontalFlip(0.5, generator=seed),
            RandomCrop(4, padding=1, generator=None if seed is None else seed + 1),
            Normalize(0.5, 0.5),
        ]
    )


def test_random_transforms_deterministic_and_resumable(rng) -> None:
    x = rng.random((16, 1, 4, 4)).astype(np.float32)
    a, b = _pipeline(5), _pipeline(5)
    np.testing.assert_array_equal(a(x), b(x))
    assert not np.array_equal(_pipeline(6)(x), _pipeline(5)(x))
    state = cr.io.load(cr.io.save({"t": a.state_dict()}, _tmp_file()))["t"]  # E7: via a file
    first = a(x)
    c = _pipeline(99)
    c.load_state_dict(state)
    np.testing.assert_array_equal(c(x), first)
    with pytest.raises(ValueError, match="states for 3 transforms"):
        c.load_state_dict({"transforms": [None]})


def _tmp_file():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp()) / "t.safetensors"


def test_default_generators_follow_manual_seed_not_numpy(rng) -> None:
    """E3/E5: the default transform generator comes from chainrule's seed; NumPy's global
    RNG (np.random.seed) has no influence."""
    x = rng.random((32, 1, 6, 6)).astype(np.float32)
    outs = []
    for cr_seed, np_seed in [(0, 1), (0, 2), (1, 1)]:
        cr.manual_seed(cr_seed)
        np.random.seed(np_seed)
        outs.append(_pipeline()(x))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


# ---------------------------------------------------------------- splits


@pytest.mark.parametrize(
    "n,fractions", [(10, [0.8, 0.2]), (7, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]), (9, [0.1, 0.2, 0.7])]
)
def test_random_split_lengths_match_torch(n, fractions) -> None:
    ours = random_split(TensorDataset(np.arange(n)), fractions, cr.Generator(0))
    ref = torch.utils.data.random_split(range(n), fractions, torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in ref]
    allidx = np.concatenate([s.indices for s in ours])
    assert sorted(allidx.tolist()) == list(range(n))


def test_random_split_seeded_and_errors() -> None:
    ds = TensorDataset(np.arange(50))
    a = random_split(ds, [25, 25], cr.Generator(1))[0].indices
    b = random_split(ds, [25, 25], cr.Generator(1))[0].indices
    c = random_split(ds, [25, 25], cr.Generator(2))[0].indices
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    cr.manual_seed(4)
    d = random_split(ds, [25, 25])[0].indices
    cr.manual_seed(4)
    np.random.seed(123)
    assert np.array_equal(d, random_split(ds, [25, 25])[0].indices)
    with pytest.raises(ValueError, match="sum to the dataset size 50"):
        random_split(ds, [20, 20])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])


def test_kfold_fold_layout_matches_scikit_learn_rule() -> None:
    """scikit-learn's KFold without shuffling: consecutive folds, the first n % k one larger
    (exactly np.array_split of 0..n-1)."""
    for n, k in [(10, 3), (7, 7), (23, 5), (12, 4)]:
        folds = list(KFold(k).split(np.zeros(n)))
        expected = np.array_split(np.arange(n), k)
        assert len(folds) == k
        for (tr, va), ev in zip(folds, expected):
            assert va.tolist() == ev.tolist()
            assert tr.tolist() == [i for i in range(n) if i not in set(ev.tolist())]
            assert tr.dtype == va.dtype == np.int64


def test_kfold_shuffle_partitions_and_seeds() -> None:
    folds = list(KFold(4, shuffle=True, seed=0).split(22))
    vals = np.concatenate([v for _, v in folds])
    assert sorted(vals.tolist()) == list(range(22))
    for tr, va in folds:
        assert sorted(np.concatenate([tr, va]).tolist()) == list(range(22))
    again = [v.tolist() for _, v in KFold(4, shuffle=True, seed=0).split(22)]
    other = [v.tolist() for _, v in KFold(4, shuffle=True, seed=1).split(22)]
    assert again == [v.tolist() for _, v in folds] and again != other
    with pytest.raises(ValueError, match="n_splits=5 is more than the 3 samples"):
        list(KFold(5).split(3))
    with pytest.raises(ValueError, match="n_splits must be >= 2"):
        KFold(1)


def test_stratified_kfold_keeps_class_proportions(rng) -> None:
    y = np.repeat([0, 1, 2], [30, 12, 7])
    rng.shuffle(y)
    folds = list(StratifiedKFold(5, shuffle=True, seed=0).split(y, y))
    counts = np.array([np.bincount(y[v], minlength=3) for _, v in folds])
    assert np.all(counts.max(0) - counts.min(0) <= 1)
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    assert sorted(np.concatenate([v for _, v in folds]).tolist()) == list(range(len(y)))
    with pytest.raises(ValueError, match="labels"):
        list(StratifiedKFold(3).split(y))


def test_train_test_split_stratified() -> None:
    y = np.repeat(np.arange(4), [40, 20, 10, 30])
    x = np.arange(100)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
    assert np.bincount(yte).tolist() == [8, 4, 2, 6]
    assert sorted(np.concatenate([xtr, xte]).tolist()) == list(range(100))
    assert np.array_equal(y[xte], yte)
    again = train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
    assert np.array_equal(again[1], xte)
    with pytest.raises(ValueError, match=r"test_size must be in \(0, 1\)"):
        train_test_split(x, test_size=1.0)


def test_messages_say_what_was_received():
    with pytest.raises(ValueError, match=r"Normalize: .*one per channel\), got shapes \(1, 2\)"):
        Normalize([[0.5, 0.5]], 1.0)
    with pytest.raises(ValueError, match="Generator.set_state: expected a PCG64 .* got 'MT19937'"):
        cr.Generator(0).set_state({"bit_generator": "MT19937"})
    with pytest.raises(ValueError, match="Generator.set_state: .* got 'list'"):
        cr.Generator(0).set_state([1, 2])
