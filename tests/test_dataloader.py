"""DataLoader: batching, argument errors (A7), the vectorised fast path, determinism (E3, E5)
and exact mid-epoch resume through a checkpoint file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.data.dataset as dataset_mod
from chainrule.data import (
    Compose,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    default_collate,
)


def arrays(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    return x, np.arange(n, dtype=np.int64)


class ItemDataset(Dataset):
    """A plain map-style dataset (no get_batch): exercises the per-item path."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y
        self.calls = 0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        self.calls += 1
        return self.x[i], int(self.y[i])


def collect(loader) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.array(t.data, copy=True) for t in batch) for batch in loader]


def same(a, b) -> bool:
    return len(a) == len(b) and all(
        len(p) == len(q)
        and all(u.tobytes() == v.tobytes() and u.shape == v.shape for u, v in zip(p, q))
        for p, q in zip(a, b)
    )


# ---------------------------------------------------------------- basics


@pytest.mark.parametrize(
    "n,b,drop,expected",
    [
        (10, 3, False, 4),
        (10, 3, True, 3),
        (9, 3, True, 3),
        (1, 1, False, 1),
        (10, 10, True, 1),
        (10, 64, False, 1),
    ],
)
def test_len_and_batch_sizes(n, b, drop, expected) -> None:
    loader = DataLoader(TensorDataset(*arrays(n)), batch_size=b, drop_last=drop)
    sizes = [len(yb) for _, yb in loader]
    assert len(loader) == expected == len(sizes)
    assert sizes[:-1] == [b] * (expected - 1)
    assert sum(sizes) == (n // b * b if drop else n)


def test_batches_are_tensor_tuples_with_dtypes_kept() -> None:
    x, y = arrays(5)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=2)))
    assert isinstance(xb, cr.Tensor) and isinstance(yb, cr.Tensor)
    assert xb.dtype == np.float32 and yb.dtype == np.int64 and not xb.requires_grad
    assert xb.numpy().tolist() == x[:2].tolist()
    single = next(iter(DataLoader(TensorDataset(x), batch_size=2)))
    assert isinstance(single, tuple) and len(single) == 1


def test_shuffle_covers_every_sample_once_per_epoch_in_new_orders() -> None:
    x, y = arrays(23)
    loader = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, generator=0)
    orders = []
    for _ in range(3):
        ys = np.concatenate([yb.numpy() for _, yb in loader])
        assert sorted(ys.tolist()) == list(range(23))
        orders.append(ys.tolist())
    assert orders[0] != orders[1] != orders[2]
    assert loader.epoch == 3
    seq = np.concatenate([yb.numpy() for _, yb in DataLoader(TensorDataset(x, y), batch_size=5)])
    assert seq.tolist() == list(range(23))


@pytest.mark.parametrize(
    "kwargs,exc,fragments",
    [
        ({"batch_size": 0}, ValueError, ["batch_size must be >= 1, got 0"]),
        ({"batch_size": -3}, ValueError, ["batch_size", "-3"]),
        ({"batch_size": 2.5}, TypeError, ["batch_size must be an int", "2.5"]),
        ({"batch_size": True}, TypeError, ["batch_size must be an int"]),
        (
            {"batch_size": 11, "drop_last": True},
            ValueError,
            ["drop_last=True", "batch_size=11", "10 samples", "no batches"],
        ),
        ({"collate_fn": 3}, TypeError, ["collate_fn must be callable"]),
        ({"transform": "x"}, TypeError, ["transform must be callable"]),
        ({"shuffle": True, "generator": "seed"}, TypeError, ["generator must be"]),
        ({"shuffle": True, "generator": -1}, ValueError, ["seed must be non-negative"]),
    ],
)
def test_a7_argument_errors(kwargs, exc, fragments) -> None:
    with pytest.raises(exc) as e:
        DataLoader(TensorDataset(*arrays(10)), **kwargs)
    for frag in fragments:
        assert frag in str(e.value), (frag, str(e.value))
    assert "DataLoader" in str(e.value)


