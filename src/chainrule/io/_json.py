"""Strict JSON with limits, for headers and metadata read from untrusted files.

``json.loads`` alone lets a crafted file raise ``RecursionError`` (10^5 nested brackets),
a bare ``ValueError`` from int parsing (a 10^6-digit integer) or silently accept duplicate
keys and the non-standard constants ``NaN``/``Infinity``. :func:`loads` checks sizes and
refuses all of these with :class:`JSONLimitError` (a ``ValueError``) whose message says what
was found; callers add the file name.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "MAX_JSON_BYTES", "JSONLimitError", "dumps", "loads"]

MAX_JSON_BYTES = 100_000_000  # safetensors' own header limit
MAX_INT_DIGITS = 1000  # PCG64 states are ~39 digits; Python refuses > 4300 by default
MAX_DEPTH = 64  # logical nesting accepted by chainrule.io (the JSON may nest ~3x deeper)


class JSONLimitError(ValueError):
    """Malformed JSON, or JSON beyond chainrule's size, depth or number limits."""


def _parse_int(s: str) -> int:
    digits = len(s) - (s[0] == "-")
    if digits > MAX_INT_DIGITS:
        raise JSONLimitError(
            f"an integer with {digits} digits (limit {MAX_INT_DIGITS}); the file is corrupt or "
            f"crafted"
        )
    return int(s)


def _parse_constant(s: str) -> Any:
    raise JSONLimitError(f"non-standard JSON constant {s!r} (NaN/Infinity are not accepted)")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise JSONLimitError(f"duplicate key {k[:80]!r} in a JSON object")
        out[k] = v
    return out


def loads(text: str | bytes, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse JSON from an untrusted source.

    Raises:
        JSONLimitError: invalid UTF-8 or JSON, more than ``max_bytes``, nesting beyond what
            the parser can follow, an integer longer than ``MAX_INT_DIGITS`` digits, a
            ``NaN``/``Infinity`` constant or a duplicate key.

    Example:
        >>> loads('{"a": [1, 2]}')
        {'a': [1, 2]}
    """
    if len(text) > max_bytes:
        raise JSONLimitError(f"JSON text of {len(text)} bytes exceeds the limit of {max_bytes}")
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JSONLimitError(f"JSON text is not valid UTF-8 ({e})") from None
    try:
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_constant=_parse_constant,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise JSONLimitError(
            "JSON nested too deeply to parse safely (thousands of brackets); the file is "
            "corrupt or crafted"
        ) from None
    except json.JSONDecodeError as e:
        raise JSONLimitError(f"invalid JSON: {e}") from None


def dumps(obj: Any) -> str:
    """Compact, strict (no NaN/Infinity), ASCII-only JSON."""
    return json.dumps(obj, allow_nan=False, ensure_ascii=True, separators=(",", ":"))
