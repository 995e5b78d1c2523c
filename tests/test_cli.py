"""The ``chainrule`` command line through the real console script, in subprocesses.

One tiny training run on the bundled digits (module fixture) feeds the evaluate, predict and
summary tests; every answer is checked against the same model rebuilt here in-process from
the zoo and the saved weights. Every error path: exit code 2, one line on stderr, no
traceback (RELIABILITY A20, A21, D3, D4).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.config import load_config, resolve_config
from chainrule.cli.runner import sanitize_name
from cli_helpers import TINY, assert_one_line_error, cli, popen, weights

ROOT = Path(__file__).resolve().parent.parent
PIL = pytest.importorskip("PIL.Image", reason="the image tests need Pillow (chainrule[image])")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``chainrule train`` for one tiny epoch; its folder and its output."""
    cwd = tmp_path_factory.mktemp("cli")
    r = cli("train", *TINY, "--runs-dir", "runs", "--name", "../../escape me", cwd=cwd)
    assert r.rc == 0, r.err
    folders = list((cwd / "runs").iterdir())
    assert len(folders) == 1
    return {"cwd": cwd, "dir": folders[0], "out": r.out, "err": r.err}


def _model(run_dir: Path) -> cr.nn.Module:
    """The run's model, rebuilt here from the zoo and its final weights."""
    cfg = resolve_config(load_config(run_dir / "config.toml"))
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg["model"].items() if k != "name"}
    model = cr.models.get_model(cfg["model"]["name"], **kw)
    model.load_state_dict(weights(run_dir / "checkpoints" / "model.safetensors"))
    return model.eval()


def _logits(model: cr.nn.Module, x: np.ndarray) -> np.ndarray:
    with cr.no_grad():
        return model(cr.tensor(x.astype(np.float32))).data


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- train ----
def test_train_writes_the_run_folder(run: dict) -> None:
    d: Path = run["dir"]
    assert d.parent == run["cwd"] / "runs"  # D4: the name cannot leave runs/
    assert re.fullmatch(r"escape-me-\d{8}-\d{6}", d.name), d.name
    for rel in (
        "config.toml",
        "metrics.csv",
        "results.json",
        "checkpoints/model.safetensors",
        "checkpoints/best.safetensors",
        "checkpoints/run.json",
    ):
        assert (d / rel).is_file(), rel
    assert list((d / "checkpoints" / "backup").glob("backup-*.safetensors"))
    cfg = load_config(d / "config.toml")
    assert resolve_config(cfg) == cfg  # stored resolved
    assert cfg["data"]["train_samples"] == 200 and cfg["train"]["epochs"] == 1
    rows = (d / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",") == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(rows) == 2 and rows[1].startswith("0,")


def test_train_prints_where_everything_is_and_the_test_accuracy(run: dict) -> None:
    d: Path = run["dir"]
    lines = run["out"].strip().splitlines()
    assert lines[0] == f"Run folder: {Path('runs') / d.name}"
    assert lines[-5] == lines[0]
    assert "plots/loss.png" in lines[-2] and "plots/samples.png" in lines[-2]
    m = re.fullmatch(r"Test accuracy: ([\d.]+)% on 60 test images \(loss ([\d.]+)\)", lines[-1])
    assert m, lines[-1]
    # the printed accuracy is the saved model's accuracy on the first 60 test digits
    _, (xt, yt) = cr.data.digits()
    logits = _logits(_model(d), xt[:60])
    assert float(m.group(1)) == pytest.approx(100 * np.mean(logits.argmax(1) == yt[:60]), abs=0.006)
    loss = float(cr.nn.functional.cross_entropy(cr.tensor(logits), cr.tensor(yt[:60])).data)
    assert float(m.group(2)) == pytest.approx(loss, abs=1e-4)
    res = json.loads((d / "results.json").read_text())
    assert res["final"]["test_accuracy"] == pytest.approx(float(m.group(1)) / 100, abs=1e-4)
    assert sum(c["support"] for c in res["per_class"]) == 60
    assert np.array(res["confusion_matrix"]).sum() == 60