def test_a7_empty_dataset_and_not_a_dataset() -> None:
    with pytest.raises(ValueError, match="DataLoader: the dataset is empty"):
        DataLoader(TensorDataset(np.zeros((0, 3))), batch_size=4)
    with pytest.raises(ValueError, match="empty"):
        DataLoader(ItemDataset(np.zeros((0, 3)), np.zeros(0)))
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(42)


def test_dataset_changing_size_is_detected() -> None:
    ds = ItemDataset(*arrays(6))
    loader = DataLoader(ds, batch_size=2)
    ds.x, ds.y = ds.x[:4], ds.y[:4]
    with pytest.raises(RuntimeError, match="changed size from 6 to 4"):
        iter(loader)


# ---------------------------------------------------------------- fast and generic paths


def test_fast_path_is_one_gather_per_array_per_batch(monkeypatch) -> None:
    x, y = arrays(50)
    ds = TensorDataset(x, y)
    takes = []
    real_take = np.take
    monkeypatch.setattr(
        dataset_mod.np,
        "take",
        lambda a, i, axis=None: (takes.append(len(i)), real_take(a, i, axis=axis))[1],
    )
    calls = []
    real_get = ds.get_batch
    ds.get_batch = lambda idx: (calls.append(idx), real_get(idx))[1]
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=0)
    batches = collect(loader)
    assert len(calls) == len(loader) == 7
    assert len(takes) == 2 * 7  # one np.take per array per batch, never a per-item gather
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == list(range(50))


def test_generic_path_matches_fast_path() -> None:
    x, y = arrays(17)
    fast = collect(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=7))
    ds = ItemDataset(x, y)
    slow = collect(DataLoader(ds, batch_size=4, shuffle=True, generator=7))
    assert ds.calls == 17 and same(fast, slow)


def test_default_collate_structures() -> None:
    items = [
        {"a": np.ones(2, np.float32), "b": (1, 2.5, True)},
        {"a": np.zeros(2, np.float32), "b": (3, 0.5, False)},
    ]
    out = default_collate(items)
    assert out["a"].shape == (2, 2) and out["b"][0].dtype == np.int64
    assert out["b"][1].dtype == np.float32 and out["b"][2].dtype == np.bool_
    assert default_collate([[1, 2], [3, 4]])[0].tolist() == [1, 3]
    with pytest.raises(TypeError, match="cannot batch items of type str"):
        default_collate(["a", "b"])
    with pytest.raises(
        ValueError, match=r"same number of fields, got samples with \[1, 2\] fields"
    ):
        default_collate([(1, 2), (1,)])

    class Dicts(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float64), "y": i}

    batch = next(iter(DataLoader(Dicts(), batch_size=3)))
    assert isinstance(batch["x"], cr.Tensor) and batch["y"].numpy().tolist() == [0, 1, 2]


def test_custom_collate_fn_receives_items() -> None:
    seen = []
    loader = DataLoader(
        TensorDataset(*arrays(5)),
        batch_size=2,
        collate_fn=lambda items: seen.append(len(items)) or len(items),
    )
    assert list(loader) == [2, 2, 1] and seen == [2, 2, 1]


def test_loader_transforms_apply_to_inputs_and_targets() -> None:
    x, y = arrays(4)
    loader = DataLoader(
        TensorDataset(x, y),
        batch_size=4,
        transform=Normalize(1.0, 2.0),
        target_transform=cr.data.OneHot(4),
    )
    xb, yb = next(iter(loader))
    assert np.array_equal(xb.numpy(), (x - 1) / 2) and np.array_equal(yb.numpy(), np.eye(4))


# ---------------------------------------------------------------- determinism


def test_default_generator_follows_manual_seed_not_numpy() -> None:
    """E3 and E5: chainrule.manual_seed fixes the order; np.random.seed changes nothing."""
    x, y = arrays(40)
    runs = []
    for cr_seed, np_seed in [(0, 0), (0, 99), (1, 0)]:
        cr.manual_seed(cr_seed)
        np.random.seed(np_seed)
        loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
        runs.append([collect(loader) for _ in range(2)])
    assert same(runs[0][0], runs[1][0]) and same(runs[0][1], runs[1][1])
    assert not same(runs[0][0], runs[2][0])


