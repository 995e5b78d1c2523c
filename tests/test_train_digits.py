"""Acceptance: a small CNN trained with ``fit`` on the bundled digits reaches >= 97% test
accuracy in under 60 s on 2 cores (issue 5).

The time bound is asserted on the process CPU time, which stays meaningful on a shared,
loaded machine (wall time does not); on an idle 2-core machine the run takes about 10 s.
Seeds 0-3 all reach 98.0-98.3% with this recipe, so the 97% bar has a margin.
"""

from __future__ import annotations

import time

import chainrule as cr

nn = cr.nn


def small_cnn() -> cr.nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def test_small_cnn_on_digits() -> None:
    (x, y), (xt, yt) = cr.data.digits()
    assert x.shape[1:] == (1, 8, 8) and len(xt) == 355
    cr.manual_seed(0)
    model = small_cnn()
    epochs = 15
    opt = cr.optim.Adam(model.parameters(), lr=3e-3)
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    model.compile(optimizer=opt, loss="cross_entropy", metrics=["accuracy"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=epochs,
        verbose=0,
        callbacks=[cr.callbacks.LearningRateScheduler(sched)],
    )
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    loss, acc = model.evaluate(xt, yt, verbose=0)
    print(
        f"digits small CNN: test accuracy {acc:.4f}, loss {loss:.4f}, "
        f"fit {wall:.1f} s wall / {cpu:.1f} s CPU"
    )
    assert acc >= 0.97, acc
    assert history.history["loss"][-1] < history.history["loss"][0] / 10
    assert cpu < 60, f"fit used {cpu:.1f} s of CPU"