def test_train_plots_are_real_pngs(run: dict) -> None:
    from PIL import Image

    names = sorted(p.name for p in (run["dir"] / "plots").iterdir())
    assert names == ["accuracy.png", "confusion_matrix.png", "loss.png", "samples.png"]
    for name in names:
        with Image.open(run["dir"] / "plots" / name) as im:
            assert im.format == "PNG" and im.width >= 500 and im.height >= 400, name
            # not a blank image: several distinct colours
            assert len(im.convert("RGB").getcolors(1 << 20) or ()) > 20, name


def test_flags_override_the_config(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[train]\nepochs = 7\nlr = 0.5\n[data]\ntrain_samples = 100\ntest_samples = 20\n"
    )
    r = cli(
        "train",
        cfg,
        "--epochs",
        "1",
        "--lr",
        "0.01",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
        "--set",
        "model.dropout=0.0",
        "--batch-size",
        "50",
        "--seed",
        "3",
        "--run-dir",
        "out",
        "--quiet",
        cwd=tmp_path,
    )
    assert r.rc == 0, r.err
    assert r.err == ""  # --quiet: no progress output
    got = load_config(tmp_path / "out" / "config.toml")
    assert (got["train"]["epochs"], got["train"]["lr"], got["train"]["optimizer"]) == (
        1,
        0.01,
        "sgd",
    )
    assert (got["train"]["momentum"], got["train"]["batch_size"], got["seed"]) == (0.9, 50, 3)
    assert got["model"]["dropout"] == 0.0 and got["data"]["train_samples"] == 100


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    import subprocess

    p = subprocess.run(
        [sys.executable, "-m", "chainrule", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert p.returncode == 0 and p.stdout.strip() == f"chainrule {cr.__version__}"
    r = cli(cwd=tmp_path)  # no command: the help, exit 2
    assert r.rc == 2 and "train" in r.out and "resume" in r.out


# ---- evaluate ----
def _report(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0].isdigit():
            rows[parts[0]] = parts[1:]
    return rows


def test_evaluate_prints_metrics_and_per_class_table(run: dict) -> None:
    r = cli("evaluate", run["dir"], cwd=run["cwd"])
    assert r.rc == 0, r.err
    _, (xt, yt) = cr.data.digits()
    pred = _logits(_model(run["dir"]), xt[:60]).argmax(1)
    acc = np.mean(pred == yt[:60])
    assert f"accuracy: {acc:.4f}" in r.out
    assert re.search(rf"^accuracy\s+{acc:.4f}\s+60$", r.out, re.M)
    rows = _report(r.out)
    assert sorted(rows) == [str(i) for i in range(10)]
    p = cr.metrics.precision(yt[:60], pred, average=None, num_classes=10)
    rec = cr.metrics.recall(yt[:60], pred, average=None, num_classes=10)
    f1 = cr.metrics.f1_score(yt[:60], pred, average=None, num_classes=10)
    for c in range(10):
        got = [float(v) for v in rows[str(c)]]
        assert got[:3] == pytest.approx([p[c], rec[c], f1[c]], abs=6e-5)
        assert got[3] == np.sum(yt[:60] == c)
    macro = re.search(r"^macro avg\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+60$", r.out, re.M)
    present = [c for c in range(10) if np.sum(yt[:60] == c) or np.sum(pred == c)]
    assert float(macro.group(3)) == pytest.approx(np.mean(f1[present]), abs=6e-5)


def test_evaluate_a_checkpoint_file_and_the_best_weights(run: dict) -> None:
    folder = cli("evaluate", run["dir"], cwd=run["cwd"])
    ckpt = cli("evaluate", run["dir"] / "checkpoints" / "model.safetensors", cwd=run["cwd"])
    assert ckpt.rc == 0 and ckpt.out.splitlines()[1:] == folder.out.splitlines()[1:]
    best = cli(
        "evaluate",
        run["dir"] / "checkpoints" / "best.safetensors",
        "--split",
        "validation",
        cwd=run["cwd"],
    )
    assert best.rc == 0, best.err
    assert "digits validation split, 20 images" in best.out


# ---- predict ----
def _sample_png(path: Path, img: np.ndarray, scale: int = 1) -> None:
    """A digit as dark strokes on a white background (as people draw them)."""
    from PIL import Image

    pixels = np.round(255 * (1.0 - img)).astype(np.uint8)
    if scale > 1:
        pixels = np.kron(pixels, np.ones((scale, scale), np.uint8))
    Image.fromarray(pixels, mode="L").convert("RGB").save(path)


def _top(line: str) -> tuple[str, float]:
    m = re.search(r"\s{2}(\S+) ([\d.]+)%", line)
    assert m, line
    return m.group(1), float(m.group(2))


def test_predict_png_and_npy(run: dict, tmp_path: Path) -> None:
    from PIL import Image

    _, (xt, _) = cr.data.digits()
    model = _model(run["dir"])
    exact = tmp_path / "exact.png"
    _sample_png(exact, xt[0, 0])  # already 8x8: only inverted and quantised
    big = tmp_path / "big.png"
    _sample_png(big, xt[1, 0], scale=8)  # 64x64: resized back to 8x8
    np.save(tmp_path / "three.npy", xt[2:5])
    np.save(tmp_path / "bytes.npy", np.round(xt[5, 0] * 255).astype(np.uint8))
    r = cli(
        "predict",
        run["dir"],
        exact,
        big,
        tmp_path / "three.npy",
        tmp_path / "bytes.npy",
        "--top-k",
        "2",
        cwd=tmp_path,
    )
    assert r.rc == 0, r.err
    lines = r.out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == [str(exact), str(big)] + [
        f"{tmp_path / 'three.npy'}[{i}]" for i in range(3)
    ] + [str(tmp_path / "bytes.npy")]
    assert all(ln.count("%") == 2 for ln in lines)
    q = np.round(xt[0, 0] * 255) / 255
    with Image.open(big) as im:
        small = im.convert("L").resize((8, 8), Image.Resampling.LANCZOS)
    b = 1.0 - np.asarray(small, np.float32) / 255
    inputs = np.stack([q[None], b[None], *xt[2:5], (np.round(xt[5] * 255) / 255)])
    probs = _softmax(_logits(model, inputs))
    for line, p in zip(lines, probs):
        name, pct = _top(line)
        assert name == str(int(p.argmax())), line
        assert pct == pytest.approx(100 * p.max(), abs=0.051), line


def test_predict_fashion_class_names(tmp_path: Path) -> None:
    """Class names come from the dataset the model was trained on (no training needed: a
    run folder with a config and freshly initialised weights)."""
    d = tmp_path / "run"
    (d / "checkpoints").mkdir(parents=True)
    cfg = resolve_config({"model": {"name": "lenet5"}, "data": {"name": "fashion-mnist"}})
    from chainrule.cli.config import dump_config

    (d / "config.toml").write_text(dump_config(cfg))
    model = cr.models.lenet5()
    cr.io.save(model.state_dict(), d / "checkpoints" / "model.safetensors")
    np.save(tmp_path / "x.npy", np.zeros((28, 28), np.float32))
    r = cli("predict", d, tmp_path / "x.npy", "-k", "10", cwd=tmp_path)
    assert r.rc == 0, r.err
    for name in ("T-shirt/top", "Trouser", "Ankle boot", "Bag"):
        assert name in r.out


# ---- summary, datasets ----
def test_summary_of_a_config_and_of_a_run(run: dict) -> None:
    r = cli("summary", ROOT / "configs" / "digits_cnn.toml", cwd=run["cwd"])
    assert r.rc == 0, r.err
    assert "Total params: 9,978" in r.out and "small_cnn for digits (1x8x8 inputs" in r.out
    r = cli("summary", ROOT / "configs" / "fashion_lenet5.toml", cwd=run["cwd"])
    assert r.rc == 0 and "Total params: 61,706" in r.out
    r = cli("summary", run["dir"], cwd=run["cwd"])
    assert r.rc == 0 and "Total params: 9,978" in r.out and "model.safetensors" in r.out


def test_datasets_lists_where_they_are(tmp_path: Path) -> None:
    r = cli("datasets", cwd=tmp_path)
    assert r.rc == 0, r.err
    rows = {ln.split()[0]: ln.split()[1] for ln in r.out.splitlines()[1:] if ln.strip()}
    assert rows["digits"] == "yes" and "fashion-mnist" in rows and "mnist" in rows
    expected = "yes" if cr.data.available()[1].available else "no"
    assert rows["fashion-mnist"] == expected


# ---- errors: one line, exit 2 ----
def test_error_unknown_model_and_options(tmp_path: Path) -> None:
    assert_one_line_error(
        cli("train", "--model", "lenet", cwd=tmp_path),
        "unknown model 'lenet'",
        "did you mean 'lenet5'?",
    )
    assert_one_line_error(
        cli("train", "--epochz", "3", cwd=tmp_path),
        "unknown option --epochz",
        "did you mean --epochs?",
    )
    assert_one_line_error(cli("train", "--epochs", "x", cwd=tmp_path), "invalid int value")
    assert_one_line_error(cli("frobnicate", cwd=tmp_path), "invalid choice")
    assert_one_line_error(cli("train", "--set", "noequals", cwd=tmp_path), "KEY=VALUE")
    assert_one_line_error(
        cli("train", "--model", "lenet5", "--epochs", "1", cwd=tmp_path),
        "model lenet5 cannot take digits images of shape (1, 8, 8)",
    )
    assert not (tmp_path / "runs").exists()  # nothing was created for a failed start


def test_error_bad_config_file(tmp_path: Path) -> None:
    (tmp_path / "typo.toml").write_text("[train]\nlearnig_rate = 0.1\n")
    assert_one_line_error(
        cli("train", "typo.toml", cwd=tmp_path),
        "unknown key 'learnig_rate' in [train]",
        "did you mean 'lr'?",
    )
    assert_one_line_error(
        cli("train", "--set", "train.learnig_rate=0.1", cwd=tmp_path), "did you mean 'lr'?"
    )
    (tmp_path / "broken.toml").write_text("[train\nepochs = 1\n")
    assert_one_line_error(cli("train", "broken.toml", cwd=tmp_path), "broken.toml: invalid TOML")
    assert_one_line_error(
        cli("train", "nothere.toml", cwd=tmp_path), "config file nothere.toml not found"
    )
    assert_one_line_error(cli("summary", "typo.toml", cwd=tmp_path), "did you mean 'lr'?")


def test_error_missing_dataset(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    line = assert_one_line_error(
        cli(
            "train",
            "--data",
            "mnist",
            "--data-root",
            empty,
            cwd=tmp_path,
            CHAINRULE_DATA=str(empty),
            HOME=str(tmp_path),
        ),
        "mnist not found",
        "Looked in",
        "chainrule never downloads",
    )
    assert str(empty) in line
    assert not (tmp_path / "runs").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    r = cli("train", "--model", "lenet", "--debug", cwd=tmp_path)
    assert r.rc != 0 and "Traceback" in r.err and "did you mean 'lenet5'" in r.err


def test_error_bad_inputs_for_predict(run: dict, tmp_path: Path) -> None:
    d = run["dir"]
    assert_one_line_error(
        cli("predict", d, tmp_path / "none.png", cwd=tmp_path), "none.png: no such file"
    )
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert_one_line_error(
        cli("predict", d, tmp_path / "junk.png", cwd=tmp_path), "junk.png", "image"
    )
    (tmp_path / "notes.txt").write_text("hi")
    assert_one_line_error(
        cli("predict", d, tmp_path / "notes.txt", cwd=tmp_path), "unknown input type .txt"
    )
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5), np.float32))
    assert_one_line_error(
        cli("predict", d, tmp_path / "wrong.npy", cwd=tmp_path), "wrong.npy", "(3, 5)", "(1, 8, 8)"
    )
    np.save(tmp_path / "nan.npy", np.full((8, 8), np.nan, np.float32))
    assert_one_line_error(cli("predict", d, tmp_path / "nan.npy", cwd=tmp_path), "NaN")
    assert_one_line_error(
        cli("predict", d, tmp_path / "nan.npy", "-k", "0", cwd=tmp_path), "--top-k must be >= 1"
    )
    assert_one_line_error(
        cli("predict", tmp_path / "nowhere", tmp_path / "nan.npy", cwd=tmp_path),
        "no such run folder or checkpoint",
    )


