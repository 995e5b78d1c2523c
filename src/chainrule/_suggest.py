"""The "did you mean" hint of every unknown-name error, in one place (RELIABILITY A9, A20).

A name that must be one of a closed set (a loss, a metric, an optimizer, a zoo model, a hook,
a configuration key, a command-line flag) is refused with a message that says what was
received, lists what is valid and suggests the nearest valid name. The Python API phrases it
as :func:`unknown_name` does; the command line keeps its own one-line style (``; did you
mean 'lr'?``) and uses :func:`nearest` for the suggestion.

Example:
    >>> from chainrule._suggest import did_you_mean, unknown_name
    >>> did_you_mean("adma", ["sgd", "adam"])
    " Did you mean 'adam'?"
    >>> unknown_name("optimizer", "adma", ["adam", "sgd"], owner="compile")
    "compile: unknown optimizer 'adma'; valid names: adam, sgd. Did you mean 'adam'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "nearest", "unknown_name"]

#: How similar (difflib's ratio) a valid name must be to be suggested.
CUTOFF = 0.6


def nearest(name: object, choices: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The valid name closest to ``name`` (difflib's ratio at least ``cutoff``), or None.

    Example:
        >>> nearest("lenet", ["lenet5", "mlp"]), nearest("zzz", ["lenet5", "mlp"])
        ('lenet5', None)
    """
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: object, choices: Iterable[str], cutoff: float = CUTOFF) -> str:
    """``" Did you mean 'x'?"`` (with its leading space) for the nearest name, else ``""``."""
    near = nearest(name, choices, cutoff)
    return f" Did you mean {near!r}?" if near is not None else ""


def unknown_name(
    what: str,
    name: object,
    choices: Iterable[str],
    *,
    owner: str = "",
    valid: str = "names",
    cutoff: float = CUTOFF,
    extra: str = "",
) -> str:
    """The message for a ``name`` that is not among ``choices``.

    ``"{owner}: unknown {what} {name!r}; valid {valid}: a, b, c. Did you mean 'x'?{extra}"``
    (the list in the order given, ``owner: `` left out when empty, the hint only when a valid
    name is close).

    Args:
        what: the kind of name (``"loss"``, ``"model"``, ``"key"``).
        name: what was received (compared in lower case when it is a string).
        choices: the valid names, in the order to list them.
        owner: the function, layer or table that refuses it.
        valid: the word for the list (``"names"``, ``"keys"``, ``"tasks"``).
        cutoff: how close a name must be to be suggested (difflib's ratio).
        extra: a sentence added at the end (another way to give the value).
    """
    names = list(choices)
    key = name.lower() if isinstance(name, str) else name
    head = f"{owner}: " if owner else ""
    return (
        f"{head}unknown {what} {name!r}; valid {valid}: {', '.join(names)}."
        f"{did_you_mean(key, names, cutoff)}{extra}"
    )
