"""``History``: the per-epoch record that ``fit`` returns (Keras's ``History``).

``history.history`` maps each log key (``loss``, metrics, ``val_loss``, ``val_<metric>``,
``lr`` when a scheduler runs) to one float per epoch; ``history.epoch`` lists the epoch
indices (0-based, as Keras). Each ``fit`` call returns a new ``History`` (as Keras), except
that a run resumed by ``BackupAndRestore`` continues the record of the interrupted one.
"""

from __future__ import annotations

import os
from typing import Any

from chainrule.training.callbacks import Callback

__all__ = ["History"]


class History(Callback):
    """Records every epoch's logs; returned by ``fit``.

    Example:
        >>> h = History()
        >>> h.on_train_begin()
        >>> h.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.7})
        >>> h.history
        {'loss': [0.5], 'val_loss': [0.7]}
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(_plain(v))

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {str(k): [_plain(x) for x in v] for k, v in state["history"].items()}

    def plot(
        self, path: str | os.PathLike | None = None, metrics: Any = None, title: str | None = None
    ) -> Any:
        """Plot the curves, one panel per metric with its ``val_`` twin (matplotlib).

        Args:
            path: save the figure there (PNG, PDF, SVG... by extension); ``None`` only
                returns it.
            metrics: names to plot (default: every key without the ``val_`` prefix).
            title: a title for the figure.

        Returns:
            The ``matplotlib.figure.Figure`` (built without pyplot, so no global state and
            no display is needed).

        Raises:
            ValueError: nothing recorded yet, or an unknown metric name (the known ones are
                listed).
        """
        if not self.history:
            raise ValueError("History.plot: nothing to plot; fit() has not recorded an epoch")
        names = [k for k in self.history if not k.startswith("val_")]
        names += [k[4:] for k in self.history if k.startswith("val_") and k[4:] not in names]
        if metrics is not None:
            wanted = [metrics] if isinstance(metrics, str) else list(metrics)
            unknown = [m for m in wanted if m not in names and m not in self.history]
            if unknown:
                raise ValueError(
                    f"History.plot: unknown metric(s) {unknown}; recorded: {sorted(self.history)}"
                )
            names = [m.removeprefix("val_") if m not in names else m for m in wanted]
        from chainrule.viz import figure, save_figure

        fig = figure((4.5 * len(names), 3.6), owner="History.plot", layout="constrained")
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names):
            for key, style in ((name, "-o"), (f"val_{name}", "--s")):
                if key in self.history:
                    ys = self.history[key]
                    xs = (
                        [e + 1 for e in self.epoch[-len(ys) :]]
                        if self.epoch
                        else list(range(1, len(ys) + 1))
                    )
                    ax.plot(xs, ys, style, markersize=3, label=key)
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.set_title(name)
            ax.grid(True, alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        if path is not None:
            save_figure(fig, path)
        return fig

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _plain(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return v