class _Boom:
    def __reduce__(self):  # noqa: ANN204
        import os

        return (os.system, (f"touch {_Boom.canary}",))


def test_error_object_array_is_refused_without_running_code(run: dict, tmp_path: Path) -> None:
    """A21: a .npy holding a pickled object array is refused; its payload never runs."""
    canary = tmp_path / "canary"
    _Boom.canary = canary
    arr = np.empty(1, dtype=object)
    arr[0] = _Boom()
    np.save(tmp_path / "evil.npy", arr, allow_pickle=True)
    assert_one_line_error(
        cli("predict", run["dir"], tmp_path / "evil.npy", cwd=tmp_path), "evil.npy", "object array"
    )
    assert not canary.exists()


def test_error_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    for cmd in ("evaluate", "resume"):
        assert_one_line_error(
            cli(cmd, tmp_path / "plain", cwd=tmp_path), "is not a chainrule run folder"
        )
    assert_one_line_error(cli("resume", tmp_path / "absent", cwd=tmp_path), "no such run folder")
    foreign = tmp_path / "w.safetensors"
    cr.io.save({"w": np.zeros(2, np.float32)}, foreign)
    assert_one_line_error(
        cli("evaluate", foreign, cwd=tmp_path), "carries no chainrule run configuration"
    )
    (tmp_path / "fake.safetensors").write_bytes(b"\x00" * 20)
    assert_one_line_error(
        cli("evaluate", tmp_path / "fake.safetensors", cwd=tmp_path), "fake.safetensors"
    )