def test_explicit_generator_and_int_seed_agree() -> None:
    x, y = arrays(30)
    a = collect(DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True, generator=5))
    b = collect(
        DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True, generator=cr.Generator(5))
    )
    assert same(a, b)


# ---------------------------------------------------------------- exact resume


def make_loader(seed: int, n: int = 37, drop_last: bool = False) -> DataLoader:
    cr.manual_seed(seed)
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 4, 4)).astype(np.float32)
    y = rng.integers(0, 10, n)
    ds = TensorDataset(x, y, transform=RandomHorizontalFlip(0.5))
    return DataLoader(
        ds,
        batch_size=5,
        shuffle=True,
        drop_last=drop_last,
        transform=Compose([RandomCrop(4, padding=1), Normalize(0.5, 0.25)]),
    )


@pytest.mark.parametrize("drop_last", [False, True])
def test_resume_mid_epoch_through_a_checkpoint_file(tmp_path: Path, drop_last: bool) -> None:
    reference = make_loader(3, drop_last=drop_last)
    ref = [collect(reference) for _ in range(3)]
    nb = len(reference)
    flat_ref = [b for ep in ref for b in ep]
    # interrupt after k batches of epoch 1 (k = 0 is just after iter()), in a "new process"
    for k in range(nb + 1):
        run = make_loader(3, drop_last=drop_last)
        got = collect(run)  # epoch 0
        it = iter(run)
        got += [tuple(np.array(t.data) for t in next(it)) for _ in range(k)]
        path = tmp_path / f"k{k}.safetensors"
        cr.io.save({"loader": run.state_dict(), "step": k}, path)
        resumed = make_loader(1234, drop_last=drop_last)  # different seed: state must win
        resumed.load_state_dict(cr.io.load(path)["loader"])
        assert resumed.position == (k if k < nb else 0)
        if k < nb:
            got += collect(resumed)  # the rest of epoch 1
        # (after the last batch the state is "between epochs": the next iter() is epoch 2)
        got += collect(resumed)  # epoch 2
        assert same(got, flat_ref), k
        assert resumed.epoch == 3


def test_state_is_json_serialisable_with_permutation_as_list() -> None:
    run = make_loader(0)
    it = iter(run)
    next(it)
    state = run.state_dict()
    assert state["permutation"].dtype == np.int64 and state["position"] == 1
    text = json.dumps({**state, "permutation": state["permutation"].tolist()})
    rest_a = [tuple(np.array(t.data) for t in b) for b in it]
    other = make_loader(9)
    other.load_state_dict(json.loads(text))
    assert same(collect(other), rest_a)


def test_load_state_dict_errors() -> None:
    run = make_loader(0)
    it = iter(run)
    next(it)
    state = run.state_dict()
    with pytest.raises(ValueError, match=r"batch_size: saved 5, now 4"):
        DataLoader(TensorDataset(*arrays(37)), batch_size=4, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match=r"num_samples: saved 37, now 36"):
        DataLoader(TensorDataset(*arrays(36)), batch_size=5, shuffle=True).load_state_dict(state)
    fresh = make_loader(0)
    for bad, frag in [
        ({**state, "permutation": np.zeros(37, np.int64)}, "not a permutation"),
        ({**state, "permutation": np.arange(36)}, "must be 37 ints"),
        ({**state, "permutation": None}, "must carry its permutation"),
        ({**state, "position": 99}, "outside the epoch's 8 batches"),
        ({**state, "version": 7}, "expected a state from DataLoader.state_dict"),
        ({**state, "generator": {"bit_generator": "MT19937"}}, "PCG64"),
    ]:
        with pytest.raises(ValueError, match=frag):
            fresh.load_state_dict(bad)
    with pytest.raises(ValueError, match="expected a state"):
        fresh.load_state_dict([1, 2])


def test_epoch_boundary_state_starts_next_epoch() -> None:
    a = make_loader(2)
    first = collect(a)
    state = a.state_dict()
    assert state["in_epoch"] is False and state["position"] == 0 and state["epoch"] == 1
    second = collect(a)
    b = make_loader(77)
    b.load_state_dict(state)
    assert same(collect(b), second) and not same(first, second)
