"""Forecast the yearly sunspot number with a GRU, against the naive last-value forecast.

The series (statsmodels' ``sunspots`` data set: the yearly mean sunspot number 1700-2008, NOAA,
public domain) rises and falls with the ~11-year solar cycle. The task (notes 001: RNNs for
"stock price prediction" and other sequences): from the last ``window`` yearly values, predict
the next year's value.

    window of past values (window, 1) -> GRU (hidden H) -> last state -> Linear -> next value

Train on the early years (1700 to ``--split-year``), evaluate on the later ones, which the model
never saw. The last ``--val-years`` training years are held out for early stopping (notes 002,
"Early Stopping"): the weights kept are those of the epoch with the lowest validation error.
Values are standardised with the training years' mean and standard deviation. Loss: mean
squared error; optimizer: Adam; full-batch (the training windows fit in one batch).

Baseline: the naive forecast "next year = this year" (persistence), which is hard to beat on
smooth series; the GRU must beat it on the held-out years. Both are reported as RMSE and MAE in
sunspot-number units.

Run:  python examples/sunspots_forecast.py          (short: one GRU, ~5-20 s on 2 cores)
      python examples/sunspots_forecast.py --full   (an ensemble of 5 GRUs, seeds 0-4: the
                                                     average of their forecasts)
The plot of predictions vs truth on the test years is saved as
``runs/examples/sunspots_forecast.png`` when matplotlib is installed (Agg backend).
Needs statsmodels (``pip install chainrule[examples]``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import viz


class Forecaster(cr.nn.Module):
    """(B, window, 1) past values -> (B, 1) next value: a GRU read-out by a linear layer."""

    def __init__(self, hidden: int, num_layers: int = 1) -> None:
        super().__init__()
        self.gru = cr.nn.GRU(1, hidden, num_layers, batch_first=True)
        self.head = cr.nn.Linear(hidden, 1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        _, h_n = self.gru(x)  # h_n: (num_layers, B, hidden)
        return self.head(h_n[-1])


def load_series() -> tuple[np.ndarray, np.ndarray]:
    """Years and yearly sunspot numbers, 1700-2008."""
    from statsmodels.datasets import sunspots

    df = sunspots.load_pandas().data
    return df["YEAR"].to_numpy(dtype=np.int64), df["SUNACTIVITY"].to_numpy(dtype=np.float64)


def windows(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """All (window past values, next value) pairs: X (N, window), y (N,)."""
    idx = np.arange(len(series) - window)[:, None] + np.arange(window)[None, :]
    return series[idx], series[window:]


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b)))


def train_one(
    args: argparse.Namespace, seed: int, train: Any, val: Any, Xte: cr.Tensor, log: Any
) -> tuple[np.ndarray, int]:
    """Train one GRU with early stopping; its standardised test forecasts and best epoch."""
    cr.manual_seed(seed)
    (Xtr, ytr), (Xva, yva) = train, val
    model = Forecaster(args.hidden, args.layers)
    opt = cr.optim.Adam(model.parameters(), lr=args.lr)
    best = (float("inf"), 0, None)  # (validation MSE, epoch, weights)
    for epoch in range(1, args.epochs + 1):
        model.train()
        loss = cr.nn.functional.mse_loss(model(Xtr), ytr)
        opt.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.eval()
        with cr.no_grad():
            val_mse = cr.nn.functional.mse_loss(model(Xva), yva).item()
        if val_mse < best[0]:  # early stopping: remember the best weights on validation
            best = (val_mse, epoch, {k: v.data.copy() for k, v in model.state_dict().items()})
        if epoch % args.log_every == 0 or epoch == args.epochs:
            log(
                f"epoch {epoch:4d}  MSE (standardised): train {loss.item():.4f}, "
                f"validation {val_mse:.4f}"
            )
    model.load_state_dict(best[2])
    log(f"keeping the weights of epoch {best[1]} (best validation MSE {best[0]:.4f})")
    model.eval()
    with cr.no_grad():
        return model(Xte).data[:, 0].astype(np.float64), best[1]


def run(args: argparse.Namespace, log: Any = print) -> dict[str, Any]:
    years, values = load_series()
    n_train = int(np.searchsorted(years, args.split_year, side="right"))
    mean, std = values[:n_train].mean(), values[:n_train].std()
    z = (values - mean) / std
    X, y = windows(z, args.window)
    target_years = years[args.window :]
    # a window belongs to the set of the year it predicts; the last training years are held
    # out as a validation set for early stopping
    test = target_years > args.split_year
    val = ~test & (target_years > args.split_year - args.val_years)
    train = ~test & ~val

    def as_tensor(mask: np.ndarray) -> tuple[cr.Tensor, cr.Tensor]:
        return (
            cr.tensor(X[mask, :, None].astype(np.float32)),
            cr.tensor(y[mask, None].astype(np.float32)),
        )

    (Xtr, ytr), (Xva, yva), (Xte, _) = as_tensor(train), as_tensor(val), as_tensor(test)
    span = {k: (target_years[m][0], target_years[m][-1], int(m.sum())) for k, m in
            (("train", train), ("validation", val), ("test", test))}  # fmt: skip
    log(
        f"{len(values)} years {years[0]}-{years[-1]}; targets: "
        + ", ".join(f"{k} {a}-{b} ({n} windows)" for k, (a, b, n) in span.items())
    )
    t0 = time.perf_counter()
    preds, epochs = [], []
    for k in range(args.ensemble):
        if args.ensemble > 1:
            log(f"model {k + 1} of {args.ensemble} (seed {args.seed + k})")
        pred, epoch = train_one(args, args.seed + k, (Xtr, ytr), (Xva, yva), Xte, log)
        preds.append(pred * std + mean)
        epochs.append(epoch)
    seconds = time.perf_counter() - t0
    pred = np.mean(preds, axis=0)  # an ensemble averages its members' forecasts
    truth = values[args.window :][test]
    naive = values[args.window - 1 : -1][test]  # last observed value of each window
    result = {
        "best_epoch": epochs,
        "member_rmse": [rmse(p, values[args.window :][test]) for p in preds],
        "years": target_years[test],
        "truth": truth,
        "pred": pred,
        "naive": naive,
        "rmse": rmse(pred, truth),
        "mae": mae(pred, truth),
        "naive_rmse": rmse(naive, truth),
        "naive_mae": mae(naive, truth),
        "seconds": seconds,
    }
    log(
        f"test years: {'GRU' if args.ensemble == 1 else f'{args.ensemble} GRUs'} "
        f"RMSE {result['rmse']:.1f}, MAE {result['mae']:.1f};  naive last value "
        f"RMSE {result['naive_rmse']:.1f}, MAE {result['naive_mae']:.1f}  "
        f"(training {seconds:.1f} s)"
    )
    return result


def plot(result: dict[str, Any], out: Path) -> Path | None:
    try:
        fig = viz.figure((9, 4))  # a Figure without pyplot: no backend, nothing to close
    except ImportError as e:
        print(f"no plot: {e}")
        return None
    ax = fig.subplots()
    yrs = result["years"]
    ax.plot(yrs, result["truth"], "k-", lw=2, label="observed")
    ax.plot(yrs, result["pred"], "C0-", label=f"GRU (RMSE {result['rmse']:.1f})")
    ax.plot(yrs, result["naive"], "C1--", label=f"last value (RMSE {result['naive_rmse']:.1f})")
    ax.set_xlabel("year")
    ax.set_ylabel("yearly mean sunspot number")
    ax.set_title("One-year-ahead sunspot forecasts on the held-out years")
    ax.legend()
    fig.tight_layout()
    path = viz.save_figure(fig, out / "sunspots_forecast.png", dpi=100)
    print(f"saved {path}")
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="an ensemble of 5 GRUs")
    p.add_argument("--ensemble", type=int, default=None, help="GRUs averaged (default 1)")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--window", type=int, default=20, help="past years seen per forecast")
    p.add_argument("--split-year", type=int, default=1920, help="last year used for training")
    p.add_argument("--val-years", type=int, default=30, help="last training years held out")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/examples"))
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)
    if args.ensemble is None:
        args.ensemble = 5 if args.full else 1
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    result = run(args)
    if not args.no_plot:
        plot(result, args.out)
    return result


if __name__ == "__main__":
    main()