def test_non_finite_weights_are_reported(run: dict, tmp_path: Path) -> None:
    """D7: NaN weights load (the format allows them) and evaluate says so, in one line."""
    d = tmp_path / "nan"
    (d / "checkpoints").mkdir(parents=True)
    (d / "config.toml").write_text((run["dir"] / "config.toml").read_text())
    w = weights(run["dir"] / "checkpoints" / "model.safetensors")
    w["classifier.2.bias"] = np.full_like(w["classifier.2.bias"], np.nan)
    cr.io.save(w, d / "checkpoints" / "model.safetensors")
    r = cli("evaluate", d, cwd=tmp_path)
    assert r.rc == 0, r.err
    assert r.err_lines == [
        f"chainrule: warning: {d / 'checkpoints' / 'model.safetensors'}: the "
        "weights contain 10 non-finite values (NaN or inf); the model's "
        "outputs will be meaningless"
    ]


def test_error_symlinked_weights_are_refused(run: dict, tmp_path: Path) -> None:
    """D4: a run folder whose weights file is a link is not followed."""
    d = tmp_path / "linked"
    (d / "checkpoints").mkdir(parents=True)
    (d / "config.toml").write_text((run["dir"] / "config.toml").read_text())
    (d / "checkpoints" / "model.safetensors").symlink_to(
        run["dir"] / "checkpoints" / "model.safetensors"
    )
    assert_one_line_error(cli("evaluate", d, cwd=tmp_path), "symbolic link")


