"""ANN / MLP on real tabular data (notes 001: "ANN: (ip/hidden/op) layers used for
classification, regression tasks"), with the output activation, loss and optimizer chosen by
the notes' table (002) through ``chainrule.recommend``.

Three datasets that ship with scikit-learn (offline; scikit-learn is an example dependency):

- breast cancer (569 samples, 30 features, 2 classes): binary classification;
- wine (178 samples, 13 features, 3 classes): multiclass classification;
- diabetes (442 samples, 10 features, a disease-progression score): regression.

For each, ``recommend(task, n_classes, n_samples, n_features)`` picks the row of the table, the
MLP (``chainrule.models.mlp``) gets ``out_features`` from it, ``compile`` gets its loss and
optimizer, and ``fit`` trains. Features are standardized with the training split's mean and
standard deviation (and so is the regression target). A fifth of the training split is held
out for validation, and early stopping (the notes' convergence test) keeps the best epoch. Each
result is compared with a simple baseline: the majority class, the training mean, and for
regression also ordinary least squares.

Run:  python examples/mlp_tabular.py            (200 epochs each)
      python examples/mlp_tabular.py --quick    (a short run, as the tests do)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.model_selection import train_test_split

import chainrule as cr


def _standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-8
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def logit_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Binary accuracy of logits (positive score -> class 1), for ``fit``'s logs."""
    return float(np.mean((y_pred > 0) == (y_true > 0.5)))


def run(name: str, task: str, loader, epochs: int, seed: int, say) -> dict[str, float]:
    data = loader()
    x, y = data.data, data.target
    stratify = y if task != "regression" else None
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=stratify
    )
    x_tr, x_te = _standardize(x_tr, x_te)
    n_classes = int(len(np.unique(y))) if task != "regression" else None
    rec = cr.recommend(task=task, n_classes=n_classes, n_samples=len(x_tr), n_features=x.shape[1])
    say(f"\n== {name}: {len(x_tr)} training samples, {x.shape[1]} features ==")
    say(
        f"recommend -> output {rec.output_activation}, loss {rec.loss!r}, optimizer "
        f"{rec.optimizer!r} (or {', '.join(rec.alternatives)})"
    )
    say(f"  {rec.reason}")

    cr.manual_seed(seed)
    model = cr.models.mlp(
        x.shape[1],
        hidden=(64, 32),
        out_features=rec.out_features,
        activation=rec.hidden_activation,
        dropout=0.1,
    )
    if rec.task == "regression":
        mean, std = y_tr.mean(), y_tr.std()
        target = ((y_tr - mean) / std).astype(np.float32)[:, None]
        metrics = ["mae"]
    elif rec.out_features == 1:  # binary: one logit, BCE with logits
        target = y_tr.astype(np.float32)[:, None]
        metrics = [logit_accuracy]
    else:
        target = y_tr.astype(np.int64)
        metrics = ["accuracy"]
    model.compile(optimizer=rec.optimizer, lr=1e-3, loss=rec.loss, metrics=metrics)
    # The notes' convergence test: stop when the validation loss stops decreasing, and keep
    # the weights of the best epoch.
    stop = cr.callbacks.EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        x_tr,
        target,
        batch_size=32,
        epochs=epochs,
        verbose=0,
        seed=seed,
        validation_split=0.2,
        callbacks=[stop],
    )
    seconds = time.perf_counter() - start
    ran = len(history.epoch)
    pred = model.predict(x_te)

    if rec.task == "regression":
        y_hat = pred[:, 0] * std + mean
        mae = float(np.mean(np.abs(y_hat - y_te)))
        r2 = 1.0 - float(np.sum((y_hat - y_te) ** 2) / np.sum((y_te - y_te.mean()) ** 2))
        mean_mae = float(np.mean(np.abs(y_tr.mean() - y_te)))
        design = np.c_[x_tr, np.ones(len(x_tr))]
        coef = np.linalg.lstsq(design, y_tr, rcond=None)[0]
        ols_mae = float(np.mean(np.abs(np.c_[x_te, np.ones(len(x_te))] @ coef - y_te)))
        say(
            f"test MAE {mae:.1f} (R^2 {r2:.3f}) after {ran} epochs, {seconds:.1f} s;  "
            f"baselines: training mean {mean_mae:.1f}, least squares {ols_mae:.1f}"
        )
        return {"mae": mae, "r2": r2, "mean_mae": mean_mae, "ols_mae": ols_mae, "seconds": seconds}
    labels = (pred[:, 0] > 0).astype(np.int64) if rec.out_features == 1 else pred.argmax(1)
    acc = float(np.mean(labels == y_te))
    majority = float(np.mean(y_te == np.bincount(y_tr).argmax()))
    say(
        f"test accuracy {acc:.4f} after {ran} epochs, {seconds:.1f} s;  baseline (majority "
        f"class) {majority:.4f}"
    )
    return {"accuracy": acc, "majority": majority, "seconds": seconds}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (40 epochs each)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (40 if args.quick else 200)
    say = (lambda *a: None) if args.quiet else print
    return {
        "breast_cancer": run("breast cancer", "binary", load_breast_cancer, epochs, args.seed, say),
        "wine": run("wine", "classification", load_wine, epochs, args.seed, say),
        "diabetes": run("diabetes", "regression", load_diabetes, epochs, args.seed, say),
    }


if __name__ == "__main__":
    main()
