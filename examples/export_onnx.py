"""Train a small CNN on the bundled digits, export it to ONNX, run it in onnxruntime.

The exported graph computes the same function as chainrule's forward pass: the script prints
how many of the test predictions agree (all of them) and the largest difference between the
two frameworks' logits (float32 rounding, around 1e-6). It then brings the weights back from
the ONNX file into a fresh model with ``chainrule.io.load_onnx_weights``, as you would after
fine-tuning the exported model elsewhere.

Needs the onnx extra: ``pip install 'chainrule[onnx]'``.

Run:  python examples/export_onnx.py                 (3 epochs, writes digits_cnn.onnx)
      python examples/export_onnx.py --epochs 1 --out /tmp/digits.onnx
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule.data.datasets import digits


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="digits_cnn.onnx", help="the ONNX file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import onnxruntime as ort
    except ImportError:
        raise SystemExit("this example needs onnxruntime: pip install 'chainrule[onnx]'") from None

    cr.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = digits()
    x_train = x_train.reshape(-1, 1, 8, 8).astype(np.float32)
    x_test = x_test.reshape(-1, 1, 8, 8).astype(np.float32)
    model = cr.models.small_cnn()
    model.compile(
        optimizer=cr.optim.Adam(model.parameters(), lr=3e-3),
        loss="cross_entropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, verbose=2, seed=args.seed)

    path = cr.io.export_onnx(
        model, cr.Tensor(x_test[:2]), args.out, input_names=["image"], output_names=["logits"]
    )
    print(f"\nwrote {path} ({path.stat().st_size / 1024:.1f} KiB)")

    model.eval()
    start = time.perf_counter()
    with cr.no_grad():
        ours = model(cr.Tensor(x_test)).data
    t_chainrule = time.perf_counter() - start
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    start = time.perf_counter()
    theirs = session.run(None, {"image": x_test})[0]
    t_ort = time.perf_counter() - start

    agree = float(np.mean(ours.argmax(1) == theirs.argmax(1)))
    diff = float(np.abs(ours - theirs).max())
    acc_ours = float(np.mean(ours.argmax(1) == y_test))
    acc_theirs = float(np.mean(theirs.argmax(1) == y_test))
    print(f"test accuracy: chainrule {acc_ours:.2%}, onnxruntime {acc_theirs:.2%}")
    print(
        f"chainrule and onnxruntime agree on {agree:.1%} of the {len(y_test)} test "
        f"predictions (max |logit difference| {diff:.1e})"
    )
    print(
        f"inference on {len(y_test)} images: chainrule {t_chainrule * 1e3:.1f} ms, "
        f"onnxruntime {t_ort * 1e3:.1f} ms (one run, wall clock)"
    )

    fresh = cr.models.small_cnn()
    fresh.load_state_dict(cr.io.load_onnx_weights(path))
    fresh.eval()
    with cr.no_grad():
        back = fresh(cr.Tensor(x_test)).data
    print(
        f"weights loaded back from the ONNX file give identical logits: "
        f"{np.array_equal(back, ours)}"
    )
    return {"agree": agree, "max_diff": diff, "accuracy": acc_ours}


if __name__ == "__main__":
    main()