# ---- code named in a configuration (D3) ----
_BUILDER = """\
import pathlib
pathlib.Path({canary!r}).write_text("imported")

def build(width=8):
    import chainrule as cr
    nn = cr.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))
"""


def test_code_in_a_config_needs_allow_code(run: dict, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    (tmp_path / "my_models.py").write_text(_BUILDER.format(canary=str(canary)))
    (tmp_path / "code.toml").write_text('[model]\nbuilder = "my_models:build"\nwidth = 12\n')
    for cmd in (["train", "code.toml"], ["summary", "code.toml"]):
        assert_one_line_error(cli(*cmd, cwd=tmp_path), "--allow-code", "my_models:build")
    assert not canary.exists()
    r = cli(
        "train", "code.toml", *TINY, "--run-dir", "coded", "--allow-code", "--quiet", cwd=tmp_path
    )
    assert r.rc == 0, r.err
    assert canary.exists() and "Test accuracy" in r.out
    canary.unlink()
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((8, 8), np.float32))
    for cmd in (
        ["resume", "coded"],
        ["evaluate", "coded"],
        ["predict", "coded", x],
        ["summary", "coded"],
    ):
        assert_one_line_error(cli(*cmd, cwd=tmp_path), "--allow-code")
    assert not canary.exists()
    r = cli("evaluate", "coded", "--allow-code", cwd=tmp_path)
    assert r.rc == 0 and "accuracy" in r.out and canary.exists()


