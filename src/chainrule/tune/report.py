"""What a study leaves: the trials table, the best config as a ready ``train`` config, plots.

Written into the study folder by :func:`write_report`:

- ``trials.csv``: one row per trial (number, state, value, each parameter, duration in
  seconds, epochs, worker, pid, a note: pruned at, retry of, failure reason);
- ``best_config.toml``: the base config with the best trial's parameters, without the
  ``[tune]`` table: ``chainrule train best_config.toml`` retrains the best model;
- ``optimization_history.png`` (each trial's value and the best so far),
  ``param_importances.png`` (Optuna's importance evaluator) and
  ``parallel_coordinate.png`` (each trial a line across the parameters, coloured by value).

Example:
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study()
    >>> study.optimize(lambda t: (t.suggest_float("train.lr", 0, 1) - 0.3) ** 2, n_trials=3)
    >>> rows = trials_table(study)
    >>> [r["state"] for r in rows]
    ['COMPLETE', 'COMPLETE', 'COMPLETE']
    >>> cfg = best_config({"train": {"lr": 0.5}, "tune": {}}, study)
    >>> cfg["train"]["lr"] == study.best_params["train.lr"], "tune" in cfg
    (True, False)
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chainrule.tune._optuna import require_optuna
from chainrule.tune.space import apply_params

__all__ = [
    "best_config",
    "format_table",
    "plot_optimization_history",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "trials_table",
    "write_report",
]


def _note(t: Any) -> str:
    notes = []
    if t.system_attrs.get("failed_trial") is not None:
        notes.append(f"retry of #{t.system_attrs['failed_trial']}")
    if t.state.name == "PRUNED" and t.intermediate_values:
        notes.append(f"pruned after epoch {max(t.intermediate_values) + 1}")
    if t.user_attrs.get("surplus"):
        notes.append("surplus (study already full)")
    if t.user_attrs.get("interrupted"):
        notes.append("interrupted")
    if t.user_attrs.get("fail_reason"):
        notes.append(str(t.user_attrs["fail_reason"]))
    return "; ".join(notes)


def trials_table(study: Any) -> list[dict[str, Any]]:
    """One dict per trial: ``number, state, value, <params...>, duration_s, epochs, worker,
    pid, note``. A pruned trial's value is its last reported epoch value."""
    trials = study.get_trials(deepcopy=False)
    names: list[str] = []
    for t in trials:
        names += [p for p in t.params if p not in names]
    rows = []
    for t in trials:
        value = t.value
        if value is None and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        duration = None
        if t.datetime_start is not None and t.datetime_complete is not None:
            duration = (t.datetime_complete - t.datetime_start).total_seconds()
        row: dict[str, Any] = {"number": t.number, "state": t.state.name, "value": value}
        row.update({p: t.params.get(p) for p in names})
        row.update(
            {
                "duration_s": duration,
                "epochs": t.user_attrs.get("epochs", len(t.intermediate_values)),
                "worker": t.user_attrs.get("worker"),
                "pid": t.user_attrs.get("pid"),
                "note": _note(t),
            }
        )
        rows.append(row)
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def format_table(rows: Sequence[Mapping[str, Any]], max_rows: int | None = 50) -> str:
    """The rows as an aligned text table (the first and last rows when there are many)."""
    if not rows:
        return "(no trials)"
    cols = [c for c in rows[0] if c not in ("pid",)]
    shown = list(rows)
    if max_rows is not None and len(rows) > max_rows:
        half = max_rows // 2
        shown = shown[:half] + [dict.fromkeys(cols, "...")] + shown[-half:]
    cells = [[_fmt(r.get(c)) for c in cols] for r in shown]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(c) for c in cells])


def best_config(base_config: Mapping[str, Any], study: Any) -> dict[str, Any]:
    """The base config with the best trial's parameters set, ``[tune]`` removed.

    Raises:
        ValueError: the study has no COMPLETE trial yet.
    """
    try:
        params = study.best_trial.params
    except ValueError:
        raise ValueError(
            f"study {study.study_name!r} has no COMPLETE trial yet, so there is no "
            "best config (run more trials, or look at trials.csv)"
        ) from None
    cfg = apply_params(base_config, params)
    cfg.pop("tune", None)
    return cfg


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _complete(study: Any) -> list[Any]:
    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state.name == "COMPLETE" and t.value is not None and math.isfinite(t.value)
    ]


