"""chainrule.cli.config: TOML configurations (load, resolve, validate, overrides, dump)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule.cli.config import (
    DATASETS,
    ConfigError,
    apply_overrides,
    config_differences,
    dump_config,
    load_config,
    parse_value,
    resolve_config,
)
from chainrule.cli.config import _toml_module as _toml

tomllib = _toml()  # tomllib (3.11+) or tomli

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


# ---- defaults, idempotence, round trips ----
def test_defaults_are_complete_and_concrete() -> None:
    c = resolve_config({})
    assert c["name"] == "small_cnn-digits" and c["seed"] == 0 and c["runs_dir"] == "runs"
    assert c["model"] == {
        "name": "small_cnn",
        "in_channels": 1,
        "num_classes": 10,
        "channels": [16, 32],
        "dropout": 0.25,
        "input_size": 8,
    }
    assert c["data"] == {
        "name": "digits",
        "validation_split": 0.1,
        "normalize": False,
        "random_crop": 0,
        "horizontal_flip": 0.0,
    }
    t = c["train"]
    assert (t["epochs"], t["batch_size"], t["optimizer"], t["lr"]) == (10, 32, "adam", 0.001)
    assert t["checkpoint_monitor"] == "val_accuracy"
    assert t["early_stopping"] == {
        "enabled": False,
        "monitor": "val_loss",
        "patience": 5,
        "min_delta": 0.0,
        "restore_best_weights": True,
    }


def test_resolving_twice_changes_nothing_and_dump_round_trips() -> None:
    c = resolve_config(
        {
            "model": {"name": "vgg_small", "channels": [8, 16]},
            "data": {"name": "fashion_mnist", "train_samples": 100},
            "train": {
                "optimizer": "SGD",
                "momentum": 0.9,
                "nesterov": True,
                "scheduler": "cosine",
                "scheduler_args": {"eta_min": 1e-5},
                "early_stopping": {"enabled": True, "patience": 2},
            },
            "tune": {"trials": 4, "space": {"lr": {"low": 1e-4, "log": True}}},
        }
    )
    assert resolve_config(c) == c
    text = dump_config(c)
    assert tomllib.loads(text) == c
    assert resolve_config(tomllib.loads(text)) == c
    assert c["data"]["name"] == "fashion-mnist" and c["train"]["optimizer"] == "sgd"
    assert c["model"]["input_size"] == 28 and c["model"]["channels"] == [8, 16]


def test_load_config_reads_toml(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('name = "x"\n[train]\nepochs = 3\nlr = 1e-2\n')
    assert load_config(p) == {"name": "x", "train": {"epochs": 3, "lr": 0.01}}


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.toml not found"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(FileNotFoundError, match="not a file"):
        load_config(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochs = = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML: .*line 2"):
        load_config(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="bin.toml"):
        load_config(binary)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_example_configs_resolve(path: Path) -> None:
    c = resolve_config(load_config(path))
    assert c["data"]["name"] in DATASETS
    assert tomllib.loads(dump_config(c)) == c


def test_every_key_is_documented() -> None:
    from chainrule.cli.config import EARLY_STOPPING, SCHEMA

    doc = (CONFIGS.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = [k for table in SCHEMA.values() for k in table] + list(EARLY_STOPPING)
    missing = [k for k in keys if f"| `{k}` |" not in doc]
    assert not missing, f"docs/configuration.md does not describe {missing}"


def test_example_configs_exist() -> None:
    names = {p.name for p in CONFIGS.glob("*.toml")}
    assert {"digits_cnn.toml", "fashion_lenet5.toml", "fashion_vgg.toml"} <= names


# ---- unknown keys: the nearest valid one ----
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"train": {"learnig_rate": 0.1}},
            r"unknown key 'learnig_rate' in \[train\]; did you "
            r"mean 'lr'\?",
        ),
        ({"train": {"learning_rate": 0.1}}, r"did you mean 'lr'\?"),
        ({"train": {"epoch": 3}}, r"did you mean 'epochs'\?"),
        ({"train": {"bach_size": 3}}, r"did you mean 'batch_size'\?"),
        ({"lr": 0.1}, r"unknown key 'lr' in the top level; 'lr' belongs in \[train\]"),
        ({"trian": {}}, r"did you mean 'train'\?"),
        ({"data": {"validation_splt": 0.2}}, r"did you mean 'validation_split'\?"),
        ({"model": {"name": "vgg_small", "dropot": 0.1}}, r"did you mean 'dropout'\?"),
        ({"train": {"early_stopping": {"patiense": 3}}}, r"did you mean 'patience'\?"),
        (
            {"train": {"scheduler": "cosine", "scheduler_args": {"tmax": 3}}},
            r"'tmax' in train.scheduler_args for cosine \(CosineAnnealingLR\); did you mean "
            r"'T_max'\?",
        ),
        ({"train": {"zzzz": 1}}, r"unknown key 'zzzz' in \[train\] \(valid keys: "),
    ],
)
def test_unknown_keys_suggest_the_nearest(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(config)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"model": {"name": "lenet"}},
            r"unknown model 'lenet' for model.name; did you mean "
            r"'lenet5'\?",
        ),
        ({"data": {"name": "fashion"}}, r"did you mean 'fashion-mnist'\?"),
        ({"train": {"optimizer": "adamm"}}, r"did you mean 'adam'\?"),
        ({"train": {"scheduler": "cosin"}}, r"did you mean 'cosine'\?"),
        ({"train": {"loss": "cross_entropi"}}, r"did you mean 'cross_entropy'\?"),
        ({"train": {"metrics": ["acuracy"]}}, r"train.metrics: unknown metric 'acuracy'"),
    ],
)
def test_unknown_names_suggest_the_nearest(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(config)


# ---- types and ranges ----
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"train": {"epochs": "5"}}, r"train.epochs must be an integer, got str '5'"),
        ({"train": {"epochs": True}}, r"train.epochs must be an integer, got bool"),
        ({"train": {"epochs": 2.5}}, r"train.epochs must be an integer"),
        ({"train": {"lr": "fast"}}, r"train.lr must be a number"),
        ({"train": {"lr": math.inf}}, r"train.lr must be a finite number"),
        ({"data": {"normalize": 1}}, r"data.normalize must be true or false"),
        ({"train": {"metrics": [1]}}, r"train.metrics must be a list of strings"),
        ({"train": {"betas": "x"}}, r"train.betas must be a list of numbers"),
        ({"seed": -1}, r"seed must be an integer >= 0"),
        ({"name": "  "}, r"name must be a non-empty string"),
        ({"train": {"epochs": 0}}, r"train.epochs must be a positive integer"),
        ({"train": {"batch_size": 0}}, r"train.batch_size must be a positive integer"),
        ({"train": {"lr": 0}}, r"train.lr must be > 0"),
        ({"train": {"backup_every": -1}}, r"train.backup_every must be a number of steps"),
        ({"data": {"validation_split": 1.0}}, r"data.validation_split must be in \[0, 1\)"),
        ({"data": {"train_samples": 0}}, r"data.train_samples must be a positive integer"),
        ({"data": {"horizontal_flip": 2}}, r"data.horizontal_flip must be a probability"),
        ({"data": {"random_crop": -1}}, r"data.random_crop must be a number of pixels"),
        ({"train": {"momentum": 0.9}}, r"train.momentum applies to sgd and rmsprop, not adam"),
        (
            {"train": {"optimizer": "sgd", "nesterov": True}},
            r"nesterov needs optimizer 'sgd' "
            r"with momentum > 0",
        ),
        ({"train": {"optimizer": "sgd", "betas": [0.8, 0.9]}}, r"betas applies to adam"),
        ({"train": {"betas": [0.9]}}, r"train.betas must be two numbers in \[0, 1\)"),
        (
            {"train": {"scheduler_args": {"T_max": 2}}},
            r"scheduler_args given but "
            r"train.scheduler is 'none'",
        ),
        (
            {"train": {"checkpoint_monitor": "val_f1"}},
            r"checkpoint_monitor 'val_f1' is not "
            r"logged",
        ),
        (
            {
                "data": {"validation_split": 0.0},
                "train": {"early_stopping": {"monitor": "val_loss"}},
            },
            r"early_stopping.monitor 'val_loss' is not logged; logged keys: loss, accuracy",
        ),
        ({"data": {"batch_size": 8}, "train": {"batch_size": 16}}, r"disagree"),
        ({"train": 3}, r"\[train\] must be a table"),
        ({"model": {"name": "mlp", "hidden": 5}}, r"model.hidden must be a list"),
        ({"model": {"name": "vgg_small", "hidden": "big"}}, r"model.hidden must be an integer"),
    ],
)
def test_bad_values_are_named(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(config)


def test_ints_are_accepted_for_floats() -> None:
    c = resolve_config({"train": {"lr": 1, "betas": [0, 0]}})
    assert c["train"]["lr"] == 1.0 and isinstance(c["train"]["lr"], float)
    assert c["train"]["betas"] == [0.0, 0.0]


# ---- derived defaults ----
@pytest.mark.parametrize(
    ("opt", "lr", "wd"),
    [
        ("sgd", 0.01, 0.0),
        ("adam", 1e-3, 0.0),
        ("adamw", 1e-3, 1e-2),
        ("nadam", 2e-3, 0.0),
        ("rmsprop", 1e-2, 0.0),
        ("adagrad", 1e-2, 0.0),
        ("adadelta", 1.0, 0.0),
    ],
)
def test_optimizer_defaults(opt: str, lr: float, wd: float) -> None:
    t = resolve_config({"train": {"optimizer": opt}})["train"]
    assert (t["lr"], t["weight_decay"]) == (lr, wd)


def test_model_arguments_come_from_the_dataset() -> None:
    f = resolve_config(
        {"model": {"name": "mlp", "hidden": [32]}, "data": {"name": "fashion-mnist"}}
    )["model"]
    assert (f["in_features"], f["out_features"], f["hidden"]) == (784, 10, [32])
    v = resolve_config({"model": {"name": "vgg_small"}, "data": {"name": "mnist"}})["model"]
    assert (v["input_size"], v["in_channels"], v["num_classes"]) == (28, 1, 10)
    given = resolve_config({"model": {"name": "small_cnn", "input_size": 16}})["model"]
    assert given["input_size"] == 16  # what the user wrote wins
    assert resolve_config({"model": {"name": "VGG-Small"}})["model"]["name"] == "vgg_small"


def test_monitors_follow_the_validation_split_and_metrics() -> None:
    t = resolve_config({"data": {"validation_split": 0}})["train"]
    assert t["checkpoint_monitor"] == "accuracy" and t["early_stopping"]["monitor"] == "loss"
    t = resolve_config({"train": {"metrics": []}})["train"]
    assert t["checkpoint_monitor"] == "val_loss"
    t = resolve_config({"train": {"scheduler": "onecycle"}})["train"]
    assert t["scheduler_interval"] == "step"


def test_data_batch_size_moves_to_train() -> None:
    c = resolve_config({"data": {"batch_size": 64}})
    assert c["train"]["batch_size"] == 64 and "batch_size" not in c["data"]


def test_builder_is_checked_but_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = tmp_path / "canary"
    (tmp_path / "evil_mod.py").write_text(
        f"open({str(canary)!r}, 'w').write('ran')\ndef build(**kw):\n    return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    c = resolve_config({"model": {"builder": "evil_mod:build", "width": 3}})
    assert c["model"] == {"builder": "evil_mod:build", "width": 3}
    assert "evil_mod" not in sys.modules and not canary.exists()
    assert c["name"] == "custom-digits"
    with pytest.raises(ConfigError, match="must look like 'module:function'"):
        resolve_config({"model": {"builder": "os.system('x')"}})
    with pytest.raises(ConfigError, match="either name .* or builder"):
        resolve_config({"model": {"builder": "a:b", "name": "mlp"}})


def test_tune_table_passes_through_unvalidated() -> None:
    tune = {"trials": 8, "anything": {"nested": [1, 2]}, "learnig_rate": 3}
    assert resolve_config({"tune": tune})["tune"] == tune
    assert "tune" not in resolve_config({})


# ---- overrides ----
def test_overrides_dotted_and_nested() -> None:
    base = {"train": {"lr": 0.1, "epochs": 2}, "model": {"name": "mlp"}}
    out = apply_overrides(
        base,
        {
            "train.lr": 0.5,
            "model": {"hidden": [3]},
            "seed": None,
            "train.early_stopping.patience": 4,
        },
    )
    assert out == {
        "train": {"lr": 0.5, "epochs": 2, "early_stopping": {"patience": 4}},
        "model": {"name": "mlp", "hidden": [3]},
    }
    assert base == {"train": {"lr": 0.1, "epochs": 2}, "model": {"name": "mlp"}}  # untouched
    with pytest.raises(ConfigError, match="train.lr is a value, not a table"):
        apply_overrides(base, {"train.lr.x": 1})
    c = resolve_config({"train": {"lr": 0.1}}, {"train.lr": 0.2, "train.epochs": 4})
    assert (c["train"]["lr"], c["train"]["epochs"]) == (0.2, 4)
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        resolve_config({}, {"train.learnig_rate": 1})


def test_parse_value() -> None:
    assert parse_value("3") == 3 and parse_value("1e-3") == 0.001
    assert parse_value("true") is True and parse_value("[32, 64]") == [32, 64]
    assert parse_value('"quoted"') == "quoted" and parse_value("adam") == "adam"
    assert parse_value("{a = 1}") == {"a": 1}


def test_config_differences() -> None:
    a = resolve_config({})
    b = resolve_config({"train": {"epochs": 3, "batch_size": 16}})
    assert config_differences(a, b) == ["train.batch_size: 32 -> 16", "train.epochs: 10 -> 3"]
    assert config_differences(a, a) == []
    assert config_differences({"x": 1}, {"y": 2}) == ["x: 1 -> <absent>", "y: <absent> -> 2"]
    assert config_differences({"name": "a"}, {"name": "b"}, ignore=("name",)) == []


# ---- the TOML writer ----
def test_dump_config_strings_and_special_values() -> None:
    c = {
        "s": 'quote " backslash \\ newline \n tab \t bell \x07 é ✓',
        "inf": math.inf,
        "ninf": -math.inf,
        "odd key": 1,
        "t": {"inline": [{"a": 1}, {"b": [1.5]}], "empty": {}},
        "none": None,
    }
    back = tomllib.loads(dump_config(c))
    assert back["s"] == c["s"] and back["inf"] == math.inf and back["ninf"] == -math.inf
    assert back["odd key"] == 1 and back["t"] == {"inline": [{"a": 1}, {"b": [1.5]}], "empty": {}}
    assert "none" not in back
    assert math.isnan(tomllib.loads(dump_config({"x": math.nan}))["x"])
    with pytest.raises(ConfigError, match="x holds object"):
        dump_config({"x": object()})


_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
_keys = st.text(min_size=1, max_size=8)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=12,
)


@given(st.dictionaries(_keys, _values, max_size=5))
def test_dump_config_round_trips_any_toml_data(data: dict) -> None:
    assert tomllib.loads(dump_config(data)) == data


def test_cli_names_follow_the_library() -> None:
    """The configuration's closed lists are the library's: a new optimizer, schedule or
    dataset cannot be added to one and forgotten in the other."""
    import chainrule as cr
    from chainrule.cli.config import DATASETS, OPTIMIZERS, SCHEDULERS

    assert sorted(OPTIMIZERS) == sorted(cr.optim.OPTIMIZERS)
    for name, cls in SCHEDULERS.items():
        assert cls is None if name == "none" else hasattr(cr.optim.lr_scheduler, cls), name
    assert {n.replace("-", "_") for n in DATASETS} <= {d.name for d in cr.data.available()}