def test_evil_run_folder_never_runs_its_code(tmp_path: Path) -> None:
    """D3 as RELIABILITY writes it: a run folder whose stored config names evil_mod:build,
    with evil_mod.py next to it writing a canary."""
    canary = tmp_path / "canary"
    d = tmp_path / "run"
    (d / "checkpoints").mkdir(parents=True)
    (d / "config.toml").write_text('[model]\nbuilder = "evil_mod:build"\n')
    (d / "checkpoints" / "run.json").write_text("{}")
    for where in (tmp_path, d):
        (where / "evil_mod.py").write_text(
            f"open({str(canary)!r}, 'w').write('x')\ndef build(**kw):\n    raise SystemExit(0)\n"
        )
    np.save(tmp_path / "x.npy", np.zeros((8, 8), np.float32))
    for cmd in (["resume", d], ["evaluate", d], ["predict", d, tmp_path / "x.npy"]):
        assert_one_line_error(cli(*cmd, cwd=tmp_path), "refused", "--allow-code")
    assert not canary.exists()


# ---- without matplotlib; interrupted ----
def test_training_works_without_matplotlib(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    r = cli("train", *TINY, "--run-dir", "out", cwd=tmp_path, PYTHONPATH=str(fake))
    assert r.rc == 0, r.err
    assert "Plots skipped: matplotlib is not installed" in r.err
    assert "no plots" in r.out and "Test accuracy" in r.out
    assert not (tmp_path / "out" / "plots").exists()
    assert (tmp_path / "out" / "checkpoints" / "model.safetensors").is_file()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    """B7: SIGINT mid-training: exit 130, one line naming the resume command, a consistent
    backup; resume then finishes the run."""
    p = popen(
        "train",
        *TINY,
        "--epochs",
        "2",
        "--backup-every",
        "2",
        "--run-dir",
        "run",
        "--debug-step-sleep",
        "0.2",
        cwd=tmp_path,
    )
    backups = tmp_path / "run" / "checkpoints" / "backup"
    deadline = time.time() + 120
    while not list(backups.glob("backup-*.safetensors")) and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    lines = [ln for ln in err.splitlines() if "stopped" in ln]
    assert len(lines) == 1 and "chainrule resume run" in lines[0], err
    assert "Traceback" not in err
    r = cli("resume", "run", cwd=tmp_path)
    assert r.rc == 0, r.err
    assert "Test accuracy" in r.out


def test_sanitize_name() -> None:
    assert sanitize_name("../../x") == "x"
    assert sanitize_name("/etc/passwd") == "etc-passwd"
    assert sanitize_name("a/../../b c") == "a-.-.-b-c"
    assert sanitize_name("...") == "run" and sanitize_name("") == "run"
    assert sanitize_name("ok_name-1.2") == "ok_name-1.2"
    assert len(sanitize_name("x" * 500)) == 64
    for bad in ("../../x", "a/b", "..", "\x00", "~root", "c:\\win"):
        s = sanitize_name(bad)
        assert "/" not in s and "\\" not in s and not s.startswith(".") and s not in ("..", ".")