def plot_optimization_history(study: Any, path: str | Path, metric: str = "objective") -> Path:
    """Each COMPLETE trial's value against its number, and the best value so far."""
    plt = _pyplot()
    trials = _complete(study)
    maximize = study.direction.name == "MAXIMIZE"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [t.number for t in trials]
    ys = [t.value for t in trials]
    best, run = [], None
    for y in ys:
        run = y if run is None else (max(run, y) if maximize else min(run, y))
        best.append(run)
    ax.plot(xs, ys, "o", label=f"trial {metric}", alpha=0.8)
    ax.step(xs, best, where="post", color="C3", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"Optimization history ({study.study_name}, {'max' if maximize else 'min'})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_param_importances(study: Any, path: str | Path) -> Path | None:
    """A bar per parameter: Optuna's importance of it for the objective (None when the study
    has too few COMPLETE trials, or a single parameter, for importances)."""
    optuna = require_optuna()
    if len(_complete(study)) < 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ImportError, ZeroDivisionError):
        return None
    if not imp:
        return None
    plt = _pyplot()
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.5 * len(names)))
    ax.barh(names, [imp[n] for n in names], color="C0")
    for i, n in enumerate(names):
        ax.text(imp[n], i, f" {imp[n]:.2f}", va="center")
    ax.set_xlabel("importance for the objective (sums to 1)")
    ax.set_ylabel("parameter")
    ax.set_title("Parameter importances")
    ax.set_xlim(0, max(1.0, max(imp.values()) * 1.15))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _axis_values(
    trials: Sequence[Any], name: str, dist: Any
) -> tuple[list[float], list[str], list[float]]:
    """Each trial's position in [0, 1] on a parameter's axis, plus tick labels/positions."""
    vals = [t.params[name] for t in trials]
    if type(dist).__name__ == "CategoricalDistribution":
        choices = list(dist.choices)
        n = max(len(choices) - 1, 1)
        return (
            [choices.index(v) / n for v in vals],
            [str(c) for c in choices],
            [i / n for i in range(len(choices))],
        )
    lo, hi = float(dist.low), float(dist.high)
    tf = math.log if dist.log else float
    a, b = tf(lo), tf(hi)
    span = (b - a) or 1.0
    ticks = [lo, hi] if lo != hi else [lo]
    return (
        [(tf(v) - a) / span for v in vals],
        [f"{v:.3g}" for v in ticks],
        [(tf(v) - a) / span for v in ticks],
    )


def plot_parallel_coordinate(
    study: Any, path: str | Path, metric: str = "objective"
) -> Path | None:
    """Each COMPLETE trial as a line through its parameter values (one vertical axis per
    parameter, log axes for log ranges) and its objective value, coloured by the value."""
    trials = _complete(study)
    if not trials:
        return None
    names: list[str] = []
    for t in trials:
        names += [p for p in t.params if p not in names]
    trials = [t for t in trials if all(n in t.params for n in names)]
    if not trials or not names:
        return None
    plt = _pyplot()
    dists = {n: trials[-1].distributions[n] for n in names}
    cols = [_axis_values(trials, n, dists[n]) for n in names]
    values = [t.value for t in trials]
    vlo, vhi = min(values), max(values)
    vspan = (vhi - vlo) or 1.0
    ypos = [[c[0][i] for c in cols] + [(values[i] - vlo) / vspan] for i in range(len(trials))]
    cmap = plt.get_cmap("viridis")
    maximize = study.direction.name == "MAXIMIZE"
    fig, ax = plt.subplots(figsize=(2.2 * (len(names) + 1) + 1, 4.8))
    order = sorted(range(len(trials)), key=lambda i: values[i] if maximize else -values[i])
    for i in order:  # the best drawn last, on top
        shade = (values[i] - vlo) / vspan
        ax.plot(
            range(len(names) + 1),
            ypos[i],
            color=cmap(shade if maximize else 1 - shade),
            alpha=0.8,
            lw=1.5,
        )
    for k, (_, labels, pos) in enumerate(cols):
        ax.axvline(k, color="k", lw=0.8)
        for lab, p in zip(labels, pos):
            ax.text(k + 0.03, p, lab, fontsize=8, va="center")
    ax.axvline(len(names), color="k", lw=0.8)
    for v in (vlo, vhi):
        ax.text(len(names) + 0.03, (v - vlo) / vspan, f"{v:.4g}", fontsize=8, va="center")
    ax.set_xticks(range(len(names) + 1))
    ax.set_xticklabels(names + [metric], rotation=0)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) + 0.5)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("position within each range (bottom = low)")
    ax.set_title(f"Parallel coordinates ({len(trials)} complete trials; brighter = better)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _write(path: Path, text: str) -> None:
    try:
        from chainrule.io import atomic_write
    except ImportError:  # safetensors (the train extra) missing: a plain write
        path.write_text(text)
        return
    atomic_write(path, text)


def dump_toml(config: Mapping[str, Any]) -> str:
    """The config as TOML text (the CLI's ``dump_config``)."""
    from chainrule.cli.config import dump_config

    return dump_config(dict(config))


def write_report(
    study: Any,
    base_config: Mapping[str, Any],
    study_dir: str | Path,
    metric: str = "objective",
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``trials.csv``, ``best_config.toml`` (when a trial is COMPLETE) and the PNG plots
    into ``study_dir``; return ``{name: path}`` of what was written."""
    out = Path(study_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    rows = trials_table(study)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    _write(out / "trials.csv", buf.getvalue())
    written["trials"] = out / "trials.csv"
    if _complete(study):
        _write(out / "best_config.toml", dump_toml(best_config(base_config, study)))
        written["best_config"] = out / "best_config.toml"
    if plots and _complete(study):
        written["optimization_history"] = plot_optimization_history(
            study, out / "optimization_history.png", metric
        )
        for name, fn in (
            ("param_importances", plot_param_importances),
            ("parallel_coordinate", plot_parallel_coordinate),
        ):
            args = (study, out / f"{name}.png") + ((metric,) if name != "param_importances" else ())
            p = fn(*args)
            if p is not None:
                written[name] = p
    return written
